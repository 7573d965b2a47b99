"""The fast path's capacity: how many symbols, market orders, price levels and live order chains a
build holds. A build parameter, chosen per board: a smaller book is fewer block RAMs, shorter
wires between them, and so a faster clock (docs/fastpath.md, "Capacity").

The register map is the same for every capacity (it is sized for the largest, `DEFAULT`); a
smaller build leaves the registers of the slots it lacks reading 0 and refuses their commits.
The golden model has no capacity: beyond a build's capacity the book marks the symbol
unreliable and trading on it stops, so model and hardware agree wherever the card trades.
"""

from __future__ import annotations

from dataclasses import dataclass

from hw.rtl import book

#: Most symbol slots a build can have: one bit each in the 32-bit `book_unreliable` register.
MAX_SLOTS = 32


@dataclass(frozen=True)
class Capacity:
    """One build's capacity.

    `slots`: symbols traded at once (1..32). `order_sets`: sets per book order table (a power of
    two; the book holds `book.TABLES * book.WAYS * order_sets` live market orders). `levels`:
    price buckets per side per symbol (a power of two; at the default bucket of 64 ITCH units,
    a price window of `levels` x $0.0064). `orders`: the Trader's order table, chains sent and
    not yet ended by the host.
    """

    name: str
    slots: int
    order_sets: int
    levels: int
    orders: int

    def __post_init__(self):
        if not 1 <= self.slots <= MAX_SLOTS:
            raise TypeError(f"slots must be 1..{MAX_SLOTS}, not {self.slots!r}")
        for field in ("order_sets", "levels", "orders"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 2 or value & (value - 1):
                raise TypeError(f"{field} must be a power of two of at least 2, not {value!r}")

    @property
    def book_orders(self) -> int:
        """Live market orders the book can hold (all symbols together)."""
        return book.TABLES * book.WAYS * self.order_sets

    def describe(self) -> str:
        return (f"{self.name}: {self.slots} symbols, {self.book_orders:,} market orders, "
                f"{self.levels} levels per side, {self.orders} live order chains")


#: The build for the largest parts (the smart NIC) and for the simulations the suite runs.
DEFAULT = Capacity("default", slots=book.DEFAULT_SLOTS, order_sets=1024, levels=256, orders=512)
#: A Gigabit dev board quoting a handful of names: 8 symbols, 2,048 live market orders (a
#: handful of liquid names rarely holds more than a few hundred each near the touch the
#: window keeps), a $0.41 price window at the default bucket, 128 chains of our own.
BOARD = Capacity("board", slots=8, order_sets=256, levels=64, orders=128)
#: Between the two, to show what each step of capacity costs.
MIDDLE = Capacity("middle", slots=16, order_sets=512, levels=128, orders=256)

CAPACITIES = {capacity.name: capacity for capacity in (BOARD, MIDDLE, DEFAULT)}


def by_name(name: str) -> Capacity:
    """The named capacity, or a ValueError listing the names there are."""
    try:
        return CAPACITIES[name]
    except KeyError:
        raise ValueError(f"no capacity named {name!r}; choose one of "
                         f"{', '.join(CAPACITIES)}") from None
