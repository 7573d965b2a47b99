"""The venue's matching engine (sw/venue/matching.py): our orders against a replayed market.

Each test builds a small market from ITCH messages (sw.feed.itch records) and checks the
execution reports, field by field, against the fill rules in the module doc."""

from __future__ import annotations

import pytest

from sw.feed import itch
from sw.fix.enums import LastLiquidityInd
from sw.venue.matching import (
    CancelReject,
    CancelRequest,
    CxlRejReason,
    ExecType,
    MatchingEngine,
    NewOrder,
    OrdRejReason,
    OrdStatus,
    ProbQueueModel,
    ReplaceRequest,
    Side,
    TimeInForce,
    VenueSettings,
)

SYM = "AAPL"


class Feed:
    """ITCH messages with increasing timestamps and fresh order refs, fed to an engine."""

    def __init__(self, engine: MatchingEngine) -> None:
        self.engine = engine
        self.now = 1_000
        self.ref = 0
        self.reports = []
        self.send(itch.StockDirectory(1, 0, self.now, SYM, "Q", "N", 100, "N", "C", "Z ", "P",
                                      "N", "N", "1", "N", 0, "N"))
        self.send(itch.StockTradingAction(1, 0, self.now, SYM, "T", " ", "    "))

    def send(self, msg) -> list:
        got = self.engine.on_market(msg)
        self.reports.extend(got)
        return got

    def tick(self, ns: int = 1_000) -> int:
        self.now += ns
        return self.now

    def add(self, side: str, price: int, shares: int) -> int:
        self.ref += 1
        self.send(itch.AddOrder(1, 0, self.tick(), self.ref, side, shares, SYM, price))
        return self.ref

    def execute(self, ref: int, shares: int) -> list:
        return self.send(itch.OrderExecuted(1, 0, self.tick(), ref, shares, 1))

    def cancel(self, ref: int, shares: int) -> list:
        return self.send(itch.OrderCancel(1, 0, self.tick(), ref, shares))

    def delete(self, ref: int) -> list:
        return self.send(itch.OrderDelete(1, 0, self.tick(), ref))

    def trade(self, side: str, price: int, shares: int) -> list:
        return self.send(itch.Trade(1, 0, self.tick(), 0, side, shares, SYM, price, 7))

    def order(self, request) -> list:
        """Submit at the current feed time and let the market run past its arrival."""
        self.engine.submit(request, self.now)
        return self.engine.advance(self.tick(self.engine.settings.latency_in_ns))


def engine(**settings) -> tuple[MatchingEngine, Feed]:
    eng = MatchingEngine(VenueSettings(**({"latency_in_ns": 0, "latency_out_ns": 0} | settings)))
    return eng, Feed(eng)


def buy(clordid: str, qty: int, price: int, tif=TimeInForce.DAY) -> NewOrder:
    return NewOrder(clordid, SYM, Side.BUY, qty, price, tif)


def sell(clordid: str, qty: int, price: int, tif=TimeInForce.DAY) -> NewOrder:
    return NewOrder(clordid, SYM, Side.SELL, qty, price, tif)


MAKER, TAKER = LastLiquidityInd.ADDED_LIQUIDITY, LastLiquidityInd.REMOVED_LIQUIDITY


def fills(reports) -> list[tuple[int, int, str]]:
    return [(r.last_qty, r.last_px, r.liquidity) for r in reports
            if getattr(r, "exec_type", None) is ExecType.TRADE]


def test_marketable_buy_sweeps_levels_at_their_prices_and_rests_the_rest():
    eng, feed = engine()
    feed.add("S", 100_100, 200)
    feed.add("S", 100_200, 300)
    feed.add("S", 100_500, 1_000)
    got = feed.order(buy("C1", 600, 100_200))
    assert [r.exec_type for r in got] == [ExecType.NEW, ExecType.TRADE, ExecType.TRADE]
    assert fills(got) == [(200, 100_100, TAKER), (300, 100_200, TAKER)]
    last = got[-1]
    assert (last.ord_status, last.cum_qty, last.leaves_qty) == (OrdStatus.PARTIALLY_FILLED,
                                                                500, 100)
    assert last.avg_px == pytest.approx((200 * 100_100 + 300 * 100_200) / 500)
    assert [r.fee for r in got[1:]] == [200 * 30, 300 * 30]          # taker fee per share
    assert eng.order("C1").resting and eng.order("C1").leaves == 100


