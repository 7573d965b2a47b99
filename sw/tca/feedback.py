"""The feedback policy: TCA's figures move each symbol's strategy parameters, within bounds.

Where it sits: after TCA (sw/tca/analysis.py) in the loop Analyze -> Execute -> Measure ->
Adjust. At each cadence point it reads a symbol's aggregates, its current parameters and its
inventory, and proposes changes; the wiring sends every change through the same audited path as
a person's change (the control plane's desk), under the policy's own identity, with the figures
that caused it. The policy never writes a register itself.

The rules, one step per decision so that no single measurement swings a parameter far:

- half_spread_ticks: passive fills being picked off (adverse selection, the share-weighted 1 s
  markout of maker fills, below -`adverse_bps`) widen the quote by one tick; a low fill ratio
  (below `low_fill_ratio`) with benign markouts (above +`benign_bps`) tightens it by one tick.
- skew_ticks: inventory beyond `inventory_high` of the position limit adds a tick of skew (the
  quotes lean harder against the position); inventory under `inventory_low` of it takes one off,
  down to the symbol's configured base.
- size: taker fills paying more than `slippage_bps` of arrival slippage cut the size by a quarter
  (at least one round lot less); slippage under half of that restores a quarter of the base size,
  up to the base.

Bounds: each parameter stays within `PolicyBounds` (documented defaults, narrower than what the
card accepts, spec/bounds.py); a change that would leave them is clipped, and none is made at
a bound. Cadence: a symbol is considered once it has `min_fills` new fills since its last
change, and at most once per `min_interval_ns` of feed time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spec.bounds import STRATEGY


@dataclass(frozen=True)
class PolicyBounds:
    half_spread_ticks: tuple[int, int] = (1, 20)
    skew_ticks: tuple[int, int] = (0, 10)
    size: tuple[int, int] = (100, 5_000)

    def __post_init__(self) -> None:
        for name in ("half_spread_ticks", "skew_ticks", "size"):
            low, high = getattr(self, name)
            card = STRATEGY[name]
            if not card.low <= low <= high <= card.high:
                raise ValueError(f"{name} bounds {low}..{high} must lie within the card's "
                                 f"{card.low}..{card.high}")


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

    def propose(self, symbol: str, figures: dict, params: dict[str, int],
                base: dict[str, int], inventory: int, max_position: int,
                now_ns: int) -> list[ParameterChange]:
        """Changes for one symbol. `figures` is TCA's aggregate row for it
        (`TcaAnalysis.measure()["symbol"][symbol]`), `params` the current values, `base` the
        configured ones, `inventory` the confirmed position, `max_position` its limit."""
        p = self.policy
        fills = figures.get("fills", 0)
        if fills - self._fills_at_change.get(symbol, 0) < p.min_fills:
            return []
        if now_ns - self._last_change_ns.get(symbol, -p.min_interval_ns) < p.min_interval_ns:
            return []
        adverse = figures.get("adverse_selection_bps", {}).get(p.markout_horizon_ns)
        markout = figures.get("markout_bps", {}).get(p.markout_horizon_ns)
        fill_ratio = figures.get("fill_ratio")
        slippage = figures.get("taker_slippage_bps")
        shown = {"fills": fills, "adverse_bps": adverse, "markout_bps": markout,
                 "fill_ratio": fill_ratio, "taker_slippage_bps": slippage,
                 "inventory": inventory, "max_position": max_position}
        changes: list[ParameterChange] = []

        def change(name: str, new: int, reason: str) -> None:
            low, high = getattr(p.bounds, name)
            new = min(max(new, low), high)
            if new != params[name]:
                changes.append(ParameterChange(symbol, name, params[name], new, reason, shown))

        spread = params["half_spread_ticks"]
        if adverse is not None and adverse < -p.adverse_bps:
            change("half_spread_ticks", spread + 1,
                   f"maker fills marked out {adverse:.2f} bps at 1 s (adverse selection)")
        elif (fill_ratio is not None and fill_ratio < p.low_fill_ratio and markout is not None
              and markout > p.benign_bps):
            change("half_spread_ticks", spread - 1,
                   f"fill ratio {fill_ratio:.0%} with benign markouts ({markout:.2f} bps)")
        if max_position > 0:
            load = abs(inventory) / max_position
            if load > p.inventory_high:
                change("skew_ticks", params["skew_ticks"] + 1,
                       f"inventory {inventory} is {load:.0%} of the limit")
            elif load < p.inventory_low and params["skew_ticks"] > base["skew_ticks"]:
                change("skew_ticks", params["skew_ticks"] - 1,
                       f"inventory {inventory} is back to {load:.0%} of the limit")
        if slippage is not None and slippage > p.slippage_bps:
            cut = max(params["size"] // 4, p.round_lot)
            change("size", params["size"] - cut,
                   f"taker fills paid {slippage:.2f} bps of arrival slippage")
        elif (slippage is not None and slippage < p.slippage_bps / 2
              and params["size"] < base["size"]):
            change("size", min(params["size"] + max(base["size"] // 4, 1), base["size"]),
                   f"taker slippage down to {slippage:.2f} bps")
        if changes:
            self._last_change_ns[symbol] = now_ns
            self._fills_at_change[symbol] = fills
        return changes
