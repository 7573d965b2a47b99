"""Routing by per-venue TCA (sw/run/routing.py): each case worked out by hand from the policy
(the module doc), on fill tables built here; one from TCA's own analysis of bus events."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sw.bus.events import (
    ExecType,
    ExecutionReport,
    LastLiquidityInd,
    MsgType,
    OrderSent,
    OrdStatus,
    Quote,
    Side,
)
from sw.run.routing import Router, RoutingConfig
from sw.tca.analysis import FillTable, TcaAnalysis

S = 1_000_000_000
NOW = 100 * S
PX = 1_000_000                  # $100.00 in ITCH units
CONFIG = RoutingConfig(min_fills=20, min_symbol_fills=10, explore_every=5, switch_bps=0.25,
                       size_limit=500, max_cost_at_size_bps=10.0, min_size_executions=1)


def fill(venue: str, *, symbol: str = "AAPL", maker: bool = True, qty: int = 100,
         fee_per_share: int = -20, markout: float = 0.0, slippage: float = 0.0,
         t: int = 1 * S, side: int = 1, arrival_mid: float = PX) -> dict:
    return {"symbol": symbol, "venue": venue, "maker": maker, "qty": qty,
            "fee": fee_per_share * qty, "markout": markout, "slippage": slippage, "t": t,
            "side": side, "arrival_mid": arrival_mid}


def table(rows: list[dict]) -> FillTable:
    """A FillTable as TcaAnalysis.fills() makes one, every fill at $100.00."""
    n = len(rows)

    def col(name: str, dtype) -> np.ndarray:
        return np.array([r[name] for r in rows], dtype=dtype)

    return FillTable(
        symbol=col("symbol", object), venue=col("venue", object),
        mode=np.array(["quote"] * n, dtype=object), side=col("side", np.int64),
        maker=col("maker", bool), qty=col("qty", np.int64), price=np.full(n, float(PX)),
        fee=col("fee", np.int64), fill_ns=col("t", np.int64),
        arrival_mid=col("arrival_mid", float), slippage_bps=col("slippage", float),
        effective_spread=np.zeros(n),
        markout_bps={100_000_000: np.zeros(n), S: col("markout", float)},
        realised_spread={100_000_000: np.zeros(n), S: np.zeros(n)})


# FAST: maker rebate $0.0020 (-0.2 bps at $100) and +1 bp markouts: costs -1.2 bps a share.
# SLOW: rebate $0.0005 (-0.05 bps) and picked off, -3 bps markouts: costs 2.95 bps a share.
FAST_GOOD = [fill("FAST", markout=1.0) for _ in range(20)]
SLOW_BAD = [fill("SLOW", fee_per_share=-5, markout=-3.0) for _ in range(20)]


def test_new_chains_go_round_the_venues_while_exploring():
    router = Router(["FAST", "SLOW"], CONFIG, symbols=["AAPL", "MSFT", "NVDA"])
    # Each symbol's first chain where the fixed deal sent it (AAPL FAST, MSFT SLOW, NVDA
    # FAST), then in turn.
    assert [router.route("AAPL", 100) for _ in range(4)] == ["FAST", "SLOW", "FAST", "SLOW"]
    assert [router.route("MSFT", 100) for _ in range(3)] == ["SLOW", "FAST", "SLOW"]
    assert router.route("NVDA", 100) == "FAST"
    assert router.route("TSLA", 100) == "SLOW"          # not dealt: next in the deal's order
    # 19 measured fills at FAST are one short: still exploring, no preference, no change.
    assert router.update(table(FAST_GOOD[:19] + SLOW_BAD), NOW) == []
    assert router.exploring and router.preferred() == {}
    assert router.route("AAPL", 100) == "FAST"


def test_once_measured_the_cheaper_venue_gets_the_symbol_and_every_nth_chain_explores():
    router = Router(["FAST", "SLOW"], CONFIG, symbols=["AAPL"])
    changes = router.update(table(FAST_GOOD + SLOW_BAD), NOW)
    assert not router.exploring
    assert [(c.symbol, c.sizes, c.old, c.new) for c in changes] == [("AAPL", "all", None, "FAST")]
    fast, slow = changes[0].figures["FAST"], changes[0].figures["SLOW"]
    assert fast["cost_bps"] == pytest.approx(-1.2) and slow["cost_bps"] == pytest.approx(2.95)
    assert fast["fee_bps"] == pytest.approx(-0.2) and slow["fee_bps"] == pytest.approx(-0.05)
    assert slow["adverse_selection_bps"] == pytest.approx(-3.0)
    assert (fast["scope"], fast["fills"], fast["shares"]) == ("symbol", 20, 2_000)
    assert router.preferred() == {"AAPL": "FAST"}
    # Every 5th chain of the symbol goes to the other venue: chains 5 and 10.
    routed = [router.route("AAPL", 100) for _ in range(10)]
    assert routed == ["FAST"] * 4 + ["SLOW"] + ["FAST"] * 4 + ["SLOW"]


def test_exploration_goes_round_every_other_venue():
    router = Router(["A", "B", "C"], CONFIG, symbols=["AAPL"])
    rows = [fill(v, markout=m) for v, m in (("A", -1.0), ("B", 1.0), ("C", -2.0))
            for _ in range(20)]
    assert [c.new for c in router.update(table(rows), NOW)] == ["B"]
    routed = [router.route("AAPL", 100) for _ in range(20)]
    assert [routed[i] for i in (4, 9, 14, 19)] == ["C", "A", "C", "A"]
    assert routed.count("B") == 16


def test_a_symbol_with_few_fills_at_a_venue_is_scored_on_the_venue_s_fills():
    # MSFT has 5 fills at FAST (cost 8 - 0.2 = 7.8 bps each): under min_symbol_fills, so FAST
    # is scored on all its 25 fills: (20 x -1.2 + 5 x 7.8) / 25 = 0.6 bps, against SLOW's 2.95.
    msft = [fill("FAST", symbol="MSFT", markout=-8.0) for _ in range(5)]
    router = Router(["FAST", "SLOW"], CONFIG)
    changes = {c.symbol: c for c in router.update(table(FAST_GOOD + SLOW_BAD + msft), NOW)}
    figures = changes["MSFT"].figures
    assert changes["MSFT"].new == "FAST"
    assert figures["FAST"]["scope"] == "venue"
    assert figures["FAST"]["cost_bps"] == pytest.approx(0.6)
    assert changes["AAPL"].figures["FAST"]["scope"] == "symbol"


def test_a_change_names_old_and_new_venue_with_its_figures_past_the_switch_margin():
    router = Router(["FAST", "SLOW"], CONFIG, symbols=["AAPL"])
    router.update(table(FAST_GOOD + SLOW_BAD), NOW)
    # FAST starts being picked off (-6 bps: 5.8 bps a fill). With 32 such fills FAST costs
    # (20 x -1.2 + 32 x 5.8) / 52 = 3.108 bps: worse than SLOW's 2.95 by less than 0.25 bps,
    # so the symbol stays; with 40, (-24 + 232) / 60 = 3.467 bps, and it moves.
    worse = [fill("FAST", markout=-6.0, t=2 * S) for _ in range(40)]
    assert router.update(table(FAST_GOOD + SLOW_BAD + worse[:32]), NOW) == []
    assert router.preferred() == {"AAPL": "FAST"}
    [change] = router.update(table(FAST_GOOD + SLOW_BAD + worse), NOW + S)
    assert (change.symbol, change.sizes, change.old, change.new) == ("AAPL", "all", "FAST",
                                                                      "SLOW")
    assert change.figures["FAST"]["cost_bps"] == pytest.approx(208 / 60)
    assert change.figures["SLOW"]["cost_bps"] == pytest.approx(2.95)
    assert change.transact_ns == NOW + S
    assert change.reason == ("SLOW cheaper than FAST by more than 0.25 bps (FAST 3.47 bps, "
                             "SLOW 2.95 bps)")
    assert json.loads(json.dumps(change.as_dict())) == change.as_dict()     # plain data
    assert router.route("AAPL", 100) == "SLOW"


def sweep(venue: str, slippages: list[float], fee_per_share: int, t: int) -> list[dict]:
    """One marketable order's fills: 300 shares a level, one arrival, one fill time."""
    return [fill(venue, maker=False, qty=300, fee_per_share=fee_per_share, slippage=s, t=t)
            for s in slippages]


