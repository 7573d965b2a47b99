"""Portfolio risk (sw/risk/portfolio.py): exposure, VaR and ES against independent
computations from their definitions, and the decisions the limits call for."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sw.bus.events import PositionReport, Quote, RiskAction
from sw.risk.portfolio import PortfolioRisk, RiskLimits

S = 1_000_000_000


def quote(symbol: str, t: int, mid: int) -> Quote:
    return Quote(Symbol=symbol, BidPx=mid - 100, BidSize=1, OfferPx=mid + 100, OfferSize=1,
                 TransactTime=t)


def position(symbol: str, qty: int, pnl: int = 0, t: int = 0) -> PositionReport:
    return PositionReport(Symbol=symbol, LongQty=max(qty, 0), ShortQty=max(-qty, 0), NetQty=qty,
                          CostBasis=0, RealisedPnl=pnl, UnrealisedPnl=0, TransactTime=t)


def test_gross_and_net_exposure_in_dollars():
    risk = PortfolioRisk()
    risk.add(quote("AAPL", 0, 1_000_000))                 # $100
    risk.add(quote("MSFT", 0, 2_000_000))                 # $200
    risk.add(position("AAPL", 100))
    risk.add(position("MSFT", -50))
    got = risk.assess()
    assert (got.gross_exposure, got.net_exposure) == (20_000.0, 0.0)
    assert got.var_parametric is None                     # no history yet: unknown


def mids(seed: int, n: int, start: int = 1_000_000) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(start * (1 + r)) for r in np.cumsum(rng.normal(0, 0.002, n))]


def test_var_and_es_match_their_definitions():
    risk = PortfolioRisk(RiskLimits(min_history=10))
    path_a, path_b = mids(1, 200), mids(2, 200, 2_000_000)
    for i, (a, b) in enumerate(zip(path_a, path_b, strict=True)):
        risk.add(quote("AAPL", i * S, a))
        risk.add(quote("MSFT", i * S, b))
    risk.add(position("AAPL", 300))
    risk.add(position("MSFT", -100))
    got = risk.assess()
    prices = np.column_stack([path_a, path_b]).astype(float)   # the mids sampled each second
    returns = prices[1:] / prices[:-1] - 1
    w = np.array([300 * path_a[-1], -100 * path_b[-1]]) / 10_000
    sigma = math.sqrt(w @ np.cov(returns, rowvar=False) @ w)
    assert got.var_parametric == pytest.approx(2.3263478740 * sigma, rel=1e-6)
    assert got.es_parametric == pytest.approx(2.665214220 * sigma, rel=1e-6)
    pnl = returns @ w
    cut = np.quantile(pnl, 0.01)
    assert got.var_historical == pytest.approx(-cut)
    assert got.es_historical == pytest.approx(-pnl[pnl <= cut].mean())
    assert got.es_historical >= got.var_historical > 0


def test_a_daily_loss_beyond_the_limit_halts_once_and_releases_when_back():
    risk = PortfolioRisk(RiskLimits(max_loss=1_000))
    risk.add(quote("AAPL", 0, 1_000_000))
    risk.add(position("AAPL", 10, pnl=-5_000_000))          # -$500
    assert risk.assess().decisions == []
    risk.add(position("AAPL", 10, pnl=-20_000_000))         # -$2,000
    (halt,) = risk.assess().decisions
    assert halt.RiskAction is RiskAction.HALT and halt.Symbol is None
    assert "$2,000.00" in halt.Text
    assert risk.assess().decisions == []                   # said once
    risk.add(position("AAPL", 10, pnl=0))
    assert [d.RiskAction for d in risk.assess().decisions] == [RiskAction.RELEASE]


def test_exposure_over_the_limits_puts_symbols_into_reduce_only_and_back():
    risk = PortfolioRisk(RiskLimits(max_gross_exposure=50_000, max_symbol_exposure=30_000))
    risk.add(quote("AAPL", 0, 1_000_000))
    risk.add(quote("MSFT", 0, 1_000_000))
    risk.add(position("AAPL", 350))                         # $35,000: over its own limit
    risk.add(position("MSFT", 100))
    first = risk.assess().decisions
    assert [(d.RiskAction, d.Symbol) for d in first] == [(RiskAction.REDUCE_ONLY, "AAPL")]
    risk.add(position("MSFT", 200))                         # gross $55,000: every symbol
    assert [(d.RiskAction, d.Symbol) for d in risk.assess().decisions] == [
        (RiskAction.REDUCE_ONLY, "MSFT")]
    risk.add(position("AAPL", 100))
    risk.add(position("MSFT", 100))
    assert sorted((d.RiskAction, d.Symbol) for d in risk.assess().decisions) == [
        (RiskAction.RELEASE, "AAPL"), (RiskAction.RELEASE, "MSFT")]


def test_unknown_marks_decide_nothing():
    risk = PortfolioRisk(RiskLimits(max_gross_exposure=1))
    risk.add(position("AAPL", 100))
    got = risk.assess()
    assert got.gross_exposure is None and got.decisions == []


def test_a_drawdown_from_the_day_s_best_halts_even_while_the_day_is_up():
    risk = PortfolioRisk(RiskLimits(max_drawdown=500))
    risk.add(quote("AAPL", 0, 1_000_000))
    risk.add(position("AAPL", 10, pnl=30_000_000))          # +$3,000: the day's best
    assert risk.assess().decisions == []
    risk.add(position("AAPL", 10, pnl=26_000_000))          # +$2,600: down $400 from it
    assert risk.assess().decisions == []
    risk.add(position("AAPL", 10, pnl=24_000_000))          # +$2,400: down $600
    (halt,) = risk.assess().decisions
    assert halt.RiskAction is RiskAction.HALT and "drawdown $600.00" in halt.Text


def test_beyond_the_second_gross_threshold_every_position_is_cut_back_to_the_first():
    """Gross $150,000 (AAA 1000 long at $100, BBB 500 short at $100) over a second threshold
    of $120,000: each position keeps 100,000 / 150,000 of itself, rounded to a smaller cut:
    AAA sells 334 of 1000 (keeps 666), BBB buys back 167 of 500 (keeps 333)."""
    risk = PortfolioRisk(RiskLimits(max_gross_exposure=100_000, reduce_gross_exposure=120_000))
    for event in (quote("AAA", 0, 1_000_000), quote("BBB", 0, 1_000_000),
                  position("AAA", 1000), position("BBB", -500)):
        risk.add(event)
    cuts = [(d.Symbol, d.Side, d.OrderQty) for d in risk.assess().decisions
            if d.RiskAction == RiskAction.REDUCE]
    assert cuts == [("AAA", "2", 334), ("BBB", "1", 167)]
    # Under the second threshold (reduce-only still, from the first): no cut.
    risk.add(position("AAA", 600))
    assert not [d for d in risk.assess().decisions if d.RiskAction == RiskAction.REDUCE]


def test_a_symbol_beyond_its_second_threshold_is_cut_to_its_first():
    risk = PortfolioRisk(RiskLimits(max_symbol_exposure=20_000, reduce_symbol_exposure=30_000))
    for event in (quote("AAA", 0, 1_000_000), quote("BBB", 0, 1_000_000),
                  position("AAA", -400), position("BBB", 250)):
        risk.add(event)
    decisions = risk.assess().decisions
    assert [(d.RiskAction, d.Symbol) for d in decisions] == [
        (RiskAction.REDUCE_ONLY, "AAA"), (RiskAction.REDUCE_ONLY, "BBB"),
        (RiskAction.REDUCE, "AAA")]
    assert (decisions[-1].Side, decisions[-1].OrderQty) == ("1", 200)   # buy 200 back to -200


def test_a_second_threshold_must_lie_above_the_first():
    with pytest.raises(ValueError, match="reduce_gross_exposure .* must be above "
                                         "max_gross_exposure"):
        RiskLimits(max_gross_exposure=100_000, reduce_gross_exposure=100_000)