def test_ioc_remainder_expires_and_leaves_nothing_resting():
    eng, feed = engine()
    feed.add("S", 100_100, 200)
    got = feed.order(buy("C1", 500, 100_100, TimeInForce.IMMEDIATE_OR_CANCEL))
    assert [r.exec_type for r in got] == [ExecType.NEW, ExecType.TRADE, ExecType.EXPIRED]
    assert (got[-1].ord_status, got[-1].cum_qty, got[-1].leaves_qty) == (OrdStatus.EXPIRED,
                                                                         200, 0)
    assert not eng.order("C1").resting


def test_liquidity_we_took_is_not_taken_twice_until_the_feed_catches_up():
    eng, feed = engine()
    ask = feed.add("S", 100_100, 200)
    feed.order(buy("C1", 150, 100_100, TimeInForce.IMMEDIATE_OR_CANCEL))
    second = feed.order(buy("C2", 150, 100_100, TimeInForce.IMMEDIATE_OR_CANCEL))
    assert fills(second) == [(50, 100_100, TAKER)]         # 200 displayed, 150 already ours
    feed.execute(ask, 150)                               # the feed shows someone took 150
    third = feed.order(buy("C3", 100, 100_100, TimeInForce.IMMEDIATE_OR_CANCEL))
    assert fills(third) == []                            # 50 left displayed, all 50 ours


def test_resting_order_moves_up_on_trades_at_its_price_and_fills_by_what_passes_it():
    eng, feed = engine()
    first = feed.add("B", 100_000, 300)                  # 300 ahead of us
    feed.add("S", 100_300, 100)
    feed.order(buy("C1", 100, 100_000))
    assert eng.order("C1").ahead == 300
    assert fills(feed.execute(first, 200)) == []
    assert eng.order("C1").ahead == 100
    got = feed.execute(first, 100)                       # exactly the queue ahead: no fill
    assert fills(got) == [] and eng.order("C1").ahead == 0
    got = feed.trade("B", 100_000, 40)                   # a hidden order printed at our price
    assert fills(got) == [(40, 100_000, MAKER)]
    assert got[-1].fee == 40 * -20                       # maker rebate
    assert (got[-1].cum_qty, got[-1].leaves_qty) == (40, 60)


def test_risk_averse_queue_only_caps_the_shares_ahead_at_the_new_depth():
    eng, feed = engine()
    a = feed.add("B", 100_000, 100)
    b = feed.add("B", 100_000, 200)
    feed.order(buy("C1", 100, 100_000))
    feed.cancel(b, 50)                                   # depth 250: ahead stays 300 -> 250
    assert eng.order("C1").ahead == 250
    feed.delete(a)                                       # depth 150
    assert eng.order("C1").ahead == 150


def test_probabilistic_queue_moves_us_up_on_cancels_the_risk_averse_one_does_not():
    """Join behind 300, then 200 more join behind us (depth 500), then 100 cancel: the risk-averse
    model keeps 300 ahead (the cap is 400), the power-2 model takes (1 - p) x 100 off with
    p = 200**2 / (200**2 + 300**2) = 4/13, i.e. 69 shares."""
    results = {}
    for name, model in (("averse", None), ("prob", ProbQueueModel(2.0))):
        eng, feed = engine(**({"queue_model": model} if model else {}))
        feed.add("B", 100_000, 300)
        feed.order(buy("C1", 100, 100_000))
        late = feed.add("B", 100_000, 200)
        feed.cancel(late, 100)
        results[name] = eng.order("C1").ahead
    assert results == {"averse": 300, "prob": 300 - 69}


