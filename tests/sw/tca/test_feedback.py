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


# --- the take thresholds --------------------------------------------------------------------

TAKE = {"mode": "take", "size": 400, "tick": 100, "half_spread_ticks": 3, "skew_ticks": 1,
        "take_buy_at_or_below": 3_000_000, "take_sell_at_or_above": 3_100_000}


def take(policy=None, params=None, base=TAKE, **kw):
    """The policy's answer for a take-mode symbol whose configured values are `base`."""
    kw.setdefault("adverse", None)                 # no maker fills in take mode
    return (policy or FeedbackPolicy()).propose("NVDA", figures(**kw), dict(params or base),
                                                base, 0, 1_000, 100 * S)


def moved(changes) -> dict:
    return {c.parameter: (c.old, c.new) for c in changes}


def test_costly_taking_moves_both_thresholds_a_tick_away_from_the_market():
    """Slippage 8 bps > 5: buy only at 299.99 or less, sell only at 310.01 or more (and the
    size rule cuts 400 by a quarter)."""
    changes = take(slippage=8.0)
    assert moved(changes) == {"size": (400, 300),
                              "take_buy_at_or_below": (3_000_000, 2_999_900),
                              "take_sell_at_or_above": (3_100_000, 3_100_100)}
    reason = next(c.reason for c in changes if c.parameter == "take_buy_at_or_below")
    assert "8.00 bps of arrival slippage" in reason


def test_bad_taker_markouts_move_them_too_in_take_mode_only():
    """In take mode every fill is a taker's: a 1 s markout of -3 bps (< -2) is the takers'
    and moves the thresholds, with benign slippage. In quote mode the symbol's markout is
    mostly its maker fills', so it moves nothing."""
    assert moved(take(markout=-3.0, slippage=1.0)) == {
        "take_buy_at_or_below": (3_000_000, 2_999_900),
        "take_sell_at_or_above": (3_100_000, 3_100_100)}
    quoting = TAKE | {"mode": "quote"}
    assert take(base=quoting, markout=-3.0, slippage=3.0) == []


def test_benign_taking_brings_them_back_toward_the_base_a_tick_at_a_time():
    """Slippage 1 bps (< 2.5) and markout +1 bps (> 0.5): one tick back, never past the
    base; at the base nothing moves."""
    away = TAKE | {"take_buy_at_or_below": 2_999_500, "take_sell_at_or_above": 3_100_500}
    assert moved(take(params=away, markout=1.0, slippage=1.0)) == {
        "take_buy_at_or_below": (2_999_500, 2_999_600),
        "take_sell_at_or_above": (3_100_500, 3_100_400)}
    assert take(markout=1.0, slippage=1.0) == []
    # Neither costly nor benign: slippage 3 bps (between 2.5 and 5), or a flat markout.
    assert take(params=away, markout=1.0, slippage=3.0) == []
    assert take(params=away, markout=0.0, slippage=1.0) == []


def test_the_thresholds_stay_within_their_bounds_and_are_never_switched_off():
    far = TAKE | {"take_buy_at_or_below": 3_000_000 - 20 * 100,
                  "take_sell_at_or_above": 3_100_000 + 20 * 100}
    assert moved(take(params=far, slippage=8.0)) == {"size": (400, 300)}   # 20 ticks: the bound
    tight = FeedbackPolicy(Policy(bounds=PolicyBounds(take_threshold_ticks=1)))
    once = TAKE | {"take_buy_at_or_below": 2_999_900}
    assert moved(take(tight, params=once, markout=-3.0)) == {
        "take_sell_at_or_above": (3_100_000, 3_100_100)}
    # A buy threshold two ticks above 0 goes down to one tick, never to 0 (off).
    low = TAKE | {"take_buy_at_or_below": 200, "take_sell_at_or_above": 0}
    assert moved(take(base=low, markout=-3.0)) == {"take_buy_at_or_below": (200, 100)}
    assert take(base=low, params=low | {"take_buy_at_or_below": 100}, markout=-3.0) == []
    # Off stays off, whatever the fills say; and one a person set live over a 0 base is theirs.
    off = TAKE | {"take_buy_at_or_below": 0, "take_sell_at_or_above": 0}
    assert take(base=off, markout=-3.0) == []
    assert take(base=off, params=TAKE, markout=-3.0) == []
    with pytest.raises(ValueError, match="take_threshold_ticks"):
        PolicyBounds(take_threshold_ticks=-1)


# --- slow fills ------------------------------------------------------------------------------

def test_a_quote_that_rarely_fills_with_benign_markouts_tightens_after_the_idle_interval():
    """8 fills (< 20) in 31 s (>= 30) of feed time, 1 s markout +1 bps: one tick tighter, even
    though TCA's fill ratio (50%) is not low. The idle clock starts when the policy first sees
    the symbol and restarts at each change."""
    policy = FeedbackPolicy()
    assert propose(policy, fills=5, markout=1.0, now=100 * S) == []         # first sight
    assert propose(policy, fills=7, markout=1.0, now=129 * S) == []         # 29 s: not yet
    (change,) = propose(policy, fills=8, markout=1.0, now=131 * S)
    assert (change.parameter, change.old, change.new) == ("half_spread_ticks", 3, 2)
    assert "8 fills in 31 s" in change.reason and change.figures["new_fills"] == 8
    tighter = PARAMS | {"half_spread_ticks": 2}
    assert propose(policy, params=tighter, fills=9, markout=1.0, now=160 * S) == []
    (again,) = propose(policy, params=tighter, fills=10, markout=1.0, now=161 * S)
    assert (again.old, again.new) == (2, 1) and "2 fills in 30 s" in again.reason
    at_bound = PARAMS | {"half_spread_ticks": 1}
    assert propose(policy, params=at_bound, fills=11, markout=1.0, now=300 * S) == []


def test_slow_fills_alone_neither_tighten_on_poor_markouts_nor_move_anything_else():
    """Few fills are too few for the other rules' statistics: no widening on adverse
    markouts, no skew or size change; and no tightening unless the markouts are benign."""
    for kw in ({"markout": 0.2}, {"markout": -4.0, "adverse": -4.0},
               {"markout": 0.2, "slippage": 9.0}):
        policy = FeedbackPolicy()
        assert propose(policy, fills=3, now=100 * S, **kw) == []
        assert propose(policy, fills=8, now=200 * S, inventory=900, **kw) == []
