"""The table of bounds: every key the host sets on the card, its range and its register width.

One definition for the limits and strategy files (sw/model/config.py takes its pydantic bounds
from here), for the range checks the risk gate and the strategy make on a commit (hw/rtl/risk.py
and hw/rtl/strategy.py take their registers from here, as does the model card) and for
docs/limits.md (tests/spec/test_bounds.py checks its tables): a value the host accepts is one
the card accepts, and the other way round.

The risk limits come in two sets of units. The host's keys (`HOST_LIMITS`) are a desk's:
dollars, orders per second, a burst. The gate's registers (`GATE_LIMITS`) are the units it
compares in: shares x ITCH price units, cycles. `gate_values` is the one conversion. The
notional's host bounds are the register's divided by `PRICE_SCALE`, so that no dollar amount
the host accepts truncates to 0 units (the gate's floor: a notional of 0 would refuse every
order); the rate's host bounds convert to intervals and tolerances inside the registers'.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from spec.clock import CLOCK_HZ
from spec.codes import StrategyMode
from spec.fix import MAX_QTY
from spec.itch import PRICE_SCALE


@dataclass(frozen=True)
class Bound:
    """One key's inclusive range, and the width of its register (0: a host key, no register).

    A register whose range has a negative low end is two's complement."""

    name: str
    low: int | Decimal
    high: int | Decimal
    bits: int = 0
    doc: str = ""

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"{self.name}: low {self.low} is above high {self.high}")
        if self.bits:
            floor, ceiling = ((-(1 << self.bits - 1), 1 << self.bits - 1) if self.low < 0
                              else (0, 1 << self.bits))
            if not (floor <= self.low and self.high < ceiling):
                raise ValueError(f"{self.name}: {self.low}..{self.high} does not fit "
                                 f"{self.bits} bits")

    def admits(self, value: int | float | Decimal) -> bool:
        return self.low <= value <= self.high


U32 = (1 << 32) - 1
I32_MAX = (1 << 31) - 1
#: The interval of a rate of 0 orders/s: 2**44 cycles (31 hours) is longer than any trading
#: day, so the burst is all such a symbol ever sends.
NEVER = (1 << 44) - 1

#: The risk gate's per-slot limit registers (`limit_<name>`), range checked on commit.
GATE_LIMITS = (
    Bound("max_order_qty", 1, U32, 32, "shares per order"),
    Bound("max_notional", 1, 10**13, 44,
          "qty x price per order, in shares x ITCH price units (dollars x 10,000)"),
    Bound("collar_bps", 0, 10_000, 14, "max |price - mid| / mid, basis points"),
    Bound("max_long", 0, I32_MAX, 32, "position + open buy exposure + order, shares"),
    Bound("max_short", 0, I32_MAX, 32, "open sell exposure - position + order, shares"),
    Bound("max_open_orders", 0, 255, 8, "live orders"),
    Bound("order_interval", 1, NEVER, 44,
          "cycles per order, sustained: ceil(156,250,000 / orders per second), 2**44-1 for 0"),
    Bound("rate_tolerance", 0, (1 << 60) - 1, 60,
          "cycles an order may come ahead of its schedule: (burst - 1) x order_interval"),
    Bound("enabled", 0, 1, 1, "0 rejects every order with SYMBOL_DISABLED"),
)
GATE = {bound.name: bound for bound in GATE_LIMITS}

#: The gate's staged position register, and the limits file's `positions`.
POSITION = Bound("position", -(1 << 31), I32_MAX, 32,
                 "host-confirmed position, shares, two's complement (negative = short)")

