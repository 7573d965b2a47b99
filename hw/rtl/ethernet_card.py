"""A card with its own Gigabit Ethernet port: the Nic behind an EthernetPort.

    GMII (eth_rx) -> EthernetPort -> Nic.i_frame ... Nic.o_egress -> EthernetPort -> GMII
    host: the Nic's UART bridge (a dev board's USB UART) or its `csr` port (a testbench)

What a board top (bitstreams/boards.py) puts between its RGMII pins and its USB UART, and what
the board simulation (tests/hw/test_ethernet_card.py) drives through RGMII models. The Nic's
AXI4-Lite slave and event DMA are left idle: a dev board has no PCIe shell, and its host pops
events through the registers.
"""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.rtl import hostbus
from hw.rtl.capacity import DEFAULT, Capacity
from hw.rtl.ethernet_port import EthernetPort
from hw.rtl.nic import ADDR_WIDTH, Nic

#: A received frame keeps the link light on for 2**ACTIVITY_BITS fast-path cycles (0.54 s at
#: 31.25 MHz).
ACTIVITY_BITS = 24


class EthernetCard(wiring.Component):
    """The Nic and its Ethernet port (see the module doc).

    Ports: GMII as EthernetPort's; `uart_rx`/`uart_tx` (the host's bridge); `csr` (a second
    host port, for testbenches); lights, each level-true: `link` (a frame arrived in the last
    2**ACTIVITY_BITS cycles: without MDIO the card cannot read the PHY's link state), `halted`
    (trading halted), `stale` (the feed is stale).
    Latency, rate, reset: the Nic's and the port's; `fast_hz` is the fast path's clock (for the
    UART bridge's divisor and the port's clock-ratio check); `time_step` as `Nic`.
    """

    def __init__(self, *, fast_hz: float, time_step: int, capacity: Capacity = DEFAULT,
                 uart_baud: int = 115_200, rx_buffer_beats: int = 512):
        self.fast_hz = fast_hz
        self.time_step = time_step
        self.capacity = capacity
        self.uart_divisor = round(fast_hz / uart_baud)
        self.rx_buffer_beats = rx_buffer_beats
        super().__init__({
            "rx_data": In(8), "rx_dv": In(1), "rx_er": In(1),
            "tx_data": Out(8), "tx_en": Out(1), "tx_er": Out(1),
            "uart_rx": In(1, init=1), "uart_tx": Out(1, init=1),
            "csr": In(hostbus.CsrPort(ADDR_WIDTH)),
            "link": Out(1), "halted": Out(1), "stale": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.nic = nic = Nic(uart_divisor=self.uart_divisor, capacity=self.capacity,
                                     time_step=self.time_step)
        m.submodules.port = port = EthernetPort(fast_hz=self.fast_hz,
                                                rx_buffer_beats=self.rx_buffer_beats)

        wiring.connect(m, port=port.o_frame, nic=nic.i_frame)
        wiring.connect(m, nic=nic.o_egress, port=port.i_message)
        wiring.connect(m, host=wiring.flipped(self.csr), nic=nic.csr)

        since_frame = Signal(ACTIVITY_BITS + 1, init=1 << ACTIVITY_BITS)
        m.d.comb += [
            port.rx_data.eq(self.rx_data), port.rx_dv.eq(self.rx_dv), port.rx_er.eq(self.rx_er),
            self.tx_data.eq(port.tx_data), self.tx_en.eq(port.tx_en), self.tx_er.eq(port.tx_er),
            port.endpoints.eq(nic.endpoints),
            nic.mac_stats.eq(port.stats),
            nic.uart_rx.eq(self.uart_rx),
            self.uart_tx.eq(nic.uart_tx),
            self.link.eq(~since_frame[-1]),
            self.halted.eq(nic.halted),
            self.stale.eq(nic.stale),
        ]
        # Starts dark (the top bit set) until the first frame.
        with m.If(port.activity):
            m.d.sync += since_frame.eq(0)
        with m.Elif(~since_frame[-1]):
            m.d.sync += since_frame.eq(since_frame + 1)
        return m
