"""Golden model of the book builder: L3 order table -> per-symbol price levels -> BBO.

Data flow: Decoder -> BookBuilder -> (BBO changes) -> Strategy and the risk gate's reference.

Semantics (copied by the RTL; docs/golden-model.md):
- Orders are keyed by ITCH order ref alone (refs are unique for the day); E/C/X/D/U act on the
  order's own symbol and side, whatever locate the message carries.
- A adds; E, C and X reduce by min(shares, remaining); D removes; U removes the old order and adds
  the new ref with the same side and symbol, the new shares and price. P does not touch the book.
- Ignored and counted: an add whose ref is already live, an add with zero shares or zero price,
  E/C/X/D/U naming an unknown ref (for U nothing is added either). A U whose new ref is live, or
  whose new shares or price is zero, still removes the old order but adds nothing (counted).
  E/C/X for zero shares change nothing and are not counted. A U may reuse its own ref.
- A price level holds the aggregate shares of its orders; it exists while that is non-zero.
- BBO = (best bid price, its aggregate, best ask price, its aggregate); an empty side is 0, 0.
  `apply` reports the locate whose BBO changed, comparing with the last BBO it reported.
- H sets the symbol's trading state (H halted, P paused, Q quotation only, T trading). Until the
  first H a symbol's state is unknown (0), which does not count as trading.
- R names the locate's symbol.
"""

from __future__ import annotations

from collections import Counter

from spec.codes import BookEventKind

# Plain ints: the batch replay passes ints, and int == int is the cheapest comparison.
_ADD, _EXECUTE, _CANCEL, _DELETE, _REPLACE, _TRADING_STATE, _DIRECTORY = (
    int(k) for k in (BookEventKind.ADD, BookEventKind.EXECUTE, BookEventKind.CANCEL,
                     BookEventKind.DELETE, BookEventKind.REPLACE, BookEventKind.TRADING_STATE,
                     BookEventKind.DIRECTORY))
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

    def refresh(self) -> bool:
        """Recompute the BBO; True (and publish it) if it differs from the last one published."""
        bbo = self.bbo()
        if bbo == self.published:
            return False
        self.published = bbo
        return True


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
        return self.apply_fields(*ev)

    def apply_fields(self, kind: int, locate: int, ref: int, new_ref: int, side: int,
                     shares: int, price: int, stock: int, code: int) -> int | None:
        """`apply` on the BookEvent's fields as plain integers (the batch replay's hot path)."""
        orders = self.orders
        if kind == _ADD:
            if ref in orders:
                self.counts["duplicate_ref"] += 1
                return None
            if shares == 0 or price == 0:
                self.counts["empty_add"] += 1
                return None
            orders[ref] = [locate, side, price, shares]
            book = self.books.get(locate)
            if book is None:
                book = self.books[locate] = SymbolBook()
            return locate if book.add(side, price, shares) and book.refresh() else None
        if kind in (_EXECUTE, _CANCEL, _DELETE):
            order = orders.get(ref)
            if order is None:
                self.counts["unknown_ref"] += 1
                return None
            locate, side, price, remaining = order
            cut = remaining if kind == _DELETE else min(shares, remaining)
            if cut == remaining:
                del orders[ref]
            else:
                order[3] = remaining - cut
            if cut == 0:
                return None
            book = self.books[locate]
            return locate if book.remove(side, price, cut) and book.refresh() else None
        if kind == _REPLACE:
            order = orders.pop(ref, None)
            if order is None:
                self.counts["unknown_ref"] += 1
                return None
            locate, side, old_price, remaining = order
            book = self.books[locate]
            touched = book.remove(side, old_price, remaining)
            if new_ref in orders:
                self.counts["duplicate_ref"] += 1
            elif shares == 0 or price == 0:
                self.counts["empty_add"] += 1
            else:
                orders[new_ref] = [locate, side, price, shares]
                touched = book.add(side, price, shares) or touched
            return locate if touched and book.refresh() else None
        if kind == _TRADING_STATE:
            self.states[locate] = code
            return None
        if kind == _DIRECTORY:
            self.symbols[locate] = stock.to_bytes(8, "big").decode("latin-1").rstrip(" ")
            return None
        return None
