"""The venue's FIX edge: QuickFIX messages in, matching-engine requests out, and back.

Where it sits: between the venue's QuickFIX acceptor (sw/venue/server.py) and its matching
engine (sw/venue/matching.py). Inbound D, F and G become `NewOrder`, `CancelRequest` and
`ReplaceRequest`; engine reports become ExecutionReport (35=8) and OrderCancelReject (35=9).
Prices and times cross between FIX text and integers in sw/fix/values.py.

Feed time: an order's TransactTime (60) is the member's clock when it sent the order; the card
stamps it from the feed's own timestamps, so it is feed time to the millisecond. The venue
reads it as the order's send time (ns since midnight of the trade date).
"""

from __future__ import annotations

import datetime as dt

import quickfix

from sw.fix.values import FieldValueError, price_text, price_units, timestamp_parts, utc_timestamp
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


class RequestError(ValueError):
    """An inbound application message the venue cannot take; `text` goes back in Text (58)."""


def feed_ns(text: str) -> int:
    """TransactTime as feed time: ns since its midnight (the venue trades within one day)."""
    return timestamp_parts(text)[1]


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


def parse_request(message: quickfix.Message) -> tuple[Request, int]:
    """The engine request of an inbound D, F or G, and its send time (feed ns)."""
    msg_type = message.getHeader().getField(35)
    clordid = _field(message, 11, "ClOrdID")
    symbol = _field(message, 55, "Symbol")
    side_text = _field(message, 54, "Side")
    if side_text not in (Side.BUY, Side.SELL):
        raise RequestError(f"Side (54) {side_text!r} is not 1 (buy) or 2 (sell)")
    side = Side(side_text)
    try:
        sent_ns = feed_ns(_field(message, 60, "TransactTime"))
    except FieldValueError as error:
        raise RequestError(str(error)) from None
    if msg_type == "F":
        return CancelRequest(clordid, _field(message, 41, "OrigClOrdID"), symbol, side), sent_ns
    if _field(message, 40, "OrdType") != "2":
        raise RequestError("only limit orders (OrdType 40 = 2) are accepted")
    try:
        price = price_units(_field(message, 44, "Price"))
    except FieldValueError as error:
        raise RequestError(str(error)) from None
    qty = _int(message, 38, "OrderQty")
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
