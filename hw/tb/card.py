"""The simulated card: the one Verilator build of hw/rtl/nic.py that every whole-card cocotb
test shares (the replays, the tick-to-trade benchmark, the served card of drivers/sim.py).

One build per run: every user asks for it here, with the same parameters, so the Verilog (and
the cached build, hw/tb/sim.py) is the same. The suite simulates the default capacity; a
benchmark may ask for another (hw/rtl/capacity.py), which is a build of its own.
"""

from __future__ import annotations

from pathlib import Path

from hw.rtl.capacity import DEFAULT, Capacity
from hw.rtl.nic import Nic
from hw.tb import sim

#: Clock cycles per UART bit in simulation: fast to simulate; a pseudo-terminal ignores baud.
SIM_UART_DIVISOR = 8
#: The fast path's clock period, ns (156.25 MHz).
CLOCK_NS = 6.4


def build(*, waves: bool | None = None, capacity: Capacity = DEFAULT) -> sim.SimBuild:
    # Converting the card to Verilog takes about 30 s; the sources it comes from decide it.
    return sim.build("nic", lambda: Nic(uart_divisor=SIM_UART_DIVISOR, capacity=capacity),
                     waves=waves, sources=[*sim.rtl_sources(), Path(__file__)],
                     key=f"uart_divisor={SIM_UART_DIVISOR} capacity={capacity}")
