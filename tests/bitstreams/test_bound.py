"""The fabric-bound circuits (bitstreams/bound.py) do the work they are timed for.

A circuit that synthesis could shrink (a lookup that never hits, a level never written back)
would place and route faster than the book's real cycle and make the bound a lie.
"""

from amaranth.sim import Simulator

from bitstreams.bound import WAYS, BookWidths, LevelUpdate, OrderLookup
from hw.rtl.capacity import DEFAULT

WIDTHS = BookWidths(DEFAULT)
ORDER, LEVEL = WIDTHS.order, WIDTHS.level


def _simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_lookup_reads_the_level_of_the_way_whose_tag_matches():
    dut = OrderLookup(WIDTHS)
    got = {}

    async def bench(ctx):
        # Table 1, way 2, set 77 holds the order; table 0, way 0 holds another ref in its set.
        ours = 1 * WAYS + 2                     # way index: table * WAYS + way
        other = 0
        orders = {ours: (77, {"valid": 1, "tag": 0x2_3456_789A_BCDE, "slot": 19, "side": 1,
                              "bucket": 200, "shares": 5}),
                  other: (5, {"valid": 1, "tag": 0x11, "slot": 3, "side": 0, "bucket": 9,
                              "shares": 1})}
        for way, (index, fields) in orders.items():
            ctx.set(dut.write_addr[way], index)
            ctx.set(dut.write_data[way], ORDER.const(fields))
            ctx.set(dut.write_en[way], 1)
        # Its level: address slot 19, side 1 (ask), bucket 200 in the circuit's packing.
        level_address = 200 | 1 << 8 | 19 << 9
        ctx.set(dut.level_write_addr, level_address)
        ctx.set(dut.level_write_data, LEVEL.const({"offset": 13, "shares": 4242}))
        ctx.set(dut.level_write_en, 1)
        await ctx.tick()
        for way in orders:
            ctx.set(dut.write_en[way], 0)
        ctx.set(dut.level_write_en, 0)
        for tag, sets in ((0x2_3456_789A_BCDE, (5, 77)), (0x2_3456_789A_BCDF, (5, 77))):
            ctx.set(dut.sets[0], sets[0])
            ctx.set(dut.sets[1], sets[1])
            ctx.set(dut.tag, tag)
            await ctx.tick().repeat(2)        # order RAM, then level RAM
            got[tag] = (ctx.get(dut.hit), ctx.get(dut.level.shares), ctx.get(dut.level.offset))

    _simulate(dut, bench)
    assert got[0x2_3456_789A_BCDE] == (1, 4242, 13)
    assert got[0x2_3456_789A_BCDF][0] == 0          # one tag bit off: no way matches


def test_level_update_adds_removes_and_writes_back():
    dut = LevelUpdate(WIDTHS)
    seen = []

    async def bench(ctx):
        ctx.set(dut.best_shares, 150)
        # The circuit has no forwarding (a bound leaves it out): events on one level are a
        # cycle apart, with a zero-share event on another level between them.
        for shares, remove in ((100, 0), (100, 0), (30, 1)):
            ctx.set(dut.addr, 321)
            ctx.set(dut.shares, shares)
            ctx.set(dut.remove, remove)
            await ctx.tick()                    # level 321 read
            seen.append((ctx.get(dut.level.shares), ctx.get(dut.is_best)))
            ctx.set(dut.addr, 7)
            ctx.set(dut.shares, 0)
            await ctx.tick()                    # level 321 written back, level 7 read
            assert ctx.get(dut.level.shares) == 0

    _simulate(dut, bench)
    assert seen == [(100, 0), (200, 1), (170, 1)]