def test_market_moving_through_a_resting_order_fills_it_at_its_own_price():
    eng, feed = engine()
    feed.add("B", 99_000, 500)
    feed.order(buy("C1", 300, 100_000))                 # best bid, nothing ahead
    feed.add("S", 99_900, 120)                           # an ask below our bid: it meets us
    assert fills(feed.reports) == [(120, 100_000, MAKER)]
    got = feed.trade("B", 99_500, 500)                   # a trade printed below our bid
    assert fills(got) == [(180, 100_000, MAKER)]           # up to what is left of ours
    assert got[-1].ord_status is OrdStatus.FILLED and not eng.order("C1").resting


def test_trades_at_better_prices_than_ours_do_not_fill_us():
    eng, feed = engine()
    better = feed.add("B", 100_100, 100)
    feed.order(buy("C1", 100, 100_000))
    assert fills(feed.execute(better, 100)) == []


def test_cancel_and_its_races():
    eng, feed = engine()
    feed.add("S", 100_500, 100)
    feed.order(buy("C1", 100, 100_000))
    got = feed.order(CancelRequest("C2", "C1", SYM, Side.BUY))
    assert [(r.exec_type, r.ord_status, r.clordid, r.orig_clordid, r.leaves_qty)
            for r in got] == [(ExecType.CANCELED, OrdStatus.CANCELED, "C2", "C1", 0)]
    # A cancel of an order already filled: too late (the fill raced it).
    feed.order(buy("C3", 100, 100_500))
    late = feed.order(CancelRequest("C4", "C3", SYM, Side.BUY))
    assert isinstance(late[0], CancelReject)
    assert (late[0].reason, late[0].ord_status, late[0].response_to) == (
        CxlRejReason.TOO_LATE_TO_CANCEL, OrdStatus.FILLED, "1")
    unknown = feed.order(CancelRequest("C5", "NOPE", SYM, Side.BUY))
    assert unknown[0].reason is CxlRejReason.UNKNOWN_ORDER and "NOPE" in unknown[0].text


def test_fill_racing_a_cancel_in_flight_arrives_before_the_cancel_takes_effect():
    """The cancel is sent while a trade that fills the order is on its way: the venue applies
    the trade first (it is earlier in feed time), then refuses the cancel."""
    eng, feed = engine(latency_in_ns=5_000)
    feed.order(buy("C1", 100, 100_000))
    eng.submit(CancelRequest("C2", "C1", SYM, Side.BUY), feed.now)
    feed.add("S", 100_000, 100)                          # at now + 1,000 ns: fills us
    got = eng.advance(feed.tick(10_000))
    assert fills(feed.reports)[-1] == (100, 100_000, MAKER)
    assert isinstance(got[0], CancelReject) and got[0].reason is CxlRejReason.TOO_LATE_TO_CANCEL


def test_replace_keeps_priority_only_when_shrinking_at_the_same_price():
    eng, feed = engine()
    first = feed.add("B", 100_000, 300)
    feed.order(buy("C1", 200, 100_000))
    feed.execute(first, 100)                             # 200 ahead now
    got = feed.order(ReplaceRequest("C2", "C1", SYM, Side.BUY, 150, 100_000))
    assert [(r.exec_type, r.clordid, r.orig_clordid, r.order_qty) for r in got] == [
        (ExecType.REPLACED, "C2", "C1", 150)]
    assert eng.order("C2").ahead == 200                  # kept its place
    feed.add("B", 100_000, 50)
    feed.order(ReplaceRequest("C3", "C2", SYM, Side.BUY, 300, 100_000))
    assert eng.order("C3").ahead == 250                  # grew: to the back (200 + 50)
    stale = feed.order(ReplaceRequest("C4", "C1", SYM, Side.BUY, 100, 100_000))
    assert stale[0].reason is CxlRejReason.TOO_LATE_TO_CANCEL and stale[0].response_to == "2"


