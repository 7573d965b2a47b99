"""The feedback policy (sw/tca/feedback.py): each rule moves its parameter one step, in the
right direction, within its bounds, at its cadence."""

from __future__ import annotations

import pytest

from sw.tca.feedback import FeedbackPolicy, Policy, PolicyBounds

S = 1_000_000_000
PARAMS = {"half_spread_ticks": 3, "skew_ticks": 1, "size": 400}


def figures(*, fills=50, adverse=0.0, markout=0.0, fill_ratio=0.5, slippage=1.0) -> dict:
    return {"fills": fills, "adverse_selection_bps": {S: adverse}, "markout_bps": {S: markout},
            "fill_ratio": fill_ratio, "taker_slippage_bps": slippage}


def propose(policy=None, params=PARAMS, inventory=0, now=100 * S, **kw):
    return (policy or FeedbackPolicy()).propose("AAPL", figures(**kw), dict(params), PARAMS,
                                                inventory, 1_000, now)


def test_adverse_selection_widens_the_quote_by_one_tick():
    (change,) = propose(adverse=-3.5)
    assert (change.parameter, change.old, change.new) == ("half_spread_ticks", 3, 4)
    assert "-3.50 bps" in change.reason and change.figures["adverse_bps"] == -3.5


def test_a_low_fill_ratio_with_benign_markouts_tightens_it():
    (change,) = propose(fill_ratio=0.1, markout=1.0)
    assert (change.parameter, change.new) == ("half_spread_ticks", 2)
    assert propose(fill_ratio=0.1, markout=-1.0) == []     # not when fills are toxic


def test_inventory_moves_the_skew_and_it_comes_back_to_base():
    (up,) = propose(inventory=-700)
    assert (up.parameter, up.new) == ("skew_ticks", 2)
    (down,) = propose(params=PARAMS | {"skew_ticks": 3}, inventory=100)
    assert (down.parameter, down.new) == ("skew_ticks", 2)
    assert propose(inventory=100) == []                    # already at base


def test_taker_slippage_cuts_the_size_and_restores_it_up_to_base():
    (cut,) = propose(slippage=8.0)
    assert (cut.parameter, cut.new) == ("size", 300)
    (back,) = propose(params=PARAMS | {"size": 200}, slippage=1.0)
    assert (back.parameter, back.new) == ("size", 300)


def test_bounds_clip_and_no_change_is_made_at_a_bound():
    policy = FeedbackPolicy(Policy(bounds=PolicyBounds(half_spread_ticks=(1, 3))))
    assert propose(policy, adverse=-9.0) == []
    with pytest.raises(ValueError, match="within the card's"):
        PolicyBounds(size=(0, 10))


def test_cadence_needs_new_fills_and_time_between_changes():
    policy = FeedbackPolicy(Policy(min_fills=20, min_interval_ns=30 * S))
    assert propose(policy, fills=10, adverse=-5.0) == []
    assert len(propose(policy, fills=25, adverse=-5.0, now=100 * S)) == 1
    assert propose(policy, fills=60, adverse=-5.0, now=110 * S) == []   # too soon
    assert propose(policy, fills=30, adverse=-5.0, now=200 * S) == []   # too few new fills
    assert len(propose(policy, fills=60, adverse=-5.0, now=200 * S)) == 1
