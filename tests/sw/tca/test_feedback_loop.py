"""The feedback loop end to end: a market built to punish the starting quote, generated
(sw/feed/generator.py regimes), traded by the appliance (sw/run/appliance.py: the model card,
a FIX session to one venue process, the OMS, TCA), and the policy's audited changes read back
from the run's control database: they move half_spread_ticks the right way.

- A trending market picks off a tight quote (every move sweeps through it and the mid keeps
  going): the quote widens.
- A quiet market leaves a wide quote nearly idle, its rare fills benign (a shock trades
  through it and the book refills around the same mid): the quote tightens.

Each run starts its own venue and takes 10 to 25 s on a 2-core machine."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from sw.feed.generator import MarketConfig, Regime, generate
from sw.model.config import Limits, StrategyConfig, StrategyParams, SymbolLimits
from sw.run.appliance import Appliance, RunConfig
from sw.tca.feedback import Policy
from sw.venue.matching import VenueSettings
from sw.venue.process import VenueLaunch

#: Room to trade: the gate's limits stay out of the way of the policy's evidence.
LIMITS = Limits(defaults=SymbolLimits(max_order_qty=1_000, max_order_notional=1_000_000.0,
                                      collar_bps=500, max_long=5_000, max_short=5_000,
                                      max_open_orders=8, max_orders_per_sec=100_000,
                                      rate_burst=100))
POLICY = Policy()                   # the run's policy: its defaults


def run(tmp_path, market: MarketConfig, params: StrategyParams) -> tuple[Appliance, list]:
    """Generate the market, run the appliance on it; the run and the policy's changes, in
    order, as (parameter, old, new, why, figures) from the audit log."""
    feed = tmp_path / "feed.pcap"
    generate(market, feed)
    config = RunConfig(feed, tmp_path / "run", LIMITS, StrategyConfig(defaults=params),
                       [VenueLaunch(VenueSettings())])
    appliance = Appliance(config, say=lambda _: None)
    asyncio.run(appliance.run())
    audit = sqlite3.connect(tmp_path / "run" / "control.db")
    changes = [(name, c["old"], c["new"], c["why"], c["figures"])
               for (new,) in audit.execute("SELECT new FROM audit WHERE who = "
                                           "'feedback-policy' AND action = 'strategy.reason' "
                                           "ORDER BY id")
               for name, c in json.loads(new).items()]
    assert appliance.summary.parameter_changes == len(changes)
    return appliance, changes


def effective(appliance: Appliance, parameter: str) -> int:
    """The desk's strategy for the one symbol now, as the card was last told."""
    (params,) = appliance.desk.effective_strategy().values()
    return getattr(params, parameter)


def test_adverse_selection_in_a_trending_market_widens_the_quote(tmp_path):
    """Up trend: the mid jumps 3 ticks every 20 events (5 a second), each jump a sweep of the
    asks. A 2-tick quote without inventory skew has its ask traded through at every jump and
    the mid keeps rising: its maker fills mark out far below -2 bps at 1 s. The policy widens
    the quote, and never tightens it."""
    market = MarketConfig(symbols=1, messages=2_200, seed=1, rate=100.0, halt_rate=0.0,
                          regimes=(Regime("normal", 1),
                                   Regime("trending", 9, direction=1, every=20, ticks=3)))
    start = StrategyParams(mode="quote", size=100, half_spread_ticks=2, skew_ticks=0)
    appliance, changes = run(tmp_path, market, start)
    spread = [c for c in changes if c[0] == "half_spread_ticks"]
    assert spread, (appliance.summary, changes)
    assert all(new == old + 1 for _, old, new, _, _ in spread)       # widen, a tick a step
    _, old, new, why, figures = spread[0]
    assert (old, new) == (2, 3) and "adverse selection" in why
    assert figures["adverse_bps"] < -POLICY.adverse_bps
    assert figures["new_fills"] >= POLICY.min_fills
    assert effective(appliance, "half_spread_ticks") == spread[-1][2] > 2


def test_a_wide_quote_in_a_quiet_market_with_benign_fills_tightens(tmp_path):
    """Quiet market (a one-tick touch that stays put, a shock every ~330 events) for a minute
    of feed time: a 4-tick quote trades only when a shock goes through it, a dozen times, at a
    price the market comes back from (benign markouts). Too few fills for the policy's
    fill-count gate, so the idle interval opens it: the quote tightens, and never widens."""
    market = MarketConfig(symbols=1, messages=6_000, seed=1, rate=100.0, halt_rate=0.0,
                          regimes=(Regime("normal", 1), Regime("quiet", 19, shock_rate=0.003)))
    start = StrategyParams(mode="quote", size=100, half_spread_ticks=4)
    appliance, changes = run(tmp_path, market, start)
    spread = [c for c in changes if c[0] == "half_spread_ticks"]
    assert spread, (appliance.summary, changes)
    assert all(new == old - 1 for _, old, new, _, _ in spread)       # tighten, a tick a step
    _, old, new, why, figures = spread[0]
    assert (old, new) == (4, 3) and "benign markouts" in why
    assert figures["markout_bps"] > POLICY.benign_bps
    assert 0 < figures["new_fills"] < POLICY.min_fills
    assert figures["seconds_since_change"] >= POLICY.idle_interval_ns / 1e9
    assert effective(appliance, "half_spread_ticks") == spread[-1][2] < 4
