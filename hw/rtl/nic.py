"""The card: the fast path with its clock, its event queue and its host interfaces.

    host (PCIe shell, AXI4-Lite) -> AxiLiteSlave --+
    host (dev board, UART)       -> UartBridge   --+-> CsrArbiter -> CsrBank (REGMAP)
    testbench / soft core        -> csr port     --+
    frames -> FastPath -> egress bytes
                       -> order events -> EventQueue -> o_event stream (DMA) or event_* registers
    PtpClock -> time (FastPath's stamps)

This is what a board top (bitstreams/) instantiates and what the simulated card serves
(hw/tb/serve.py): every host transport of drivers/ reaches the same registers, `REGMAP`, the
one map `nerve regmap` exports.

PTP clock: the card's time of day in cycles since midnight UTC (156.25 MHz, 6.4 ns), counting
`time_step` per clock: one on the 10G card, whose fast path runs at 156.25 MHz; a board whose
fast path runs at 156.25 MHz / N counts N per clock, so every stamp, SendingTime and rate
schedule keeps its 6.4 ns unit. The host sets it (`ptp_set_value`, then `ptp_set`); a value
beyond one day and a leap second (`DAY_CYCLES`) is refused whole, raises the sticky
`ptp_refused` and leaves the clock counting, because every 64-bit schedule downstream (the risk
gate's rate `due` cycle) is sized for a time of day and would wrap near 2**64. A MAC with its
own PTP timestamps (and the replay, which stamps each frame with the feed's time) drives
`time_load`/`time_value` instead, which override the count in that cycle.

Ethernet: a card with its own MAC (hw/rtl/ethernet_card.py) sends each order's FIX bytes to
the session host in a UDP datagram addressed by the `eth_*` registers (`endpoints`), and
reports its port's frames and drops on `mac_stats`, which the `eth_*` counters count. A card
without a MAC (the simulated card, a PCIe shell that carries the frames itself) leaves them 0.

Event queue: every order and reject the fast path reports is queued (`EVENT_DEPTH` entries).
With `event_dma` 1 the queue drains by the `o_event` stream (a DMA engine, or the testbench);
with 0 (reset) the host pops it through the registers (`event_count`, `event_head`, then
`event_pop`). The fast path is never stalled by the host: when the queue is full an event is
lost, `event_lost` counts it and the sticky `event_overflow` halts trading (its live orders
are cancelled) until the host clears it, because a host that missed an order no longer knows
its exposure.
"""

from types import SimpleNamespace

from amaranth import Module, Mux, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl import axil, fastpath, hostbus, uart
from hw.rtl.capacity import DEFAULT, Capacity
from hw.rtl.csr import COUNTER_BITS, CsrBank, Register, RegisterMap, count_events
from hw.rtl.records import BookUpdate, FrameBeat, MacStats, OrderEvent, UdpEndpoints

EVENT_DEPTH = 512
#: The largest time of day the host may set: 86,401 s (a day with a leap second) of 6.4 ns cycles.
DAY_CYCLES = 86_401 * 156_250_000
#: Clock cycles per UART bit on a board at the fast path's 156.25 MHz: 115,200 baud (-0.1 %).
UART_DIVISOR = 1356

EVENT_REGISTERS = (
    Register("dma", 1, "rw", "1: events leave by the o_event stream (DMA engine); 0: the host "
             "pops them through event_head / event_pop"),
    Register("count", 16, "ro", f"events queued (at most {EVENT_DEPTH})"),
    Register("head", OrderEvent.as_shape().size, "ro", "the oldest queued event, an OrderEvent "
             "(hw/rtl/records.py); read word 0 first (it latches the rest)"),
    Register("pop", 1, "cmd", "any write removes the oldest queued event"),
    Register("overflow", 1, "w1c", "sticky: an event was lost (queue full); trading is halted "
             "until the host clears it (write 1)"),
    Register("lost", COUNTER_BITS, "ro", "events lost because the queue was full"),
    Register("queued", COUNTER_BITS, "ro", "events queued since reset"),
)
PTP_REGISTERS = (
    Register("set_value", 64, "rw", "staged time of day, cycles since midnight UTC"),
    Register("set", 1, "cmd", "any write loads ptp_set_value into the clock (the ingress "
             "`ingress_cycle` register reads it), unless it is above one day of cycles"),
    Register("refused", 1, "w1c", f"sticky: a ptp_set was refused because ptp_set_value was "
             f"above {DAY_CYCLES:,} cycles (one day and a leap second); the clock kept "
             f"counting; write 1 to clear"),
)
UART_REGISTERS = (
    Register("requests", 32, "ro", "UART bridge requests executed"),
    Register("crc_errors", 32, "ro", "UART bridge requests refused for a bad CRC"),
    Register("framing_errors", 32, "ro", "UART bytes with a bad stop bit"),
    Register("dropped_bytes", 32, "ro", "UART bytes outside a frame or in a timed-out frame"),
)

