"""The OMS: the firm's book of record of orders, fills, positions and P&L.

Where it sits: on the bus, after the FIX session. It takes `OrderSent` (what the card and the
host sent), `ExecutionReport` and `OrderCancelReject` (what the venues answered) and `Quote`
(marks for unrealised P&L); it publishes a `PositionReport` for every symbol a batch changed.
Two callbacks close the loop into the hardware, given by whoever wires the OMS to a card:
`on_position(symbol, qty)` writes the confirmed position to the card's risk registers, and
`on_ended(order)` releases an ended chain's exposure in the gate (an order end). The OMS itself
knows nothing of registers.

Durability: each batch of order and execution events is journaled and fsynced (sw/oms/journal.py)
before anything is applied or published; quotes are not journaled (the next quote marks again).
Replaying the journal on start rebuilds the same orders, positions and P&L, and every event is
idempotent (ExecID, or the ClOrdID an OrderSent carries), so events redelivered after a crash
(a durable bus consumer re-sends what was not acknowledged) change nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from sw.bus.events import (
    Event,
    ExecutionReport,
    OrderSent,
    PositionReport,
    Quote,
)
from sw.oms.journal import Journal
from sw.oms.orders import Fill, Order, OrderBook, Outcome
from sw.oms.positions import PositionBook

#: The events that change the book of record (and so are journaled).
RECORDED = ("OrderSent", "ExecutionReport", "OrderCancelReject")


class Oms:
    """See the module doc."""

    def __init__(self, journal: str | Path, *,
                 on_position: Callable[[str, int], None] | None = None,
                 on_ended: Callable[[Order], None] | None = None) -> None:
        self.orders = OrderBook()
        self.positions = PositionBook()
        self.on_position = on_position
        self.on_ended = on_ended
        self.duplicates = 0
        self.fills: list[Fill] = []                  # every fill booked, in order
        self.journal = Journal(journal)
        for event in self.journal.events:
            self._apply(event)
        self.replayed = len(self.journal.events)

    # --- the bus side ----------------------------------------------------------------------

    def handle(self, events: Iterable[Event], *, report: bool = True) -> list[PositionReport]:
        """Journal the batch's order and execution events (fsync), apply every event, and
        return a PositionReport for each symbol whose position or mark changed (none with
        `report` False: a caller that reports positions at its own cadence, as `nerve run`
        does, need not build one per quote)."""
        events = list(events)
        self.journal.append(e for e in events if e.type in RECORDED)
        changed: dict[str, int] = {}
        for event in events:
            outcome = self._apply(event)
            if isinstance(event, Quote) and event.BidPx and event.OfferPx:
                changed.setdefault(event.Symbol, event.TransactTime)
            if outcome is None:
                continue
            if outcome.fill is not None:
                changed[outcome.fill.symbol] = event.TransactTime
                if self.on_position is not None:
                    self.on_position(outcome.fill.symbol,
                                     self.positions.by_symbol[outcome.fill.symbol].qty)
            if outcome.ended is not None and self.on_ended is not None:
                self.on_ended(outcome.ended)
        if not report:
            return []
        return [self.position_report(symbol, at) for symbol, at in changed.items()]

    def _apply(self, event: Event) -> Outcome | None:
        if isinstance(event, Quote):
            mid = (event.BidPx + event.OfferPx) // 2 if event.BidPx and event.OfferPx else None
            self.positions.mark(event.Symbol, mid)
            return None
        if isinstance(event, OrderSent):
            outcome = self.orders.sent(event)
        elif isinstance(event, ExecutionReport):
            outcome = self.orders.report(event)
        elif event.type == "OrderCancelReject":
            outcome = self.orders.cancel_rejected(event)
        else:
            return None
        if outcome.duplicate:
            self.duplicates += 1
        fill = outcome.fill
        if fill is not None:
            self.fills.append(fill)
            self.positions.fill(fill.symbol, fill.venue, 1 if fill.side == "1" else -1,
                                fill.qty, fill.price, fill.fee)
        return outcome

    # --- views -----------------------------------------------------------------------------

    def position_report(self, symbol: str, transact_ns: int) -> PositionReport:
        position = self.positions.by_symbol.get(symbol)
        qty = position.qty if position else 0
        unrealised = self.positions.unrealised(symbol)
        return PositionReport(
            Symbol=symbol, LongQty=max(qty, 0), ShortQty=max(-qty, 0), NetQty=qty,
            CostBasis=position.cost if position else 0,
            RealisedPnl=position.realised_pnl if position else 0,
            UnrealisedPnl=unrealised if unrealised is not None else 0,
            TransactTime=transact_ns)

    def confirmed_positions(self) -> dict[str, int]:
        """Every symbol's net position: what the card's position registers should hold."""
        return {symbol: p.qty for symbol, p in self.positions.by_symbol.items()}

    def state(self) -> dict:
        """Orders, positions and P&L as plain data: two OMSs with equal states agree."""
        return {
            "orders": {key: (o.clordid, o.reported_status, o.cum_qty, o.leaves_qty, o.qty,
                             o.price, o.notional)
                       for key, o in sorted(self.orders.chains.items())},
            "positions": {s: (p.qty, p.cost, p.realised_pnl, p.fees)
                          for s, p in sorted(self.positions.by_symbol.items())},
            "by_venue": {f"{s}@{v}": (p.qty, p.cost, p.realised_pnl, p.fees)
                         for (s, v), p in sorted(self.positions.by_venue.items())},
            "unknown_reports": len(self.orders.unknown_reports),
        }

    def close(self) -> None:
        self.journal.close()
