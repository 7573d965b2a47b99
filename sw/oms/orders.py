"""The FIX order state machine: every order the firm sent, followed by its ClOrdID chain.

Where it sits: inside the OMS (sw/oms/oms.py). It reads three kinds of bus event: `OrderSent`
(the card, or a host order, sent a D, G or F), `ExecutionReport` (the venue's 35=8) and
`OrderCancelReject` (35=9). An order is one chain: a D opens it; each G or F names the chain's
latest ClOrdID as OrigClOrdID and gives it a new one; every ClOrdID of a chain finds the chain.

States are FIX OrdStatus values. The venue's report is the authority on the order's state; what
the OMS adds is what is in flight (`pending`: a cancel or replace sent and not yet answered), so
the FIX "pending" states are reported while one is:

    PENDING_NEW -> NEW -> PARTIALLY_FILLED -> FILLED
                   PENDING_CANCEL -> CANCELED      (or back, on a cancel reject)
                   PENDING_REPLACE -> NEW/PARTIALLY_FILLED under the new ClOrdID (or back)
    REJECTED, EXPIRED (an IOC's rest), CANCELED, FILLED end the chain.

Races are facts, not errors: a fill that arrives after a cancel was sent is applied (and the
cancel then comes back rejected "too late", or confirmed for the rest); a fill reported after
the order was canceled is applied too and flagged. An execution report for no known order is
kept and flagged, and its fill still counts: shares that traded are held whatever we knew.
ExecIDs are the idempotency key: a report seen before (a drop copy replayed) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sw.bus.events import ExecType, OrdStatus, Side

ENDED = frozenset({OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED})


@dataclass
class Pending:
    """A cancel or replace sent and not yet answered."""

    msg_type: str              # "F" or "G"
    clordid: str
    qty: int | None = None     # a replace's new quantity and price
    price: int | None = None


@dataclass
class Order:
    first_clordid: str         # the chain's key: the D's ClOrdID
    clordid: str               # the chain's latest confirmed ClOrdID
    symbol: str
    side: Side
    qty: int
    price: int | None
    venue: str = ""
    order_id: str = ""
    status: OrdStatus = OrdStatus.PENDING_NEW
    cum_qty: int = 0
    notional: int = 0          # sum of LastQty x LastPx
    pending: Pending | None = None
    flags: list[str] = field(default_factory=list)
    sent_ns: int = 0
    ended_ns: int | None = None

    @property
    def leaves_qty(self) -> int:
        return 0 if self.status in ENDED else max(self.qty - self.cum_qty, 0)

    @property
    def avg_px(self) -> float:
        return self.notional / self.cum_qty if self.cum_qty else 0.0

    @property
    def reported_status(self) -> OrdStatus:
        """OrdStatus as the desk sees it: the pending state while a request is in flight."""
        if self.pending is not None and self.status not in ENDED:
            return (OrdStatus.PENDING_CANCEL if self.pending.msg_type == "F"
                    else OrdStatus.PENDING_REPLACE)
        return self.status

    @property
    def ended(self) -> bool:
        return self.status in ENDED


@dataclass(frozen=True)
class Fill:
    """A fill the order book accepted (once per ExecID), for positions and the drop copy."""

    exec_id: str
    clordid: str
    symbol: str
    side: Side
    qty: int
    price: int
    fee: int
    venue: str
    known: bool                # False: no order of ours had this ClOrdID
    transact_ns: int


@dataclass
class Outcome:
    """What one event did: a fill to book, an order that ended (release its exposure)."""

    fill: Fill | None = None
    ended: Order | None = None
    duplicate: bool = False
    flag: str = ""


class OrderBook:
    """Every order chain by every ClOrdID it has used (see the module doc)."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}          # any ClOrdID of a chain -> its order
        self.chains: dict[str, Order] = {}          # first ClOrdID -> order
        self.exec_ids: set[str] = set()
        self.unknown_reports: list[object] = []
        self.flags: list[str] = []

    def get(self, clordid: str) -> Order | None:
        return self.orders.get(clordid)

    def open_orders(self) -> list[Order]:
        return [o for o in self.chains.values() if not o.ended]

    # --- events ------------------------------------------------------------------------------

    def sent(self, event) -> Outcome:
        """An OrderSent: a D opens a chain, a G or F puts one in flight."""
        known = self.orders.get(event.ClOrdID)
        if known is not None:
            # The same request delivered again (after a crash) is a duplicate; another request
            # under a ClOrdID already used is an anomaly to flag, never applied.
            same = (known.first_clordid == event.ClOrdID if event.MsgType == "D"
                    else self.orders.get(event.OrigClOrdID or "") is known)
            return Outcome(duplicate=True) if same else self._flag(
                f"OrderSent {event.MsgType} reuses ClOrdID {event.ClOrdID}")
        if event.MsgType == "D":
            order = Order(event.ClOrdID, event.ClOrdID, event.Symbol, Side(event.Side),
                          event.OrderQty, event.Price, sent_ns=event.TransactTime)
            self.orders[event.ClOrdID] = self.chains[event.ClOrdID] = order
            return Outcome()
        order = self.orders.get(event.OrigClOrdID or "")
        if order is None:
            return self._flag(f"OrderSent {event.MsgType} {event.ClOrdID} names unknown "
                              f"OrigClOrdID {event.OrigClOrdID}")
        order.pending = Pending(str(event.MsgType), event.ClOrdID, event.OrderQty, event.Price)
        self.orders[event.ClOrdID] = order
        return Outcome()

    def report(self, event) -> Outcome:
        """An ExecutionReport."""
        if event.ExecID in self.exec_ids:
            return Outcome(duplicate=True)
        self.exec_ids.add(event.ExecID)
        venue = event.LastMkt or ""
        order = self.orders.get(event.ClOrdID) or self.orders.get(event.OrigClOrdID or "")
        if order is None:
            self.unknown_reports.append(event)
            outcome = self._flag(f"ExecutionReport {event.ExecID} for unknown ClOrdID "
                                 f"{event.ClOrdID}")
            if event.ExecType == ExecType.TRADE and event.LastQty:
                outcome.fill = self._fill(event, venue, known=False)
            return outcome
        order.order_id = event.OrderID or order.order_id
        order.venue = venue or order.venue
        was_ended = order.ended
        outcome = Outcome()
        exec_type = event.ExecType          # bus events carry enumeration members already
        if exec_type == ExecType.TRADE:
            if was_ended:
                outcome.flag = self._note(order, f"fill {event.ExecID} after the order "
                                                 f"was {order.status.name.lower()}")
            order.cum_qty += event.LastQty
            order.notional += event.LastQty * event.LastPx
            outcome.fill = self._fill(event, venue, known=True)
        elif exec_type == ExecType.REPLACED:
            order.clordid = event.ClOrdID
            order.qty, order.price = event.OrderQty, event.Price
            order.pending = None
        elif exec_type in (ExecType.CANCELED, ExecType.EXPIRED, ExecType.REJECTED):
            order.pending = None
        status = event.OrdStatus
        if not (was_ended and status not in ENDED):   # an ended order never reopens
            order.status = status
        if exec_type == ExecType.TRADE and order.cum_qty >= order.qty:
            order.status = OrdStatus.FILLED
        if order.ended and not was_ended:
            order.pending = None
            order.ended_ns = event.TransactTime
            outcome.ended = order
        return outcome

    def cancel_rejected(self, event) -> Outcome:
        """An OrderCancelReject: the request in flight is off; the order is as the venue says."""
        order = self.orders.get(event.ClOrdID) or self.orders.get(event.OrigClOrdID or "")
        if order is None:
            return self._flag(f"OrderCancelReject for unknown ClOrdID {event.ClOrdID}")
        if order.pending is not None and order.pending.clordid == event.ClOrdID:
            order.pending = None
        return Outcome()

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _fill(event, venue: str, *, known: bool) -> Fill:
        return Fill(event.ExecID, event.ClOrdID, event.Symbol, event.Side, event.LastQty,
                    event.LastPx, getattr(event, "Commission", 0) or 0, venue, known,
                    event.TransactTime)

    def _flag(self, text: str) -> Outcome:
        self.flags.append(text)
        return Outcome(flag=text)

    def _note(self, order: Order, text: str) -> str:
        order.flags.append(text)
        self.flags.append(f"{order.first_clordid}: {text}")
        return text
