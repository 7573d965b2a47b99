"""Board tops: the card with its Gigabit Ethernet port on a real ECP5 board.

    oscillator -> Ecp5Pll -> sync (fast path, 625/N MHz), eth_tx (125 MHz), eth_tx90
    RGMII pins <-> DDR I/O buffers (hw/rtl/rgmii.py) <-> EthernetCard (hw/rtl/ethernet_card.py)
    USB UART pins <-> the card's UART bridge (the host's drivers/uart.py)
    lights: link (green), halted (red), feed stale (blue)

Each board is one `Board` entry: the amaranth-boards platform (pins, clocks and I/O standards
come from it, never restated here), the capacity it is built at, the fast path's divider and
how openFPGALoader reaches it. `nerve build --board NAME` builds one (bitstreams/build.py) and
`nerve flash --board NAME` loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from amaranth import ClockDomain, ClockSignal, Elaboratable, Module, ResetSignal, Signal
from amaranth.lib import cdc, io

from bitstreams.pll import Ecp5Pll, plan
from hw.rtl import rgmii
from hw.rtl.capacity import BOARD, Capacity
from hw.rtl.ethernet_card import EthernetCard
from spec.ethernet import GMII_HZ

#: The PHY is held in reset this long after the PLL locks (the data sheets ask 10 ms).
PHY_RESET_S = 0.012


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    platform: Callable[[], object]      # an amaranth-boards platform class
    capacity: Capacity
    #: The fast path runs at 625 MHz / fast_divider (bitstreams/pll.py).
    fast_divider: int
    #: openFPGALoader's arguments that select the board and its cable.
    loader: tuple[str, ...]
    #: Each light: (resource, number, subsignal, bit) it drives, active high.
    lights: dict[str, tuple[str, int, str, int]] = field(default_factory=dict)
    #: Subsignals of the lights' resources held at 1 (a muxed LED's colour lines).
    light_levels: tuple[tuple[str, int, str], ...] = ()
    #: The UART resource the host's bridge uses.
    uart: tuple[str, int] = ("uart", 0)
    #: Board-specific parts: resources it adds to its platform, and logic it needs (its I/O
    #: supplies), as `(platform, fast_hz) -> Elaboratable`.
    add_resources: Callable[[object], None] | None = None
    support: Callable[[object, float], Elaboratable] | None = None

    def pll(self, fast_divider: int | None = None):
        platform = self.platform()
        return plan(int(platform.default_clk_frequency), fast_divider or self.fast_divider)


def _ecpix5():
    from amaranth_boards.ecpix5 import ECPIX585Platform
    return ECPIX585Platform()


def _butterstick():
    from amaranth_boards.butterstick import ButterStickPlatform
    return ButterStickPlatform()


def _butterstick_uart(platform) -> None:
    """The host's UART on SYZYGY port A's first two single-ended pins (S0 in, S1 out), for a
    3.3 V USB-serial adapter: the ButterStick's own USB goes to a ULPI PHY, not a UART."""
    from amaranth.build import Attrs
    from amaranth_boards.resources import UARTResource
    platform.add_resources([UARTResource(1, rx="S0", tx="S1", conn=("syzygy", 0),
                                         attrs=Attrs(IO_TYPE="LVCMOS33"))])


def _butterstick_supplies(platform, fast_hz: float) -> Elaboratable:
    from bitstreams.vccio import ButterStickVccio
    # Port A at 3.3 V for the UART adapter; B and C at their lowest safe settings.
    return ButterStickVccio((3.3, 1.8, 1.8), fast_hz)


BOARDS: dict[str, Board] = {
    board.name: board for board in (
        # 625 / 20 = 31.25 MHz: met with margin (42.8 MHz routed); at 625 / 16 = 39.06 MHz the
        # first build routed at 37.1 MHz (docs/boards.md).
        Board("ecpix5-85", "LambdaConcept ECPIX-5, LFE5UM5G-85F", _ecpix5, BOARD,
              fast_divider=20, loader=("-b", "ecpix5"),
              lights={"link": ("rgb_led", 0, "g", 0), "halted": ("rgb_led", 1, "r", 0),
                      "stale": ("rgb_led", 2, "b", 0)}),
        Board("butterstick-85", "GsD ButterStick r1.0, LFE5UM5G-85F", _butterstick, BOARD,
              fast_divider=20, loader=("--dfu",),
              lights={"link": ("rgb_leds_muxed", 0, "leds", 0),
                      "halted": ("rgb_leds_muxed", 0, "leds", 1),
                      "stale": ("rgb_leds_muxed", 0, "leds", 2)},
              light_levels=(("rgb_leds_muxed", 0, "r"), ("rgb_leds_muxed", 0, "g"),
                            ("rgb_leds_muxed", 0, "b")),
              uart=("uart", 1), add_resources=_butterstick_uart,
              support=_butterstick_supplies),
    )
}


