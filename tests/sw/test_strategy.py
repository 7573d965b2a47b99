"""Strategy: quote prices from the documented integer formula, and the D/G/F decisions."""

import pytest

from sw.model.config import StrategyParams
from sw.model.orders import BUY, SELL, LiveOrder, OrderState
from sw.model.strategy import Strategy, quote_prices

P = StrategyParams()  # tick 100, half spread 2 ticks, skew 1 tick per 128 shares


@pytest.mark.parametrize(
    ("bbo", "position", "expected"),
    [
        # even mid 10200: 10200 -/+ 200, already on the grid
        ((10_000, 100, 10_400, 100), 0, (10_000, 10_400)),
        # odd mid 10150: 9950 floors to 9900, 10350 ceils to 10400
        ((10_000, 100, 10_300, 100), 0, (9_900, 10_400)),
        # long 256 shares = 2 units -> reservation 2 ticks lower
        ((10_000, 100, 10_400, 100), 256, (9_800, 10_200)),
        # short 200 shares = -1 unit (truncated toward zero) -> 1 tick higher, bid clamped
        ((10_000, 100, 10_400, 100), -200, (10_100, 10_500)),
        # short 100 shares is less than one unit: no skew
        ((10_000, 100, 10_400, 100), -100, (10_000, 10_400)),
    ],
)
def test_quote_prices_follow_the_formula(bbo, position, expected):
    assert quote_prices(P, bbo, position) == expected


def test_quotes_never_cross_the_touch():
    """A heavy skew would put the bid through the ask; it is clamped one tick inside."""
    p = P.model_copy(update={"skew_ticks": 10})
    bid_q, ask_q = quote_prices(p, (10_000, 1, 10_100, 1), -1_000)  # short: quotes move up
    assert bid_q == 10_100 - 100
    assert ask_q > bid_q
    bid_q, ask_q = quote_prices(p, (10_000, 1, 10_100, 1), 1_000)   # long: quotes move down
    assert ask_q == 10_000 + 100


def _strategy(**params):
    s = Strategy()
    s.bind(1, P.model_copy(update=params))
    return s


def _place(s, reqs, start=1):
    for n, req in enumerate(reqs, start):
        order = LiveOrder(n, n, req.locate, req.side, req.price, req.qty, req.qty, req.tif)
        s.placed(req, order)


BBO = (10_000, 100, 10_400, 100)


def test_first_evaluation_places_both_sides():
    reqs = _strategy().evaluate(1, BBO, True, 0)
    assert [(r.msg_type, r.side, r.price, r.qty) for r in reqs] == [
        ("D", BUY, 10_000, 100), ("D", SELL, 10_400, 100)]


def test_requote_threshold():
    s = _strategy(requote_ticks=2)
    _place(s, s.evaluate(1, BBO, True, 0))
    assert s.evaluate(1, BBO, True, 0) == []
    # mid moves one tick: within the 2-tick threshold, nothing
    assert s.evaluate(1, (10_100, 100, 10_500, 100), True, 0) == []
    # two ticks: both quotes replaced, naming the live orders
    reqs = s.evaluate(1, (10_200, 100, 10_600, 100), True, 0)
    assert [(r.msg_type, r.price) for r in reqs] == [("G", 10_200), ("G", 10_600)]
    assert [r.order.chain for r in reqs] == [1, 2]


def test_size_change_replaces_even_at_same_price():
    s = _strategy()
    _place(s, s.evaluate(1, BBO, True, 0))
    s.bind(1, P.model_copy(update={"size": 200}))
    reqs = s.evaluate(1, BBO, True, 0)
    assert [(r.msg_type, r.qty) for r in reqs] == [("G", 200), ("G", 200)]


@pytest.mark.parametrize(("bbo", "permitted"), [
    ((10_000, 100, 0, 0), True),     # one-sided book: no fair value
    ((0, 0, 10_400, 100), True),
    (BBO, False),                     # halted, stale or kill switch
])
def test_quotes_are_pulled_without_a_fair_value_or_permission(bbo, permitted):
    s = _strategy()
    _place(s, s.evaluate(1, BBO, True, 0))
    reqs = s.evaluate(1, bbo, permitted, 0)
    assert [(r.msg_type, r.side, r.order.chain) for r in reqs] == [("F", BUY, 1), ("F", SELL, 2)]


def test_cancelled_quote_is_not_cancelled_twice_and_is_replaced_by_a_new_order():
    s = _strategy()
    _place(s, s.evaluate(1, BBO, True, 0))
    s.symbols[1].quotes[BUY].state = OrderState.CANCEL_SENT  # e.g. by the kill switch
    reqs = s.evaluate(1, BBO, True, 0)
    assert [(r.msg_type, r.side) for r in reqs] == [("D", BUY)]
    assert [r.msg_type for r in s.evaluate(1, (0, 0, 0, 0), True, 0)] == ["F"]  # ask only


def test_non_positive_bid_cancels_only_the_bid():
    s = _strategy()
    _place(s, s.evaluate(1, (10_000, 1, 10_400, 1), True, 0))
    reqs = s.evaluate(1, (100, 1, 300, 1), True, 0)  # bid quote would be 200 - 200 = 0
    assert [(r.msg_type, r.side) for r in reqs] == [("F", BUY), ("G", SELL)]


def test_mode_off_places_nothing():
    assert _strategy(mode="off").evaluate(1, BBO, True, 0) == []


def test_take_mode_thresholds_and_sizes():
    s = _strategy(mode="take", size=150, take_buy_at_or_below=10_400,
                  take_sell_at_or_above=10_001)
    reqs = s.evaluate(1, (10_000, 500, 10_400, 120), True, 0)
    # buy: ask 10400 <= 10400, qty min(150, 120); sell: bid 10000 < 10001, nothing
    assert [(r.msg_type, r.side, r.price, r.qty, r.tif) for r in reqs] == [
        ("D", BUY, 10_400, 120, "3")]
    reqs = s.evaluate(1, (10_001, 500, 10_401, 120), True, 0)
    assert [(r.side, r.price, r.qty) for r in reqs] == [(SELL, 10_001, 150)]
    assert s.evaluate(1, (10_001, 500, 10_400, 120), False, 0) == []  # not permitted


def test_ioc_orders_are_not_tracked_as_quotes():
    s = _strategy(mode="take", take_buy_at_or_below=10_400)
    reqs = s.evaluate(1, BBO, True, 0)
    _place(s, reqs)
    assert s.symbols[1].quotes == [None, None]


def test_unknown_locate_is_ignored():
    assert Strategy().evaluate(9, BBO, True, 0) == []
