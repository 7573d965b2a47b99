"""The board's clocks from its oscillator: one ECP5 PLL (EHXPLLL) for the Gigabit MAC's
transmit clock, the same clock a quarter period late for the RGMII transmit clock pin, and the
fast path's clock.

Every output divides one VCO of 625 MHz: 125 MHz = 625 / 5 for GMII, and the fast path at
625 / N MHz. N is a multiple of 4, so the fast path's clock is 156.25 MHz / (N / 4) and the
card's time keeps its 6.4 ns unit by counting N / 4 per clock (`Nic(time_step=)`).

Lattice's EHXPLLL limits (FPGA-TN-02200, "ECP5 and ECP5-5G sysCLOCK PLL/DCS/DCC Usage
Guide"): VCO 400-800 MHz, phase-frequency detector input 3.125-400 MHz, dividers 1-128
(feedback 1-80). The feedback is taken from CLKOP, so CLKOP = PFD x CLKFB_DIV.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from amaranth import Elaboratable, Instance, Module, Signal

VCO_HZ = 625_000_000
GMII_DIVIDER = 5                 # 625 / 5 = 125 MHz
PFD_RANGE_HZ = (3_125_000, 400_000_000)
#: A VCO cycle is split into 8 fine phase steps (CLKOx_FPHASE).
FINE_STEPS = 8


@dataclass(frozen=True)
class PllPlan:
    """The EHXPLLL's dividers for an input clock and a fast-path divider."""

    input_hz: int
    input_divider: int           # CLKI_DIV
    feedback_divider: int        # CLKFB_DIV (feedback from CLKOP at 125 MHz)
    fast_divider: int            # CLKOS2_DIV

    @property
    def fast_hz(self) -> Fraction:
        return Fraction(VCO_HZ, self.fast_divider)

    @property
    def time_step(self) -> int:
        """Cycles of 156.25 MHz (6.4 ns) per fast-path clock."""
        return self.fast_divider // 4


def plan(input_hz: int, fast_divider: int) -> PllPlan:
    """Dividers giving 125 MHz on CLKOP from `input_hz`, and 625 / `fast_divider` MHz."""
    if fast_divider % 4 or not 8 <= fast_divider <= 128:
        raise ValueError(f"fast_divider must be a multiple of 4 in 8..128 (the fast path at "
                         f"625 MHz / N, a whole number of 6.4 ns steps), not {fast_divider!r}")
    gmii_hz = VCO_HZ // GMII_DIVIDER
    for input_divider in range(1, 129):
        pfd = Fraction(input_hz, input_divider)
        feedback = Fraction(gmii_hz) / pfd
        if (feedback.denominator == 1 and 1 <= feedback <= 80
                and PFD_RANGE_HZ[0] <= pfd <= PFD_RANGE_HZ[1]):
            return PllPlan(input_hz, input_divider, int(feedback), fast_divider)
    raise ValueError(f"no EHXPLLL setting makes 125 MHz exactly from {input_hz} Hz")


class Ecp5Pll(Elaboratable):
    """The EHXPLLL of `plan`: `gmii` (125 MHz), `gmii_90` (125 MHz, 90 degrees late: 2 ns, the
    RGMII transmit clock's delay against its data), `fast` (the fast path's clock), and
    `locked`. Not simulated: it is an ECP5 primitive (nextpnr models it)."""

    def __init__(self, plan: PllPlan, clk_in):
        self.plan = plan
        self.clk_in = clk_in
        self.gmii = Signal()
        self.gmii_90 = Signal()
        self.fast = Signal()
        self.locked = Signal()

    def elaborate(self, platform):
        m = Module()
        p = self.plan
        # A quarter of 125 MHz is 1.25 VCO cycles: one coarse step and two fine steps.
        quarter = Fraction(GMII_DIVIDER, 4)
        coarse, fine = int(quarter), int((quarter - int(quarter)) * FINE_STEPS)
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{p.input_hz / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{VCO_HZ / GMII_DIVIDER / 1e6:g}",
            a_FREQUENCY_PIN_CLKOS=f"{VCO_HZ / GMII_DIVIDER / 1e6:g}",
            a_FREQUENCY_PIN_CLKOS2=f"{float(p.fast_hz) / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
            a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED", p_DPHASE_SOURCE="DISABLED",
            p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB", p_OUTDIVIDER_MUXC="DIVC",
            p_OUTDIVIDER_MUXD="DIVD", p_PLLRST_ENA="DISABLED", p_FEEDBK_PATH="CLKOP",
            p_CLKI_DIV=p.input_divider, p_CLKFB_DIV=p.feedback_divider,
            p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=GMII_DIVIDER,
            p_CLKOP_CPHASE=GMII_DIVIDER - 1, p_CLKOP_FPHASE=0,
            p_CLKOS_ENABLE="ENABLED", p_CLKOS_DIV=GMII_DIVIDER,
            p_CLKOS_CPHASE=GMII_DIVIDER - 1 + coarse, p_CLKOS_FPHASE=fine,
            p_CLKOS2_ENABLE="ENABLED", p_CLKOS2_DIV=p.fast_divider,
            p_CLKOS2_CPHASE=p.fast_divider - 1, p_CLKOS2_FPHASE=0,
            i_CLKI=self.clk_in, i_CLKFB=self.gmii, i_RST=0, i_STDBY=0,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0, i_ENCLKOS=0, i_ENCLKOS2=0,
            o_CLKOP=self.gmii, o_CLKOS=self.gmii_90, o_CLKOS2=self.fast, o_LOCK=self.locked)
        return m
