"""The fast path's notion of time: a cycle counter at a documented clock.

The RTL timestamps every packet at ingress with a free-running cycle counter; the golden model
does the same with cycles mapped from the feed's own timestamps, so that both agree on every
time-dependent decision (the order-rate token bucket, SendingTime). See docs/golden-model.md.
"""

from __future__ import annotations

import datetime as dt

# The clock is the card's (spec/clock.py): 156.25 MHz, one cycle 6.4 ns = 32/5 ns, so
# nanoseconds map to cycles exactly as ns * 5 // 32.
from spec.clock import CLOCK_HZ, CYCLES_PER_MS  # noqa: F401 (the model's users import them here)

NS_PER_DAY = 86_400 * 1_000_000_000


def ns_to_cycles(ns: int) -> int:
    """Cycles elapsed after `ns` nanoseconds (floor)."""
    return ns * 5 // 32


def cycles_to_ns(cycles: int) -> int:
    return cycles * 32 // 5


def utc_timestamp(trade_date: dt.date, cycle: int) -> bytes:
    """FIX UTCTimestamp (YYYYMMDD-HH:MM:SS.sss, 21 bytes) of `cycle` cycles after midnight UTC.

    Milliseconds are whole cycles // 156250, which is how a hardware clock counting cycles
    produces them.
    """
    ms = cycle // CYCLES_PER_MS
    day, ms_of_day = divmod(ms, 86_400_000)
    date = trade_date + dt.timedelta(days=day)
    seconds, millis = divmod(ms_of_day, 1000)
    minutes, sec = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return (f"{date:%Y%m%d}-{hours:02d}:{minute:02d}:{sec:02d}.{millis:03d}").encode()
