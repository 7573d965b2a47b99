"""RGMII <-> GMII at 1 Gb/s: the double-data-rate pins of the board's Ethernet PHY as bytes.

Data flow: RGMII pins -> DDR input registers -> GMII (`rx_data`, `rx_dv`, `rx_er`) -> `MacRx`;
`MacTx` -> GMII (`tx_data`, `tx_en`, `tx_er`) -> DDR output registers -> RGMII pins.

RGMII carries a byte per clock on 4 wires and a control line, on both edges: the rising edge
carries data bits 3:0 and RX_DV (TX_EN), the falling edge bits 7:4 and RX_DV xor RX_ER (TX_EN
xor TX_ER). The transmit clock is sent by a DDR output of (1, 0) clocked 90 degrees after the
data, so it lags the data by 2 ns at the PHY (the PHY need not add a delay).

Two components with the same GMII side and the same timing:
- `RgmiiBoard`, for the board: `io.DDRBuffer`s on the `eth_rgmii` resource's ports.
- `RgmiiSim`, for simulation (Amaranth's simulator and Verilator), where `io.DDRBuffer` cannot
  elaborate: behavioural DDR registers with the timing of Amaranth's `io.DDRBuffer` on ECP5
  (IDDRX1F, ODDRX1F), the pins being ports of the component.
"""

from amaranth import Cat, ClockDomain, ClockSignal, Const, Module, Mux, Signal, Value
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out

#: Cycles from the rising edge carrying a byte's low nibble to the byte on GMII rx_data
#: (IDDRX1F's output register: `io.DDRBuffer`'s input latency on ECP5).
RX_LATENCY = 1
#: Cycles from a byte on GMII tx_data to its low nibble on the pins: the output register
#: `io.DDRBuffer` samples in, plus the two pipeline stages of ECP5's ODDRX1F (Amaranth delays
#: the output enable by 2 for them, amaranth/vendor/_lattice.py).
TX_LATENCY = 3

_GMII_SIDE = {
    "rx_data": Out(8), "rx_dv": Out(1), "rx_er": Out(1),
    "tx_data": In(8), "tx_en": In(1), "tx_er": In(1),
}


def _check_domains(rx_domain, tx_domain, tx90_domain) -> tuple[str, str, str]:
    names = (rx_domain, tx_domain, tx90_domain)
    for what, name in zip(("rx_domain", "tx_domain", "tx90_domain"), names, strict=True):
        if not isinstance(name, str) or not name:
            raise TypeError(f"{what} must be a non-empty domain name, not {name!r}")
    if len(set(names)) != 3:
        raise ValueError(f"rx_domain, tx_domain and tx90_domain must differ, not {names!r}")
    return names


def _gmii_from_ddr(m: Module, gmii, data: tuple[Value, Value], ctl: tuple[Value, Value]):
    """GMII receive signals from the rising ([0]) and falling ([1]) edge captures."""
    m.d.comb += [
        gmii.rx_data.eq(Cat(data[0], data[1])),
        gmii.rx_dv.eq(ctl[0]),
        gmii.rx_er.eq(ctl[0] ^ ctl[1]),
    ]


def _ddr_from_gmii(gmii) -> tuple[tuple[Value, Value], tuple[Value, Value]]:
    """The rising ([0]) and falling ([1]) edge data and control for GMII transmit signals."""
    return ((gmii.tx_data[:4], gmii.tx_data[4:]),
            (gmii.tx_en, gmii.tx_en ^ gmii.tx_er))


