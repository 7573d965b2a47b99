"""The smart-NIC target: the card as the user logic of the AMD OpenNIC shell's 322 MHz box.

    CMAC rx AXIS --+-------------------------------------------------------> adapter rx AXIS
    (cmac)         +-> AxisNarrow -> AsyncFIFO -> (sync) RxFrameBuffer -> Nic.i_frame
    Nic.o_egress -> UdpEgress -> AsyncFIFO -> (cmac) AxisWiden --+
                                           adapter tx AXIS ------+-> arbiter -> CMAC tx AXIS
    shell AXI4-Lite (axil) -> AxiLiteCrossing -> (sync) Nic.axi

Domains: `cmac` (the CMAC's ~322 MHz clock, the box's own), `axil` (the shell's 125 MHz
register clock) and `sync` (the fast path's clock: on the board an MMCM output, see
bitstreams/opennic.py). The ports carry the shell's names (src/box_322mhz/box_322mhz.sv of
Xilinx/open-nic-shell, one CMAC port), so the generated module is instantiated by name.

Host traffic is not the card's business: every frame from the CMAC goes on to the adapter
unchanged (the card sees a copy), and the adapter's frames go to the CMAC between the card's,
at frame boundaries, the card's first. The card's registers are the Nic's `REGMAP` at byte
address 4 * word on the AXI4-Lite port (the low AXI_ADDR_WIDTH bits of the shell's address:
the 256 KB map repeats through the box's 1 MB window).
"""

from __future__ import annotations

from amaranth import DomainRenamer, Module
from amaranth.lib import cdc, fifo, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.axil_crossing import AxiLiteCrossing
from hw.rtl.axis_narrow import AxisNarrow
from hw.rtl.axis_widen import AxisWiden
from hw.rtl.capacity import DEFAULT, Capacity
from hw.rtl.crossing import stream_through
from hw.rtl.nic import AXI_ADDR_WIDTH, Nic
from hw.rtl.records import CheckedBeat, FrameBeat
from hw.rtl.rx_frame_buffer import RxFrameBuffer
from hw.rtl.udp_egress import UdpEgress

#: Entries of each asynchronous FIFO (a power of two: Gray-coded pointers).
CROSSING_DEPTH = 16
#: Address bits of the shell's AXI4-Lite port.
SHELL_ADDR_BITS = 32


def _axis(direction, ready: bool) -> dict:
    """The members of one of the shell's 512-bit AXI4-Stream ports, seen from its source when
    `direction` is Out."""
    back = In if direction is Out else Out
    members = {"tvalid": direction(1), "tdata": direction(512), "tkeep": direction(64),
               "tlast": direction(1), "tuser_err": direction(1)}
    if ready:
        members["tready"] = back(1)
    return members


def _prefixed(prefix: str, members: dict) -> dict:
    return {f"{prefix}_{name}": member for name, member in members.items()}


