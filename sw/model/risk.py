"""Golden model of the pre-trade risk gate.

Data flow: Strategy -> RiskGate -> Encoder. Every check is evaluated on every new (D) and replace
(G) order; the verdict names the first failing check in `Reason` order, and the full set of
failing checks is kept too. Cancels (F) are never blocked and consume no rate token: pulling an
order only ever reduces risk.

The gate counts the exposure of what it has itself sent (open orders) on top of the
host-confirmed position; only a host confirmation (`order_ended`) releases exposure, so a slow host
can only make the gate more conservative, never less. See docs/golden-model.md for each check.

The gate works in its own units (`GateLimits`: shares x ITCH price units, cycles), which are the
hardware's limit registers; the host's `SymbolLimits` (dollars, orders per second) are converted
once, by `GateLimits.of` (the card's own conversion, spec/bounds.py `gate_values`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields

from spec.bounds import NEVER, gate_values, order_interval  # noqa: F401 (the model's API)
from spec.codes import Reason
from sw.model.config import SymbolLimits
from sw.model.orders import BUY, LiveOrder, OrderRequest, OrderState


@dataclass(frozen=True, slots=True)
class GateLimits:
    """One symbol's limits in the units the gate checks them in: its limit registers.

    The order rate is a schedule (ITU-T I.371's virtual scheduling, GCRA): an order may go
    `rate_tolerance` cycles ahead of its theoretical time, which then moves `order_interval`
    cycles on. With tolerance = (burst - 1) x interval that is a token bucket of `burst` orders
    refilled at one per interval, and it needs no multiply to check.
    """

    max_order_qty: int
    max_notional: int       # qty x price, shares x ITCH price units
    collar_bps: int
    max_long: int
    max_short: int
    max_open_orders: int
    order_interval: int     # cycles per order, sustained
    rate_tolerance: int     # cycles an order may come ahead of its schedule (the burst)
    enabled: bool

    @classmethod
    def of(cls, limits: SymbolLimits | GateLimits) -> GateLimits:
        """The gate's units of the host's limits (gate limits pass as they are)."""
        if isinstance(limits, GateLimits):
            return limits
        return cls(**(gate_values(limits) | {"enabled": limits.enabled}))

    def registers(self) -> dict[str, int]:
        """The limit register values, by field name."""
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


@dataclass(slots=True)
class SymbolRisk:
    """Per-symbol gate state: its limits, confirmed position and open-order exposure."""

    limits: GateLimits
    position: int = 0
    open_buy: int = 0       # exposure of open buy orders, shares
    open_sell: int = 0
    open_orders: int = 0    # LIVE orders (cancel-sent ones no longer count)
    due: int = 0            # the rate schedule: cycle the next order is due (0: a full burst)
    last_cycle: int = 0     # the latest check's cycle (an accepted order is sent at it)

    def set_limits(self, limits: SymbolLimits | GateLimits) -> None:
        """New limits. The open orders and the rate schedule stay: a shallower burst or a
        longer interval applies to what the symbol has already sent."""
        self.limits = GateLimits.of(limits)


@dataclass(frozen=True, slots=True)
class Verdict:
    failed: tuple[Reason, ...]

    @property
    def accepted(self) -> bool:
        return not self.failed

    @property
    def reason(self) -> Reason | None:
        return self.failed[0] if self.failed else None


ACCEPT = Verdict(())


class RiskGate:
    def __init__(self, halted: bool = False) -> None:
        self.halted = halted                 # global kill switch
        self.symbols: dict[int, SymbolRisk] = {}
        self.orders: dict[int, LiveOrder] = {}   # chain -> order, in chain order
        self.rejects: Counter[str] = Counter()

    def bind(self, locate: int, limits: SymbolLimits | GateLimits, position: int = 0) -> None:
        """Attach limits to a locate (when the feed's R message names it); a symbol bound
        again keeps its state (`SymbolRisk.set_limits`)."""
        risk = self.symbols.get(locate)
        if risk is None:
            self.symbols[locate] = SymbolRisk(GateLimits.of(limits), position)
        else:
            risk.set_limits(limits)
            risk.position = position

    def check(self, req: OrderRequest, now: int, bbo: tuple[int, int, int, int],
              trading: bool, stale: bool) -> Verdict:
        """Evaluate every check on a D or G; F always passes. `now` is the cycle count."""
        if req.msg_type == "F":
            return ACCEPT
        risk = self.symbols[req.locate]
        limits = risk.limits
        price, qty = req.price, req.qty
        failed = []
        if self.halted:
            failed.append(Reason.KILL_SWITCH)
        if not limits.enabled:
            failed.append(Reason.SYMBOL_DISABLED)
        if not trading:
            failed.append(Reason.SYMBOL_HALTED)
        if stale:
            failed.append(Reason.BOOK_STALE)
        if qty > limits.max_order_qty:
            failed.append(Reason.QTY_EXCEEDS_MAX)
        if qty * price > limits.max_notional:
            failed.append(Reason.NOTIONAL_EXCEEDS_MAX)
        bid, _, ask, _ = bbo
        if bid == 0 or ask == 0:
            failed.append(Reason.NO_REFERENCE_PRICE)
        else:
            mid = (bid + ask) >> 1
            if abs(price - mid) * 10_000 > limits.collar_bps * mid:
                failed.append(Reason.PRICE_OUTSIDE_COLLAR)
        added = qty if req.order is None else max(0, qty - req.order.exposure)
        if req.side == BUY:
            over = risk.position + risk.open_buy + added > limits.max_long
        else:
            over = risk.open_sell - risk.position + added > limits.max_short
        if over:
            failed.append(Reason.POSITION_LIMIT)
        if req.msg_type == "D" and risk.open_orders + 1 > limits.max_open_orders:
            failed.append(Reason.OPEN_ORDERS_LIMIT)
        if not self._has_token(risk, now):
            failed.append(Reason.RATE_LIMITED)
        if failed:
            self.rejects[failed[0].value] += 1
            return Verdict(tuple(failed))
        return ACCEPT

    @staticmethod
    def _has_token(risk: SymbolRisk, now: int) -> bool:
        """The order is within the rate: no more than the tolerance ahead of its schedule."""
        risk.last_cycle = now
        return now + risk.limits.rate_tolerance >= risk.due

    def sent(self, req: OrderRequest, clordid: int) -> LiveOrder:
        """Record an order that passed the gate and was encoded with `clordid`."""
        risk = self.symbols[req.locate]
        if req.msg_type == "F":
            order = req.order
            order.clordid = clordid
            if order.state is OrderState.LIVE:
                order.state = OrderState.CANCEL_SENT
                risk.open_orders -= 1
            return order
        risk.due = max(risk.due, risk.last_cycle) + risk.limits.order_interval
        if req.msg_type == "D":
            order = LiveOrder(clordid, clordid, req.locate, req.side, req.price, req.qty,
                              req.qty, req.tif)
            self.orders[clordid] = order
            risk.open_orders += 1
            self._expose(risk, order.side, req.qty)
            return order
        order = req.order  # G: replaced in place; exposure rises to the larger quantity
        grow = max(0, req.qty - order.exposure)
        self._expose(risk, order.side, grow)
        order.exposure += grow
        order.clordid, order.price, order.qty = clordid, req.price, req.qty
        return order

    @staticmethod
    def _expose(risk: SymbolRisk, side: int, shares: int) -> None:
        if side == BUY:
            risk.open_buy += shares
        else:
            risk.open_sell += shares

    def live_orders(self) -> list[LiveOrder]:
        """Orders still LIVE, in chain (ClOrdID) order: what the kill switch cancels."""
        return [o for o in self.orders.values() if o.state is OrderState.LIVE]

    def order_ended(self, chain: int) -> None:
        """Host confirmation that an order is done at the venue: release its exposure."""
        order = self.orders.pop(chain)
        risk = self.symbols[order.locate]
        self._expose(risk, order.side, -order.exposure)
        if order.state is OrderState.LIVE:
            risk.open_orders -= 1
        # A quote the host ended (e.g. filled) is no longer the strategy's live quote: the next
        # decision opens a new chain with a D instead of replacing a finished order.
        order.state = OrderState.ENDED
