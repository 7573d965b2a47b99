"""The card's Gigabit Ethernet port: GMII bytes in the MAC's clocks, frame beats in the fast
path's clock.

    receive  (eth_rx, 125 MHz from the PHY): GMII -> MacRx -> BytePacker
             -> AsyncFIFO -> (sync) RxFrameBuffer -> o_frame (good frames only, to Nic.i_frame)
    transmit (sync) i_message (Nic.o_egress: one order's FIX bytes) -> UdpEgress
             -> AsyncFIFO -> (eth_tx, 125 MHz) ByteUnpacker -> MacTx -> GMII

`sync` is the fast path's clock. The two MAC clocks are the domains `eth_rx` and `eth_tx`; the
board top drives them (the PHY's receive clock, the PLL's 125 MHz), and the RGMII adapter
(hw/rtl/rgmii.py) sits between the GMII ports here and the pins.

Clock ratio: a 64-bit beat every fast cycle carries 8 bytes, and the MAC moves one byte per
8 ns, so both crossings keep up while the fast clock is above 125 / 8 = 15.625 MHz;
`EthernetPort` refuses a slower `fast_hz` (below twice that, to leave the asynchronous FIFOs'
synchronisers a margin). At that ratio the receive FIFO never fills (it is read every cycle),
and the transmit side never runs dry once a frame has started (ByteUnpacker).
"""

from __future__ import annotations

from amaranth import DomainRenamer, Module
from amaranth.lib import cdc, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.byte_packer import BytePacker
from hw.rtl.byte_unpacker import ByteUnpacker
from hw.rtl.crossing import stream_through
from hw.rtl.mac_rx import MacRx
from hw.rtl.mac_tx import MacTx
from hw.rtl.records import CheckedBeat, FrameBeat, MacStats, UdpEndpoints
from hw.rtl.rx_frame_buffer import RxFrameBuffer
from hw.rtl.udp_egress import UdpEgress
from spec.ethernet import GMII_HZ

#: The slowest fast-path clock the crossings are sized for (twice the byte rate / 8).
MIN_FAST_HZ = 2 * GMII_HZ // 8
#: Beats each asynchronous FIFO holds (a power of two: Gray-coded pointers).
CROSSING_DEPTH = 16
#: Receive latency, from the GMII edge that takes a good frame's last FCS byte to its first
#: beat valid on `o_frame`: MacRx's verdict (2), the packer (1) and the crossing's write side
#: (1) in GMII cycles, then the crossing's two-flop synchroniser and the buffer's output
#: register in fast cycles, 3 or 4 with the phase between the clocks.
RX_GMII_CYCLES = 4
RX_FAST_CYCLES = (3, 4)
#: Transmit latency, from the fast edge that takes a message's first beat to the first
#: preamble byte on GMII: UdpEgress's output register (1 fast cycle), then the crossing's
#: synchroniser, the unpacker and the MAC's start, 3 to 5 GMII cycles with the phase.
TX_FAST_CYCLES = 1
TX_GMII_CYCLES = (3, 5)


