"""The venue's matching engine: our orders against the replayed market, at feed time.

Where it sits: behind the venue's FIX acceptor (sw/venue). The acceptor hands it our orders with
the feed time at which they reach the venue; the feed hands it every market message. It answers
with execution reports and cancel rejects, stamped with the feed time of the event that caused
them, so a run is reproducible: the same feed, orders, settings and seed give the same fills,
however fast the run goes.

Time. Feed time is the ITCH timestamp (ns since midnight). An order submitted with `arrival_ns`
waits until the market has been replayed up to that time: `on_market` first applies every order
that arrived at or before the message's timestamp (in arrival order, then submission order),
then the message. `advance(ns)` applies orders up to `ns` without a market message (end of feed).

Fills. All assumptions, each a documented choice (docs/venue.md):
- Marketable orders (a buy at or above the best ask, a sell at or below the best bid) take the
  displayed opposite levels, best first, at each level's price and up to its displayed size. The
  feed does not know our trade, so liquidity we took at a level stays taken (`_taken`) until the
  feed shows that level's depth falling by as much; a second order cannot take it again.
- What is left of a Day order rests at its price, behind every share displayed there when it
  arrives (its queue position, `ahead`). IOC remainders expire.
- A resting order moves up its queue when public orders at its price trade (ITCH E and C on a
  resting order at that price, or P at that price), and fills by what trades past it: with
  `ahead` shares in front, a trade of q shares fills min(q - ahead, leaves) of ours when q >
  ahead. Depth that leaves the level without trading (X, D, a replace) is the queue model's to
  place in front of or behind us (`QueueModel`).
- A resting buy fills at its own price when the market moves through it: asks displayed at or
  below its price fill it up to their free size (as an aggressive order would take them), and a
  trade printed on the bid side below its price fills it up to the trade's size (that seller
  would have met it first). The same, mirrored, for a sell.
- `fill_probability` thins passive fills: each fill a resting order would get happens with that
  probability (a seeded draw); one that does not leaves the order where it was. 1.0 keeps them
  all.
- Fees per share in ITCH price units (1/10,000 dollar): `maker_fee` on passive fills,
  `taker_fee` on aggressive ones; a negative fee is a rebate.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

from sw.feed import itch
from sw.fix.enums import (
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    LastLiquidityInd,
    OrdRejReason,
    OrdStatus,
    Side,
    TimeInForce,
)
from sw.venue.market import BUY, SELL, LevelChange, Market


@dataclass(frozen=True)
class NewOrder:
    """A NewOrderSingle (35=D) as the venue reads it. Price in ITCH units, quantity in shares."""

    clordid: str
    symbol: str
    side: Side
    qty: int
    price: int
    tif: TimeInForce = TimeInForce.DAY


@dataclass(frozen=True)
class CancelRequest:
    """An OrderCancelRequest (35=F)."""

    clordid: str
    orig_clordid: str
    symbol: str
    side: Side


@dataclass(frozen=True)
class ReplaceRequest:
    """An OrderCancelReplaceRequest (35=G): the new quantity and price of the order."""

    clordid: str
    orig_clordid: str
    symbol: str
    side: Side
    qty: int
    price: int


Request = NewOrder | CancelRequest | ReplaceRequest


@dataclass(frozen=True)
class ExecutionReport:
    """An ExecutionReport (35=8), in FIX's field names; prices ITCH units, fees shares x units.

    `transact_ns` is the feed time of the event that caused it; the venue sends it
    `latency_out_ns` later (`report_ns`)."""

    order_id: str
    exec_id: str
    exec_type: ExecType
    ord_status: OrdStatus
    clordid: str
    orig_clordid: str
    symbol: str
    side: Side
    order_qty: int
    price: int
    last_qty: int
    last_px: int
    cum_qty: int
    leaves_qty: int
    avg_px: float
    fee: int
    liquidity: LastLiquidityInd | None        # None: not a fill
    transact_ns: int
    report_ns: int
    ord_rej_reason: OrdRejReason | None = None
    text: str = ""


@dataclass(frozen=True)
class CancelReject:
    """An OrderCancelReject (35=9)."""

    clordid: str
    orig_clordid: str
    order_id: str
    ord_status: OrdStatus
    response_to: CxlRejResponseTo
    reason: CxlRejReason
    text: str
    transact_ns: int
    report_ns: int


Report = ExecutionReport | CancelReject


class QueueModel:
    """Where depth that leaves our price level without trading was in the queue.

    The base model is the most conservative one (hftbacktest's RiskAdverseQueueModel): only
    trades move us up; a cancel only caps the shares ahead of us at the level's new depth."""

    name = "risk_averse"

    def after_removal(self, ahead: int, depth_before: int, removed: int) -> int:
        return min(ahead, depth_before - removed)


class ProbQueueModel(QueueModel):
    """hftbacktest's ProbQueueModel: a drop of `removed` shares came from behind us with
    probability p = f(back) / (f(back) + f(front)), f(x) = x ** power, so the shares ahead fall
    by (1 - p) x removed (rounded down: never optimistic by a fraction of a share)."""

    def __init__(self, power: float = 2.0) -> None:
        if not power > 0:
            raise ValueError(f"power must be positive, not {power!r}")
        self.power = power
        self.name = f"prob_power_{power:g}"

    def after_removal(self, ahead: int, depth_before: int, removed: int) -> int:
        back = max(depth_before - ahead, 0)
        front_weight, back_weight = ahead ** self.power, back ** self.power
        total = front_weight + back_weight
        behind = back_weight / total if total else 0.0
        moved = math.floor((1.0 - behind) * removed)
        return max(0, min(ahead - moved, depth_before - removed))


@dataclass
class VenueSettings:
    """One venue's behaviour: latency each way (ns of feed time), fees, fills."""

    name: str = "SIM"
    latency_in_ns: int = 50_000
    latency_out_ns: int = 50_000
    maker_fee: int = -20            # ITCH units per share: -$0.0020, a rebate
    taker_fee: int = 30             # $0.0030 per share
    fill_probability: float = 1.0
    queue_model: QueueModel = field(default_factory=QueueModel)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.latency_in_ns < 0 or self.latency_out_ns < 0:
            raise ValueError("latencies must be >= 0 ns")
        if not 0.0 <= self.fill_probability <= 1.0:
            raise ValueError(f"fill_probability must be in [0, 1], not {self.fill_probability!r}")


@dataclass
class _Order:
    order_id: str
    clordid: str
    symbol: str
    side: Side
    qty: int
    price: int
    tif: TimeInForce
    cum_qty: int = 0
    notional: int = 0               # sum of last_qty x last_px, for AvgPx
    ahead: int = 0
    resting: bool = False
    done: OrdStatus | None = None   # FILLED, CANCELED, EXPIRED once ended

    @property
    def leaves(self) -> int:
        return 0 if self.done else self.qty - self.cum_qty

    @property
    def status(self) -> OrdStatus:
        if self.done:
            return self.done
        return OrdStatus.PARTIALLY_FILLED if self.cum_qty else OrdStatus.NEW

    @property
    def side_index(self) -> int:
        return BUY if self.side is Side.BUY else SELL


class MatchingEngine:
    """One venue's order book of our orders against the replayed market (module doc)."""

    def __init__(self, settings: VenueSettings | None = None) -> None:
        self.settings = settings or VenueSettings()
        self.market = Market()
        self._rng = random.Random(self.settings.seed)
        self._pending: list[tuple[int, int, Request]] = []     # (arrival, seq, request)
        self._seq = 0
        self._orders: dict[str, _Order] = {}                   # order id -> order
        self._by_clordid: dict[str, _Order] = {}               # every ClOrdID ever used
        self._live: dict[str, list[_Order]] = {}               # symbol -> resting orders
        self._taken: dict[tuple[str, int, int], int] = {}      # liquidity we took, per level
        self._next_exec = 0
        self.reports: list[Report] = []

    # --- inputs -------------------------------------------------------------------------------

    def submit(self, request: Request, sent_ns: int) -> None:
        """An order, cancel or replace the member sent at feed time `sent_ns`; it reaches the
        matching engine `latency_in_ns` later."""
        arrival = sent_ns + self.settings.latency_in_ns
        heapq.heappush(self._pending, (arrival, self._seq, request))
        self._seq += 1

    def on_market(self, msg: itch.Message) -> list[Report]:
        """One feed message: first the requests that reached the venue by its time."""
        start = len(self.reports)
        if not isinstance(msg, itch.Unknown):
            self._arrive_until(msg.timestamp)
        for change in self.market.apply(msg):
            self._on_level_change(change)
        return self.reports[start:]

    def advance(self, now_ns: int) -> list[Report]:
        """Apply the requests that reached the venue by `now_ns` (no market message)."""
        start = len(self.reports)
        self._arrive_until(now_ns)
        return self.reports[start:]

    def order(self, clordid: str) -> _Order | None:
        return self._by_clordid.get(clordid)

    # --- requests -----------------------------------------------------------------------------

    def _arrive_until(self, now_ns: int) -> None:
        while self._pending and self._pending[0][0] <= now_ns:
            arrival, _, request = heapq.heappop(self._pending)
            if isinstance(request, NewOrder):
                self._new(request, arrival)
            elif isinstance(request, CancelRequest):
                self._cancel(request, arrival)
            else:
                self._replace(request, arrival)

    def _new(self, req: NewOrder, now: int) -> None:
        order = _Order(f"{self.settings.name}-{len(self._orders) + 1}", req.clordid,
                       req.symbol, Side(req.side), req.qty, req.price, TimeInForce(req.tif))
        reason, text = self._refusal(req.clordid, req.symbol, req.qty, req.price)
        if reason is not None:
            self._report(order, ExecType.REJECTED, now, status=OrdStatus.REJECTED,
                         ord_rej_reason=reason, text=text)
            self._by_clordid.setdefault(req.clordid, order)
            return
        self._orders[order.order_id] = order
        self._by_clordid[req.clordid] = order
        self._report(order, ExecType.NEW, now)
        self._take_liquidity(order, now)
        self._rest_or_expire(order, now)

    def _refusal(self, clordid: str, symbol: str, qty: int,
                 price: int) -> tuple[OrdRejReason | None, str]:
        if clordid in self._by_clordid:
            return OrdRejReason.DUPLICATE_ORDER, f"duplicate ClOrdID {clordid}"
        if not self.market.knows(symbol):
            return OrdRejReason.UNKNOWN_SYMBOL, f"unknown symbol {symbol}"
        state = self.market.symbol(symbol).trading_state
        if state not in ("", "T"):
            return OrdRejReason.EXCHANGE_CLOSED, f"{symbol} is not trading (state {state})"
        if qty <= 0:
            return OrdRejReason.INCORRECT_QUANTITY, f"OrderQty {qty} must be positive"
        if price <= 0:
            return OrdRejReason.OTHER, f"Price {price} must be positive"
        return None, ""

    def _cancel(self, req: CancelRequest, now: int) -> None:
        order = self._by_clordid.get(req.orig_clordid)
        if self._cancel_refused(req, order, now, CxlRejResponseTo.ORDER_CANCEL_REQUEST):
            return
        order.done = OrdStatus.CANCELED
        self._unrest(order)
        self._by_clordid[req.clordid] = order
        self._report(order, ExecType.CANCELED, now, clordid=req.clordid,
                     orig_clordid=req.orig_clordid)

    def _replace(self, req: ReplaceRequest, now: int) -> None:
        order = self._by_clordid.get(req.orig_clordid)
        if self._cancel_refused(req, order, now,
                                CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST):
            return
        if req.qty <= order.cum_qty or req.price <= 0:
            self._cancel_reject(req, order, now, CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST,
                                CxlRejReason.OTHER,
                                f"new OrderQty {req.qty} must exceed CumQty {order.cum_qty} "
                                "and Price must be positive")
            return
        # Time priority is kept only by a pure size reduction at the same price.
        keeps_place = req.price == order.price and req.qty <= order.qty
        self._unrest(order)
        order.clordid, order.qty, order.price = req.clordid, req.qty, req.price
        self._by_clordid[req.clordid] = order
        self._report(order, ExecType.REPLACED, now, orig_clordid=req.orig_clordid)
        if keeps_place:
            self._rest(order, keep_ahead=True)
            return
        self._take_liquidity(order, now)
        self._rest_or_expire(order, now)

    def _cancel_refused(self, req: CancelRequest | ReplaceRequest, order: _Order | None,
                        now: int, response_to: CxlRejResponseTo) -> bool:
        if order is None:
            self._cancel_reject(req, None, now, response_to, CxlRejReason.UNKNOWN_ORDER,
                                f"unknown order {req.orig_clordid}")
            return True
        if req.clordid in self._by_clordid:
            self._cancel_reject(req, order, now, response_to, CxlRejReason.OTHER,
                                f"duplicate ClOrdID {req.clordid}")
            return True
        if order.done or order.clordid != req.orig_clordid:
            why = (f"order {req.orig_clordid} is {order.status.name.lower()}" if order.done
                   else f"{req.orig_clordid} is not the order's latest ClOrdID "
                        f"({order.clordid})")
            self._cancel_reject(req, order, now, response_to, CxlRejReason.TOO_LATE_TO_CANCEL, why)
            return True
        return False

    def _cancel_reject(self, req, order: _Order | None, now: int,
                       response_to: CxlRejResponseTo,
                       reason: CxlRejReason, text: str) -> None:
        self.reports.append(CancelReject(
            req.clordid, req.orig_clordid, order.order_id if order else "NONE",
            order.status if order else OrdStatus.REJECTED, response_to, reason, text, now,
            now + self.settings.latency_out_ns))

    # --- fills --------------------------------------------------------------------------------

    def _take_liquidity(self, order: _Order, now: int) -> None:
        """Sweep the displayed opposite side up to the order's limit (module doc)."""
        book = self.market.symbol(order.symbol)
        other = SELL if order.side is Side.BUY else BUY
        for price in book.prices_through(other, order.price):
            if order.leaves == 0:
                break
            key = (order.symbol, other, price)
            free = book.depth(other, price) - self._taken.get(key, 0)
            qty = min(free, order.leaves)
            if qty > 0:
                self._taken[key] = self._taken.get(key, 0) + qty
                self._fill(order, qty, price, now, maker=False)

    def _rest_or_expire(self, order: _Order, now: int) -> None:
        if order.leaves == 0:
            return
        if order.tif is TimeInForce.IMMEDIATE_OR_CANCEL:
            order.done = OrdStatus.EXPIRED
            self._report(order, ExecType.EXPIRED, now)
            return
        self._rest(order, keep_ahead=False)

    def _rest(self, order: _Order, *, keep_ahead: bool) -> None:
        if not keep_ahead:
            order.ahead = self.market.symbol(order.symbol).depth(order.side_index, order.price)
        order.resting = True
        self._live.setdefault(order.symbol, []).append(order)

    def _unrest(self, order: _Order) -> None:
        if order.resting:
            order.resting = False
            self._live[order.symbol].remove(order)

    def _on_level_change(self, change: LevelChange) -> None:
        book = self.market.symbol(change.symbol)
        key = (change.symbol, change.side, change.price)
        if key in self._taken:     # the feed's depth falls as it catches up with our trades
            left = min(self._taken[key], book.depth(change.side, change.price))
            if left > 0:
                self._taken[key] = left
            else:
                del self._taken[key]
        now = self.market.time_ns
        for order in list(self._live.get(change.symbol, ())):
            if order.side_index != change.side:
                continue
            printed = change.trade_price or change.price
            if change.traded and (printed < order.price if order.side is Side.BUY
                                  else printed > order.price):
                # A trade printed beyond our price: that seller (buyer) would have met us first.
                self._passive_fill(order, min(change.traded, order.leaves), now)
                continue
            if order.price != change.price:
                continue
            if change.traded:
                past = change.traded - order.ahead
                order.ahead = max(order.ahead - change.traded, 0)
                self._passive_fill(order, min(past, order.leaves), now)
            if change.removed:
                depth_before = book.depth(change.side, change.price) + change.removed
                order.ahead = self.settings.queue_model.after_removal(
                    order.ahead, depth_before, change.removed)
        self._through(change.symbol)

    def _through(self, symbol: str) -> None:
        """Resting orders that the opposite side now reaches fill against its free depth at
        their own price (the market moved through them; module doc)."""
        book = self.market.symbol(symbol)
        now = self.market.time_ns
        for order in list(self._live.get(symbol, ())):
            other = SELL if order.side is Side.BUY else BUY
            for price in book.prices_through(other, order.price):
                if not order.resting:
                    break
                key = (symbol, other, price)
                free = book.depth(other, price) - self._taken.get(key, 0)
                qty = min(free, order.leaves)
                if qty > 0 and self._passive_fill(order, qty, now):
                    self._taken[key] = self._taken.get(key, 0) + qty

    def _passive_fill(self, order: _Order, qty: int, now: int) -> bool:
        """Fill a resting order at its own price, if the venue's fill draw lets it."""
        if qty <= 0 or not order.resting:
            return False
        if self.settings.fill_probability < 1.0 and \
                self._rng.random() >= self.settings.fill_probability:
            return False
        self._fill(order, qty, order.price, now, maker=True)
        if order.leaves == 0:
            self._unrest(order)
        return True

    def _fill(self, order: _Order, qty: int, price: int, now: int, *, maker: bool) -> None:
        order.cum_qty += qty
        order.notional += qty * price
        if order.cum_qty == order.qty:
            order.done = OrdStatus.FILLED
        rate = self.settings.maker_fee if maker else self.settings.taker_fee
        self._report(order, ExecType.TRADE, now, last_qty=qty, last_px=price, fee=qty * rate,
                     liquidity=(LastLiquidityInd.ADDED_LIQUIDITY if maker
                                else LastLiquidityInd.REMOVED_LIQUIDITY))

    # --- reports ------------------------------------------------------------------------------

    def _report(self, order: _Order, exec_type: ExecType, now: int, *,
                status: OrdStatus | None = None, clordid: str | None = None,
                orig_clordid: str = "", last_qty: int = 0, last_px: int = 0, fee: int = 0,
                liquidity: LastLiquidityInd | None = None,
                ord_rej_reason: OrdRejReason | None = None,
                text: str = "") -> None:
        self._next_exec += 1
        avg = order.notional / order.cum_qty if order.cum_qty else 0.0
        self.reports.append(ExecutionReport(
            order.order_id, f"{self.settings.name}-E{self._next_exec}", exec_type,
            status or order.status, clordid or order.clordid, orig_clordid, order.symbol,
            order.side, order.qty, order.price, last_qty, last_px, order.cum_qty,
            0 if status is OrdStatus.REJECTED else order.leaves, avg, fee, liquidity, now,
            now + self.settings.latency_out_ns, ord_rej_reason, text))
