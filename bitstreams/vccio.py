"""The ButterStick's I/O bank supplies: the SYZYGY ports' VCCIO, set by the FPGA itself.

The ButterStick powers its SYZYGY banks from buck converters whose set point the FPGA moves by
injecting current into their feedback node from a sigma-delta DAC (one PWM pin per bank), and
whose enable it drives; until then the banks are unpowered. The circuit's values and the
method are amaranth-boards' own (the `ButterStickPlatform` docstring, amaranth-boards 0.0.21):
feedback reference 0.6 V, injection resistor 68 kOhm, feedback 53.6 kOhm, set 13 kOhm, and a
DAC cutoff of 1 / (2 pi 68 kOhm 0.1 uF). This component follows it, for a clock of our choosing
(the board top's fast-path clock rather than the oscillator the example assumes).
"""

from __future__ import annotations

import math

from amaranth import Elaboratable, Module, Signal
from amaranth.lib import io

FEEDBACK_V = 0.6
INJECTION_OHM = 68_000
FEEDBACK_OHM = 53_600
SET_OHM = 13_000
#: The DAC's output filter (the pin's RC): its cutoff, Hz.
CUTOFF_HZ = 1 / (2 * math.pi * 68_000 * 0.1e-6)
COUNTER_BITS = 10
#: The regulator's soft start, s (its data sheet's ~1 ms).
SOFT_START_S = 0.001
#: The rails' allowed range: 1.0-3.3 V (bank C: 1.8-3.3 V, for the ULPI PHY).
RANGE_V = (1.0, 3.3)


def control_voltage(vccio: float) -> float:
    """The DAC's average output that sets the buck's output to `vccio`."""
    total = FEEDBACK_V / SET_OHM
    vctl = (FEEDBACK_V * (1 + INJECTION_OHM / FEEDBACK_OHM) + INJECTION_OHM * total
            - (INJECTION_OHM / FEEDBACK_OHM) * vccio)
    if not 0.0 <= vctl <= 3.3:
        raise ValueError(f"no DAC level sets VCCIO to {vccio} V")
    return vctl


class ButterStickVccio(Elaboratable):
    """Drives the `vccio_ctrl` resource: each bank's PWM at its duty, then the enable after the
    filter has settled (4 time constants) and `power_good` a soft start later.

    `volts`: the three banks' VCCIO (A, B, C); `clock_hz`: the `sync` clock. Reset: the
    regulators disabled, `power_good` 0."""

    def __init__(self, volts: tuple[float, float, float], clock_hz: float):
        for bank, v in zip("ABC", volts, strict=True):
            low = 1.8 if bank == "C" else RANGE_V[0]
            if not low <= v <= RANGE_V[1]:
                raise ValueError(f"VCCIO{bank} must be {low}-{RANGE_V[1]} V, not {v!r}")
        if clock_hz / (1 << COUNTER_BITS) <= 4 * CUTOFF_HZ:
            raise ValueError(f"a {clock_hz / 1e6:g} MHz clock makes the PWM too slow for the "
                             f"DAC's filter")
        self.volts = volts
        self.clock_hz = clock_hz
        self.power_good = Signal()

    def elaborate(self, platform):
        m = Module()
        control = platform.request("vccio_ctrl", dir="-")
        m.submodules.pdm = pdm = io.Buffer("o", control.pdm)
        m.submodules.en = en = io.Buffer("o", control.en)
        phase = Signal(COUNTER_BITS)
        m.d.sync += phase.eq(phase + 1)
        for bank, v in enumerate(self.volts):
            duty = int(control_voltage(v) / 3.3 * (1 << COUNTER_BITS))
            m.d.sync += pdm.o[bank].eq(phase < duty)
        settle = int(4 / CUTOFF_HZ * self.clock_hz)
        soft = int(SOFT_START_S * self.clock_hz)
        elapsed = Signal(range(settle + soft + 1))
        with m.If(elapsed < settle + soft):
            m.d.sync += elapsed.eq(elapsed + 1)
        m.d.comb += [en.o.eq(elapsed >= settle),
                     self.power_good.eq(elapsed >= settle + soft)]
        return m
