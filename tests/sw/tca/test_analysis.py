"""TCA (sw/tca): each measure on a small session worked out by hand from its definition
(docs/tca.md), and the aggregates and bus reports built from them."""

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
    TcaMetric,
    TimeInForce,
)
from sw.tca import measures
from sw.tca.analysis import TcaAnalysis

MS, S = 1_000_000, 1_000_000_000


def quote(t: int, bid: int, ask: int, symbol: str = "AAPL") -> Quote:
    return Quote(Symbol=symbol, BidPx=bid, BidSize=100, OfferPx=ask, OfferSize=100,
                 TransactTime=t)


def sent(clordid: str, side: Side, qty: int, price: int, t: int, ticks=(1_000, 1_020)):
    return OrderSent(MsgType=MsgType.NEW_ORDER_SINGLE, ClOrdID=clordid, Symbol="AAPL",
                     Side=side, OrderQty=qty, Price=price, IngressCycle=ticks[0],
                     EgressCycle=ticks[1], TransactTime=t)


def report(n: int, clordid: str, side: Side, exec_type: ExecType, status: OrdStatus, t: int,
           qty: int = 0, px: int = 0, fee: int = 0, maker: bool = False) -> ExecutionReport:
    liquidity = (LastLiquidityInd.ADDED_LIQUIDITY if maker
                 else LastLiquidityInd.REMOVED_LIQUIDITY) if qty else None
    return ExecutionReport(ExecID=f"X{n}", OrderID=f"O{clordid}", ClOrdID=clordid,
                           ExecType=exec_type, OrdStatus=status, Symbol="AAPL", Side=side,
                           OrderQty=100, Price=px or 1_000_000, LastQty=qty, LastPx=px,
                           CumQty=qty, LeavesQty=100 - qty, LastMkt="SIM",
                           LastLiquidityInd=liquidity, Commission=fee, TransactTime=t)


def session(feed_until: int) -> TcaAnalysis:
    """A taker buy of 100 filled at the ask, then a passive sell of 100 half filled."""
    tca = TcaAnalysis()
    events = [
        quote(0, 999_900, 1_000_100),                                   # mid 1,000,000
        sent("B1", Side.BUY, 100, 1_000_100, 1 * MS),
        report(1, "B1", Side.BUY, ExecType.NEW, OrdStatus.NEW, 2 * MS),
        report(2, "B1", Side.BUY, ExecType.TRADE, OrdStatus.FILLED, 2 * MS, 100, 1_000_100,
               fee=3_000),
        quote(50 * MS, 1_000_200, 1_000_400),                           # mid 1,000,300
        sent("S1", Side.SELL, 100, 1_000_400, 60 * MS, ticks=(5_000, 5_030)),
        report(3, "S1", Side.SELL, ExecType.NEW, OrdStatus.NEW, 61 * MS),
        report(4, "S1", Side.SELL, ExecType.TRADE, OrdStatus.PARTIALLY_FILLED, 80 * MS, 50,
               1_000_400, fee=-1_000, maker=True),
        quote(1_500 * MS, 999_700, 999_900),                            # mid 999,800
    ]
    for event in events:
        tca.add(event)
    tca.feed_ns = feed_until
    return tca


def test_per_fill_measures_match_their_definitions():
    table = session(70 * S).fills()
    assert list(table.arrival_mid) == [1_000_000, 1_000_300]
    assert table.slippage_bps[0] == pytest.approx(100 / 1_000_000 * 1e4)          # 1 bp paid
    assert table.slippage_bps[1] == pytest.approx(-(1_000_400 - 1_000_300) / 1_000_300 * 1e4)
    assert list(table.effective_spread) == [200.0, -2 * (1_000_400 - 1_000_300)]
    # Buy at 1,000,100: 100 ms later the mid is 1,000,300 (a gain); 10 s later 999,800 (a loss).
    assert table.markout_bps[100 * MS][0] == pytest.approx(200 / 1_000_100 * 1e4)
    assert table.markout_bps[10 * S][0] == pytest.approx(-300 / 1_000_100 * 1e4)
    # Sell at 1,000,400 at 80 ms: 100 ms later mid 1,000,300 (+100 for a seller)
    assert table.markout_bps[100 * MS][1] == pytest.approx(100 / 1_000_400 * 1e4)
    assert table.realised_spread[S][1] == pytest.approx(-2 * (1_000_400 - 1_000_300))


def test_markouts_beyond_the_feed_are_unknown_not_zero():
    table = session(5 * S).fills()
    assert not np.isnan(table.markout_bps[S][0])
    assert np.isnan(table.markout_bps[10 * S]).all() and np.isnan(table.markout_bps[60 * S]).all()
    row = session(5 * S).measure()["symbol"]["AAPL"]
    assert row["markout_bps"][60 * S] is None


