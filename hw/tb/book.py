"""Reference for the book builder: the golden model's book, inside the RTL's documented capacity.

`BookReference` feeds the golden model (`sw.model.book.BookBuilder`) the events the hardware
keeps, and predicts, from the capacity rules in hw/rtl/book.py's module doc, which ones it drops:
slots learned in feed order, the two-choice order table (the same hashes and way choice), the
price window placed by a slot's first add. The result is every `BookUpdate` the RTL must send,
bit for bit, and its counters.

Two drops leave the hardware's levels knowingly different from any model (a second price in an
occupied bucket; an aggregate past 32 bits): the slot goes unreliable and its later updates are
only checked to say so (`Expected.unpredictable`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hw.rtl.book import TABLES, WAYS, set_indexes
from hw.rtl.book import BookBuilder as RtlBook
from hw.rtl.records import BookEventKind
from sw.model.book import EMPTY_BBO, BookBuilder

_ADD, _EXECUTE, _CANCEL, _DELETE, _REPLACE, _STATE, _DIRECTORY = (
    BookEventKind.ADD, BookEventKind.EXECUTE, BookEventKind.CANCEL, BookEventKind.DELETE,
    BookEventKind.REPLACE, BookEventKind.TRADING_STATE, BookEventKind.DIRECTORY)


@dataclass
class Expected:
    updates: list[dict] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)
    unpredictable: dict[int, int] = field(default_factory=dict)   # slot -> from this index


class BookReference:
    def __init__(self, rtl: RtlBook):
        self.cap = rtl
        self.model = BookBuilder()
        self.slots: dict[int, int] = {}           # locate -> slot
        self.learning = True                      # the `learn` register
        self.slot_locate: list[int] = []
        self.base: dict[int, int] = {}            # slot -> price of bucket 0
        self.stock: dict[int, int] = {}           # slot -> raw 8 ASCII bytes of its last R
        self.table: list[dict[int, list[int | None]]] = [{} for _ in range(TABLES)]
        self.where: dict[int, tuple[int, int, int]] = {}   # ref -> (table, set, way)
        self.unreliable = 0
        self.published: dict[int, tuple[int, int, int, int]] = {}
        self.out = Expected()

    # --- capacity -------------------------------------------------------------------------

    def _slot(self, locate: int, learn: bool) -> int | None:
        if locate in self.slots:
            return self.slots[locate]
        if not learn or locate >> self.cap.locate_bits or len(self.slot_locate) >= self.cap.slots:
            return None
        self.slots[locate] = len(self.slot_locate)
        self.slot_locate.append(locate)
        return self.slots[locate]

    def _lose(self, slot: int, counter: str, index: int, unpredictable: bool = False) -> None:
        self.unreliable |= 1 << slot
        self.out.counters[counter] += 1
        if unpredictable:
            self.out.unpredictable.setdefault(slot, index)

    def _bucket(self, slot: int, price: int) -> int | None:
        """The price's bucket in the slot's window (placing the window on its first add)."""
        cap = self.cap
        if slot not in self.base:
            half = (cap.levels // 2) << cap.bucket_shift
            self.base[slot] = price - half if price >= half else 0
        offset = price - self.base[slot]
        if offset < 0 or offset >> (cap.bucket_shift + cap.level_bits):
            return None
        return offset >> cap.bucket_shift

    def _insert(self, ref: int) -> bool:
        sets = set_indexes(ref, self.cap.set_bits)
        rows = [self.table[t].setdefault(sets[t], [None] * WAYS) for t in range(TABLES)]
        used = [sum(r is not None for r in row) for row in rows]
        t = 1 if used[1] < used[0] else 0
        if used[t] == WAYS:
            return False
        way = rows[t].index(None)
        rows[t][way] = ref
        self.where[ref] = (t, sets[t], way)
        return True

    def _remove(self, ref: int) -> None:
        t, s, way = self.where.pop(ref)
        self.table[t][s][way] = None

    def _sync_table(self, ref: int) -> None:
        if ref in self.where and ref not in self.model.orders:
            self._remove(ref)

    def _conflict(self, locate: int, slot: int, side: int, price: int, bucket: int,
                  shares: int, index: int) -> bool:
        """A second price in the bucket, or an aggregate past 32 bits: the levels diverge."""
        book = self.model.books.get(locate)
        levels = book.levels[side] if book else {}
        shift = self.cap.bucket_shift
        for other in levels:
            if other != price and (other - self.base[slot]) >> shift == bucket:
                self._lose(slot, "level_conflict", index, unpredictable=True)
                return True
        if levels.get(price, 0) + shares >> 32:
            self._lose(slot, "level_overflow", index, unpredictable=True)
            return True
        return False

    # --- events ---------------------------------------------------------------------------

    def _update(self, locate: int, index: int, cycle: int, *, bbo_changed: bool,
                state_changed: bool) -> None:
        slot = self.slots[locate]
        book = self.model.books.get(locate)
        bbo = book.bbo() if book is not None else EMPTY_BBO
        if bbo_changed:
            # The hardware's rule, the model's too: an update when the BBO differs from the
            # slot's last one sent (a U is evaluated once, after both its halves).
            if bbo == self.published.get(slot, EMPTY_BBO):
                return
            self.published[slot] = bbo
        self.out.counters["bbo_updates" if bbo_changed else "state_updates"] += 1
        self.out.updates.append({
            "locate": locate, "slot": slot, "bid_price": bbo[0], "bid_shares": bbo[1],
            "ask_price": bbo[2], "ask_shares": bbo[3], "stock": self.stock.get(slot, 0),
            "named": int(slot in self.stock), "state": self.model.states.get(locate, 0),
            "unreliable": (self.unreliable >> slot) & 1, "bbo_changed": int(bbo_changed),
            "state_changed": int(state_changed), "index": index, "ingress_cycle": cycle})

    def event(self, ev, index: int, cycle: int) -> None:
        """One BookEvent (a tuple of the record's fields) with its message index and cycle."""
        kind, locate, ref, new_ref, side, shares, price, stock, code = (int(x) for x in ev)
        model, counts = self.model, self.out.counters
        counts["events"] += 1
        if kind in (_ADD, _STATE, _DIRECTORY):
            slot = self._slot(locate, learn=self.learning)
            if slot is None:
                counts["unsubscribed"] += 1
                return
        if kind == _ADD:
            if ref in model.orders:
                counts["duplicate_ref"] += 1
                return
            if shares == 0 or price == 0:
                counts["empty_add"] += 1
                return
            self._add(locate, slot, side, ref, price, shares, ev, index, cycle)
        elif kind in (_EXECUTE, _CANCEL, _DELETE):
            if ref not in model.orders:
                counts["unknown_ref"] += 1
                return
            order_locate = model.orders[ref][0]
            model.apply(ev)
            self._sync_table(ref)
            self._update(order_locate, index, cycle, bbo_changed=True, state_changed=False)
        elif kind == _REPLACE:
            self._replace(ev, ref, new_ref, shares, price, index, cycle)
        elif kind == _STATE:
            model.apply(ev)
            self._update(locate, index, cycle, bbo_changed=False, state_changed=True)
        elif kind == _DIRECTORY:
            model.apply(ev)
            self.stock[slot] = stock

    def _add(self, locate, slot, side, ref, price, shares, ev, index, cycle) -> None:
        bucket = self._bucket(slot, price)
        if bucket is None:
            self._lose(slot, "price_out_of_window", index)
            return
        if not self._insert(ref):
            self._lose(slot, "order_overflow", index)
            return
        if self._conflict(locate, slot, side, price, bucket, shares, index):
            self.model.apply(ev)       # the order is in the hardware's table all the same
            return
        self.model.apply(ev)
        self._update(locate, index, cycle, bbo_changed=True, state_changed=False)

    def _replace(self, ev, ref, new_ref, shares, price, index, cycle) -> None:
        model, counts = self.model, self.out.counters
        if ref not in model.orders:
            counts["unknown_ref"] += 1
            return
        locate, side = model.orders[ref][0], model.orders[ref][1]
        slot = self.slots[locate]
        self._remove(ref)
        keeps_new = new_ref not in model.orders or new_ref == ref
        if not keeps_new:
            counts["duplicate_ref"] += 1
        elif shares == 0 or price == 0:
            counts["empty_add"] += 1
        else:
            bucket = self._bucket(slot, price)
            drop = None
            if bucket is None:
                drop = "price_out_of_window"
            elif not self._insert(new_ref):
                drop = "order_overflow"
            if drop is not None:
                self._lose(slot, drop, index)
                # The hardware removed the old order and added nothing: the model's D.
                delete = (int(_DELETE), ev[1], ref, 0, 0, 0, 0, 0, 0)
                model.apply(delete)
                self._update(locate, index, cycle, bbo_changed=True, state_changed=False)
                return
            self._conflict(locate, slot, side, price, bucket, shares, index)
        model.apply(ev)
        self._update(locate, index, cycle, bbo_changed=True, state_changed=False)

    def subscribe(self, locate: int) -> None:
        """The host writes `locate` to `book_subscribe`."""
        if locate not in self.slots and self._slot(locate, learn=True) is None:
            self.out.counters["subscribe_refused"] += 1

    def clear(self, mask: int) -> None:
        """The host writes 1s to `book_unreliable`."""
        self.unreliable &= ~mask