class RgmiiSim(wiring.Component):
    """RGMII <-> GMII at 1 Gb/s with behavioural DDR registers, for simulation only.

    Pins: `rgmii_rx_data`, `rgmii_rx_ctl` (in, clocked by `rx_domain`), `rgmii_tx_data`,
    `rgmii_tx_ctl` (out, from `tx_domain`), `rgmii_tx_clk` (out, from `tx90_domain`, which
    the parent clocks 90 degrees after `tx_domain`). GMII side: `rx_*` out (in `rx_domain`),
    `tx_*` in (sampled in `tx_domain`).

    Timing, as `io.DDRBuffer` on ECP5: the nibble on the pins at rising edge k and the one at
    the following falling edge form a byte on `rx_data` from rising edge k + RX_LATENCY (1);
    `tx_data` sampled at rising edge k is on the pins from edge k + 2 (low nibble while the
    clock is high, high nibble while it is low): TX_LATENCY (3) cycles from tx_data to pins.
    Rate: one byte per clock each way; no backpressure.
    Reset: the DDR registers have no reset, as IDDRX1F/ODDRX1F in the design (RST tied 0);
    they hold zeros (idle) from power-up. Bad input: none is possible; RX_ER is passed on.
    """

    def __init__(self, *, rx_domain: str = "eth_rx", tx_domain: str = "eth_tx",
                 tx90_domain: str = "eth_tx90"):
        self.rx_domain, self.tx_domain, self.tx90_domain = _check_domains(
            rx_domain, tx_domain, tx90_domain)
        super().__init__({
            "rgmii_rx_data": In(4), "rgmii_rx_ctl": In(1),
            "rgmii_tx_data": Out(4), "rgmii_tx_ctl": Out(1), "rgmii_tx_clk": Out(1),
            **_GMII_SIDE,
        })

    def elaborate(self, platform):
        m = Module()

        rise, fall = self._ddr_in(m, Cat(self.rgmii_rx_data, self.rgmii_rx_ctl))
        (data0, data1), (ctl0, ctl1) = _ddr_from_gmii(self)
        m.d.comb += [
            Cat(self.rgmii_tx_data, self.rgmii_tx_ctl).eq(
                self._ddr_out(m, self.tx_domain, Cat(data0, ctl0), Cat(data1, ctl1))),
            self.rgmii_tx_clk.eq(
                self._ddr_out(m, self.tx90_domain, Const(1, 1), Const(0, 1))),
        ]
        _gmii_from_ddr(m, self, (rise[:4], fall[:4]), (rise[4], fall[4]))
        return m

    def _ddr_in(self, m: Module, port: Value) -> tuple[Signal, Signal]:
        """IDDRX1F: capture on both edges, both halves out together after the next rising
        edge. The falling edge is a local domain on the same clock signal."""
        neg = f"{self.rx_domain}_neg"
        m.domains += ClockDomain(neg, clk_edge="neg", reset_less=True, local=True)
        m.d.comb += ClockSignal(neg).eq(ClockSignal(self.rx_domain))
        width = len(port)
        rise_r = Signal(width, reset_less=True)
        fall_r = Signal(width, reset_less=True)
        rise = Signal(width, reset_less=True)
        fall = Signal(width, reset_less=True)
        m.d[self.rx_domain] += [rise_r.eq(port), rise.eq(rise_r), fall.eq(fall_r)]
        m.d[neg] += fall_r.eq(port)
        return rise, fall

    @staticmethod
    def _ddr_out(m: Module, domain: str, rise: Value, fall: Value) -> Value:
        """ODDRX1F: both halves sampled at a rising edge, through 2 more pipeline stages, then
        the rising half on the pin while the clock is high and the falling half while low."""
        width = len(rise)
        stages = [Signal(2 * width, reset_less=True, name=f"{domain}_oddr{n}")
                  for n in range(TX_LATENCY)]
        m.d[domain] += stages[0].eq(Cat(rise, fall))
        m.d[domain] += [stages[n + 1].eq(stages[n]) for n in range(TX_LATENCY - 1)]
        return Mux(ClockSignal(domain), stages[-1][:width], stages[-1][width:])


class RgmiiBoard(wiring.Component):
    """RGMII <-> GMII at 1 Gb/s on the board: `io.DDRBuffer`s on the PHY's pins.

    `pins`: the `eth_rgmii` resource requested with `dir="-"` (subsignals rx_clk, rx_ctrl or
    rx_ctl, rx_data, tx_clk, tx_ctrl or tx_ctl, tx_data). The parent makes `rx_domain` from
    rx_clk, and `tx_domain` and `tx90_domain` (90 degrees later) from a PLL. GMII side, timing,
    rate and reset exactly as `RgmiiSim` (which models these buffers for simulation).
    """

    def __init__(self, pins, *, rx_domain: str = "eth_rx", tx_domain: str = "eth_tx",
                 tx90_domain: str = "eth_tx90"):
        self.rx_domain, self.tx_domain, self.tx90_domain = _check_domains(
            rx_domain, tx_domain, tx90_domain)
        self.pins = pins
        self._ports = {name: self._subsignal(pins, *names) for name, names in {
            "rx_data": ("rx_data",), "rx_ctl": ("rx_ctl", "rx_ctrl"),
            "tx_data": ("tx_data",), "tx_ctl": ("tx_ctl", "tx_ctrl"), "tx_clk": ("tx_clk",),
        }.items()}
        for name, width in (("rx_data", 4), ("tx_data", 4), ("rx_ctl", 1), ("tx_ctl", 1),
                            ("tx_clk", 1)):
            if len(self._ports[name]) != width:
                raise ValueError(f"RGMII {name} must be {width} pins wide, not "
                                 f"{len(self._ports[name])}")
        super().__init__(_GMII_SIDE)

    @staticmethod
    def _subsignal(pins, *names):
        for name in names:
            try:
                return getattr(pins, name)
            except AttributeError:
                continue
        raise TypeError(f"pins have no {' or '.join(names)} subsignal (an eth_rgmii resource "
                        f"requested with dir='-' is expected)")

    def elaborate(self, platform):
        m = Module()

        p = self._ports
        m.submodules.rx_data = rx_data = io.DDRBuffer("i", p["rx_data"], i_domain=self.rx_domain)
        m.submodules.rx_ctl = rx_ctl = io.DDRBuffer("i", p["rx_ctl"], i_domain=self.rx_domain)
        m.submodules.tx_data = tx_data = io.DDRBuffer("o", p["tx_data"], o_domain=self.tx_domain)
        m.submodules.tx_ctl = tx_ctl = io.DDRBuffer("o", p["tx_ctl"], o_domain=self.tx_domain)
        m.submodules.tx_clk = tx_clk = io.DDRBuffer("o", p["tx_clk"],
                                                    o_domain=self.tx90_domain)

        (data0, data1), (ctl0, ctl1) = _ddr_from_gmii(self)
        m.d.comb += [
            tx_data.o[0].eq(data0), tx_data.o[1].eq(data1),
            tx_ctl.o[0].eq(ctl0), tx_ctl.o[1].eq(ctl1),
            tx_clk.o[0].eq(1), tx_clk.o[1].eq(0),
        ]
        _gmii_from_ddr(m, self, (rx_data.i[0], rx_data.i[1]), (rx_ctl.i[0], rx_ctl.i[1]))
        return m
