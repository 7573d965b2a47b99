"""The session's bus edge: a venue's ExecutionReport (35=8) or OrderCancelReject (35=9), as
QuickFIX parsed it, becomes the bus event of the same name.

Where it sits: `FixSession.on_message` hands every inbound application message here; the result
is published on the executions topic (the OMS's input, and the durable drop copy). Prices and
money go from FIX decimal text to integers here (sw/fix/values.py), so nothing further up sees
a decimal. LastMkt is the venue's name when the venue does not send one, so positions and TCA
can be kept per venue.
"""

from __future__ import annotations

import quickfix

from sw.bus.events import (
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    ExecutionReport,
    LastLiquidityInd,
    OrderCancelReject,
    OrdRejReason,
    OrdStatus,
    Side,
)
from sw.fix.values import epoch_ns, price_units


class EdgeError(ValueError):
    """An inbound message that is not an execution report or cancel reject Nerve can use."""


def _get(message: quickfix.Message, tag: int) -> str | None:
    return message.getField(tag) if message.isSetField(tag) else None


def event_of(message: quickfix.Message, venue: str) -> ExecutionReport | OrderCancelReject:
    msg_type = message.getHeader().getField(35)
    transact = epoch_ns(_get(message, 60) or message.getHeader().getField(52))
    if msg_type == "9":
        reason = _get(message, 102)
        return OrderCancelReject(
            OrderID=message.getField(37), ClOrdID=message.getField(11),
            OrigClOrdID=message.getField(41), OrdStatus=OrdStatus(message.getField(39)),
            CxlRejResponseTo=CxlRejResponseTo(message.getField(434)),
            CxlRejReason=CxlRejReason(int(reason)) if reason is not None else None,
            LastMkt=_get(message, 30) or venue, Text=_get(message, 58), TransactTime=transact)
    if msg_type != "8":
        raise EdgeError(f"MsgType {msg_type} is not an execution report or cancel reject")
    price, last_px = _get(message, 44), _get(message, 31)
    commission = _get(message, 12)
    if commission is not None and _get(message, 13) not in (None, "3"):
        raise EdgeError(f"CommType {_get(message, 13)} is not 3 (absolute)")
    liquidity, rejected = _get(message, 851), _get(message, 103)
    return ExecutionReport(
        ExecID=message.getField(17), OrderID=message.getField(37),
        ClOrdID=message.getField(11), OrigClOrdID=_get(message, 41),
        ExecType=ExecType(message.getField(150)), OrdStatus=OrdStatus(message.getField(39)),
        Symbol=message.getField(55), Side=Side(message.getField(54)),
        OrderQty=int(float(_get(message, 38) or 0)),
        Price=price_units(price) if price is not None else None,
        LastQty=int(float(_get(message, 32) or 0)),
        LastPx=price_units(last_px, "LastPx") if last_px is not None else 0,
        CumQty=int(float(message.getField(14))), LeavesQty=int(float(message.getField(151))),
        LastMkt=_get(message, 30) or venue,
        LastLiquidityInd=LastLiquidityInd(int(liquidity)) if liquidity else None,
        Commission=price_units(commission, "Commission") if commission is not None else 0,
        OrdRejReason=OrdRejReason(int(rejected)) if rejected is not None else None,
        Text=_get(message, 58), TransactTime=transact)
