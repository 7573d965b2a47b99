"""The unit tier's runner: one block in the Amaranth simulator, driven by one async testbench.

The cocotb + Verilator tier (hw/tb/sim.py) checks exported Verilog; this one checks a block's
own behaviour in seconds, without a build.
"""

from collections.abc import Awaitable, Callable

from amaranth.lib import wiring
from amaranth.sim import Simulator

#: The unit tier's clock period, s (the figure does not matter: results are in cycles).
PERIOD = 1e-8


def simulate(dut: wiring.Component, bench: Callable[..., Awaitable[None]]) -> None:
    """Run `bench(ctx, dut)` against `dut` under a clock until it returns."""
    sim = Simulator(dut)
    sim.add_clock(PERIOD)

    async def testbench(ctx):
        await bench(ctx, dut)

    sim.add_testbench(testbench)
    sim.run()
