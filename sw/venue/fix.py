"""The venue's FIX edge: QuickFIX messages in, matching-engine requests out, and back.

Where it sits: between the venue's QuickFIX acceptor (sw/venue/server.py) and its matching
engine (sw/venue/matching.py). Inbound D, F and G become `NewOrder`, `CancelRequest` and
`ReplaceRequest`; engine reports become ExecutionReport (35=8) and OrderCancelReject (35=9).
This is the only place the venue turns ITCH price units into FIX decimal text and back.

Feed time: an order's TransactTime (60) is the member's clock when it sent the order; the card
stamps it from the feed's own timestamps, so it is feed time to the millisecond. The venue
reads it as the order's send time (ns since midnight of the trade date).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import quickfix

from spec.itch import PRICE_SCALE
from sw.venue.matching import (
    CancelReject,
    CancelRequest,
    ExecutionReport,
    NewOrder,
    ReplaceRequest,
    Request,
    Side,
    TimeInForce,
)

NS_PER_DAY = 86_400 * 1_000_000_000


class RequestError(ValueError):
    """An inbound application message the venue cannot take; `text` goes back in Text (58)."""


def _field(message: quickfix.Message, tag: int, name: str) -> str:
    if not message.isSetField(tag):
        raise RequestError(f"{name} ({tag}) is missing")
    return message.getField(tag)


def _int(message: quickfix.Message, tag: int, name: str) -> int:
    text = _field(message, tag, name)
    try:
        return int(text)
    except ValueError:
        raise RequestError(f"{name} ({tag}) {text!r} is not a whole number") from None


def price_units(text: str) -> int:
    """A FIX price as ITCH units (1/10,000 dollar); more precision than that is refused."""
    try:
        units = Decimal(text) * PRICE_SCALE
    except InvalidOperation:
        raise RequestError(f"Price {text!r} is not a number") from None
    if units != units.to_integral_value():
        raise RequestError(f"Price {text} has more than 4 decimals")
    return int(units)


def price_text(units: int | float) -> str:
    """ITCH units as FIX decimal text (AvgPx may be fractional: 6 decimals)."""
    if isinstance(units, int):
        return str(Decimal(units) / PRICE_SCALE)
    return f"{units / PRICE_SCALE:.6f}"


def feed_ns(timestamp: str) -> int:
    """A FIX UTCTimestamp (YYYYMMDD-HH:MM:SS[.sss[sss[sss]]]) as ns since its midnight."""
    try:
        clock = timestamp.split("-", 1)[1]
        hms, _, fraction = clock.partition(".")
        hours, minutes, seconds = (int(part) for part in hms.split(":"))
        fraction_ns = int((fraction + "000000000")[:9]) if fraction else 0
    except (IndexError, ValueError):
        raise RequestError(f"TransactTime {timestamp!r} is not a UTCTimestamp") from None
    return ((hours * 60 + minutes) * 60 + seconds) * 1_000_000_000 + fraction_ns


def utc_timestamp(trade_date: dt.date, ns: int) -> str:
    """Feed time (ns since the trade date's midnight) as a UTCTimestamp to the microsecond."""
    day, ns_of_day = divmod(ns, NS_PER_DAY)
    date = trade_date + dt.timedelta(days=day)
    seconds, ns_part = divmod(ns_of_day, 1_000_000_000)
    minutes, sec = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{date:%Y%m%d}-{hours:02d}:{minute:02d}:{sec:02d}.{ns_part // 1000:06d}"


def parse_request(message: quickfix.Message) -> tuple[Request, int]:
    """The engine request of an inbound D, F or G, and its send time (feed ns)."""
    msg_type = message.getHeader().getField(35)
    clordid = _field(message, 11, "ClOrdID")
    symbol = _field(message, 55, "Symbol")
    side_text = _field(message, 54, "Side")
    if side_text not in (Side.BUY, Side.SELL):
        raise RequestError(f"Side (54) {side_text!r} is not 1 (buy) or 2 (sell)")
    side = Side(side_text)
    sent_ns = feed_ns(_field(message, 60, "TransactTime"))
    if msg_type == "F":
        return CancelRequest(clordid, _field(message, 41, "OrigClOrdID"), symbol, side), sent_ns
    if _field(message, 40, "OrdType") != "2":
        raise RequestError("only limit orders (OrdType 40 = 2) are accepted")
    qty = _int(message, 38, "OrderQty")
    price = price_units(_field(message, 44, "Price"))
    if msg_type == "G":
        orig = _field(message, 41, "OrigClOrdID")
        return ReplaceRequest(clordid, orig, symbol, side, qty, price), sent_ns
    tif_text = message.getField(59) if message.isSetField(59) else TimeInForce.DAY
    if tif_text not in (TimeInForce.DAY, TimeInForce.IMMEDIATE_OR_CANCEL):
        raise RequestError(f"TimeInForce (59) {tif_text!r} is not 0 (day) or 3 (IOC)")
    return NewOrder(clordid, symbol, side, qty, price, TimeInForce(tif_text)), sent_ns


def report_message(report: ExecutionReport | CancelReject,
                   trade_date: dt.date) -> quickfix.Message:
    """The FIX message of an engine report."""
    message = quickfix.Message()
    if isinstance(report, CancelReject):
        message.getHeader().setField(quickfix.MsgType("9"))
        for tag, value in ((37, report.order_id), (11, report.clordid),
                           (41, report.orig_clordid), (39, report.ord_status),
                           (434, report.response_to), (102, report.reason), (58, report.text),
                           (60, utc_timestamp(trade_date, report.transact_ns))):
            message.setField(tag, str(value))
        return message
    message.getHeader().setField(quickfix.MsgType("8"))
    fields = [(37, report.order_id), (17, report.exec_id), (150, report.exec_type),
              (39, report.ord_status), (11, report.clordid), (55, report.symbol),
              (54, report.side), (38, report.order_qty), (40, "2"),
              (44, price_text(report.price)), (151, report.leaves_qty),
              (14, report.cum_qty), (6, price_text(report.avg_px)),
              (60, utc_timestamp(trade_date, report.transact_ns))]
    if report.orig_clordid:
        fields.append((41, report.orig_clordid))
    if report.last_qty:
        fields += [(32, report.last_qty), (31, price_text(report.last_px)),
                   (12, price_text(report.fee)), (13, "3"),          # CommType 3: absolute
                   (851, report.liquidity)]
    if report.ord_rej_reason is not None:
        fields.append((103, report.ord_rej_reason))
    if report.text:
        fields.append((58, report.text))
    for tag, value in fields:
        message.setField(tag, str(value))
    return message


def refusal_message(message: quickfix.Message, error: RequestError,
                    trade_date: dt.date, now_ns: int) -> quickfix.Message:
    """The answer to a D, F or G the venue could not read: a rejected ExecutionReport for a D,
    an OrderCancelReject for an F or G (Text says why)."""
    msg_type = message.getHeader().getField(35)

    def get(tag: int) -> str:
        return message.getField(tag) if message.isSetField(tag) else "NONE"

    out = quickfix.Message()
    stamp = utc_timestamp(trade_date, now_ns)
    if msg_type in ("F", "G"):
        out.getHeader().setField(quickfix.MsgType("9"))
        fields = [(37, "NONE"), (11, get(11)), (41, get(41)), (39, "8"),
                  (434, "1" if msg_type == "F" else "2"), (102, "99"), (58, str(error)),
                  (60, stamp)]
    else:
        out.getHeader().setField(quickfix.MsgType("8"))
        fields = [(37, "NONE"), (17, f"REJ-{get(11)}"), (150, "8"), (39, "8"), (11, get(11)),
                  (55, get(55)), (54, get(54) if get(54) in ("1", "2") else "1"),
                  (151, "0"), (14, "0"), (6, "0"), (103, "99"), (58, str(error)),
                  (60, stamp)]
    for tag, value in fields:
        out.setField(tag, str(value))
    return out
