"""The feedback policy: TCA's figures move each symbol's strategy parameters, within bounds.

Where it sits: after TCA (sw/tca/analysis.py) in the loop Analyze -> Execute -> Measure ->
Adjust. At each cadence point it reads a symbol's aggregates, its current parameters and its
inventory, and proposes changes; the wiring sends every change through the same audited path as
a person's change (the control plane's desk), under the policy's own identity, with the figures
that caused it. The policy never writes a register itself.

The rules, one step per decision so that no single measurement swings a parameter far:

- half_spread_ticks: passive fills being picked off (adverse selection, the share-weighted 1 s
  markout of maker fills, below -`adverse_bps`) widen the quote by one tick. Benign markouts
  (the symbol's 1 s markout above +`benign_bps`) with a quote that rarely trades tighten it by
  one tick; "rarely trades" is either a low fill ratio (TCA's, below `low_fill_ratio`) or slow
  fills: fewer than `min_fills` new fills in `idle_interval_ns` of feed time since the last
  change (or since the policy first saw the symbol).
- skew_ticks: inventory beyond `inventory_high` of the position limit adds a tick of skew (the
  quotes lean harder against the position); inventory under `inventory_low` of it takes one off,
  down to the symbol's configured base.
- size: taker fills paying more than `slippage_bps` of arrival slippage cut the size by a quarter
  (at least one round lot less); slippage under half of that restores a quarter of the base size,
  up to the base.
- take thresholds (take_buy_at_or_below, take_sell_at_or_above: the strategy takes with an IOC
  when the ask is at or below the first, or the bid at or above the second): taker fills that
  cost, arrival slippage above `slippage_bps` or, in take mode, a 1 s markout below
  -`adverse_bps`, move each threshold in use one tick away from the market (the buy threshold
  down, the sell one up), so the strategy takes only at better prices, that is less often.
  Benign taking, slippage under half of `slippage_bps` and, in take mode, a markout above
  +`benign_bps`, moves each one tick back toward its configured base. A threshold of 0 (off) is
  never touched, and the policy never takes more eagerly than the base: turning taking on or up
  is a person's decision. In take mode every fill is an IOC at the touch, a taker fill, so the
  symbol's markout is its takers' markout; in quote mode TCA has no per-symbol taker markout,
  and slippage alone decides.

Why slow fills count (measured, docs/tca.md): TCA's fill ratio is per order chain, and a quote's
chain lives across its replaces until it fills or is pulled. A quote that rests a minute and
then fills scores 100%; the ratio falls only when quotes are pulled unfilled, so it measures
churn more than how rarely the quote trades. And a quote too wide to trade is exactly the one
that never collects `min_fills` fills, so the fill-count gate alone would never let the policy
look at it. In the quiet regime of the synthetic market (sw/feed/generator.py) a 4-tick quote
filled 11 times in 56 s of feed time, all benign (+2.8 bps at 1 s), with a fill ratio of 28%:
neither gate opened and the quote stayed wide.

Bounds: each parameter stays within `PolicyBounds` (documented defaults, narrower than what the
card accepts, spec/bounds.py); a change that would leave them is clipped, and none is made at
a bound. The take thresholds stay within `take_threshold_ticks` ticks of their base, on the
taking-less side, and a buy threshold never reaches 0 (which would switch it off).

Cadence: a symbol is considered once it has `min_fills` new fills since its last change, and at
most once per `min_interval_ns` of feed time; with fewer new fills, after `idle_interval_ns`,
for the slow-fill tightening only (the other rules need the fills' statistics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from spec.bounds import STRATEGY

TAKE_THRESHOLDS = ("take_buy_at_or_below", "take_sell_at_or_above")


@dataclass(frozen=True)
class PolicyBounds:
    half_spread_ticks: tuple[int, int] = (1, 20)
    skew_ticks: tuple[int, int] = (0, 10)
    size: tuple[int, int] = (100, 5_000)
    take_threshold_ticks: int = 20      # how far a take threshold may move from its base, ticks

    def __post_init__(self) -> None:
        for name in ("half_spread_ticks", "skew_ticks", "size"):
            low, high = getattr(self, name)
            card = STRATEGY[name]
            if not card.low <= low <= high <= card.high:
                raise ValueError(f"{name} bounds {low}..{high} must lie within the card's "
                                 f"{card.low}..{card.high}")
        if self.take_threshold_ticks < 0:
            raise ValueError(f"take_threshold_ticks must be at least 0, not "
                             f"{self.take_threshold_ticks}")


@dataclass(frozen=True)
class Policy:
    adverse_bps: float = 2.0
    benign_bps: float = 0.5
    low_fill_ratio: float = 0.2
    slippage_bps: float = 5.0
    inventory_high: float = 0.5
    inventory_low: float = 0.2
    min_fills: int = 20
    min_interval_ns: int = 30_000_000_000
    idle_interval_ns: int = 30_000_000_000
    round_lot: int = 100
    markout_horizon_ns: int = 1_000_000_000
    bounds: PolicyBounds = field(default_factory=PolicyBounds)


@dataclass(frozen=True)
class ParameterChange:
    symbol: str
    parameter: str
    old: int
    new: int
    reason: str
    figures: dict


class FeedbackPolicy:
    """See the module doc. `propose` is pure apart from the cadence it keeps per symbol."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or Policy()
        self._last_change_ns: dict[str, int] = {}
        self._fills_at_change: dict[str, int] = {}
        self._idle_since_ns: dict[str, int] = {}     # the last change, or first sight

    def propose(self, symbol: str, figures: dict, params: dict[str, int | str],
                base: dict[str, int | str], inventory: int, max_position: int,
                now_ns: int) -> list[ParameterChange]:
        """Changes for one symbol. `figures` is TCA's aggregate row for it
        (`TcaAnalysis.measure()["symbol"][symbol]`), `params` the current values (a
        `StrategyParams` dump; `mode` may be absent), `base` the configured ones, `inventory`
        the confirmed position, `max_position` its limit."""
        p = self.policy
        fills = figures.get("fills", 0)
        since = self._idle_since_ns.setdefault(symbol, now_ns)
        new_fills = fills - self._fills_at_change.get(symbol, 0)
        if now_ns - self._last_change_ns.get(symbol, -p.min_interval_ns) < p.min_interval_ns:
            return []
        enough = new_fills >= p.min_fills
        slow = not enough and now_ns - since >= p.idle_interval_ns
        if not enough and not slow:
            return []
        adverse = figures.get("adverse_selection_bps", {}).get(p.markout_horizon_ns)
        markout = figures.get("markout_bps", {}).get(p.markout_horizon_ns)
        fill_ratio = figures.get("fill_ratio")
        slippage = figures.get("taker_slippage_bps")
        shown = {"fills": fills, "new_fills": new_fills,
                 "seconds_since_change": (now_ns - since) / 1e9, "adverse_bps": adverse,
                 "markout_bps": markout, "fill_ratio": fill_ratio,
                 "taker_slippage_bps": slippage, "inventory": inventory,
                 "max_position": max_position}
        changes: list[ParameterChange] = []

        def change(name: str, new: int, reason: str, low: int, high: int) -> None:
            new = min(max(new, low), high)
            if new != params[name]:
                changes.append(ParameterChange(symbol, name, int(params[name]), new, reason,
                                               shown))

        def bounded(name: str, new: int, reason: str) -> None:
            change(name, new, reason, *getattr(p.bounds, name))

        spread = int(params["half_spread_ticks"])
        benign = markout is not None and markout > p.benign_bps
        if enough and adverse is not None and adverse < -p.adverse_bps:
            bounded("half_spread_ticks", spread + 1,
                    f"maker fills marked out {adverse:.2f} bps at 1 s (adverse selection)")
        elif benign and enough and fill_ratio is not None and fill_ratio < p.low_fill_ratio:
            bounded("half_spread_ticks", spread - 1,
                    f"fill ratio {fill_ratio:.0%} with benign markouts ({markout:.2f} bps)")
        elif benign and slow:
            bounded("half_spread_ticks", spread - 1,
                    f"{new_fills} fills in {(now_ns - since) / 1e9:.0f} s with benign markouts "
                    f"({markout:.2f} bps)")
        if not enough:
            return self._decided(symbol, changes, fills, now_ns)
        if max_position > 0:
            load = abs(inventory) / max_position
            skew = int(params["skew_ticks"])
            if load > p.inventory_high:
                bounded("skew_ticks", skew + 1,
                        f"inventory {inventory} is {load:.0%} of the limit")
            elif load < p.inventory_low and skew > int(base["skew_ticks"]):
                bounded("skew_ticks", skew - 1,
                        f"inventory {inventory} is back to {load:.0%} of the limit")
        size = int(params["size"])
        if slippage is not None and slippage > p.slippage_bps:
            bounded("size", size - max(size // 4, p.round_lot),
                    f"taker fills paid {slippage:.2f} bps of arrival slippage")
        elif slippage is not None and slippage < p.slippage_bps / 2 and size < int(base["size"]):
            bounded("size", min(size + max(int(base["size"]) // 4, 1), int(base["size"])),
                    f"taker slippage down to {slippage:.2f} bps")
        self._take_thresholds(params, base, slippage,
                              markout if params.get("mode") == "take" else None, change)
        return self._decided(symbol, changes, fills, now_ns)

    def _take_thresholds(self, params: dict, base: dict, slippage: float | None,
                         markout: float | None, change: Callable[..., None]) -> None:
        """The take-threshold rule (module doc): away from the market after costly taking,
        back toward the base after benign taking."""
        p = self.policy
        used = [name for name in TAKE_THRESHOLDS if params.get(name) and base.get(name)]
        if not used:
            return                          # off: only a person turns taking on
        costly = ((slippage is not None and slippage > p.slippage_bps)
                  or (markout is not None and markout < -p.adverse_bps))
        benign = ((slippage is None or slippage < p.slippage_bps / 2)
                  and (markout is None or markout > p.benign_bps)
                  and (slippage is not None or markout is not None))
        if not (costly or benign):
            return
        if costly:
            what = (f"taker fills paid {slippage:.2f} bps of arrival slippage"
                    if slippage is not None and slippage > p.slippage_bps
                    else f"taker fills marked out {markout:.2f} bps at 1 s")
        else:
            known = {"slippage": slippage, "markout": markout}
            what = "benign taking (" + ", ".join(f"{k} {v:.2f} bps" for k, v in known.items()
                                                 if v is not None) + ")"
        tick = int(params["tick"])
        reach = p.bounds.take_threshold_ticks * tick
        for name in used:
            away = -1 if name == TAKE_THRESHOLDS[0] else 1
            current, home = int(params[name]), int(base[name])
            # Its range: from the base to `reach` further from the market, within the card's;
            # a buy threshold stays at least a tick above 0 (0 would switch it off).
            low, high = ((max(home - reach, tick), home) if away < 0
                         else (home, min(home + reach, STRATEGY[name].high)))
            if costly:
                change(name, current + away * tick,
                       f"{what}: take only at a price one tick better", low, high)
            elif current != home:           # the range's clip stops it at the base
                change(name, current - away * tick, f"{what}: one tick back toward the base",
                       low, high)

    def _decided(self, symbol: str, changes: list[ParameterChange], fills: int,
                 now_ns: int) -> list[ParameterChange]:
        if changes:
            self._last_change_ns[symbol] = now_ns
            self._fills_at_change[symbol] = fills
            self._idle_since_ns[symbol] = now_ns
        return changes