class EthernetPort(wiring.Component):
    """See the module doc.

    Ports: `rx_data`/`rx_dv`/`rx_er` (GMII receive, domain `eth_rx`), `tx_data`/`tx_en`/`tx_er`
    (GMII transmit, domain `eth_tx`); in `sync`: `o_frame` (good frames, always ready: the fast
    path never stalls it), `i_message` (one order's FIX bytes per first..last, backpressured
    while the transmitter is busy), `endpoints` (the datagrams' addresses), `stats` (MacStats
    strobes for the `eth_*` counters), `activity` (a frame was received whole, good or bad).
    Latency: receive, the last FCS byte to the frame's first beat on `o_frame`,
    `RX_GMII_CYCLES` (4) GMII cycles and `RX_FAST_CYCLES` (3-4) fast cycles; transmit, a
    message's first beat taken to the first preamble byte, `TX_FAST_CYCLES` (1) fast cycle and
    `TX_GMII_CYCLES` (3-5) GMII cycles (tests/hw/test_ethernet_port.py holds both at several
    phases of the clocks). The blocks' docstrings give each part.
    Reset: each domain's own; nothing is sent until the Nic sends an order.
    """

    def __init__(self, *, fast_hz: float, rx_buffer_beats: int = 512):
        if fast_hz < MIN_FAST_HZ:
            raise ValueError(f"fast_hz must be at least {MIN_FAST_HZ / 1e6:g} MHz for the MAC's "
                             f"crossings to keep up with 1 Gb/s, not {fast_hz!r}")
        self.fast_hz = fast_hz
        self.rx_buffer_beats = rx_buffer_beats
        super().__init__({
            "rx_data": In(8), "rx_dv": In(1), "rx_er": In(1),
            "tx_data": Out(8), "tx_en": Out(1), "tx_er": Out(1),
            "o_frame": Out(stream.Signature(FrameBeat, always_ready=True)),
            "i_message": In(stream.Signature(FrameBeat)),
            "endpoints": In(UdpEndpoints),
            "stats": Out(MacStats),
            "activity": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        rx = DomainRenamer("eth_rx")
        tx = DomainRenamer("eth_tx")
        m.submodules.mac_rx = mac_rx = rx(MacRx())
        m.submodules.packer = packer = rx(BytePacker())
        m.submodules.rx_crossing = rx_crossing = fifo.AsyncFIFO(
            width=CheckedBeat.as_shape().size, depth=CROSSING_DEPTH,
            w_domain="eth_rx", r_domain="sync")
        m.submodules.rx_buffer = rx_buffer = RxFrameBuffer(depth=self.rx_buffer_beats)
        m.submodules.egress = egress = UdpEgress()
        m.submodules.tx_crossing = tx_crossing = fifo.AsyncFIFO(
            width=FrameBeat.as_shape().size, depth=CROSSING_DEPTH,
            w_domain="sync", r_domain="eth_tx")
        m.submodules.unpacker = unpacker = tx(ByteUnpacker())
        m.submodules.mac_tx = mac_tx = tx(MacTx())
        m.submodules.underruns = underruns = cdc.PulseSynchronizer(i_domain="eth_tx",
                                                                   o_domain="sync")
        # A fragment leaves no byte to carry a verdict through the buffer: its strobe crosses
        # alone (fragments are at least a preamble and a gap apart, far slower than it needs).
        m.submodules.fragments = fragments = cdc.PulseSynchronizer(i_domain="eth_rx",
                                                                   o_domain="sync")

        wiring.connect(m, mac=mac_rx.o_byte, packer=packer.i_byte)
        wiring.connect(m, buffer=rx_buffer.o_frame, fastpath=wiring.flipped(self.o_frame))
        wiring.connect(m, fastpath=wiring.flipped(self.i_message), egress=egress.i_msg)
        wiring.connect(m, unpacker=unpacker.o_byte, mac=mac_tx.i_byte)
        # The receive crossing is never full at the clock ratio checked above: the packer
        # cannot wait, and the buffer reads it in every fast cycle.
        stream_through(m, rx_crossing, packer.o_beat, rx_buffer.i_beat)
        stream_through(m, tx_crossing, egress.o_frame, unpacker.i_beat)

        m.d.comb += [
            mac_rx.rx_data.eq(self.rx_data), mac_rx.rx_dv.eq(self.rx_dv),
            mac_rx.rx_er.eq(self.rx_er),
            packer.i_verdict.eq(mac_rx.o_verdict),
            egress.endpoints.eq(self.endpoints),

            self.tx_data.eq(mac_tx.tx_data), self.tx_en.eq(mac_tx.tx_en),
            self.tx_er.eq(mac_tx.tx_er),
            # Beats late from the crossing, or bytes late at the MAC: either aborts the frame.
            underruns.i.eq(unpacker.underrun | mac_tx.underrun),

            fragments.i.eq(mac_rx.o_fragment),
            self.stats.eq(rx_buffer.stats),
            self.stats.rx_fragment.eq(fragments.o),
            self.stats.tx_frame.eq(egress.sent),
            self.stats.tx_underrun.eq(underruns.o),
        ]
        stats = self.stats
        m.d.comb += self.activity.eq(stats.rx_good | stats.rx_crc | stats.rx_runt
                                     | stats.rx_giant | stats.rx_phy | stats.rx_overflow
                                     | stats.rx_fragment)
        return m