#: The card's own address and the session host's: written by the host before it releases the
#: card (no order leaves a halted card, so nothing is sent to an unset address).
ETH_ADDRESS_REGISTERS = (
    Register("mac", 48, "rw", "the card's MAC address (source of its datagrams)"),
    Register("ip", 32, "rw", "the card's IPv4 address (source of its datagrams)"),
    Register("port", 16, "rw", "the UDP port the card sends from"),
    Register("session_mac", 48, "rw", "the session host's MAC address (or the router's)"),
    Register("session_ip", 32, "rw", "the session host's IPv4 address"),
    Register("session_port", 16, "rw", "the session host's UDP port for the card's orders"),
)
#: The counters, by the `MacStats` strobe each counts.
ETH_COUNTERS = {
    "rx_good": ("rx_frames", "frames received whole and passed to the fast path"),
    "rx_crc": ("rx_crc_errors", "frames dropped for a wrong FCS (frames cut short included)"),
    "rx_runt": ("rx_runts", "frames dropped as shorter than 64 bytes"),
    "rx_giant": ("rx_giants", "frames dropped as longer than 1,522 bytes"),
    "rx_phy": ("rx_phy_errors", "frames dropped for a receive error signalled by the PHY"),
    "rx_overflow": ("rx_overflows", "good frames dropped because the receive buffer was full"),
    "rx_fragment": ("rx_fragments", "bursts of 4 bytes or fewer after a start-of-frame "
                    "delimiter: noise or a collision fragment, not a frame"),
    "tx_frame": ("tx_datagrams", "datagrams sent to the session host (one per order)"),
    "tx_underrun": ("tx_underruns", "frames aborted because their bytes were late"),
}
ETH_REGISTERS = (*ETH_ADDRESS_REGISTERS, *(Register(name, COUNTER_BITS, "ro", doc)
                                           for name, doc in ETH_COUNTERS.values()))

REGMAP = RegisterMap([*fastpath.BLOCKS, ("event", EVENT_REGISTERS), ("ptp", PTP_REGISTERS),
                      ("uart", UART_REGISTERS), ("eth", ETH_REGISTERS)])
ADDR_WIDTH = fastpath.ADDR_WIDTH
AXI_ADDR_WIDTH = ADDR_WIDTH + 2          # byte addresses on the PCIe shell's BAR


