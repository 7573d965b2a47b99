# amaranth: UnusedElaboratable=no
# (the constructor test builds FIFOs only to see their arguments checked)

"""FallThroughFIFO (hw/rtl/fallthrough.py), in the Amaranth simulator: no cycle when empty,
order kept and nothing lost under random offers and random backpressure, full refused."""

import random

import pytest
from amaranth.sim import Simulator

from hw.rtl.fallthrough import FallThroughFIFO


def simulate(dut: FallThroughFIFO, bench) -> None:
    sim = Simulator(dut)
    sim.add_clock(6.4e-9)
    sim.add_testbench(bench)
    sim.run()


def test_an_empty_fifo_passes_an_entry_through_in_the_same_cycle():
    dut = FallThroughFIFO(shape=16, depth=4)
    seen = {}

    async def bench(ctx):
        ctx.set(dut.r.ready, 1)
        ctx.set(dut.w.valid, 1)
        ctx.set(dut.w.p, 0x1234)
        seen["through"] = (ctx.get(dut.r.valid), ctx.get(dut.r.p), ctx.get(dut.w.ready))
        await ctx.tick()
        ctx.set(dut.w.valid, 0)
        seen["level_after"] = ctx.get(dut.level)
        seen["valid_after"] = ctx.get(dut.r.valid)

    simulate(dut, bench)
    assert seen == {"through": (1, 0x1234, 1), "level_after": 0, "valid_after": 0}


@pytest.mark.parametrize("seed", range(4))
def test_random_offers_and_backpressure_keep_order_and_lose_nothing(seed):
    rng = random.Random(seed)
    dut = FallThroughFIFO(shape=16, depth=4)
    out: list[int] = []
    refused: list[int] = []
    offered: list[int] = []

    async def bench(ctx):
        value = 0
        for _ in range(2_000):
            offer = rng.random() < 0.5
            ctx.set(dut.w.valid, offer)
            ctx.set(dut.w.p, value)
            ctx.set(dut.r.ready, rng.random() < 0.6)
            if ctx.get(dut.r.valid) and ctx.get(dut.r.ready):
                out.append(ctx.get(dut.r.p))
            if offer:
                (offered if ctx.get(dut.w.ready) else refused).append(value)
                if ctx.get(dut.w.ready):
                    value += 1            # a refused entry is offered again
                else:
                    assert ctx.get(dut.level) == 4     # refused only when full
            await ctx.tick()
        ctx.set(dut.w.valid, 0)
        ctx.set(dut.r.ready, 1)
        for _ in range(10):
            if ctx.get(dut.r.valid):
                out.append(ctx.get(dut.r.p))
            await ctx.tick()

    simulate(dut, bench)
    assert out == offered and len(out) > 500 and refused


def test_depth_is_checked():
    with pytest.raises(TypeError, match=r"depth must be an integer >= 2, not 1"):
        FallThroughFIFO(shape=8, depth=1)