def test_replace_to_a_marketable_price_trades():
    eng, feed = engine()
    feed.add("S", 100_200, 500)
    feed.order(buy("C1", 100, 100_000))
    got = feed.order(ReplaceRequest("C2", "C1", SYM, Side.BUY, 100, 100_200))
    assert [r.exec_type for r in got] == [ExecType.REPLACED, ExecType.TRADE]
    assert fills(got) == [(100, 100_200, TAKER)] and got[-1].clordid == "C2"


@pytest.mark.parametrize(("request_", "reason"), [
    (NewOrder("C1", "NOPE", Side.BUY, 100, 100_000), OrdRejReason.UNKNOWN_SYMBOL),
    (NewOrder("C1", SYM, Side.BUY, 0, 100_000), OrdRejReason.INCORRECT_QUANTITY),
    (NewOrder("C1", SYM, Side.BUY, 100, 0), OrdRejReason.OTHER),
], ids=["unknown_symbol", "zero_qty", "zero_price"])
def test_rejects_name_the_reason(request_, reason):
    eng, feed = engine()
    got = feed.order(request_)
    assert [(r.exec_type, r.ord_status, r.ord_rej_reason, r.leaves_qty) for r in got] == [
        (ExecType.REJECTED, OrdStatus.REJECTED, reason, 0)]
    assert got[0].text


def test_duplicate_clordid_and_halted_symbol_are_rejected():
    eng, feed = engine()
    feed.order(buy("C1", 100, 100_000))
    dup = feed.order(buy("C1", 100, 100_000))
    assert dup[0].ord_rej_reason is OrdRejReason.DUPLICATE_ORDER
    feed.send(itch.StockTradingAction(1, 0, feed.tick(), SYM, "H", " ", "    "))
    halted = feed.order(buy("C2", 100, 100_000))
    assert halted[0].ord_rej_reason is OrdRejReason.EXCHANGE_CLOSED


def test_orders_wait_for_feed_time_and_reports_carry_the_way_back():
    eng = MatchingEngine(VenueSettings(latency_in_ns=10_000, latency_out_ns=7_000))
    feed = Feed(eng)
    feed.add("S", 100_100, 100)
    sent = feed.now
    eng.submit(buy("C1", 100, 100_100, TimeInForce.IMMEDIATE_OR_CANCEL), sent)
    assert eng.advance(sent + 9_999) == []               # not there yet
    ask_late = feed.send(itch.AddOrder(1, 0, sent + 5_000, 99, "S", 50, SYM, 100_050))
    assert ask_late == []
    got = eng.advance(sent + 10_000)
    # The better ask that the feed showed before the order arrived is taken first.
    assert fills(got) == [(50, 100_050, TAKER), (50, 100_100, TAKER)]
    assert {(r.transact_ns, r.report_ns) for r in got} == {(sent + 10_000, sent + 17_000)}


def test_fill_probability_thins_passive_fills_reproducibly():
    def run(probability: float, seed: int) -> list:
        eng, feed = engine(fill_probability=probability, seed=seed)
        feed.order(buy("C1", 10_000, 100_000))
        for _ in range(40):
            feed.trade("B", 100_000, 100)
        return [r.transact_ns for r in feed.reports if r.exec_type is ExecType.TRADE]

    assert len(run(1.0, 0)) == 40
    assert run(0.0, 0) == []
    thinned = run(0.5, 3)
    assert 5 < len(thinned) < 35
    assert run(0.5, 3) == thinned                        # same seed, same fills
    assert run(0.5, 4) != thinned


def test_settings_are_checked():
    with pytest.raises(ValueError, match="fill_probability"):
        VenueSettings(fill_probability=1.5)
    with pytest.raises(ValueError, match="latencies"):
        VenueSettings(latency_in_ns=-1)
    with pytest.raises(ValueError, match="power"):
        ProbQueueModel(0)
