"""Portfolio risk: exposure, VaR and expected shortfall of the firm's positions, and the host's
authority to halt or put symbols into reduce-only.

Where it sits: on the bus beside the OMS. It reads positions (`PositionReport`) and marks
(`Quote` mids), samples each symbol's mid once per `interval_ns` of feed time into a return
history, and on `assess()` computes the figures below and the decisions they call for, which go
out as `RiskDecision` events (the wiring applies them to the card: the kill switch, or
reduce-only per symbol). The hardware gate keeps its own per-order limits whatever this says;
this is the firm-wide layer the card cannot see.

Figures (money in dollars; returns are simple returns of the mid over one interval):
- gross exposure = sum |position x mark|; net = sum position x mark;
- parametric VaR at level a over one interval, zero mean: z_a x sqrt(w' S w), w the position
  values, S the covariance of the symbols' returns; expected shortfall (normal):
  sqrt(w' S w) x phi(z_a) / (1 - a);
- historical VaR: the loss at the (1 - a) quantile of the P&L today's positions would have made
  over each past interval; historical ES: the mean of the losses at or beyond it;
- the horizon is one interval: a figure for a longer horizon is not scaled here (the square-root
  rule assumes independent, zero-mean returns of constant volatility and usually understates).

Decisions, from `RiskLimits`: a daily loss (realised + unrealised - fees) beyond `max_loss`,
or a drawdown beyond `max_drawdown` (from the highest P&L of the day), halts everything; gross
exposure or VaR above its limit puts every symbol with a position into reduce-only (orders may
only shrink it); a symbol's exposure above `max_symbol_exposure` puts that symbol into
reduce-only. When the figures fall back under the limits, a RELEASE follows.
Above the second thresholds reduce-only is not enough (it only stops a position growing): gross
exposure beyond `reduce_gross_exposure` cuts every position by the same fraction, back to
`max_gross_exposure` (or to the threshold itself when there is none), and a symbol's exposure
beyond `reduce_symbol_exposure` cuts it back to `max_symbol_exposure` (or the threshold): each
as a REDUCE decision with the Side and OrderQty of the order that does it (whole shares,
rounded toward a smaller cut), which the wiring sends by the card's host order port, through
the same gate as every order. A breach that lasts repeats its REDUCE at the next assessment,
from the positions the fills have left.
Unknown figures (no marks yet, too short a history) are reported as None and decide nothing.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from spec.itch import PRICE_SCALE
from sw.bus.events import Event, PositionReport, Quote, RiskAction, RiskDecision, Side


@dataclass(frozen=True)
class RiskLimits:
    """Firm-wide limits, dollars (None: no limit)."""

    max_loss: float | None = None
    max_drawdown: float | None = None         # from the day's highest P&L
    max_gross_exposure: float | None = None
    max_var: float | None = None
    max_symbol_exposure: float | None = None
    reduce_gross_exposure: float | None = None    # above: cut every position (see the doc)
    reduce_symbol_exposure: float | None = None   # above: cut that symbol's position
    level: float = 0.99
    interval_ns: int = 1_000_000_000          # one return per second of feed time
    history: int = 500                        # returns kept per symbol
    min_history: int = 30                     # fewer: VaR unknown

    def __post_init__(self) -> None:
        for second, first in (("reduce_gross_exposure", "max_gross_exposure"),
                              ("reduce_symbol_exposure", "max_symbol_exposure")):
            high, low = getattr(self, second), getattr(self, first)
            if high is not None and low is not None and high <= low:
                raise ValueError(f"{second} (${high:,.0f}) must be above {first} "
                                 f"(${low:,.0f}): it is the second threshold")


@dataclass
class Assessment:
    gross_exposure: float | None
    net_exposure: float | None
    pnl: float | None
    var_parametric: float | None
    es_parametric: float | None
    var_historical: float | None
    es_historical: float | None
    decisions: list[RiskDecision]


class PortfolioRisk:
    """See the module doc."""

    def __init__(self, limits: RiskLimits | None = None) -> None:
        self.limits = limits or RiskLimits()
        self.positions: dict[str, int] = {}
        self.pnl_units: dict[str, int] = {}
        self.marks: dict[str, float] = {}
        self._samples: dict[str, deque[float]] = defaultdict(
            lambda: deque(maxlen=self.limits.history + 1))
        self._next_sample: dict[str, int] = {}
        self.reduce_only: set[str] = set()
        self.halted = False
        self.peak_pnl: float | None = None
        self.now_ns = 0

    def add(self, event: Event) -> None:
        self.now_ns = max(self.now_ns, event.TransactTime)
        if isinstance(event, PositionReport):
            self.positions[event.Symbol] = event.NetQty
            self.pnl_units[event.Symbol] = event.RealisedPnl + event.UnrealisedPnl
        elif isinstance(event, Quote) and event.BidPx and event.OfferPx:
            mid = (event.BidPx + event.OfferPx) / 2
            self.marks[event.Symbol] = mid
            due = self._next_sample.get(event.Symbol, event.TransactTime)
            while event.TransactTime >= due:     # the mid in force at each interval's start
                self._samples[event.Symbol].append(mid)
                due += self.limits.interval_ns
            self._next_sample[event.Symbol] = due

    # --- figures -----------------------------------------------------------------------------

    def _returns(self, symbols: list[str]) -> np.ndarray | None:
        """Aligned simple returns, one column per symbol (the most recent common length)."""
        series = [np.asarray(self._samples[s], dtype=float) for s in symbols]
        length = min((len(s) for s in series), default=0)
        if length - 1 < self.limits.min_history:
            return None
        aligned = np.column_stack([s[-length:] for s in series])
        return aligned[1:] / aligned[:-1] - 1.0

    def assess(self) -> Assessment:
        held = sorted(s for s, q in self.positions.items() if q)
        if any(s not in self.marks for s in held):
            gross = net = None
            values = None
        else:
            values = np.array([self.positions[s] * self.marks[s] / PRICE_SCALE for s in held])
            gross, net = float(np.abs(values).sum()), float(values.sum())
        pnl = sum(self.pnl_units.values()) / PRICE_SCALE if self.pnl_units else None
        var_p = es_p = var_h = es_h = None
        returns = self._returns(held) if held and values is not None else None
        if held and values is not None and returns is not None:
            a = self.limits.level
            z = NormalDist().inv_cdf(a)
            cov = np.atleast_2d(np.cov(returns, rowvar=False))
            sigma = math.sqrt(max(float(values @ cov @ values), 0.0))
            var_p = z * sigma
            es_p = sigma * math.exp(-z * z / 2) / math.sqrt(2 * math.pi) / (1 - a)
            pnl_paths = returns @ values
            cutoff = np.quantile(pnl_paths, 1 - a)
            var_h = float(-cutoff)
            es_h = float(-pnl_paths[pnl_paths <= cutoff].mean())
        elif not held:
            var_p = es_p = var_h = es_h = 0.0
        return Assessment(gross, net, pnl, var_p, es_p, var_h, es_h,
                          self._decide(held, values, gross, pnl, var_p))

    # --- decisions ---------------------------------------------------------------------------

    def _decide(self, held, values, gross, pnl, var) -> list[RiskDecision]:
        limits, now = self.limits, self.now_ns
        out: list[RiskDecision] = []

        def over(value, limit) -> bool:
            return value is not None and limit is not None and value > limit

        if pnl is not None:
            self.peak_pnl = pnl if self.peak_pnl is None else max(self.peak_pnl, pnl)
        lost = pnl is not None and limits.max_loss is not None and pnl < -limits.max_loss
        drawdown = None if pnl is None or self.peak_pnl is None else self.peak_pnl - pnl
        fell = (drawdown is not None and limits.max_drawdown is not None
                and drawdown > limits.max_drawdown)
        halt = lost or fell
        if halt and not self.halted:
            why = (f"daily loss ${-pnl:,.2f} beyond ${limits.max_loss:,.2f}" if lost else
                   f"drawdown ${drawdown:,.2f} from the day's best beyond "
                   f"${limits.max_drawdown:,.2f}")
            out.append(RiskDecision(RiskAction=RiskAction.HALT, Text=why, TransactTime=now))
        elif self.halted and not halt and pnl is not None:
            out.append(RiskDecision(RiskAction=RiskAction.RELEASE, Text="loss back within limit",
                                    TransactTime=now))
        self.halted = halt if pnl is not None else self.halted
        wide = over(gross, limits.max_gross_exposure) or over(var, limits.max_var)
        wanted = set(held) if wide else set()
        if values is not None and limits.max_symbol_exposure is not None:
            wanted |= {s for s, v in zip(held, values, strict=True)
                       if abs(v) > limits.max_symbol_exposure}
        if values is None:
            wanted |= self.reduce_only & set(held)     # unknown: keep what was decided
        why = (f"gross ${gross:,.0f}" if gross is not None else "") + \
              (f", VaR ${var:,.0f}" if var is not None else "")
        for symbol in sorted(wanted - self.reduce_only):
            out.append(RiskDecision(RiskAction=RiskAction.REDUCE_ONLY, Symbol=symbol,
                                    Text=f"over a portfolio limit ({why.strip(', ')})",
                                    TransactTime=now))
        for symbol in sorted(self.reduce_only - wanted):
            out.append(RiskDecision(RiskAction=RiskAction.RELEASE, Symbol=symbol,
                                    Text="back within portfolio limits", TransactTime=now))
        self.reduce_only = wanted
        if values is not None:
            out += self._reductions(held, values, gross, now)
        return out

    def _reductions(self, held, values, gross, now) -> list[RiskDecision]:
        """REDUCE decisions for exposure beyond the second thresholds (see the module doc)."""
        limits = self.limits
        keep = dict.fromkeys(held, 1.0)          # the share of each position to keep
        if limits.reduce_gross_exposure is not None and gross > limits.reduce_gross_exposure:
            target = limits.max_gross_exposure or limits.reduce_gross_exposure
            keep = dict.fromkeys(held, target / gross)
        if limits.reduce_symbol_exposure is not None:
            target = limits.max_symbol_exposure or limits.reduce_symbol_exposure
            for symbol, value in zip(held, values, strict=True):
                if abs(value) > limits.reduce_symbol_exposure:
                    keep[symbol] = min(keep[symbol], target / abs(value))
        out = []
        for symbol, value in zip(held, values, strict=True):
            position = self.positions[symbol]
            cut = abs(position) - math.floor(abs(position) * keep[symbol])
            if keep[symbol] < 1.0 and cut > 0:
                out.append(RiskDecision(
                    RiskAction=RiskAction.REDUCE, Symbol=symbol,
                    Side=Side.SELL if position > 0 else Side.BUY, OrderQty=cut,
                    Text=f"exposure ${abs(value):,.0f} of {symbol} (gross ${gross:,.0f}) over "
                         f"a second threshold: cut {cut} of {abs(position)} shares",
                    TransactTime=now))
        return out
