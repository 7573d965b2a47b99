"""Golden model of the book builder: L3 order table -> per-symbol price levels -> BBO.

Data flow: Decoder -> BookBuilder -> (BBO changes) -> Strategy and the risk gate's reference.

Semantics (copied by the RTL; docs/golden-model.md):
- Orders are keyed by ITCH order ref alone (refs are unique for the day); E/C/X/D/U act on the
  order's own symbol and side, whatever locate the message carries.
- A adds; E, C and X reduce by min(shares, remaining); D removes; U removes the old order and adds
  the new ref with the same side and symbol, the new shares and price. P does not touch the book.
- Ignored and counted: an add whose ref is already live, an add with zero shares or zero price,
  E/C/X/D/U naming an unknown ref (for U nothing is added either), a U whose new ref is live.
- A price level holds the aggregate shares of its orders; it exists while that is non-zero.
- BBO = (best bid price, its aggregate, best ask price, its aggregate); an empty side is 0, 0.
  `apply` reports the locate whose BBO changed, comparing with the last BBO it reported.
- H sets the symbol's trading state (H halted, P paused, Q quotation only, T trading). Until the
  first H a symbol's state is unknown (0), which does not count as trading.
- R names the locate's symbol.
"""

from __future__ import annotations

from collections import Counter

from hw.rtl.records import BookEventKind, Side

_K = BookEventKind
_SELL = Side.SELL
EMPTY_BBO = (0, 0, 0, 0)
TRADING = ord("T")


class SymbolBook:
    """Price levels of one symbol. Side index 0 = bids, 1 = asks."""

    __slots__ = ("levels", "best", "published")

    def __init__(self) -> None:
        self.levels: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.best = [0, 0]
        self.published = EMPTY_BBO

    def add(self, side: int, price: int, shares: int) -> bool:
        """Add shares at a price; True if that can change the BBO (at or through the best)."""
        levels = self.levels[side]
        levels[price] = levels.get(price, 0) + shares
        best = self.best[side]
        if best == price:
            return True
        if best == 0 or (price > best if side == 0 else price < best):
            self.best[side] = price
            return True
        return False

    def remove(self, side: int, price: int, shares: int) -> bool:
        """Take shares off a price; True if that can change the BBO (it was the best level)."""
        levels = self.levels[side]
        at_best = price == self.best[side]
        remaining = levels[price] - shares
        if remaining:
            levels[price] = remaining
        else:
            del levels[price]
            if at_best:
                self.best[side] = (max(levels) if side == 0 else min(levels)) if levels else 0
        return at_best

    def bbo(self) -> tuple[int, int, int, int]:
        bid, ask = self.best
        return (bid, self.levels[0][bid] if bid else 0, ask, self.levels[1][ask] if ask else 0)


class BookBuilder:
    def __init__(self) -> None:
        self.orders: dict[int, list[int]] = {}   # ref -> [locate, side, price, shares]
        self.books: dict[int, SymbolBook] = {}
        self.symbols: dict[int, str] = {}         # locate -> symbol (from R)
        self.states: dict[int, int] = {}          # locate -> trading state byte (from H)
        self.counts: Counter[str] = Counter()

    def bbo(self, locate: int) -> tuple[int, int, int, int]:
        book = self.books.get(locate)
        return book.published if book is not None else EMPTY_BBO

    def trading(self, locate: int) -> bool:
        return self.states.get(locate, 0) == TRADING

    def apply(self, ev) -> int | None:
        """Apply one BookEvent; return its locate if the symbol's BBO changed, else None."""
        kind = ev.kind
        orders = self.orders
        if kind is _K.ADD:
            ref = ev.ref
            if ref in orders:
                self.counts["duplicate_ref"] += 1
                return None
            price, shares = ev.price, ev.shares
            if shares == 0 or price == 0:
                self.counts["empty_add"] += 1
                return None
            side = 1 if ev.side is _SELL else 0
            locate = ev.locate
            orders[ref] = [locate, side, price, shares]
            book = self.books.get(locate)
            if book is None:
                book = self.books[locate] = SymbolBook()
            return self._changed(locate, book) if book.add(side, price, shares) else None
        if kind is _K.EXECUTE or kind is _K.CANCEL or kind is _K.DELETE:
            order = orders.get(ev.ref)
            if order is None:
                self.counts["unknown_ref"] += 1
                return None
            locate, side, price, remaining = order
            cut = remaining if kind is _K.DELETE else min(ev.shares, remaining)
            if cut == remaining:
                del orders[ev.ref]
            else:
                order[3] = remaining - cut
            if cut == 0:
                return None
            book = self.books[locate]
            return self._changed(locate, book) if book.remove(side, price, cut) else None
        if kind is _K.REPLACE:
            order = orders.pop(ev.ref, None)
            if order is None:
                self.counts["unknown_ref"] += 1
                return None
            locate, side, price, remaining = order
            book = self.books[locate]
            touched = book.remove(side, price, remaining)
            if ev.new_ref in orders:
                self.counts["duplicate_ref"] += 1
            elif ev.shares == 0 or ev.price == 0:
                self.counts["empty_add"] += 1
            else:
                orders[ev.new_ref] = [locate, side, ev.price, ev.shares]
                touched = book.add(side, ev.price, ev.shares) or touched
            return self._changed(locate, book) if touched else None
        if kind is _K.TRADING_STATE:
            self.states[ev.locate] = ev.code
            return None
        if kind is _K.DIRECTORY:
            self.symbols[ev.locate] = ev.stock.to_bytes(8, "big").decode("latin-1").rstrip(" ")
            return None
        return None

    @staticmethod
    def _changed(locate: int, book: SymbolBook) -> int | None:
        bbo = book.bbo()
        if bbo == book.published:
            return None
        book.published = bbo
        return locate