def test_orders_above_the_size_limit_avoid_a_venue_costly_at_size():
    # FAST swept 600 shares at 12 and 18 bps, taker fee $0.0030 (0.3 bps): 15.3 bps at size,
    # beyond 10. Overall FAST is still the cheaper: (2,000 x -1.2 + 300 x 12.3 + 300 x 18.3)
    # / 2,600 = 2.608 bps.
    router = Router(["FAST", "SLOW"], CONFIG, symbols=["AAPL"])
    changes = router.update(table(FAST_GOOD + SLOW_BAD + sweep("FAST", [12, 18], 30, 5 * S)),
                            NOW)
    assert [(c.sizes, c.old, c.new) for c in changes] == [("all", None, "FAST"),
                                                          ("above 500", None, "SLOW")]
    figures = changes[1].figures["FAST"]
    assert figures["cost_at_size_bps"] == pytest.approx(15.3)
    assert figures["executions_at_size"] == 1
    assert figures["cost_bps"] == pytest.approx(6780 / 2600)
    assert "FAST 15.30 bps" in changes[1].reason
    assert router.avoided_above_size() == {"AAPL": ["FAST"]}
    # Large orders go to SLOW, exploration share included; small ones still to FAST.
    assert {router.route("AAPL", 600) for _ in range(10)} == {"SLOW"}
    assert router.route("AAPL", 500) == "FAST"          # at the limit is not above it