def test_order_level_fill_ratio_and_implementation_shortfall():
    orders = session(70 * S).orders()
    buy, sell = orders["B1"], orders["S1"]
    assert (buy["filled"], buy["fill_ratio"]) == (100, 1.0)
    assert buy["shortfall"] == pytest.approx(100 * 100 + 3_000)        # execution + fee
    assert buy["shortfall_bps"] == pytest.approx(13_000 / (1_000_000 * 100) * 1e4)
    # Sell 100 at arrival mid 1,000,300: 50 filled at 1,000,400 (a gain of 5,000), 50 unfilled
    # while the mid fell to 999,800 (the opportunity: -1 x (999,800 - 1,000,300) x 50), fee -1,000.
    assert (sell["filled"], sell["fill_ratio"]) == (50, 0.5)
    assert sell["opportunity"] == pytest.approx(500 * 50)
    assert sell["shortfall"] == pytest.approx(-50 * 100 + 500 * 50 - 1_000)


def test_aggregates_latency_and_bus_reports():
    tca = session(70 * S)
    result = tca.measure()
    assert json.loads(json.dumps(result))["all"]["fills"] == 2     # plain data, no numpy
    assert result["fills"] == 2 and result["orders"] == 2
    assert set(result["venue"]) == {"SIM"} and set(result["liquidity"]) == {"maker", "taker"}
    maker = result["liquidity"]["maker"]
    assert maker["adverse_selection_bps"][100 * MS] == pytest.approx(100 / 1_000_400 * 1e4)
    assert result["liquidity"]["taker"]["adverse_selection_bps"][100 * MS] is None
    symbol = result["symbol"]["AAPL"]
    assert symbol["fill_ratio"] == pytest.approx(150 / 200)
    expected = (100 * (100 / 1_000_000 * 1e4) + 50 * (-100 / 1_000_300 * 1e4)) / 150
    assert symbol["slippage_bps"] == pytest.approx(expected)
    latency = result["latency"]
    assert latency["tick_to_trade_cycles"]["histogram"] == {20: 1, 30: 1}
    assert latency["order_to_ack_ns"]["median"] == pytest.approx(1 * MS)
    reports = {(r.TcaMetric, r.HorizonNs): r.Value for r in tca.reports(70 * S)}
    assert reports[(TcaMetric.FILL_RATIO, None)] == 750_000                 # 75% in ppm
    assert reports[(TcaMetric.ARRIVAL_SLIPPAGE, None)] == round(expected * 100)


def test_mid_lookup_is_the_last_quote_at_or_before():
    times, mids = np.array([10, 20, 30]), np.array([1.0, 2.0, 3.0])
    got = measures.mid_at(times, mids, np.array([5, 10, 25, 99]))
    assert np.isnan(got[0]) and list(got[1:]) == [1.0, 2.0, 3.0]


def test_strategy_modes_have_their_own_pnl_and_a_risk_charge_from_its_volatility():
    """A quoting order (Day) and a taking one (IOC): each mode's figures and P&L are its own;
    the risk charge is z_99% x the standard deviation of the mode's sampled P&L changes."""
    tca = TcaAnalysis()
    tca.add(quote(0, 999_900, 1_000_100))
    tca.add(sent("Q1", Side.BUY, 100, 999_900, 1 * MS))
    tca.add(report(1, "Q1", Side.BUY, ExecType.TRADE, OrdStatus.FILLED, 2 * MS, 100, 999_900,
                   maker=True))
    take = sent("T1", Side.SELL, 50, 999_900, 3 * MS).model_copy(
        update={"TimeInForce": TimeInForce.IMMEDIATE_OR_CANCEL})
    tca.add(take)
    tca.add(report(2, "T1", Side.SELL, ExecType.TRADE, OrdStatus.FILLED, 3 * MS, 50, 999_900))
    mids = [1_000_000, 1_000_300, 999_800, 1_000_500, 999_600, 1_000_100, 999_900, 1_000_700,
            999_500, 1_000_200, 1_000_000, 999_700]
    for k, mid in enumerate(mids):
        tca.add(quote((10 + k) * MS, mid - 100, mid + 100))
        tca.sample_pnl()
    modes = tca.measure()["mode"]
    assert set(modes) == {"quote", "take"}
    assert (modes["quote"]["fills"], modes["take"]["fills"]) == (1, 1)
    # Long 100 bought at 999,900 (units), marked at the last mid 999,700: -200 x 100 units.
    assert modes["quote"]["pnl"] == pytest.approx(100 * (999_700 - 999_900) / 10_000)
    quote_pnl = [100 * (mid - 999_900) for mid in mids]
    expected = 2.3263478740 * np.diff(quote_pnl).std(ddof=1) / 10_000
    assert modes["quote"]["risk_charge"] == pytest.approx(expected)
    assert modes["quote"]["risk_adjusted_pnl"] == pytest.approx(
        modes["quote"]["pnl"] - expected)
    assert modes["take"]["pnl_samples"] == len(mids)
