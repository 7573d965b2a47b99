# amaranth: UnusedElaboratable=no
# (a ChainTable refused at construction is never elaborated)
"""The order table's ring (hw/rtl/chains.py), unit tier in the Amaranth simulator: chains open at
the tail in order, cancel and end clear what they should, the ring wraps, a full tail is seen,
and the entries read back a cycle after their address."""

import pytest

from hw.rtl.chains import ChainTable, Entry
from hw.tb.unit import simulate

ORDERS = 4


def run(bench, orders=ORDERS):
    simulate(ChainTable(orders), bench)


def entry(chain, price):
    return Entry.const({"chain": chain, "clordid": chain, "slot": 1, "side": 0,
                        "price": price, "qty": 100, "exposure": 100, "ioc": 0})


def test_chains_open_at_the_tail_wrap_round_and_a_used_tail_is_full():
    seen = {}

    async def bench(ctx, dut):
        for n in range(ORDERS):
            assert ctx.get(dut.tail) == n and not ctx.get(dut.full)
            ctx.set(dut.allocate, 1)
            await ctx.tick()
        ctx.set(dut.allocate, 0)
        seen["wrapped"] = (ctx.get(dut.tail), ctx.get(dut.full), ctx.get(dut.open_chains),
                           ctx.get(dut.used), ctx.get(dut.live))
        ctx.set(dut.end.valid, 1)
        ctx.set(dut.end.p, 0)                  # the oldest chain ends: its entry is free again
        await ctx.tick()
        ctx.set(dut.end.valid, 0)
        seen["freed"] = (ctx.get(dut.full), ctx.get(dut.open_chains), ctx.get(dut.used))

    run(bench)
    assert seen["wrapped"] == (0, 1, 4, 0b1111, 0b1111)
    assert seen["freed"] == (0, 3, 0b1110)


def test_a_cancel_clears_live_but_keeps_the_entry_used_until_its_end():
    seen = []

    async def bench(ctx, dut):
        ctx.set(dut.allocate, 1)
        await ctx.tick().repeat(2)
        ctx.set(dut.allocate, 0)
        ctx.set(dut.cancel.valid, 1)
        ctx.set(dut.cancel.p, 1)
        await ctx.tick()
        ctx.set(dut.cancel.valid, 0)
        seen.append((ctx.get(dut.used), ctx.get(dut.live), ctx.get(dut.open_chains)))
        ctx.set(dut.end.valid, 1)
        ctx.set(dut.end.p, 1)
        await ctx.tick()
        ctx.set(dut.end.valid, 0)
        seen.append((ctx.get(dut.used), ctx.get(dut.live), ctx.get(dut.open_chains)))

    run(bench)
    assert seen == [(0b11, 0b01, 2), (0b01, 0b01, 1)]


def test_entries_read_back_a_cycle_after_their_address_on_both_ports():
    got = []

    async def bench(ctx, dut):
        for addr, price in ((2, 1000), (3, 2000)):
            ctx.set(dut.write.valid, 1)
            ctx.set(dut.write.p.addr, addr)
            ctx.set(dut.write.p.entry, entry(addr, price))
            await ctx.tick()
        ctx.set(dut.write.valid, 0)
        ctx.set(dut.read[0].addr, 3)
        ctx.set(dut.read[1].addr, 2)
        await ctx.tick()
        got.append((ctx.get(dut.read[0].data.price), ctx.get(dut.read[1].data.price)))

    run(bench)
    assert got == [(2000, 1000)]


def test_the_capacity_must_be_a_power_of_two():
    with pytest.raises(TypeError, match="orders must be a power of two >= 2, not 6"):
        ChainTable(6)
