"""Pre-trade risk gate (sw/model/risk.py): every check both ways, priority, bookkeeping, campaign.

Each check is isolated against a permissive baseline (every other limit far away), then probed
just inside and just outside its bound. The campaign at the end compares the gate with a second
implementation of the rules written here from the issue text and the module docstrings, using
exact rational arithmetic (fractions) instead of the gate's scaled integers.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from sw.model.clock import CLOCK_HZ
from sw.model.config import SymbolLimits
from sw.model.orders import BUY, SELL, LiveOrder, OrderRequest, OrderState
from sw.model.risk import NEVER, Reason, RiskGate, Verdict, order_interval

LOC = 7
MID = 1_000_000                     # $100.0000
BBO = (MID - 100, 300, MID + 100, 300)   # mid = (999_900 + 1_000_100) >> 1 = 1_000_000

# Every limit far from anything the tests below send, unless a test overrides it.
PERMISSIVE = dict(max_order_qty=1_000_000, max_order_notional=1e9, collar_bps=10_000,
                  max_long=10_000_000, max_short=10_000_000, max_open_orders=255,
                  max_orders_per_sec=1_000_000, rate_burst=65_535, enabled=True)


def make_gate(position: int = 0, halted: bool = False, locate: int = LOC, **limits) -> RiskGate:
    gate = RiskGate(halted=halted)
    gate.bind(locate, SymbolLimits(**{**PERMISSIVE, **limits}), position)
    return gate


def d(side=BUY, price=MID, qty=100, locate=LOC, tif="0") -> OrderRequest:
    return OrderRequest("D", locate, side, price, qty, tif)


def g(order: LiveOrder, price=None, qty=None) -> OrderRequest:
    return OrderRequest("G", order.locate, order.side, order.price if price is None else price,
                        order.qty if qty is None else qty, order.tif, order)


def f(order: LiveOrder) -> OrderRequest:
    return OrderRequest("F", order.locate, order.side, order.price, order.qty, order.tif, order)


def check(gate, req, now=0, bbo=BBO, trading=True, stale=False) -> Verdict:
    return gate.check(req, now, bbo, trading, stale)


class Sender:
    """Check-then-send, numbering ClOrdIDs from one counter the way the fast path does."""

    def __init__(self, gate: RiskGate) -> None:
        self.gate, self.next = gate, 1

    def send(self, req, now=0, bbo=BBO, trading=True, stale=False) -> LiveOrder:
        verdict = check(self.gate, req, now, bbo, trading, stale)
        assert verdict.accepted, verdict
        order = self.gate.sent(req, self.next)
        self.next += 1
        return order


def only(verdict: Verdict, reason: Reason) -> None:
    assert verdict.failed == (reason,), verdict
    assert verdict.reason is reason and not verdict.accepted


def ok(verdict: Verdict) -> None:
    assert verdict.accepted and verdict.failed == () and verdict.reason is None, verdict


# ---------------------------------------------------------------------------------------------
# Reason codes


def test_reason_priority_order_and_codes():
    names = ["KILL_SWITCH", "SYMBOL_DISABLED", "SYMBOL_HALTED", "BOOK_STALE", "QTY_EXCEEDS_MAX",
             "NOTIONAL_EXCEEDS_MAX", "NO_REFERENCE_PRICE", "PRICE_OUTSIDE_COLLAR",
             "POSITION_LIMIT", "OPEN_ORDERS_LIMIT", "RATE_LIMITED"]
    assert [r.value for r in Reason] == names
    assert [r.code for r in Reason] == list(range(1, 12))


# ---------------------------------------------------------------------------------------------
# State checks: kill switch, disabled, halted, stale


@pytest.mark.parametrize("msg", ["D", "G"])
def test_kill_switch(msg):
    gate = make_gate()
    order = Sender(gate).send(d())
    req = d() if msg == "D" else g(order, qty=50)
    ok(check(gate, req))
    gate.halted = True
    only(check(gate, req), Reason.KILL_SWITCH)
    gate.halted = False
    ok(check(gate, req))
    only(check(make_gate(halted=True), d()), Reason.KILL_SWITCH)


def test_symbol_disabled():
    ok(check(make_gate(enabled=True), d()))
    only(check(make_gate(enabled=False), d()), Reason.SYMBOL_DISABLED)


def test_symbol_halted_by_itch_h():
    gate = make_gate()
    ok(check(gate, d(), trading=True))
    only(check(gate, d(), trading=False), Reason.SYMBOL_HALTED)


def test_book_stale():
    gate = make_gate()
    ok(check(gate, d(), stale=False))
    only(check(gate, d(), stale=True), Reason.BOOK_STALE)


# ---------------------------------------------------------------------------------------------
# Size checks


@pytest.mark.parametrize("side", [BUY, SELL])
def test_max_order_qty(side):
    gate = make_gate(max_order_qty=500)
    ok(check(gate, d(side, qty=500)))
    ok(check(gate, d(side, qty=1)))
    only(check(gate, d(side, qty=501)), Reason.QTY_EXCEEDS_MAX)
    order = Sender(gate).send(d(side, qty=400))
    ok(check(gate, g(order, qty=500)))
    only(check(gate, g(order, qty=501)), Reason.QTY_EXCEEDS_MAX)


@pytest.mark.parametrize("dollars, units, qty, price", [
    (50_000.0, 500_000_000, 100, 5_000_000),     # 100 x $500.0000 = $50,000 exactly
    (50_000.0, 500_000_000, 5_000_000, 100),     # 5e6 shares x $0.0100
    (1234.5678, 12_345_678, 2, 6_172_839),       # 2 x $617.2839 = $1234.5678
    (0.01, 100, 1, 100),                         # one share at one cent
    (19.99, 199_900, 1999, 100),                 # 1999 x $0.01 = $19.99
])
def test_max_order_notional_integer_exact(dollars, units, qty, price):
    assert qty * price == units                  # the order sits exactly on the limit
    gate = make_gate(max_order_notional=dollars, max_order_qty=10_000_000)
    at_mid = (price, 1, price, 1)                # collar at 100% around this price: never binds
    ok(check(gate, d(BUY, price, qty), bbo=at_mid))
    ok(check(gate, d(SELL, price, qty), bbo=at_mid))
    only(check(gate, d(BUY, price, qty + 1), bbo=at_mid), Reason.NOTIONAL_EXCEEDS_MAX)
    only(check(gate, d(SELL, price + 1, qty), bbo=at_mid), Reason.NOTIONAL_EXCEEDS_MAX)


def test_notional_one_unit_over():
    # 12_345_678 units allowed: 1 x 12_345_678 passes, 1 x 12_345_679 fails (one 1/10000 $)
    gate = make_gate(max_order_notional=1234.5678)
    px = 12_345_678
    ok(check(gate, d(price=px, qty=1), bbo=(px, 1, px, 1)))
    only(check(gate, d(price=px + 1, qty=1), bbo=(px, 1, px, 1)), Reason.NOTIONAL_EXCEEDS_MAX)


# ---------------------------------------------------------------------------------------------
# Reference price and collar


@pytest.mark.parametrize("bbo", [(0, 0, MID, 100), (MID, 100, 0, 0), (0, 0, 0, 0)])
def test_no_reference_price_either_side_empty(bbo):
    gate = make_gate(collar_bps=100)
    ok(check(gate, d(), bbo=BBO))
    v = check(gate, d(), bbo=bbo)
    only(v, Reason.NO_REFERENCE_PRICE)      # and the collar is not evaluated without a mid
    only(check(gate, d(SELL), bbo=bbo), Reason.NO_REFERENCE_PRICE)


def test_collar_exactly_at_bound_passes_one_unit_beyond_fails():
    gate = make_gate(collar_bps=100)     # 1% of 1_000_000 = 10_000 units
    for side in (BUY, SELL):
        ok(check(gate, d(side, MID + 10_000)))
        ok(check(gate, d(side, MID - 10_000)))
        ok(check(gate, d(side, MID)))
        only(check(gate, d(side, MID + 10_001)), Reason.PRICE_OUTSIDE_COLLAR)
        only(check(gate, d(side, MID - 10_001)), Reason.PRICE_OUTSIDE_COLLAR)


def test_collar_mid_is_floor_of_half_sum():
    # bid + ask odd: mid = (1_000_000 + 1_000_001) >> 1 = 1_000_000, not 1_000_000.5
    gate = make_gate(collar_bps=100)
    bbo = (1_000_000, 1, 1_000_001, 1)
    ok(check(gate, d(price=1_010_000), bbo=bbo))
    only(check(gate, d(price=1_010_001), bbo=bbo), Reason.PRICE_OUTSIDE_COLLAR)
    ok(check(gate, d(price=990_000), bbo=bbo))          # a rounded-up mid would fail this
    only(check(gate, d(price=989_999), bbo=bbo), Reason.PRICE_OUTSIDE_COLLAR)


def test_collar_non_integral_bound():
    # mid 1_000_003, 1 bp: bound 100.0003 units, so 100 passes and 101 fails
    gate = make_gate(collar_bps=1)
    bbo = (1_000_002, 1, 1_000_004, 1)
    ok(check(gate, d(price=1_000_103), bbo=bbo))
    ok(check(gate, d(price=999_903), bbo=bbo))
    only(check(gate, d(price=1_000_104), bbo=bbo), Reason.PRICE_OUTSIDE_COLLAR)
    only(check(gate, d(price=999_902), bbo=bbo), Reason.PRICE_OUTSIDE_COLLAR)


def test_collar_zero_means_exactly_mid():
    gate = make_gate(collar_bps=0)
    ok(check(gate, d(price=MID)))
    only(check(gate, d(price=MID + 1)), Reason.PRICE_OUTSIDE_COLLAR)
    only(check(gate, d(price=MID - 1)), Reason.PRICE_OUTSIDE_COLLAR)


def test_collar_applies_to_replace():
    gate = make_gate(collar_bps=100)
    order = Sender(gate).send(d())
    ok(check(gate, g(order, price=MID + 10_000)))
    only(check(gate, g(order, price=MID + 10_001)), Reason.PRICE_OUTSIDE_COLLAR)


# ---------------------------------------------------------------------------------------------
# Position limits: host position + open-order exposure + this order


def test_long_limit_flat():
    gate = make_gate(max_long=1000)
    ok(check(gate, d(BUY, qty=1000)))
    only(check(gate, d(BUY, qty=1001)), Reason.POSITION_LIMIT)


def test_short_limit_flat():
    gate = make_gate(max_short=1000)
    ok(check(gate, d(SELL, qty=1000)))
    only(check(gate, d(SELL, qty=1001)), Reason.POSITION_LIMIT)


@pytest.mark.parametrize("position", [300, -300, 1000, -1000])
def test_limits_include_host_position(position):
    gate = make_gate(position=position, max_long=1000, max_short=1000)
    room_long = 1000 - position           # a long position uses long room
    room_short = 1000 + position          # and adds short room (selling it down)
    for side, room in ((BUY, room_long), (SELL, room_short)):
        if room > 0:
            ok(check(gate, d(side, qty=room)))
        only(check(gate, d(side, qty=room + 1)), Reason.POSITION_LIMIT)


def test_position_updated_by_rebind():
    limits = SymbolLimits(**{**PERMISSIVE, "max_long": 1000})
    gate = RiskGate()
    gate.bind(LOC, limits, 0)
    ok(check(gate, d(BUY, qty=1000)))
    gate.bind(LOC, limits, 1)
    only(check(gate, d(BUY, qty=1000)), Reason.POSITION_LIMIT)


@pytest.mark.parametrize("side", [BUY, SELL])
def test_open_orders_count_as_exposure(side):
    other = SELL if side == BUY else BUY
    gate = make_gate(max_long=1000, max_short=1000)
    s = Sender(gate)
    s.send(d(side, qty=400))
    s.send(d(side, qty=100))
    s.send(d(other, qty=1000))            # the other side's exposure does not net off
    ok(check(gate, d(side, qty=500)))
    only(check(gate, d(side, qty=501)), Reason.POSITION_LIMIT)
    only(check(gate, d(other, qty=1)), Reason.POSITION_LIMIT)


def test_cancel_sent_orders_keep_exposure_until_ended():
    gate = make_gate(max_long=1000)
    s = Sender(gate)
    order = s.send(d(BUY, qty=1000))
    s.send(f(order))
    assert order.state is OrderState.CANCEL_SENT
    only(check(gate, d(BUY, qty=1)), Reason.POSITION_LIMIT)
    gate.order_ended(order.chain)
    ok(check(gate, d(BUY, qty=1000)))


def test_replace_growing_qty_counts_only_the_growth():
    gate = make_gate(max_long=1000)
    s = Sender(gate)
    order = s.send(d(BUY, qty=400))
    ok(check(gate, g(order, qty=1000)))             # 0 + 400 + (1000 - 400) = 1000
    only(check(gate, g(order, qty=1001)), Reason.POSITION_LIMIT)
    s.send(g(order, qty=1000))
    assert order.exposure == 1000 and order.qty == 1000
    ok(check(gate, g(order, qty=1000)))             # no growth: passes at the limit
    ok(check(gate, g(order, qty=10)))               # shrinking never adds exposure
    s.send(g(order, qty=10))
    # exposure stays at the largest quantity in flight until the host confirms
    assert order.exposure == 1000 and order.qty == 10
    only(check(gate, d(BUY, qty=1)), Reason.POSITION_LIMIT)
    ok(check(gate, g(order, qty=1000)))             # growing back to 1000 adds nothing
    only(check(gate, g(order, qty=1001)), Reason.POSITION_LIMIT)


def test_replace_short_side_with_position():
    gate = make_gate(position=-200, max_short=1000)
    s = Sender(gate)
    order = s.send(d(SELL, qty=300))                # short room left: 1000 - 200 - 300 = 500
    ok(check(gate, g(order, qty=800)))
    only(check(gate, g(order, qty=801)), Reason.POSITION_LIMIT)


def test_order_ended_releases_exposure():
    gate = make_gate(max_long=1000, max_short=1000)
    s = Sender(gate)
    buy = s.send(d(BUY, qty=600))
    sell = s.send(d(SELL, qty=700))
    s.send(g(buy, qty=900))
    only(check(gate, d(BUY, qty=101)), Reason.POSITION_LIMIT)
    only(check(gate, d(SELL, qty=301)), Reason.POSITION_LIMIT)
    gate.order_ended(buy.chain)
    ok(check(gate, d(BUY, qty=1000)))
    only(check(gate, d(SELL, qty=301)), Reason.POSITION_LIMIT)
    gate.order_ended(sell.chain)
    ok(check(gate, d(SELL, qty=1000)))
    risk = gate.symbols[LOC]
    assert (risk.open_buy, risk.open_sell, risk.open_orders) == (0, 0, 0)
    assert gate.orders == {}


# ---------------------------------------------------------------------------------------------
# Open orders per symbol


def test_open_orders_limit_new_orders_only():
    gate = make_gate(max_open_orders=2)
    s = Sender(gate)
    first = s.send(d())
    ok(check(gate, d()))
    s.send(d(SELL))
    only(check(gate, d()), Reason.OPEN_ORDERS_LIMIT)
    ok(check(gate, g(first, qty=50)))               # a replace does not open an order
    ok(check(gate, f(first)))
    s.send(f(first))                                # cancel sent: no longer counts
    ok(check(gate, d()))
    s.send(d())
    only(check(gate, d()), Reason.OPEN_ORDERS_LIMIT)


def test_open_orders_limit_zero_blocks_every_new_order():
    only(check(make_gate(max_open_orders=0), d()), Reason.OPEN_ORDERS_LIMIT)


def test_open_orders_released_once_when_ended_after_cancel():
    gate = make_gate(max_open_orders=1)
    s = Sender(gate)
    first = s.send(d())
    s.send(f(first))
    s.send(d())                                     # the one open order
    gate.order_ended(first.chain)                   # must not free a second slot
    only(check(gate, d()), Reason.OPEN_ORDERS_LIMIT)
    s.send(f(first))                                # a repeated cancel changes nothing
    only(check(gate, d()), Reason.OPEN_ORDERS_LIMIT)


def test_open_orders_released_when_live_order_ends():
    gate = make_gate(max_open_orders=1)
    s = Sender(gate)
    order = s.send(d())
    only(check(gate, d()), Reason.OPEN_ORDERS_LIMIT)
    gate.order_ended(order.chain)                   # filled at the venue
    ok(check(gate, d()))
    # ... and the strategy no longer sees it as its live quote (it opens a new chain).
    assert order.state is OrderState.ENDED


def test_open_orders_are_per_symbol():
    gate = make_gate(max_open_orders=1)
    gate.bind(LOC + 1, SymbolLimits(**{**PERMISSIVE, "max_open_orders": 1}))
    s = Sender(gate)
    s.send(d())
    ok(check(gate, d(locate=LOC + 1)))
    only(check(gate, d()), Reason.OPEN_ORDERS_LIMIT)


# ---------------------------------------------------------------------------------------------
# Order rate: a schedule (GCRA), a token bucket refilled at one order per whole interval


def test_rate_burst_then_one_per_interval():
    rate, burst = 1000, 10
    interval = CLOCK_HZ // rate                     # 156_250 cycles, exact for 1000/s
    assert interval * rate == CLOCK_HZ
    gate = make_gate(max_orders_per_sec=rate, rate_burst=burst)
    s = Sender(gate)
    t0 = 5_000_000
    for _ in range(burst):
        s.send(d(), now=t0)
    only(check(gate, d(), now=t0), Reason.RATE_LIMITED)
    t = t0
    for _ in range(20):
        only(check(gate, d(), now=t + interval - 1), Reason.RATE_LIMITED)
        t += interval
        s.send(d(), now=t)
        only(check(gate, d(), now=t), Reason.RATE_LIMITED)


def test_rate_refill_capped_at_burst():
    gate = make_gate(max_orders_per_sec=1000, rate_burst=3)
    s = Sender(gate)
    for _ in range(3):
        s.send(d(), now=0)
    t = 10 * CLOCK_HZ                                # ten idle seconds: 10_000 tokens' worth
    for _ in range(3):
        s.send(d(), now=t)
    only(check(gate, d(), now=t), Reason.RATE_LIMITED)


def test_rate_interval_rounds_up_never_faster():
    # 3 orders/s is one per 52_083_333.33 cycles: the gate paces one per 52_083_334 (rounded up,
    # so a symbol never sends faster than its limit), with the burst of 2 spent at the start.
    interval = order_interval(3)
    assert interval == 52_083_334 and CLOCK_HZ / interval <= 3
    gate = make_gate(max_orders_per_sec=3, rate_burst=2)
    s = Sender(gate)
    s.send(d(), now=0)
    s.send(d(), now=0)
    for k in range(1, 31):
        only(check(gate, d(), now=k * interval - 1), Reason.RATE_LIMITED)
        s.send(d(), now=k * interval)
        only(check(gate, d(), now=k * interval), Reason.RATE_LIMITED)


def test_rate_idle_symbol_restarts_its_schedule():
    # Burst 1: after an idle spell the next order goes at once and the one after it waits a
    # whole interval from there (the idle time is not banked beyond the burst).
    interval = order_interval(3)
    gate = make_gate(max_orders_per_sec=3, rate_burst=1)
    s = Sender(gate)
    s.send(d(), now=0)
    s.send(d(), now=5 * interval + 17)
    only(check(gate, d(), now=6 * interval + 16), Reason.RATE_LIMITED)
    s.send(d(), now=6 * interval + 17)


def test_order_interval():
    assert order_interval(1000) == 156_250 and order_interval(1) == CLOCK_HZ
    assert order_interval(1_000_000) == 157                  # 156.25 rounded up
    assert order_interval(0) == NEVER and NEVER * 1.0 / CLOCK_HZ > 30 * 3600


def test_rate_zero_means_burst_only():
    gate = make_gate(max_orders_per_sec=0, rate_burst=2)
    s = Sender(gate)
    s.send(d(), now=0)
    s.send(d(), now=1)
    only(check(gate, d(), now=100 * CLOCK_HZ), Reason.RATE_LIMITED)


def test_rate_counts_replaces_not_cancels():
    gate = make_gate(max_orders_per_sec=1, rate_burst=2)
    s = Sender(gate)
    order = s.send(d(), now=0)
    for _ in range(5):
        ok(check(gate, f(order), now=0))
        s.send(f(order), now=0)                      # cancels consume no token
    other = s.send(d(), now=0)
    only(check(gate, g(other, qty=1), now=0), Reason.RATE_LIMITED)
    s.send(g(other, qty=1), now=CLOCK_HZ)            # one second later: one token
    only(check(gate, d(), now=CLOCK_HZ), Reason.RATE_LIMITED)


def test_rejected_orders_consume_no_token():
    gate = make_gate(max_orders_per_sec=1000, rate_burst=1, max_order_qty=100)
    s = Sender(gate)
    for _ in range(50):
        only(check(gate, d(qty=101), now=0), Reason.QTY_EXCEEDS_MAX)
    s.send(d(), now=0)                               # the one token is still there
    only(check(gate, d(), now=0), Reason.RATE_LIMITED)
    for _ in range(50):                              # rate-rejected ones take nothing either
        only(check(gate, d(), now=156_249), Reason.RATE_LIMITED)
    s.send(d(), now=156_250)


def test_rate_buckets_are_per_symbol():
    gate = make_gate(max_orders_per_sec=1, rate_burst=1)
    gate.bind(LOC + 1, SymbolLimits(**{**PERMISSIVE, "max_orders_per_sec": 1, "rate_burst": 1}))
    s = Sender(gate)
    s.send(d(), now=0)
    only(check(gate, d(), now=0), Reason.RATE_LIMITED)
    s.send(d(locate=LOC + 1), now=0)


def test_lowering_burst_counts_what_was_sent():
    limits = dict(PERMISSIVE, max_orders_per_sec=1, rate_burst=10)
    gate = RiskGate()
    gate.bind(LOC, SymbolLimits(**limits))
    s = Sender(gate)
    s.send(d(), now=0)                               # one of the burst of 10 spent
    gate.bind(LOC, SymbolLimits(**{**limits, "rate_burst": 2}))
    s.send(d(), now=0)                               # the second of the new burst of 2
    only(check(gate, d(), now=0), Reason.RATE_LIMITED)
    s.send(d(), now=CLOCK_HZ)


def test_longer_interval_applies_from_the_schedule_already_set():
    limits = dict(PERMISSIVE, max_orders_per_sec=2, rate_burst=1)
    gate = RiskGate()
    gate.bind(LOC, SymbolLimits(**limits))
    s = Sender(gate)
    s.send(d(), now=0)                               # due again at half a second
    gate.bind(LOC, SymbolLimits(**{**limits, "max_orders_per_sec": 1}))
    s.send(d(), now=CLOCK_HZ // 2)                   # the schedule set at 2/s holds
    only(check(gate, d(), now=CLOCK_HZ + CLOCK_HZ // 2 - 1), Reason.RATE_LIMITED)
    s.send(d(), now=CLOCK_HZ + CLOCK_HZ // 2)        # then one a second


# ---------------------------------------------------------------------------------------------
# All failures reported, in priority order; cancels never blocked


def all_failing_gate() -> tuple[RiskGate, LiveOrder]:
    gate = make_gate(max_order_qty=10, max_order_notional=1.0, collar_bps=0, max_long=50,
                     max_short=50, max_open_orders=1, max_orders_per_sec=0, rate_burst=1)
    order = Sender(gate).send(d(qty=10, price=1000), bbo=(1000, 1, 1000, 1))
    gate.halted = True
    gate.bind(LOC, SymbolLimits(**{**PERMISSIVE, "max_order_qty": 10, "max_order_notional": 1.0,
                                   "collar_bps": 0, "max_long": 50, "max_short": 50,
                                   "max_open_orders": 1, "max_orders_per_sec": 0,
                                   "rate_burst": 1, "enabled": False}))
    return gate, order


def test_every_failing_check_reported_in_priority_order():
    gate, _ = all_failing_gate()
    req = d(BUY, price=MID + 1, qty=100)
    v = check(gate, req, bbo=BBO, trading=False, stale=True)
    assert v.failed == tuple(r for r in Reason if r is not Reason.NO_REFERENCE_PRICE)
    assert v.reason is Reason.KILL_SWITCH
    v = check(gate, req, bbo=(0, 0, MID, 1), trading=False, stale=True)
    assert v.failed == tuple(r for r in Reason if r is not Reason.PRICE_OUTSIDE_COLLAR)
    assert gate.rejects["KILL_SWITCH"] == 2 and sum(gate.rejects.values()) == 2


def test_first_reason_follows_priority_when_fewer_fail():
    gate = make_gate(max_order_qty=10, collar_bps=0)
    v = check(gate, d(qty=11, price=MID + 5), stale=True)
    assert v.failed == (Reason.BOOK_STALE, Reason.QTY_EXCEEDS_MAX, Reason.PRICE_OUTSIDE_COLLAR)
    assert gate.rejects == {"BOOK_STALE": 1}


def test_cancel_never_blocked():
    gate, order = all_failing_gate()
    for bbo in (BBO, (0, 0, 0, 0)):
        ok(check(gate, f(order), bbo=bbo, trading=False, stale=True))
    gate.sent(f(order), 99)
    assert order.state is OrderState.CANCEL_SENT and order.clordid == 99
    assert not gate.rejects


# ---------------------------------------------------------------------------------------------
# Order table


def test_live_orders_in_clordid_order_and_records():
    gate = make_gate()
    s = Sender(gate)
    a = s.send(d(BUY, price=MID - 5, qty=10, tif="0"))
    b = s.send(d(SELL, price=MID + 5, qty=20, tif="3"))
    c = s.send(d(BUY, price=MID - 6, qty=30))
    assert (a.chain, a.clordid, a.locate, a.side, a.price, a.qty, a.exposure, a.tif) == (
        1, 1, LOC, BUY, MID - 5, 10, 10, "0")
    assert (b.chain, b.side, b.tif, b.state) == (2, SELL, "3", OrderState.LIVE)
    assert gate.live_orders() == [a, b, c]
    s.send(g(a, price=MID - 4, qty=15))              # replaced: new ClOrdID, same chain slot
    assert (a.chain, a.clordid, a.price, a.qty, a.exposure) == (1, 4, MID - 4, 15, 15)
    assert gate.live_orders() == [a, b, c]
    s.send(f(b))
    assert b.clordid == 5
    assert gate.live_orders() == [a, c]
    gate.order_ended(c.chain)
    assert gate.live_orders() == [a]
    assert list(gate.orders) == [1, 2]              # b held until the host confirms its end
    gate.order_ended(b.chain)
    assert list(gate.orders) == [1]


# ---------------------------------------------------------------------------------------------
# Random campaign against an independent reference


class RefOrder:
    def __init__(self, chain, locate, side, qty):
        self.chain, self.locate, self.side = chain, locate, side
        self.exposure, self.live = qty, True


class RefSymbol:
    def __init__(self, lim: dict, position: int):
        self.lim, self.position = lim, position
        self.due = 0                                 # the next order's theoretical cycle
        self.now = self.interval = 0                 # the latest check's, for `sent`


class Reference:
    """The rules, restated from the issue and docstrings, in exact rational arithmetic."""

    def __init__(self):
        self.halted = False
        self.syms: dict[int, RefSymbol] = {}
        self.orders: dict[int, RefOrder] = {}

    def verdict(self, kind, locate, side, price, qty, chain, now, bbo, trading, stale):
        sym = self.syms[locate]
        lim = sym.lim
        out = []
        if self.halted:
            out.append("KILL_SWITCH")
        if not lim["enabled"]:
            out.append("SYMBOL_DISABLED")
        if not trading:
            out.append("SYMBOL_HALTED")
        if stale:
            out.append("BOOK_STALE")
        if qty > lim["max_order_qty"]:
            out.append("QTY_EXCEEDS_MAX")
        if Fraction(qty * price, 10_000) > Fraction(repr(lim["max_order_notional"])):
            out.append("NOTIONAL_EXCEEDS_MAX")
        bid, ask = bbo[0], bbo[2]
        if not bid or not ask:
            out.append("NO_REFERENCE_PRICE")
        else:
            mid = (bid + ask) // 2
            if Fraction(abs(price - mid), mid) > Fraction(lim["collar_bps"], 10_000):
                out.append("PRICE_OUTSIDE_COLLAR")
        mine = [o for o in self.orders.values() if o.locate == locate]
        held = sum(o.exposure for o in mine if o.side == side)
        added = qty if kind == "D" else max(0, qty - self.orders[chain].exposure)
        if side == BUY:
            over = sym.position + held + added > lim["max_long"]
        else:
            over = held - sym.position + added > lim["max_short"]
        if over:
            out.append("POSITION_LIMIT")
        if kind == "D" and sum(o.live for o in mine) >= lim["max_open_orders"]:
            out.append("OPEN_ORDERS_LIMIT")
        # ITU-T I.371 virtual scheduling: an order may come (burst - 1) intervals before its
        # theoretical time; the next one's is a whole interval (ceil(CLOCK_HZ / rate),
        # 2**44 - 1 for 0) after this one's, or after its own cycle if that is later.
        rate = lim["max_orders_per_sec"]
        sym.interval = math.ceil(Fraction(CLOCK_HZ, rate)) if rate else (1 << 44) - 1
        if now < sym.due - (lim["rate_burst"] - 1) * sym.interval:
            out.append("RATE_LIMITED")
        sym.now = now
        return out

    def sent(self, kind, locate, side, qty, chain, clordid):
        if kind == "F":
            self.orders[chain].live = False
            return
        sym = self.syms[locate]
        sym.due = max(sym.due, sym.now) + sym.interval
        if kind == "D":
            self.orders[clordid] = RefOrder(clordid, locate, side, qty)
        else:
            o = self.orders[chain]
            o.exposure = max(o.exposure, qty)


def random_limits(rng: random.Random) -> dict:
    def pick(*values):                               # the first value is the harsh, rare one
        return rng.choice(values[:1] + values[1:] * 4)

    return dict(
        max_order_qty=pick(1, 50, 100, 300, 600),
        max_order_notional=pick(0.01, 500.0, 1234.5678, 25_000.0, 50_000.0),
        collar_bps=pick(0, 1, 5, 50, 100, 500),
        max_long=pick(0, 500, 1000, 3000),
        max_short=pick(0, 500, 1000, 3000),
        max_open_orders=pick(0, 1, 2, 3, 5),
        max_orders_per_sec=pick(0, 1, 3, 1000, 7000),
        rate_burst=pick(1, 2, 5),
        enabled=rng.random() < 0.85,
    )


def test_random_campaign_against_reference():
    rng = random.Random(20261120)
    gate, ref = RiskGate(), Reference()
    locates = [1, 2, 3]
    for loc in locates:
        lim, pos = random_limits(rng), rng.randint(-600, 600)
        gate.bind(loc, SymbolLimits(**lim), pos)
        ref.syms[loc] = RefSymbol(lim, pos)
    now, clordid = 0, 1
    seen: dict[str, int] = {}
    accepted = {"D": 0, "G": 0, "F": 0}
    steps = 4000
    for step in range(steps):
        now += rng.choice([0, 0, 0, 0, 1, 1_000, 156_249, 156_250, 10_000_000, 52_083_333,
                           CLOCK_HZ])
        if rng.random() < (0.2 if ref.halted else 0.01):     # kill switch: rare, short
            gate.halted = ref.halted = not ref.halted
        if step % 200 == 199:                        # new limits for one symbol
            loc = rng.choice(locates)
            lim = random_limits(rng)
            gate.bind(loc, SymbolLimits(**lim), ref.syms[loc].position)
            ref.syms[loc].lim = lim
        if rng.random() < 0.03:                      # host confirms a new position
            loc = rng.choice(locates)
            pos = rng.randint(-1500, 1500)
            gate.bind(loc, gate.symbols[loc].limits, pos)
            ref.syms[loc].position = pos
        if ref.orders and rng.random() < 0.08:       # host confirms an order's end
            chain = rng.choice(sorted(ref.orders))
            gate.order_ended(chain)
            del ref.orders[chain]

        loc = rng.choice(locates)
        lim = ref.syms[loc].lim
        center = rng.randint(5_000, 600_000)
        spread = rng.randint(0, 3)
        bid, ask = center - spread, center + spread + rng.randint(0, 1)
        r = rng.random()
        if r < 0.1:
            bid = 0
        elif r < 0.2:
            ask = 0
        bbo = (bid, rng.randint(1, 900), ask, rng.randint(1, 900))
        mid = (bid + ask) // 2 if bid and ask else center
        bound = lim["collar_bps"] * mid // 10_000
        if rng.random() < 0.7:                       # inside the collar, edges included
            price = mid + rng.choice([-bound, bound, rng.randint(-bound, bound)])
        else:                                        # just beyond, or anywhere
            price = mid + rng.choice([-bound - 1, bound + 1,
                                      rng.randint(-2 * bound - 2, 2 * bound + 2)])
        price = max(1, price)
        cap = lim["max_order_qty"]
        by_notional = max(1, Fraction(repr(lim["max_order_notional"])) * 10_000 // price)
        if rng.random() < 0.75:                      # inside both size limits, edges included
            top = min(cap, by_notional)
            qty = rng.choice([1, top, rng.randint(1, top)])
        else:                                        # one beyond either, or anywhere
            qty = rng.choice([cap + 1, by_notional + 1, rng.randint(1, 2 * cap + 2)])
        trading, stale = rng.random() < 0.92, rng.random() < 0.06

        live = [o for o in gate.live_orders() if o.locate == loc]
        kind = rng.choices(["D", "G", "F"], [0.6, 0.25, 0.15])[0] if live else "D"
        if kind == "D":
            side = rng.choice([BUY, SELL])
            req, chain = OrderRequest("D", loc, side, price, qty, rng.choice("03")), None
        else:
            order = rng.choice(live)
            side, chain = order.side, order.chain
            req = OrderRequest(kind, loc, side, price, qty, order.tif, order)

        verdict = gate.check(req, now, bbo, trading, stale)
        if kind == "F":
            expected = []
        else:
            expected = ref.verdict(kind, loc, side, price, qty, chain, now, bbo, trading, stale)
        assert [r.value for r in verdict.failed] == expected, (step, kind, req, bbo)
        for name in expected:
            seen[name] = seen.get(name, 0) + 1
        if verdict.accepted:
            gate.sent(req, clordid)
            ref.sent(kind, loc, side, qty, chain, clordid)
            clordid += 1
            accepted[kind] += 1

        assert [o.chain for o in gate.live_orders()] == \
            [c for c, o in sorted(ref.orders.items()) if o.live]
        assert sorted(gate.orders) == sorted(ref.orders)
        for each in locates:
            risk = gate.symbols[each]
            mine = [o for o in ref.orders.values() if o.locate == each]
            assert risk.open_orders == sum(o.live for o in mine)
            assert risk.open_buy == sum(o.exposure for o in mine if o.side == BUY)
            assert risk.open_sell == sum(o.exposure for o in mine if o.side == SELL)

    # the campaign must actually exercise every rule, both ways
    for reason in Reason:
        assert seen.get(reason.value, 0) >= 10, (reason, seen)
    assert min(accepted.values()) >= 50, accepted
