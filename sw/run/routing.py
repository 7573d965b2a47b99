"""Routing by per-venue TCA: the host chooses the venue of each new order chain.

Where it sits: in `nerve run` (sw/run/appliance.py), between the card's order events and the
FIX sessions. The card has one FIX identity, so its order bytes are the same whichever session
sends them: the host may choose the session per order. It chooses per new chain (a D); a G or F
goes where its chain went, since a venue knows only its own orders (the run's chain map keeps
that, not this module). At each cadence the run hands the router TCA's fills
(`TcaAnalysis.fills()`); the router scores every venue per symbol and returns each change of a
symbol's preferred venue, with the figures behind it, for the audit log and the bus.

Cost of a fill, bps, positive a cost (docs/tca.md has the measures):

    fee / (shares x price) x 1e4
    + for a maker fill: - its markout at `markout_horizon_ns` (1 s), adverse selection
    + for a taker fill: its arrival slippage

A fill whose cost is not known yet (its markout horizon not reached, or no mid at arrival) is
left out until it is. A venue's cost for a symbol is the share-weighted mean over that symbol's
fills there, or over all its fills (scope "venue") while the symbol has fewer than
`min_symbol_fills` there. Fill ratio: the shares filled at the venue over the shares of the new
orders the router sent it (the day's, not windowed). With `window_ns`, costs count only the fills
of the last `window_ns` of feed time, so old evidence ages out.

The policy, deterministic (the same fills and orders give the same routing):

1. Exploring: until every venue has `min_fills` fills of known cost, each symbol's new chains go
   round the venues in turn, the symbol's first chain to the venue the run's fixed deal gave it
   (symbols in the order given, dealt round the venues), so every venue is measured on every
   symbol.
2. Routing: a symbol's new chains go to its preferred venue: the cheapest venue with a known
   cost and a fill ratio of at least `min_fill_ratio`. A venue that holds the preference keeps
   it until another is cheaper by more than `switch_bps` (or it loses its figures), so noise
   does not flip the flow.
3. Exploration share: every `explore_every`-th new chain of a symbol goes to the next venue in
   turn instead, so every venue keeps being measured and one that improves wins the flow back.
4. Size: a venue's cost at size is the cost of its taker executions of more than `size_limit`
   shares (the taker fills of one order share its arrival and fill time: the venue fills a
   marketable order at once, one fill per level it takes), for the symbol or, with fewer than
   `min_size_executions` of them, for the venue. Beyond `max_cost_at_size_bps`, orders of more
   than `size_limit` shares avoid that venue (the card's strategy sets the size; the host can
   only choose where it goes). If every venue is beyond it, they go to the least costly.
5. Each change of a symbol's preferred venue is a `RoutingChange` (old venue, new venue, reason
   and every venue's figures); so is a change of the venue for orders above `size_limit` when it
   parts from the preferred one. Only symbols that trade (routed or filled) are scored: one
   the strategy leaves alone needs no venue, nor an audit entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from sw.tca.analysis import FillTable

#: Scopes of a venue's figures: the symbol's own fills there, or all of the venue's fills.
SYMBOL, VENUE = "symbol", "venue"


@dataclass(frozen=True)
class RoutingConfig:
    """The routing policy's settings (the module doc explains each)."""

    min_fills: int = 20
    min_symbol_fills: int = 10
    explore_every: int = 10
    switch_bps: float = 0.25
    min_fill_ratio: float = 0.02
    markout_horizon_ns: int = 1_000_000_000
    size_limit: int = 500
    max_cost_at_size_bps: float = 10.0
    min_size_executions: int = 3
    window_ns: int | None = None

    def __post_init__(self) -> None:
        for name in ("min_fills", "min_symbol_fills", "min_size_executions", "size_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        # Every chain exploring would be round-robin for good: 2 is the smallest real share.
        if self.explore_every < 2:
            raise ValueError(f"explore_every must be at least 2, not {self.explore_every}")
        if self.switch_bps < 0:
            raise ValueError(f"switch_bps must not be negative, not {self.switch_bps}")
        if not 0 <= self.min_fill_ratio <= 1:
            raise ValueError(f"min_fill_ratio must lie in 0..1, not {self.min_fill_ratio}")
        if self.window_ns is not None and self.window_ns <= 0:
            raise ValueError(f"window_ns must be positive, not {self.window_ns}")


@dataclass(frozen=True)
class VenueFigures:
    """A venue's figures for one symbol (bps; None: unknown). `fills` and `shares` count the
    fills of known cost the cost was measured on; `scope` says whose: the symbol's or all of
    the venue's."""

    venue: str
    scope: str
    fills: int
    shares: int
    cost_bps: float | None
    fee_bps: float | None
    adverse_selection_bps: float | None     # maker fills' markout: negative is adverse
    taker_slippage_bps: float | None
    fill_ratio: float | None
    executions_at_size: int
    cost_at_size_bps: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RoutingChange:
    """A symbol's new chains go to another venue from now on. `sizes`: "all", or "above N" for
    the orders above the size limit; `old` None: the symbol was being dealt round the venues."""

    symbol: str
    sizes: str
    old: str | None
    new: str
    reason: str
    figures: dict[str, dict[str, Any]]         # venue -> VenueFigures.as_dict()
    transact_ns: int

    def as_dict(self) -> dict[str, Any]:
        """Plain data (str, int, float, None) for the audit log, JSON and the bus."""
        return asdict(self)


class Router:
    """See the module doc. `venues` in the order the run gives them; `symbols` in the order
    the run deals them (a symbol's first chain goes to the venue that deal gives it)."""

    def __init__(self, venues: list[str], config: RoutingConfig | None = None,
                 symbols: list[str] | None = None) -> None:
        if not venues or len(set(venues)) != len(venues):
            raise ValueError(f"venues must be one or more distinct names, not {venues}")
        self.venues = list(venues)
        self.config = config or RoutingConfig()
        self._deal = {symbol: n for n, symbol in enumerate(symbols or [])}
        self._chains: dict[str, int] = {}                  # new chains routed per symbol
        self._sent: dict[tuple[str, str], int] = {}        # (symbol, venue) -> shares sent
        self._exploring = True
        self._preferred: dict[str, str] = {}
        self._preferred_above: dict[str, str] = {}         # for orders above size_limit
        self._avoid_above: dict[str, list[str]] = {}       # venues too costly at size
        self._ranking: dict[str, list[str]] = {}
        self._figures: dict[str, dict[str, VenueFigures]] = {}

    # --- per order -------------------------------------------------------------------------

    def route(self, symbol: str, qty: int) -> str:
        """The venue for a new chain (a D) of `qty` shares of `symbol`."""
        n = self._chains.get(symbol, 0)
        self._chains[symbol] = n + 1
        above = qty > self.config.size_limit
        allowed = self._allowed(symbol, above)
        if self._exploring or symbol not in self._preferred:
            start = self._deal.setdefault(symbol, len(self._deal)) + n
            venue = next(v for v in self._turn(start) if v in allowed)
        else:
            venue = self._preferred_above[symbol] if above else self._preferred[symbol]
            if (n + 1) % self.config.explore_every == 0:
                # The next venue in turn after the preferred one: with three or more venues
                # the exploration chains go round all the others.
                after = self.venues.index(venue) + 1
                others = [v for v in self._turn(after) if v != venue and v in allowed]
                if others:
                    venue = others[((n + 1) // self.config.explore_every - 1) % len(others)]
        self._sent[symbol, venue] = self._sent.get((symbol, venue), 0) + qty
        return venue

    def _turn(self, start: int) -> list[str]:
        return [self.venues[(start + k) % len(self.venues)] for k in range(len(self.venues))]

    def _allowed(self, symbol: str, above: bool) -> list[str]:
        avoid = self._avoid_above.get(symbol, []) if above else []
        allowed = [v for v in self.venues if v not in avoid]
        return allowed or [self._least_costly_at_size(symbol)]

    def _least_costly_at_size(self, symbol: str) -> str:
        figures = self._figures[symbol]
        # Only venues with a known cost at size are avoided: unknown sorts last all the same.
        return min(self.venues, key=lambda v: (
            figures[v].cost_at_size_bps if figures[v].cost_at_size_bps is not None
            else float("inf"), self.venues.index(v)))

    # --- per cadence -----------------------------------------------------------------------

    def update(self, fills: FillTable, now_ns: int) -> list[RoutingChange]:
        """Score the venues from every fill so far (TCA's table) and move each symbol's flow
        where the policy says; returns the changes, in symbol order. `now_ns`: feed time, as
        the bus carries it (the window ends there; the changes carry it)."""
        cfg = self.config
        if cfg.markout_horizon_ns not in fills.markout_bps:
            raise ValueError(f"the fills carry no markout at {cfg.markout_horizon_ns} ns "
                             f"(horizons: {sorted(fills.markout_bps)})")
        parts = _parts(fills, cfg.markout_horizon_ns)
        known = ~np.isnan(parts["cost"])
        if self._exploring:
            counts = [int((known & (fills.venue == v)).sum()) for v in self.venues]
            self._exploring = min(counts) < cfg.min_fills
        recent = known.copy()
        if cfg.window_ns is not None:
            recent &= fills.fill_ns > now_ns - cfg.window_ns
        at_size = _executions_above(fills, recent, cfg.size_limit)
        venue_rows = {v: fills.venue == v for v in self.venues}
        overall = {v: _figures(fills, parts, recent & rows, at_size, v, VENUE,
                               self._fill_ratio(fills, rows, None, v))
                   for v, rows in venue_rows.items()}
        symbols = sorted(set(self._chains) | set(fills.symbol.tolist()))
        changes: list[RoutingChange] = []
        for symbol in symbols:
            own = fills.symbol == symbol
            figures = {}
            for v, rows in venue_rows.items():
                cell = _figures(fills, parts, recent & own & rows, at_size, v, SYMBOL,
                                self._fill_ratio(fills, own & rows, symbol, v))
                figures[v] = self._merge(cell, overall[v])
            self._figures[symbol] = figures
            self._avoid_above[symbol] = [
                v for v in self.venues if figures[v].cost_at_size_bps is not None
                and figures[v].cost_at_size_bps > cfg.max_cost_at_size_bps]
            self._ranking[symbol] = sorted(
                (v for v in self.venues if self._eligible(figures[v])),
                key=lambda v: (figures[v].cost_bps, self.venues.index(v)))
            if not self._exploring:
                changes += self._decide(symbol, now_ns)
        return changes

    def _merge(self, cell: VenueFigures, overall: VenueFigures) -> VenueFigures:
        """The symbol's own figures where it has enough fills, else the venue's; the same for
        the cost at size."""
        cfg = self.config
        base = cell if cell.fills >= cfg.min_symbol_fills else overall
        if base is overall and overall.fills < cfg.min_fills:
            base = _unknown(overall)
        size = cell if cell.executions_at_size >= cfg.min_size_executions else overall
        cost = (size.cost_at_size_bps if size.executions_at_size >= cfg.min_size_executions
                else None)
        return replace(base, executions_at_size=size.executions_at_size, cost_at_size_bps=cost)

    def _fill_ratio(self, fills: FillTable, rows: np.ndarray, symbol: str | None,
                    venue: str) -> float | None:
        sent = sum(q for (s, v), q in self._sent.items()
                   if v == venue and (symbol is None or s == symbol))
        return float(fills.qty[rows].sum()) / sent if sent else None

    def _eligible(self, figures: VenueFigures) -> bool:
        ratio = figures.fill_ratio
        return figures.cost_bps is not None and (ratio is None
                                                 or ratio >= self.config.min_fill_ratio)

    def _decide(self, symbol: str, now_ns: int) -> list[RoutingChange]:
        cfg = self.config
        figures, ranking = self._figures[symbol], self._ranking[symbol]
        old = self._preferred.get(symbol)
        new, reason = old, ""
        if ranking:
            best = ranking[0]
            if old is None:
                new, reason = best, f"measured: {best} the cheapest ({_costs(figures)})"
            elif old not in ranking:
                new, reason = best, (f"{old} has no eligible figures (cost "
                                     f"{_bps(figures[old].cost_bps)}, fill ratio "
                                     f"{_ratio(figures[old].fill_ratio)}): {best} the "
                                     f"cheapest ({_costs(figures)})")
            elif (best != old
                  and figures[best].cost_bps < figures[old].cost_bps - cfg.switch_bps):
                new, reason = best, (f"{best} cheaper than {old} by more than "
                                     f"{cfg.switch_bps:g} bps ({_costs(figures)})")
        if new is None:
            return []                       # no venue measured yet: still dealt in turn
        self._preferred[symbol] = new
        shown = {v: f.as_dict() for v, f in figures.items()}
        changes = []
        if new != old:
            changes.append(RoutingChange(symbol, "all", old, new, reason, shown, now_ns))
        old_above = self._preferred_above.get(symbol)
        allowed = self._allowed(symbol, True)
        new_above = next((v for v in [new, *ranking] if v in allowed), allowed[0])
        self._preferred_above[symbol] = new_above
        # Above the size limit the flow follows the preferred venue unless one is avoided:
        # only a parting (or a rejoining) is a change of its own.
        if new_above != old_above and (old_above, new_above) != (old, new):
            avoided = self._avoid_above[symbol]
            why = (f"cost at size above {cfg.size_limit}: "
                   + ", ".join(f"{v} {_bps(figures[v].cost_at_size_bps)}" for v in avoided)
                   + f" (limit {cfg.max_cost_at_size_bps:g} bps)") if avoided else (
                       f"no venue's cost at size above {cfg.size_limit} is beyond "
                       f"{cfg.max_cost_at_size_bps:g} bps")
            changes.append(RoutingChange(symbol, f"above {cfg.size_limit}", old_above,
                                         new_above, why, shown, now_ns))
        return changes

    # --- reading -----------------------------------------------------------------------------

    @property
    def exploring(self) -> bool:
        """True until every venue has `min_fills` fills of known cost."""
        return self._exploring

    def preferred(self) -> dict[str, str]:
        """Each routed symbol's preferred venue (none while exploring)."""
        return dict(self._preferred)

    def avoided_above_size(self) -> dict[str, list[str]]:
        """Per symbol, the venues orders above `size_limit` avoid."""
        return {s: list(v) for s, v in self._avoid_above.items() if v}

    def figures(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The last update's figures, symbol -> venue -> figures, as plain data."""
        return {s: {v: f.as_dict() for v, f in by.items()} for s, by in self._figures.items()}


def _parts(fills: FillTable, horizon_ns: int) -> dict[str, np.ndarray]:
    """Each fill's fee (bps of its notional), markout at the horizon and cost (the module
    doc), NaN while unknown."""
    with np.errstate(invalid="ignore", divide="ignore"):
        fee = fills.fee / (fills.qty * fills.price) * 1e4
    markout = fills.markout_bps[horizon_ns]
    return {"fee": fee, "markout": markout,
            "cost": fee + np.where(fills.maker, -markout, fills.slippage_bps)}


def _executions_above(fills: FillTable, rows: np.ndarray, size: int) -> np.ndarray:
    """Marks the taker fills (of `rows`) of executions of more than `size` shares: the fills
    of one marketable order share its symbol, venue, side, arrival mid and fill time."""
    groups: dict[tuple, list[int]] = {}
    for i in np.flatnonzero(rows & ~fills.maker):
        key = (fills.symbol[i], fills.venue[i], int(fills.side[i]), int(fills.fill_ns[i]),
               float(fills.arrival_mid[i]))
        groups.setdefault(key, []).append(int(i))
    # 0: not at size; otherwise the number of the execution's first fill plus one, so that
    # counting executions is counting distinct marks.
    mark = np.zeros(len(fills), dtype=np.int64)
    for members in groups.values():
        if int(fills.qty[members].sum()) > size:
            mark[members] = members[0] + 1
    return mark


def _figures(fills: FillTable, parts: dict[str, np.ndarray], rows: np.ndarray,
             at_size: np.ndarray, venue: str, scope: str,
             fill_ratio: float | None) -> VenueFigures:
    """A venue's figures over `rows` (fills of known cost), share-weighted."""
    qty = fills.qty
    sized = rows & (at_size > 0)
    return VenueFigures(
        venue=venue, scope=scope, fills=int(rows.sum()), shares=int(qty[rows].sum()),
        cost_bps=_mean(parts["cost"], qty, rows), fee_bps=_mean(parts["fee"], qty, rows),
        adverse_selection_bps=_mean(parts["markout"], qty, rows & fills.maker),
        taker_slippage_bps=_mean(fills.slippage_bps, qty, rows & ~fills.maker),
        fill_ratio=fill_ratio, executions_at_size=len(set(at_size[sized].tolist())),
        cost_at_size_bps=_mean(parts["cost"], qty, sized))


def _mean(values: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> float | None:
    if not rows.any():
        return None
    # Rounded far below any margin the policy compares: reports from two sessions may reach
    # TCA in either order, and the sum's last bits must not decide a venue.
    return round(float(np.average(values[rows], weights=weights[rows])), 9)


def _unknown(figures: VenueFigures) -> VenueFigures:
    return replace(figures, cost_bps=None, fee_bps=None, adverse_selection_bps=None,
                   taker_slippage_bps=None)


def _bps(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f} bps"


def _ratio(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0%}"


def _costs(figures: dict[str, VenueFigures]) -> str:
    """Every venue's cost, as the audit log reads it: "FAST 1.20 bps, SLOW 2.95 bps"."""
    return ", ".join(f"{v} {_bps(f.cost_bps)}" for v, f in figures.items())