def by_name(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; the boards are: "
                         f"{', '.join(sorted(BOARDS))}") from None


class BoardTop(Elaboratable):
    """The bitstream's top: clocks and resets, the PHY's reset, the RGMII I/O, the card, the
    UART and the lights (module doc)."""

    def __init__(self, board: Board, capacity: Capacity | None = None,
                 fast_divider: int | None = None):
        self.board = board
        self.capacity = capacity or board.capacity
        self.plan = board.pll(fast_divider)

    def elaborate(self, platform):
        m = Module()
        clk_in = platform.request(platform.default_clk, dir="-")
        m.submodules.clk_in = clk_buffer = io.Buffer("i", clk_in)
        m.submodules.pll = pll = Ecp5Pll(self.plan, clk_buffer.i)

        # Clocks: the fast path and the MAC's transmit side from the PLL, the receive side from
        # the PHY. Each domain leaves reset when the PLL has locked, synchronised to itself.
        for name, clock in (("sync", pll.fast), ("eth_tx", pll.gmii),
                            ("eth_tx90", pll.gmii_90)):
            m.domains += ClockDomain(name)
            m.d.comb += ClockSignal(name).eq(clock)
            m.submodules[f"reset_{name}"] = cdc.ResetSynchronizer(~pll.locked, domain=name)
        pins = platform.request("eth_rgmii", 0, dir="-")
        m.submodules.rx_clk = rx_clk = io.Buffer("i", pins.rx_clk)
        m.domains += ClockDomain("eth_rx")
        m.d.comb += ClockSignal("eth_rx").eq(rx_clk.i)
        m.submodules.reset_eth_rx = cdc.ResetSynchronizer(~pll.locked, domain="eth_rx")
        # On the pin: the buffer's output net is renamed in synthesis (merged with the domain's
        # clock), and a constraint on a net nextpnr cannot find is silently its 12 MHz default.
        platform.add_clock_constraint(pins.rx_clk.io, GMII_HZ)
        platform.add_clock_constraint(pll.fast, float(self.plan.fast_hz))
        platform.add_clock_constraint(pll.gmii, GMII_HZ)

        m.submodules.card = card = EthernetCard(fast_hz=float(self.plan.fast_hz),
                                                time_step=self.plan.time_step,
                                                capacity=self.capacity)
        m.submodules.rgmii = phy = rgmii.RgmiiBoard(pins)
        m.d.comb += [
            card.rx_data.eq(phy.rx_data), card.rx_dv.eq(phy.rx_dv), card.rx_er.eq(phy.rx_er),
            phy.tx_data.eq(card.tx_data), phy.tx_en.eq(card.tx_en), phy.tx_er.eq(card.tx_er),
        ]

        # The PHY comes out of reset once the clocks are up, and stays in reset while they
        # are not.
        hold_cycles = int(PHY_RESET_S * self.plan.fast_hz)
        hold = Signal(range(hold_cycles + 1))
        phy_reset = Signal(init=1)
        m.submodules.phy_rst = phy_rst = io.Buffer("o", pins.rst)
        with m.If(hold == hold_cycles):
            m.d.sync += phy_reset.eq(0)
        with m.Else():
            m.d.sync += hold.eq(hold + 1)
        m.d.comb += phy_rst.o.eq(phy_reset | ResetSignal("sync"))

        board = self.board
        if board.add_resources is not None:
            board.add_resources(platform)
        if board.support is not None:
            m.submodules.support = board.support(platform, float(self.plan.fast_hz))
        uart = platform.request(*board.uart, dir="-")
        m.submodules.uart_rx = uart_rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = uart_tx = io.Buffer("o", uart.tx)
        m.d.comb += [card.uart_rx.eq(uart_rx.i), uart_tx.o.eq(card.uart_tx)]

        requested = {}

        def light_pin(name: str, number: int, subsignal: str, bit: int | None = None):
            if (name, number) not in requested:
                requested[name, number] = platform.request(name, number, dir="-")
            port = getattr(requested[name, number], subsignal)
            buffer = io.Buffer("o", port if bit is None else port[bit])
            m.submodules[f"light_{name}_{number}_{subsignal}_{bit}"] = buffer
            return buffer.o

        for light, (name, number, subsignal, bit) in board.lights.items():
            m.d.comb += light_pin(name, number, subsignal, bit).eq(getattr(card, light))
        for name, number, subsignal in board.light_levels:
            m.d.comb += light_pin(name, number, subsignal).eq(1)
        return m
