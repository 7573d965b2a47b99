# amaranth: UnusedElaboratable=no
# (a QuoteBook refused at construction is never elaborated)
"""The live quotes (hw/rtl/quotes.py), unit tier in the Amaranth simulator: a passed D places a
side's quote, a G moves its terms only, and only the quote's own chain can forget it."""

import pytest

from hw.rtl.quotes import QuoteBook
from hw.tb.unit import simulate


def run(bench):
    simulate(QuoteBook(slots=4, orders=8), bench)


async def place(ctx, dut, slot, side, handle, price, qty, new_chain):
    ctx.set(dut.place.valid, 1)
    ctx.set(dut.place.p, {"slot": slot, "side": side, "handle": handle,
                          "terms": {"price": price, "qty": qty}, "new_chain": new_chain})
    await ctx.tick()
    ctx.set(dut.place.valid, 0)


async def forget(ctx, dut, slot, side, handle):
    ctx.set(dut.forget.valid, 1)
    ctx.set(dut.forget.p, {"slot": slot, "side": side, "handle": handle})
    await ctx.tick()
    ctx.set(dut.forget.valid, 0)


def quote(ctx, dut, slot, side):
    ctx.set(dut.slot, slot)
    q = dut.quotes[side]
    return (ctx.get(q.live), ctx.get(q.handle), ctx.get(q.terms.price), ctx.get(q.terms.qty))


def test_a_d_places_the_quote_a_g_moves_its_terms_and_other_slots_are_untouched():
    seen = []

    async def bench(ctx, dut):
        seen.append(quote(ctx, dut, 2, 1)[0])                  # reset: nothing live
        await place(ctx, dut, 2, 1, handle=5, price=1000, qty=100, new_chain=1)
        seen.append(quote(ctx, dut, 2, 1))
        await place(ctx, dut, 2, 1, handle=7, price=1100, qty=50, new_chain=0)   # a G
        seen.append(quote(ctx, dut, 2, 1))
        seen.append((quote(ctx, dut, 2, 0)[0], quote(ctx, dut, 3, 1)[0]))

    run(bench)
    assert seen == [0, (1, 5, 1000, 100), (1, 5, 1100, 50), (0, 0)]


def test_only_the_quotes_own_chain_forgets_it():
    seen = []

    async def bench(ctx, dut):
        await place(ctx, dut, 1, 0, handle=3, price=990, qty=100, new_chain=1)
        await forget(ctx, dut, 1, 0, handle=4)       # another chain of that side: a host order
        seen.append(quote(ctx, dut, 1, 0)[0])
        await forget(ctx, dut, 1, 1, handle=3)       # the other side
        seen.append(quote(ctx, dut, 1, 0)[0])
        await forget(ctx, dut, 1, 0, handle=3)
        seen.append(quote(ctx, dut, 1, 0)[0])

    run(bench)
    assert seen == [1, 1, 0]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"slots": 0, "orders": 8}, "slots must be 1..256, not 0"),
    ({"slots": 4, "orders": 12}, "orders must be a power of two >= 2, not 12"),
])
def test_bad_sizes_are_refused(kwargs, message):
    with pytest.raises(TypeError, match=message):
        QuoteBook(**kwargs)