class OpenNicBox(wiring.Component):
    """The Nic behind the OpenNIC shell's box_322mhz ports (see the module doc).

    Ports, by the shell's names: `s_axil_*` (domain axil; no wstrb or prot: every write is a
    whole word), `s_axis_cmac_rx_*` (from the CMAC, no tready), `m_axis_adap_rx_322mhz_*` (to
    the adapter, no tready), `s_axis_adap_tx_322mhz_*` (from the adapter), `m_axis_cmac_tx_*`
    (to the CMAC); the four streams in `cmac`. Status (sync): `halted`, `stale`.
    Latency: receive, CMAC word to adapter word 0 cycles (combinational); to the Nic, the
    narrowing (`AxisNarrow.LATENCY`), the crossing (about 4 fast cycles) and RxFrameBuffer's
    store-and-forward (a frame time of 64-bit beats). Transmit: UdpEgress's, the crossing's
    and AxisWiden's store-and-forward; the arbiter adds none. Registers: AxiLiteCrossing's
    plus the Nic's AxiLiteSlave's.
    Rates: the adapter's streams pass at full rate, except that an adapter frame waits while
    a card frame is going out (and the reverse). The card takes frames at most at one 64-bit
    beat per fast cycle; in bursts faster than that, AxisNarrow drops whole frames and the
    drops are counted in `eth_rx_overflows` (with RxFrameBuffer's), by a pulse synchroniser:
    drops closer than about 3 fast cycles apart may be counted once.
    Backpressure: `m_axis_cmac_tx_tready` stalls the arbiter's chosen source only; CMAC rx
    and adapter rx have none (as in the shell). `tvalid` never falls inside a frame the box
    sends (the card's frames are released whole, the adapter's pass as they come).
    Counters: `eth_rx_frames`, `eth_rx_crc_errors` (tuser_err), `eth_rx_giants`,
    `eth_rx_overflows`, `eth_tx_datagrams`; `eth_tx_underruns` stays 0 (the widening waits for
    whole frames, so nothing underruns). Events: by the registers only (no DMA stream here).
    Reset: each domain's own (all three from one source: AxiLiteCrossing needs it); the Nic's.
    """

    def __init__(self, *, capacity: Capacity = DEFAULT, time_step: int = 1,
                 uart_divisor: int = 1356, rx_words: int = 128, tx_words: int = 64):
        if not isinstance(capacity, Capacity):
            raise TypeError(f"capacity must be a hw.rtl.capacity.Capacity, not {capacity!r}")
        if not isinstance(time_step, int) or isinstance(time_step, bool) \
                or not 1 <= time_step <= 16:
            raise ValueError(f"time_step must be 1..16 steps of 6.4 ns per fast clock, not "
                             f"{time_step!r}")
        self.capacity = capacity
        self.time_step = time_step
        self.uart_divisor = uart_divisor
        self.rx_words = rx_words
        self.tx_words = tx_words
        axil = {"awvalid": In(1), "awaddr": In(SHELL_ADDR_BITS), "awready": Out(1),
                "wvalid": In(1), "wdata": In(32), "wready": Out(1),
                "bvalid": Out(1), "bresp": Out(2), "bready": In(1),
                "arvalid": In(1), "araddr": In(SHELL_ADDR_BITS), "arready": Out(1),
                "rvalid": Out(1), "rdata": Out(32), "rresp": Out(2), "rready": In(1)}
        super().__init__({
            **_prefixed("s_axil", axil),
            **_prefixed("s_axis_cmac_rx", _axis(In, ready=False)),
            **_prefixed("m_axis_adap_rx_322mhz", _axis(Out, ready=False)),
            **_prefixed("s_axis_adap_tx_322mhz", _axis(In, ready=True)),
            **_prefixed("m_axis_cmac_tx", _axis(Out, ready=True)),
            "halted": Out(1),
            "stale": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cmac = DomainRenamer("cmac")
        m.submodules.nic = nic = Nic(uart_divisor=self.uart_divisor, capacity=self.capacity,
                                     time_step=self.time_step)
        m.submodules.crossing = crossing = AxiLiteCrossing(AXI_ADDR_WIDTH, s_domain="axil",
                                                           m_domain="sync")
        m.submodules.narrow = narrow = cmac(AxisNarrow(self.rx_words))
        m.submodules.rx_crossing = rx_crossing = fifo.AsyncFIFO(
            width=CheckedBeat.as_shape().size, depth=CROSSING_DEPTH,
            w_domain="cmac", r_domain="sync")
        m.submodules.rx_buffer = rx_buffer = RxFrameBuffer()
        m.submodules.drops = drops = cdc.PulseSynchronizer(i_domain="cmac", o_domain="sync")
        m.submodules.egress = egress = UdpEgress()
        m.submodules.tx_crossing = tx_crossing = fifo.AsyncFIFO(
            width=FrameBeat.as_shape().size, depth=CROSSING_DEPTH,
            w_domain="sync", r_domain="cmac")
        m.submodules.widen = widen = cmac(AxisWiden(self.tx_words))

        wiring.connect(m, crossing=crossing.m_axi, nic=nic.axi)
        wiring.connect(m, buffer=rx_buffer.o_frame, nic=nic.i_frame)
        wiring.connect(m, nic=nic.o_egress, egress=egress.i_msg)

        # --- host registers ---------------------------------------------------------------
        s = crossing.s_axi
        m.d.comb += [
            s.awvalid.eq(self.s_axil_awvalid), s.awaddr.eq(self.s_axil_awaddr),
            self.s_axil_awready.eq(s.awready),
            s.wvalid.eq(self.s_axil_wvalid), s.wdata.eq(self.s_axil_wdata),
            # The shell's port has no strobes: its writes are whole words.
            s.wstrb.eq(0b1111),
            self.s_axil_wready.eq(s.wready),
            self.s_axil_bvalid.eq(s.bvalid), self.s_axil_bresp.eq(s.bresp),
            s.bready.eq(self.s_axil_bready),
            s.arvalid.eq(self.s_axil_arvalid), s.araddr.eq(self.s_axil_araddr),
            self.s_axil_arready.eq(s.arready),
            self.s_axil_rvalid.eq(s.rvalid), self.s_axil_rdata.eq(s.rdata),
            self.s_axil_rresp.eq(s.rresp),
            s.rready.eq(self.s_axil_rready),
        ]

        # RxFrameBuffer is always ready, so the receive crossing is read whenever it has a beat.
        stream_through(m, rx_crossing, narrow.o_beat, rx_buffer.i_beat)
        stream_through(m, tx_crossing, egress.o_frame, widen.i_beat)

        # --- receive: the adapter gets every frame, the card a copy -------------------------
        for name in ("tvalid", "tdata", "tkeep", "tlast", "tuser_err"):
            m.d.comb += getattr(self, f"m_axis_adap_rx_322mhz_{name}").eq(
                getattr(self, f"s_axis_cmac_rx_{name}"))
        m.d.comb += [
            narrow.i_axis.valid.eq(self.s_axis_cmac_rx_tvalid),
            narrow.i_axis.p.data.eq(self.s_axis_cmac_rx_tdata),
            narrow.i_axis.p.keep.eq(self.s_axis_cmac_rx_tkeep),
            narrow.i_axis.p.last.eq(self.s_axis_cmac_rx_tlast),
            narrow.i_axis.p.user_err.eq(self.s_axis_cmac_rx_tuser_err),
            drops.i.eq(narrow.dropped),
            nic.mac_stats.eq(rx_buffer.stats),
            nic.mac_stats.rx_overflow.eq(rx_buffer.stats.rx_overflow | drops.o),
            nic.mac_stats.tx_frame.eq(egress.sent),
            nic.mac_stats.tx_underrun.eq(0),
        ]

        # --- transmit: the card's datagrams, widened whole -----------------------------------
        m.d.comb += [
            egress.endpoints.eq(nic.endpoints),
            self.halted.eq(nic.halted),
            self.stale.eq(nic.stale),
        ]

        # --- the CMAC's transmit port: whole frames, the card's first ------------------------
        card = widen.o_axis
        host_valid = self.s_axis_adap_tx_322mhz_tvalid
        tready = self.m_axis_cmac_tx_tready
        from_card = [self.m_axis_cmac_tx_tvalid.eq(card.valid),
                     self.m_axis_cmac_tx_tdata.eq(card.p.data),
                     self.m_axis_cmac_tx_tkeep.eq(card.p.keep),
                     self.m_axis_cmac_tx_tlast.eq(card.p.last),
                     self.m_axis_cmac_tx_tuser_err.eq(card.p.user_err),
                     card.ready.eq(tready)]
        from_host = [self.m_axis_cmac_tx_tvalid.eq(host_valid),
                     self.m_axis_cmac_tx_tdata.eq(self.s_axis_adap_tx_322mhz_tdata),
                     self.m_axis_cmac_tx_tkeep.eq(self.s_axis_adap_tx_322mhz_tkeep),
                     self.m_axis_cmac_tx_tlast.eq(self.s_axis_adap_tx_322mhz_tlast),
                     self.m_axis_cmac_tx_tuser_err.eq(self.s_axis_adap_tx_322mhz_tuser_err),
                     self.s_axis_adap_tx_322mhz_tready.eq(tready)]
        with m.FSM(domain="cmac", name="tx_owner"):
            with m.State("IDLE"):
                # The choice is made on the first word offered and kept to the frame's last
                # word taken: a word offered is never withdrawn (AXI4-Stream), the other
                # source simply waits.
                with m.If(card.valid):
                    m.d.comb += from_card
                    with m.If(~(tready & card.p.last)):
                        m.next = "CARD"
                with m.Elif(host_valid):
                    m.d.comb += from_host
                    with m.If(~(tready & self.s_axis_adap_tx_322mhz_tlast)):
                        m.next = "HOST"
            with m.State("CARD"):
                m.d.comb += from_card
                with m.If(card.valid & tready & card.p.last):
                    m.next = "IDLE"
            with m.State("HOST"):
                m.d.comb += from_host
                with m.If(host_valid & tready & self.s_axis_adap_tx_322mhz_tlast):
                    m.next = "IDLE"
        return m
