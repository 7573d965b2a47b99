"""FIX field values at the edge: prices and timestamps between FIX text and Nerve's integers.

Where it sits: the one place where ITCH price units (1/10,000 dollar) become FIX decimal text and
back, and FIX UTCTimestamps become nanoseconds; the venue simulator's FIX edge and the session's
bus edge both use it. Everything inside Nerve stays in integers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from spec.itch import PRICE_SCALE

NS_PER_DAY = 86_400 * 1_000_000_000
_EPOCH = dt.date(1970, 1, 1)


class FieldValueError(ValueError):
    """A FIX field value that cannot be read; the text says which and why."""


def price_units(text: str, name: str = "Price") -> int:
    """A FIX price (or amount) as ITCH units; more precision than 4 decimals is refused."""
    try:
        units = Decimal(text) * PRICE_SCALE
    except InvalidOperation:
        raise FieldValueError(f"{name} {text!r} is not a number") from None
    if units != units.to_integral_value():
        raise FieldValueError(f"{name} {text} has more than 4 decimals")
    return int(units)


def price_text(units: int | float) -> str:
    """ITCH units as FIX decimal text (a float, such as AvgPx, to 6 decimals)."""
    if isinstance(units, int):
        return str(Decimal(units) / PRICE_SCALE)
    return f"{units / PRICE_SCALE:.6f}"


def timestamp_parts(text: str, name: str = "TransactTime") -> tuple[dt.date, int]:
    """A FIX UTCTimestamp (YYYYMMDD-HH:MM:SS[.fraction]) as (date, ns since its midnight)."""
    try:
        day, clock = text.split("-", 1)
        date = dt.date(int(day[:4]), int(day[4:6]), int(day[6:8]))
        hms, _, fraction = clock.partition(".")
        hours, minutes, seconds = (int(part) for part in hms.split(":"))
        fraction_ns = int((fraction + "000000000")[:9]) if fraction else 0
    except ValueError:
        raise FieldValueError(f"{name} {text!r} is not a UTCTimestamp") from None
    return date, ((hours * 60 + minutes) * 60 + seconds) * 1_000_000_000 + fraction_ns


def epoch_ns(text: str, name: str = "TransactTime") -> int:
    """A FIX UTCTimestamp as ns since the Unix epoch."""
    date, ns = timestamp_parts(text, name)
    return (date - _EPOCH).days * NS_PER_DAY + ns


def utc_timestamp(date: dt.date, ns: int) -> str:
    """ns since `date`'s midnight as a UTCTimestamp to the microsecond."""
    day, ns_of_day = divmod(ns, NS_PER_DAY)
    date = date + dt.timedelta(days=day)
    seconds, ns_part = divmod(ns_of_day, 1_000_000_000)
    minutes, sec = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{date:%Y%m%d}-{hours:02d}:{minute:02d}:{sec:02d}.{ns_part // 1000:06d}"