#: The host's numeric limit keys (`enabled` is a boolean, its register 0 or 1): those the gate
#: takes as they are share its bound; the others convert (`gate_values`).
HOST_LIMITS = (
    GATE["max_order_qty"],
    Bound("max_order_notional", Decimal(GATE["max_notional"].low) / PRICE_SCALE,
          Decimal(GATE["max_notional"].high) / PRICE_SCALE,
          doc="dollars per order: qty * price / 10000 (at least one ITCH unit)"),
    GATE["collar_bps"],
    GATE["max_long"],
    GATE["max_short"],
    GATE["max_open_orders"],
    Bound("max_orders_per_sec", 0, 1_000_000, doc="sustained order rate, orders/s"),
    Bound("rate_burst", 1, 65_535, doc="orders that may go at once, the rest paced"),
)
HOST = {bound.name: bound for bound in HOST_LIMITS}

#: The strategy's per-slot parameter registers (`param_<name>`), range checked on commit.
STRATEGY_PARAMS = (
    Bound("mode", StrategyMode.OFF.value, StrategyMode.TAKE.value, 2,
          "StrategyMode: 0 off, 1 quote, 2 take"),
    Bound("size", 1, MAX_QTY, 27, "shares per quote or take order"),  # the 8-digit OrderQty
    # At most 2**20: the strategy's reciprocal of the tick is exact up to there.
    Bound("tick", 1, 1_000_000, 20, "price grid, ITCH units"),
    Bound("half_spread_ticks", 0, 10_000, 14, "quote half spread, ticks"),
    Bound("skew_ticks", 0, 10_000, 14, "reservation shift per inventory unit, ticks"),
    Bound("inventory_unit_shift", 0, 31, 5, "inventory unit = 2**shift shares"),
    Bound("requote_ticks", 1, 10_000, 14,
          "replace a quote only if its price moves this far, ticks"),
    Bound("take_buy_at_or_below", 0, U32, 32, "IOC buy at the ask when ask <= this; 0 off"),
    Bound("take_sell_at_or_above", 0, U32, 32, "IOC sell at the bid when bid >= this; 0 off"),
)
STRATEGY = {bound.name: bound for bound in STRATEGY_PARAMS}


def notional_units(dollars: float) -> int:
    """A notional in dollars as shares x ITCH price units, truncated: exact for every decimal
    number of ten-thousandths (the decimal the number was written as, not its binary value)."""
    return int(Decimal(repr(dollars)) * PRICE_SCALE)


def order_interval(orders_per_sec: int) -> int:
    """Cycles per order at a sustained `orders_per_sec`, rounded up: never faster than asked."""
    return -(-CLOCK_HZ // orders_per_sec) if orders_per_sec else NEVER


class HostLimits(Protocol):
    """The host's limit keys (sw/model/config.py `SymbolLimits`)."""

    max_order_qty: int
    max_order_notional: float
    collar_bps: int
    max_long: int
    max_short: int
    max_open_orders: int
    max_orders_per_sec: int
    rate_burst: int
    enabled: bool


def gate_values(limits: HostLimits) -> dict[str, int]:
    """The gate's limit register values, by register name, of one symbol's host limits.

    The order rate becomes a schedule (GCRA): an order may go `rate_tolerance` cycles ahead of
    its theoretical time, which then moves `order_interval` cycles on. With tolerance =
    (burst - 1) x interval that is a token bucket of `burst` orders refilled at one per
    interval, and it needs no multiply to check."""
    interval = order_interval(limits.max_orders_per_sec)
    return {
        "max_order_qty": limits.max_order_qty,
        "max_notional": notional_units(limits.max_order_notional),
        "collar_bps": limits.collar_bps,
        "max_long": limits.max_long,
        "max_short": limits.max_short,
        "max_open_orders": limits.max_open_orders,
        "order_interval": interval,
        "rate_tolerance": (limits.rate_burst - 1) * interval,
        "enabled": int(limits.enabled),
    }


class HostStrategy(Protocol):
    """The host's strategy keys (sw/model/config.py `StrategyParams`); `mode` by name."""

    mode: str
    size: int
    tick: int
    half_spread_ticks: int
    skew_ticks: int
    inventory_unit_shift: int
    requote_ticks: int
    take_buy_at_or_below: int
    take_sell_at_or_above: int
