"""The typed events of the trading loop: what services tell each other over the bus.

Where it sits: every service on the slow path (feed health, session manager, OMS, risk, TCA, the
control plane) publishes and subscribes these, through `sw.bus` (in-process or NATS). The card's
own event channel (drivers/events.py) is turned into `OrderSent` / `OrderRejected` here at the
edge; nothing below the bus sees a card record.

Rules every event follows:

- Field names are FIX 4.4 field names (ClOrdID, OrdStatus, LastPx ...), spelled as in the FIX 4.4
  data dictionary, so one order is followed by its ClOrdID through every service. Fields FIX has no
  name for are Nerve's own, in the same style, and listed in `NERVE_FIELDS`; the tests check
  every other field name and every enumeration value against QuickFIX's FIX44.xml.
- Enumerations carry FIX values: Side "1"/"2", OrdStatus "0".."E", ExecType "0".."I"; FIX INT
  fields (OrdRejReason, SecurityTradingStatus) are integers.
- Prices and quantities are integers in feed units end to end: prices in ITCH price units
  (1/10,000 dollar), quantities in shares, money (P&L, cost) in price units x shares. Timestamps
  (TransactTime) are integer nanoseconds since the Unix epoch, UTC. Conversion to decimals or FIX
  text happens only at the edges (FIX session, display).
- Events are immutable and validated strictly when built: a float price or a string quantity is a
  `pydantic.ValidationError` at the publisher, never a surprise at a subscriber.

Each event class names its topic (`Event.topic`); the bus derives the subject
``nerve.<topic>.<symbol>`` from it and the event's Symbol.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from spec.codes import Reason
from sw.fix.enums import (
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    LastLiquidityInd,
    MsgType,
    OrdRejReason,
    OrdStatus,
    OrdType,
    SecurityTradingStatus,
    Side,
    TimeInForce,
)


class Topic(StrEnum):
    """What an event is about; the second token of its subject."""

    MARKET = "market"          # BBO, trading state, feed health
    ORDERS = "orders"          # orders sent, refused by the gate, acknowledged by the venue
    EXECUTIONS = "executions"  # execution reports (the drop copy, durable over NATS)
    POSITIONS = "positions"    # confirmed positions and P&L
    RISK = "risk"              # halts, reduce-only, kill switch
    PARAMETERS = "parameters"  # strategy parameter changes
    TCA = "tca"                # cost analysis results


# FIX enumerations live in sw/fix/enums.py; they are re-exported here for the bus's users.


#: The gate's reasons as FIX OrdRejReason: the limit checks are "order exceeds limit", a halted
#: symbol is "exchange closed", everything else is "other"; the exact reason rides in GateReason.
GATE_REJECT_REASON: dict[Reason, OrdRejReason] = {
    reason: OrdRejReason.OTHER for reason in Reason
} | {
    Reason.SYMBOL_HALTED: OrdRejReason.EXCHANGE_CLOSED,
    Reason.QTY_EXCEEDS_MAX: OrdRejReason.ORDER_EXCEEDS_LIMIT,
    Reason.NOTIONAL_EXCEEDS_MAX: OrdRejReason.ORDER_EXCEEDS_LIMIT,
    Reason.PRICE_OUTSIDE_COLLAR: OrdRejReason.ORDER_EXCEEDS_LIMIT,
    Reason.POSITION_LIMIT: OrdRejReason.ORDER_EXCEEDS_LIMIT,
    Reason.OPEN_ORDERS_LIMIT: OrdRejReason.ORDER_EXCEEDS_LIMIT,
}


# --- Nerve enumerations (no FIX equivalent) -----------------------------------------------------

class FeedState(StrEnum):
    """What the feed handler says about a feed or a symbol's book. Nothing trades on a book that
    may be wrong, so every state but OK blocks trading on what it names."""

    OK = "OK"
    GAP = "GAP"            # MoldUDP64 sequence gap
    STALE = "STALE"        # no update within the staleness limit
    OVERFLOW = "OVERFLOW"  # the book ran out of capacity


class RiskAction(StrEnum):
    """A portfolio-risk decision."""

    HALT = "HALT"                # no new orders (the symbol, or everything when Symbol is None)
    REDUCE_ONLY = "REDUCE_ONLY"  # only orders that shrink the position
    RELEASE = "RELEASE"          # back to normal trading
    REDUCE = "REDUCE"            # cut the position: Side and OrderQty, by a host order
    KILL_SWITCH = "KILL_SWITCH"  # block everything and cancel every live order


class TcaMetric(StrEnum):
    """What a TcaReport measures (see its Value for the unit)."""

    ARRIVAL_SLIPPAGE = "ARRIVAL_SLIPPAGE"
    IMPLEMENTATION_SHORTFALL = "IMPLEMENTATION_SHORTFALL"
    MARKOUT = "MARKOUT"
    FILL_RATIO = "FILL_RATIO"


# --- Field types ---------------------------------------------------------------------------------

#: A symbol as FIX Symbol (55) carries it: 1-8 printable ASCII characters, no spaces (an ITCH
#: stock field without its space padding).
Ticker = Annotated[str, Field(pattern=r"^[!-~]{1,8}$")]
#: An identifier (ClOrdID, OrderID, ExecID): printable ASCII, no spaces.
Ident = Annotated[str, Field(pattern=r"^[!-~]{1,64}$")]
#: Price in ITCH price units (1/10,000 dollar).
Px = Annotated[int, Field(ge=0)]
#: Quantity in shares.
Qty = Annotated[int, Field(ge=0)]
#: Nanoseconds since the Unix epoch, UTC.
Nanos = Annotated[int, Field(ge=0)]

# Fields are named after their FIX type (`Side: Side`). Pydantic resolves annotations in the class
# namespace first, where a field with a default shadows its type, so those fields use aliases.
_OrdType = OrdType
_TimeInForce = TimeInForce
_OrdRejReason = OrdRejReason
_LastLiquidityInd = LastLiquidityInd
_CxlRejReason = CxlRejReason
_CxlRejResponseTo = CxlRejResponseTo
_Side = Side

#: Fields that are Nerve's own (no FIX 4.4 field of that name); every other field name is FIX.
NERVE_FIELDS = frozenset({
    "type", "Session", "FeedState", "GateReason", "NetQty", "CostBasis", "RealisedPnl",
    "UnrealisedPnl", "RiskAction", "Parameter", "Value", "Source", "TcaMetric", "HorizonNs",
    "IngressCycle", "EgressCycle",
})


class Event(BaseModel):
    """Base of every bus event: immutable, strictly typed, unknown fields refused.

    `type` is the event's wire tag (its class name); `topic` is where it is published.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    topic: ClassVar[Topic]


