# amaranth: UnusedElaboratable=no
# (a BestLevelFinder refused at construction is never elaborated)
"""The best-level finder (hw/rtl/best_level.py), unit tier in the Amaranth simulator: random
rows, both sides, one a clock, each answered `LATENCY` cycles later with the highest set bucket
for bids and the lowest for asks."""

import random

import pytest
from amaranth.sim import Simulator

from hw.rtl.best_level import LATENCY, BestLevelFinder


def expected(row: int, side: int) -> tuple[int, int | None]:
    if row == 0:
        return 0, None
    return 1, (row.bit_length() - 1 if side == 0 else (row & -row).bit_length() - 1)


@pytest.mark.parametrize("levels", [2, 8, 64, 256])
def test_every_row_gets_its_best_bucket_latency_cycles_later(levels):
    dut = BestLevelFinder(levels)
    rng = random.Random(levels)
    rows = [(0, 0), (0, 1), (1, 1), (1 << (levels - 1), 0), ((1 << levels) - 1, 1)]
    rows += [(rng.getrandbits(levels) & rng.getrandbits(levels), rng.getrandbits(1))
             for _ in range(100)]
    got = []

    async def bench(ctx):
        for row, side in rows:
            ctx.set(dut.row, row)
            ctx.set(dut.side, side)
            await ctx.tick().repeat(LATENCY)      # the next row goes in right after
            found = ctx.get(dut.any)
            got.append((found, ctx.get(dut.best) if found else None))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == [expected(row, side) for row, side in rows]


def test_levels_must_be_a_power_of_two():
    with pytest.raises(TypeError, match="levels must be a power of two of at least 2, not 48"):
        BestLevelFinder(48)
