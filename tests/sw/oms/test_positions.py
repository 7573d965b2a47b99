"""Positions and P&L (sw/oms/positions.py): average cost, realised and unrealised P&L, fees.

The reference is exact arithmetic with fractions, written from the definitions in the module
doc (average cost of the shares held; P&L realised on the shares a fill closes)."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from sw.oms.positions import Position, PositionBook


def test_a_long_is_bought_at_an_average_and_sold_at_a_profit():
    p = Position()
    p.fill(+1, 100, 1_000_000)
    p.fill(+1, 100, 1_010_000)
    assert (p.qty, p.cost, p.avg_price) == (200, 201_000_000, 1_005_000)
    assert p.fill(-1, 50, 1_020_000) == 50 * 15_000
    assert (p.qty, p.cost, p.realised_pnl) == (150, 150_750_000, 750_000)
    assert p.unrealised_pnl(1_000_000) == 150 * -5_000


def test_a_short_is_covered_at_a_profit_and_the_cross_through_zero_opens_a_long():
    p = Position()
    p.fill(-1, 100, 1_000_000)                 # short 100 at $100
    assert (p.qty, p.cost) == (-100, -100_000_000)
    assert p.unrealised_pnl(990_000) == 100 * 10_000
    assert p.fill(+1, 150, 990_000) == 100 * 10_000   # covers 100, buys 50 more
    assert (p.qty, p.cost, p.avg_price) == (50, 49_500_000, 990_000)


def test_fees_are_kept_apart_and_a_rebate_is_negative():
    p = Position()
    p.fill(+1, 100, 1_000_000, fee=3_000)
    p.fill(-1, 100, 1_000_100, fee=-2_000)
    assert (p.realised_pnl, p.fees, p.net_realised) == (10_000, 1_000, 9_000)


def test_a_flat_position_has_no_unrealised_pnl_and_an_unmarked_one_is_unknown():
    book = PositionBook()
    book.fill("AAPL", "V1", +1, 10, 1_000_000)
    assert book.unrealised("AAPL") is None
    assert book.totals()["unrealised_pnl"] is None and book.totals()["net_pnl"] is None
    book.mark("AAPL", 1_000_500)
    assert book.unrealised("AAPL") == 5_000
    book.fill("AAPL", "V2", -1, 10, 1_000_000)
    book.mark("AAPL", None)
    assert book.unrealised("AAPL") == 0
    assert book.by_venue[("AAPL", "V1")].qty == 10 and book.by_venue[("AAPL", "V2")].qty == -10


@pytest.mark.parametrize("seed", range(5))
def test_random_fills_match_exact_average_cost_and_money_is_conserved(seed):
    rng = random.Random(seed)
    p = Position()
    qty, avg, realised, cash = 0, Fraction(0), Fraction(0), 0
    for _ in range(500):
        side = rng.choice((+1, -1))
        size = rng.randint(1, 300)
        price = rng.randint(900_000, 1_100_000)
        p.fill(side, size, price)
        cash -= side * size * price
        signed = side * size
        if qty == 0 or (qty > 0) == (signed > 0):
            avg = (avg * abs(qty) + price * size) / (abs(qty) + size)
        else:
            closed = min(size, abs(qty))
            realised += (price - avg) * closed * (1 if qty > 0 else -1)
            if size > closed:
                avg = Fraction(price)
        qty += signed
        if qty == 0:
            avg = Fraction(0)
        assert p.qty == qty
        assert abs(p.realised_pnl - realised) <= 500          # floors of one unit a fill
        # Money is conserved exactly: what was paid and received is realised P&L less what
        # the open position cost.
        assert cash == p.realised_pnl - p.cost
    mark = 1_000_000
    assert p.unrealised_pnl(mark) + p.realised_pnl == cash + mark * p.qty


def test_a_fill_must_have_shares():
    with pytest.raises(ValueError, match="positive quantity"):
        Position().fill(+1, 0, 100)