# --- market --------------------------------------------------------------------------------------

class Quote(Event):
    """The best bid and offer of a symbol after a book change (None: that side is empty)."""

    topic: ClassVar[Topic] = Topic.MARKET
    type: Literal["Quote"] = "Quote"
    Symbol: Ticker
    BidPx: Px | None = None
    BidSize: Qty = 0
    OfferPx: Px | None = None
    OfferSize: Qty = 0
    TransactTime: Nanos


class TradingStatus(Event):
    """The venue's trading state of a symbol (ITCH H: halted, paused, quoting, trading)."""

    topic: ClassVar[Topic] = Topic.MARKET
    type: Literal["TradingStatus"] = "TradingStatus"
    Symbol: Ticker
    SecurityTradingStatus: SecurityTradingStatus
    TransactTime: Nanos
    Text: str | None = None


class FeedHealth(Event):
    """The feed handler's view of a feed session (Symbol None) or of one symbol's book."""

    topic: ClassVar[Topic] = Topic.MARKET
    type: Literal["FeedHealth"] = "FeedHealth"
    Session: str
    FeedState: FeedState
    Symbol: Ticker | None = None
    TransactTime: Nanos
    Text: str | None = None


# --- orders --------------------------------------------------------------------------------------

class OrderSent(Event):
    """An order that left through the gate (the card's D, G or F, or a host order).

    The card stamps its own: IngressCycle is the cycle the feed packet that caused the order
    arrived, EgressCycle the cycle the order's first byte left (the card's clock, 156.25 MHz), so
    tick-to-trade is EgressCycle - IngressCycle cycles."""

    topic: ClassVar[Topic] = Topic.ORDERS
    type: Literal["OrderSent"] = "OrderSent"
    MsgType: MsgType
    ClOrdID: Ident
    OrigClOrdID: Ident | None = None
    Symbol: Ticker
    Side: Side
    OrderQty: Qty
    Price: Px | None = None
    OrdType: _OrdType = OrdType.LIMIT
    TimeInForce: _TimeInForce = TimeInForce.DAY
    MsgSeqNum: int | None = None
    IngressCycle: Nanos | None = None
    EgressCycle: Nanos | None = None
    TransactTime: Nanos


class OrderRejected(Event):
    """An order the pre-trade risk gate refused: it never left the card.

    The card assigns no ClOrdID to a refused new order (None); a refused G or F names the order it
    was meant to change in OrigClOrdID.
    """

    topic: ClassVar[Topic] = Topic.ORDERS
    type: Literal["OrderRejected"] = "OrderRejected"
    MsgType: MsgType
    ClOrdID: Ident | None = None
    OrigClOrdID: Ident | None = None
    Symbol: Ticker
    Side: Side
    OrderQty: Qty
    Price: Px | None = None
    OrdRejReason: OrdRejReason
    GateReason: Reason
    Text: str | None = None
    IngressCycle: Nanos | None = None
    TransactTime: Nanos