class Nic(wiring.Component):
    """The card (see the module doc).

    Host access: three initiators share the CSR bus (`csr`, `axi`, the UART pins), one access
    at a time, round robin; an access takes the bank's `csr.READ_LATENCY` cycles plus the
    arbiter's own.
    Rates: as FastPath (one frame beat per clock); `o_event` honours ready.
    Capacity: FastPath's (`capacity`, hw/rtl/capacity.py).
    Reset: halted (FastPath's reset state), events drained by the registers (`event_dma` 0),
    the PTP clock counting from 0.
    """

    def __init__(self, *, uart_divisor: int = UART_DIVISOR, capacity: Capacity = DEFAULT,
                 time_step: int = 1):
        if not isinstance(time_step, int) or not 1 <= time_step <= 16:
            raise ValueError(f"time_step must be 1..16 cycles of 6.4 ns per clock, not "
                             f"{time_step!r}")
        self.uart_divisor = uart_divisor
        self.capacity = capacity
        self.time_step = time_step
        super().__init__({
            "i_frame": In(stream.Signature(FrameBeat, always_ready=True)),
            "o_egress": Out(stream.Signature(FrameBeat)),
            "o_event": Out(stream.Signature(OrderEvent)),
            "o_update": Out(stream.Signature(BookUpdate, always_ready=True)),
            "busy": Out(1),
            "halted": Out(1),
            "stale": Out(1),
            "time_load": In(1),
            "time_value": In(64),
            "csr": In(hostbus.CsrPort(ADDR_WIDTH)),
            "axi": In(axil.AxiLite(AXI_ADDR_WIDTH)),
            "uart_rx": In(1, init=1),
            "uart_tx": Out(1, init=1),
            "endpoints": Out(UdpEndpoints),
            "mac_stats": In(MacStats),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = bank = CsrBank(REGMAP, ADDR_WIDTH)
        m.submodules.arbiter = arbiter = hostbus.CsrArbiter(3, ADDR_WIDTH)
        m.submodules.axi_slave = axi_slave = axil.AxiLiteSlave(AXI_ADDR_WIDTH)
        m.submodules.uart = bridge = uart.UartBridge(self.uart_divisor, ADDR_WIDTH)
        m.submodules.fastpath = fast = fastpath.FastPath(bank=bank, capacity=self.capacity)
        m.submodules.events = events = fifo.SyncFIFOBuffered(
            width=OrderEvent.as_shape().size, depth=EVENT_DEPTH)

        wiring.connect(m, arbiter=arbiter.bus, bank=bank.bus)
        wiring.connect(m, host=wiring.flipped(self.csr), arbiter=arbiter.ports[0])
        wiring.connect(m, axi=wiring.flipped(self.axi), slave=axi_slave.axi)
        wiring.connect(m, slave=axi_slave.csr, arbiter=arbiter.ports[1])
        wiring.connect(m, bridge=bridge.csr, arbiter=arbiter.ports[2])
        wiring.connect(m, mac=wiring.flipped(self.i_frame), fastpath=fast.i_frame)
        wiring.connect(m, fastpath=fast.o_egress, mac=wiring.flipped(self.o_egress))
        wiring.connect(m, fastpath=fast.o_update, monitor=wiring.flipped(self.o_update))
        m.d.comb += [
            bridge.rx.eq(self.uart_rx),
            self.uart_tx.eq(bridge.tx),
            self.busy.eq(fast.busy),
            self.halted.eq(fast.halted),
            self.stale.eq(fast.stale),
        ]

        # --- PTP clock ---------------------------------------------------------------------
        time = Signal(64)
        ptp_refused = Signal()
        set_in_range = bank.rw["ptp_set_value"] <= DAY_CYCLES
        with m.If(self.time_load):
            m.d.sync += time.eq(self.time_value + self.time_step)
        with m.Elif(bank.command["ptp_set"].stb & set_in_range):
            m.d.sync += time.eq(bank.rw["ptp_set_value"])
        with m.Else():
            m.d.sync += time.eq(time + self.time_step)
        with m.If(bank.command["ptp_set"].stb & ~set_in_range):
            m.d.sync += ptp_refused.eq(1)
        with m.Elif(bank.clear["ptp_refused"][0]):
            m.d.sync += ptp_refused.eq(0)
        m.d.comb += bank.ro["ptp_refused"].eq(ptp_refused)
        # A loaded time is seen in its own cycle, as an external time input would be.
        m.d.comb += fast.time.eq(Mux(self.time_load, self.time_value, time))

        # --- event queue -------------------------------------------------------------------
        dma = bank.rw["event_dma"]
        pop = bank.command["event_pop"].stb
        overflow = Signal()
        lost = Signal(COUNTER_BITS)
        queued = Signal(COUNTER_BITS)
        # The fast path never waits for the host: an event the queue cannot take is lost.
        m.d.comb += [
            fast.o_event.ready.eq(1),
            events.w_en.eq(fast.o_event.valid),
            events.w_data.eq(fast.o_event.p),
            self.o_event.valid.eq(dma & events.r_rdy),
            self.o_event.p.eq(events.r_data),
            events.r_en.eq(Mux(dma, self.o_event.ready, pop)),
        ]
        lose = fast.o_event.valid & ~events.w_rdy
        with m.If(lose):
            m.d.sync += overflow.eq(1)
        with m.Elif(bank.clear["event_overflow"][0]):
            m.d.sync += overflow.eq(0)
        count_events(m, SimpleNamespace(lost=lost, queued=queued),
                     {"lost": lose, "queued": fast.o_event.valid & events.w_rdy})
        m.d.comb += [
            fast.host_halt.eq(overflow),
            bank.ro["event_count"].eq(events.level),
            bank.ro["event_head"].eq(Mux(events.r_rdy, events.r_data, 0)),
            bank.ro["event_overflow"].eq(overflow),
            bank.ro["event_lost"].eq(lost),
            bank.ro["event_queued"].eq(queued),
        ]

        # --- UART bridge counters ----------------------------------------------------------
        for name in ("requests", "crc_errors", "framing_errors", "dropped_bytes"):
            m.d.comb += bank.ro[f"uart_{name}"].eq(getattr(bridge, name))

        # --- Ethernet port ------------------------------------------------------------------
        m.d.comb += [
            self.endpoints.src_mac.eq(bank.rw["eth_mac"]),
            self.endpoints.src_ip.eq(bank.rw["eth_ip"]),
            self.endpoints.src_port.eq(bank.rw["eth_port"]),
            self.endpoints.dst_mac.eq(bank.rw["eth_session_mac"]),
            self.endpoints.dst_ip.eq(bank.rw["eth_session_ip"]),
            self.endpoints.dst_port.eq(bank.rw["eth_session_port"]),
        ]
        eth_counters = SimpleNamespace(**{name: Signal(COUNTER_BITS, name=f"eth_{name}")
                                          for name, _ in ETH_COUNTERS.values()})
        count_events(m, eth_counters, {name: getattr(self.mac_stats, strobe)
                                       for strobe, (name, _) in ETH_COUNTERS.items()})
        for name, _ in ETH_COUNTERS.values():
            m.d.comb += bank.ro[f"eth_{name}"].eq(getattr(eth_counters, name))
        return m