def test_fills_at_different_times_are_not_one_execution_at_size():
    apart = sweep("FAST", [12], 30, 5 * S) + sweep("FAST", [18], 30, 6 * S)
    router = Router(["FAST", "SLOW"], CONFIG, symbols=["AAPL"])
    changes = router.update(table(FAST_GOOD + SLOW_BAD + apart), NOW)
    assert [(c.sizes, c.new) for c in changes] == [("all", "FAST")]
    assert changes[0].figures["FAST"]["cost_at_size_bps"] is None
    assert router.route("AAPL", 600) == "FAST"


def test_when_every_venue_is_costly_at_size_large_orders_go_to_the_least_costly():
    # SLOW's 600-share sweep: 11 bps + taker $0.0010 (0.1 bps) = 11.1 bps, FAST's 15.3.
    rows = (FAST_GOOD + SLOW_BAD + sweep("FAST", [12, 18], 30, 5 * S)
            + sweep("SLOW", [11, 11], 10, 5 * S))
    router = Router(["FAST", "SLOW"], CONFIG, symbols=["AAPL"])
    router.update(table(rows), NOW)
    assert router.avoided_above_size() == {"AAPL": ["FAST", "SLOW"]}
    assert router.figures()["AAPL"]["SLOW"]["cost_at_size_bps"] == pytest.approx(11.1)
    assert {router.route("AAPL", 1_000) for _ in range(10)} == {"SLOW"}


def test_a_venue_that_fills_too_little_is_not_preferred():
    router = Router(["FAST", "SLOW"], RoutingConfig(min_fills=20, min_symbol_fills=10,
                                                    min_fill_ratio=0.5), symbols=["AAPL"])
    assert [router.route("AAPL", 1_000) for _ in range(10)] == ["FAST", "SLOW"] * 5
    # 5,000 shares sent to each: FAST filled 2,000 (40%), SLOW 3,000 (60%).
    slow = SLOW_BAD + SLOW_BAD[:10]
    [change] = router.update(table(FAST_GOOD + slow), NOW)
    assert change.new == "SLOW"
    assert change.figures["FAST"]["fill_ratio"] == pytest.approx(0.4)
    assert change.figures["SLOW"]["fill_ratio"] == pytest.approx(0.6)


def test_a_window_lets_old_figures_age_out():
    # FAST was picked off early (7.8 bps a fill at 1 s), then good (-1.2 bps at 15 s). Over
    # the day it costs 3.3 bps against SLOW's 2.95; over the last 10 s, -1.2.
    early = [fill("FAST", markout=-8.0, t=1 * S) for _ in range(20)]
    late = [fill("FAST", markout=1.0, t=15 * S) for _ in range(20)]
    slow = [fill("SLOW", fee_per_share=-5, markout=-3.0, t=15 * S) for _ in range(20)]
    day = Router(["FAST", "SLOW"], CONFIG).update(table(early + late + slow), 20 * S)
    assert day[0].new == "SLOW" and day[0].figures["FAST"]["cost_bps"] == pytest.approx(3.3)
    windowed = Router(["FAST", "SLOW"], RoutingConfig(min_fills=20, window_ns=10 * S))
    assert windowed.update(table(early + late + slow), 20 * S)[0].new == "FAST"