class OrderAcknowledged(Event):
    """The venue accepted a new order, a replace or a cancel (ExecType New, Replaced, Canceled).

    A slim copy on the orders topic for order-flow views; the full ExecutionReport goes to the
    executions topic.
    """

    topic: ClassVar[Topic] = Topic.ORDERS
    type: Literal["OrderAcknowledged"] = "OrderAcknowledged"
    ClOrdID: Ident
    OrigClOrdID: Ident | None = None
    OrderID: Ident
    OrdStatus: OrdStatus
    Symbol: Ticker
    Side: Side
    TransactTime: Nanos


# --- executions ----------------------------------------------------------------------------------

class ExecutionReport(Event):
    """FIX ExecutionReport (35=8) as the venue sent it: the drop copy, the OMS's input.

    ExecID is unique per report: it is the idempotency key of the durable drop copy. Commission
    is the fill's fee in price units x shares (FIX sends it in dollars with CommType 3); a
    rebate is negative.
    """

    topic: ClassVar[Topic] = Topic.EXECUTIONS
    type: Literal["ExecutionReport"] = "ExecutionReport"
    ExecID: Ident
    OrderID: Ident
    ClOrdID: Ident
    OrigClOrdID: Ident | None = None
    ExecType: ExecType
    OrdStatus: OrdStatus
    Symbol: Ticker
    Side: Side
    OrderQty: Qty
    Price: Px | None = None
    LastQty: Qty = 0
    LastPx: Px = 0
    CumQty: Qty
    LeavesQty: Qty
    LastMkt: str | None = None
    LastLiquidityInd: _LastLiquidityInd | None = None
    Commission: int = 0
    OrdRejReason: _OrdRejReason | None = None
    Text: str | None = None
    TransactTime: Nanos


class OrderCancelReject(Event):
    """FIX OrderCancelReject (35=9): a cancel or replace the venue refused; the order is as
    OrdStatus says. FIX does not carry the Symbol on it; the session adds it when it knows."""

    topic: ClassVar[Topic] = Topic.EXECUTIONS
    type: Literal["OrderCancelReject"] = "OrderCancelReject"
    OrderID: Ident
    ClOrdID: Ident
    OrigClOrdID: Ident
    OrdStatus: OrdStatus
    CxlRejResponseTo: _CxlRejResponseTo
    CxlRejReason: _CxlRejReason | None = None
    Symbol: Ticker | None = None
    LastMkt: str | None = None
    Text: str | None = None
    TransactTime: Nanos


# --- positions, risk, parameters, tca ------------------------------------------------------------

class PositionReport(Event):
    """The OMS's confirmed position in a symbol and its P&L (money in price units x shares)."""

    topic: ClassVar[Topic] = Topic.POSITIONS
    type: Literal["PositionReport"] = "PositionReport"
    Symbol: Ticker
    LongQty: Qty
    ShortQty: Qty
    NetQty: int
    CostBasis: int
    RealisedPnl: int
    UnrealisedPnl: int
    TransactTime: Nanos


class RiskDecision(Event):
    """A portfolio-risk decision on one symbol, or on everything (Symbol None)."""

    topic: ClassVar[Topic] = Topic.RISK
    type: Literal["RiskDecision"] = "RiskDecision"
    RiskAction: RiskAction
    Symbol: Ticker | None = None
    Side: _Side | None = None         # REDUCE: the order that cuts the position
    OrderQty: int | None = Field(None, gt=0)
    Text: str | None = None
    TransactTime: Nanos


class ParameterUpdate(Event):
    """A strategy parameter of a symbol set to a new (integer, register) value, and by whom."""

    topic: ClassVar[Topic] = Topic.PARAMETERS
    type: Literal["ParameterUpdate"] = "ParameterUpdate"
    Symbol: Ticker
    Parameter: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    Value: int
    Source: str
    TransactTime: Nanos


class TcaReport(Event):
    """One cost measurement (sw/tca). Value in parts per million of its reference (100 ppm = 1
    bp): of the arrival mid for slippage and shortfall, of the fill price for markouts (negative
    is adverse), of the shares submitted for the fill ratio. HorizonNs: a markout's horizon."""

    topic: ClassVar[Topic] = Topic.TCA
    type: Literal["TcaReport"] = "TcaReport"
    Symbol: Ticker
    TcaMetric: TcaMetric
    Value: int
    ClOrdID: Ident | None = None
    HorizonNs: Nanos | None = None
    TransactTime: Nanos


#: Every event type, by wire tag.
EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls for cls in (
        Quote, TradingStatus, FeedHealth, OrderSent, OrderRejected, OrderAcknowledged,
        ExecutionReport, OrderCancelReject, PositionReport, RiskDecision, ParameterUpdate,
        TcaReport)
}

AnyEvent = Annotated[
    Quote | TradingStatus | FeedHealth | OrderSent | OrderRejected | OrderAcknowledged
    | ExecutionReport | OrderCancelReject | PositionReport | RiskDecision | ParameterUpdate
    | TcaReport,
    Field(discriminator="type"),
]
