"""FIX 4.4 enumerations: one definition for every service that speaks FIX or carries its fields.

Where it sits: the bus events (sw/bus/events.py), the venue simulator (sw/venue) and the OMS
(sw/oms) all name these; the values are the FIX 4.4 data dictionary's (QuickFIX's FIX44.xml, which
tests/sw/bus/test_events.py checks them against). FIX CHAR and STRING fields are `StrEnum`s of
their wire values, FIX INT fields `IntEnum`s.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Side(StrEnum):
    """Side (54)."""

    BUY = "1"
    SELL = "2"


class OrdStatus(StrEnum):
    """OrdStatus (39): the order's state after the event."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    PENDING_REPLACE = "E"


class ExecType(StrEnum):
    """ExecType (150): what this execution report reports."""

    NEW = "0"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    RESTATED = "D"
    PENDING_REPLACE = "E"
    TRADE = "F"
    TRADE_CORRECT = "G"
    TRADE_CANCEL = "H"
    ORDER_STATUS = "I"


class MsgType(StrEnum):
    """MsgType (35) of the orders the card sends."""

    NEW_ORDER_SINGLE = "D"
    ORDER_CANCEL_REPLACE_REQUEST = "G"
    ORDER_CANCEL_REQUEST = "F"


class OrdType(StrEnum):
    """OrdType (40)."""

    MARKET = "1"
    LIMIT = "2"


class TimeInForce(StrEnum):
    """TimeInForce (59)."""

    DAY = "0"
    IMMEDIATE_OR_CANCEL = "3"


class OrdRejReason(IntEnum):
    """OrdRejReason (103), a FIX INT field."""

    BROKER_CREDIT = 0
    UNKNOWN_SYMBOL = 1
    EXCHANGE_CLOSED = 2
    ORDER_EXCEEDS_LIMIT = 3
    TOO_LATE_TO_ENTER = 4
    UNKNOWN_ORDER = 5
    DUPLICATE_ORDER = 6
    STALE_ORDER = 8
    UNSUPPORTED_ORDER_CHARACTERISTIC = 11
    INCORRECT_QUANTITY = 13
    OTHER = 99


class LastLiquidityInd(IntEnum):
    """LastLiquidityInd (851): whether a fill added liquidity (passive) or removed it."""

    ADDED_LIQUIDITY = 1
    REMOVED_LIQUIDITY = 2


class CxlRejReason(IntEnum):
    """CxlRejReason (102), a FIX INT field."""

    TOO_LATE_TO_CANCEL = 0
    UNKNOWN_ORDER = 1
    BROKER_OPTION = 2
    ALREADY_PENDING = 3
    OTHER = 99


class CxlRejResponseTo(StrEnum):
    """CxlRejResponseTo (434): which request an OrderCancelReject answers."""

    ORDER_CANCEL_REQUEST = "1"
    ORDER_CANCEL_REPLACE_REQUEST = "2"


class SecurityTradingStatus(IntEnum):
    """SecurityTradingStatus (326), a FIX INT field."""

    TRADING_HALT = 2
    RESUME = 3
    READY_TO_TRADE = 17
    NOT_AVAILABLE_FOR_TRADING = 18
    PRE_OPEN = 21