def test_fills_whose_markout_is_not_known_yet_are_not_counted():
    unknown = [fill("FAST", markout=np.nan) for _ in range(20)]
    router = Router(["FAST", "SLOW"], CONFIG)
    assert router.update(table(unknown + SLOW_BAD), NOW) == [] and router.exploring


def test_the_same_fills_and_orders_give_the_same_routing():
    rows = FAST_GOOD + SLOW_BAD + sweep("FAST", [12, 18], 30, 5 * S)
    worse = [fill("FAST", markout=-6.0, t=2 * S) for _ in range(40)]

    def session() -> tuple[list[str], list[dict]]:
        router = Router(["FAST", "SLOW"], CONFIG, symbols=["AAPL", "MSFT"])
        routed = [router.route(s, q) for s in ("AAPL", "MSFT") for q in (100, 600, 300)]
        changes = router.update(table(rows), NOW)
        routed += [router.route("AAPL", 100 * (1 + k % 7)) for k in range(30)]
        changes += router.update(table(rows + worse), NOW + S)
        routed += [router.route(s, 600) for s in ("AAPL", "MSFT") for _ in range(10)]
        return routed, [c.as_dict() for c in changes]

    first, second = session(), session()
    assert first == second
    assert len(first[1]) >= 3 and set(first[0]) == {"FAST", "SLOW"}


def test_figures_from_tca_s_own_analysis_of_the_session_s_events():
    """TcaAnalysis.fills() over bus events from two venues (LastMkt): FAST fills its buys at
    the ask (1 bp of slippage, 0.3 bp of fee), SLOW 200 units higher (3 bps, 0.1 bp)."""
    tca = TcaAnalysis()
    tca.add(Quote(Symbol="AAPL", BidPx=999_900, BidSize=100, OfferPx=1_000_100,
                  OfferSize=100, TransactTime=0))
    n = 0
    for venue, px, fee in (("FAST", 1_000_100, 3_000), ("SLOW", 1_000_300, 1_000)):
        for _ in range(2):
            n += 1
            tca.add(OrderSent(MsgType=MsgType.NEW_ORDER_SINGLE, ClOrdID=f"C{n}", Symbol="AAPL",
                              Side=Side.BUY, OrderQty=100, Price=px, TransactTime=n))
            tca.add(ExecutionReport(
                ExecID=f"X{n}", OrderID=f"O{n}", ClOrdID=f"C{n}", ExecType=ExecType.TRADE,
                OrdStatus=OrdStatus.FILLED, Symbol="AAPL", Side=Side.BUY, OrderQty=100,
                Price=px, LastQty=100, LastPx=px, CumQty=100, LeavesQty=0, LastMkt=venue,
                LastLiquidityInd=LastLiquidityInd.REMOVED_LIQUIDITY, Commission=fee,
                TransactTime=n + 10))
    router = Router(["SLOW", "FAST"], RoutingConfig(min_fills=2, min_symbol_fills=2))
    [change] = router.update(tca.fills(), 1 * S)
    assert (change.old, change.new) == (None, "FAST")
    assert change.figures["FAST"]["cost_bps"] == pytest.approx(1 + 3_000 / 1_000_100 / 100 * 1e4)
    assert change.figures["SLOW"]["taker_slippage_bps"] == pytest.approx(3.0)


def test_settings_are_checked():
    for bad in ({"min_fills": 0}, {"explore_every": 1}, {"switch_bps": -1},
                {"min_fill_ratio": 1.5}, {"window_ns": 0}):
        with pytest.raises(ValueError):
            RoutingConfig(**bad)
    with pytest.raises(ValueError):
        Router(["FAST", "FAST"])
    with pytest.raises(ValueError, match="no markout"):
        Router(["FAST"], RoutingConfig(markout_horizon_ns=5 * S)).update(table(FAST_GOOD), NOW)
