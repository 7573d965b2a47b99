# amaranth: UnusedElaboratable=no
# (a HostOrderPort refused at construction is never elaborated)
"""The host order port (hw/rtl/host_order.py), unit tier in the Amaranth simulator: one order
waits at a time, a second is refused, and an order is known only on a slot an R has named when
the Trader last decided on it, with that decision's book."""

import pytest

from hw.rtl.host_order import HostOrderPort
from hw.tb.unit import simulate

SLOTS = 4


def run(bench):
    simulate(HostOrderPort(slots=SLOTS), bench)


async def submit(ctx, dut, slot, price=1000):
    ctx.set(dut.submit.valid, 1)
    ctx.set(dut.submit.p, {"slot": slot, "side": 1, "ioc": 1, "price": price, "qty": 10})
    accepted, lost = ctx.get(dut.submit.ready), ctx.get(dut.lost)
    await ctx.tick()
    ctx.set(dut.submit.valid, 0)
    return accepted, lost


async def decide(ctx, dut, slot, named, trading, bid=990, ask=1010):
    ctx.set(dut.decided.valid, 1)
    ctx.set(dut.decided.p, {"slot": slot, "bid_price": bid, "ask_price": ask,
                            "trading": trading, "named": named})
    await ctx.tick()
    ctx.set(dut.decided.valid, 0)


async def take(ctx, dut):
    ctx.set(dut.take, 1)
    await ctx.tick()
    ctx.set(dut.take, 0)


def test_one_order_waits_at_a_time_and_a_second_is_refused():
    seen = []

    async def bench(ctx, dut):
        seen.append(await submit(ctx, dut, 1, price=1000))
        seen.append(await submit(ctx, dut, 2, price=2000))      # refused: one waits
        seen.append((ctx.get(dut.pending), ctx.get(dut.order.slot), ctx.get(dut.order.price)))
        await take(ctx, dut)
        seen.append(ctx.get(dut.pending))
        seen.append(await submit(ctx, dut, 2, price=2000))

    run(bench)
    assert seen == [(1, 0), (0, 1), (1, 1, 1000), 0, (1, 0)]


def test_an_order_is_known_only_on_a_slot_named_when_last_decided_with_that_book():
    seen = []

    async def bench(ctx, dut):
        await submit(ctx, dut, 2)
        seen.append(ctx.get(dut.known))                          # never decided on
        await decide(ctx, dut, 2, named=1, trading=1, bid=990, ask=1010)
        ctx.set(dut.unreliable, 0b0100)
        seen.append((ctx.get(dut.known), ctx.get(dut.book.bid_price),
                     ctx.get(dut.book.ask_price), ctx.get(dut.book.trading),
                     ctx.get(dut.book.unreliable)))
        await decide(ctx, dut, 3, named=1, trading=0)            # another slot: no change
        seen.append(ctx.get(dut.book.bid_price))
        await decide(ctx, dut, 2, named=0, trading=0)            # a rename took the slot
        seen.append(ctx.get(dut.known))

    run(bench)
    assert seen == [0, (1, 990, 1010, 1, 1), 990, 0]


def test_a_slot_beyond_the_build_is_never_known():
    seen = []

    async def bench(ctx, dut):
        await decide(ctx, dut, 0, named=1, trading=1)
        await submit(ctx, dut, SLOTS)             # its low bits alias slot 0
        seen.append(ctx.get(dut.known))

    run(bench)
    assert seen == [0]


def test_bad_sizes_are_refused():
    with pytest.raises(TypeError, match="slots must be 1..256, not 0"):
        HostOrderPort(slots=0)
