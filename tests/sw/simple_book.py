"""A second, deliberately simple reference book, for cross-checking `sw.model.book`.

Written from the semantics in `sw/model/book.py`'s docstring and docs/references.md, not
from its code. It consumes ITCH messages decoded by the general-purpose codec (`sw.feed.itch`),
not the golden model's BookEvents, so comparing the two also cross-checks `sw.model.decoder`.

Representation: every live order in one dict (ref -> order), plus the refs of each symbol. After
every message the BBO of each symbol the message touched is recomputed from scratch by scanning
that symbol's orders; no price levels, no incremental best. A symbol's BBO depends only on its own
orders, so the BBO of every untouched symbol is unchanged by construction.

Semantics (as read from the contract):
- Orders are keyed by ref alone; E/C/X/D/U act on the order's own symbol and side, whatever
  locate the message carries.
- A/F add (ignored and counted as `duplicate_ref` if the ref is live, as `empty_add` if shares or
  price is zero). E/C/X reduce by min(shares, remaining) and the order goes when nothing remains.
  D removes. U = remove the old order, then add the new ref with the old side and symbol and the
  new shares and price, the add half following the add rules. An unknown ref in E/C/X/D/U is
  ignored and counted as `unknown_ref` (for U nothing is added).
- BBO = (best bid, shares at it, best ask, shares at it); an empty side is 0, 0.
- H records the trading state byte; R records the symbol name (padding removed); S and P and
  unknown types change nothing.
- A message of a modelled type with a side byte other than B/S is malformed: ignored and counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sw.feed import itch

EMPTY = (0, 0, 0, 0)


@dataclass
class Order:
    locate: int
    side: str      # "B" or "S"
    price: int
    shares: int


class SimpleBook:
    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self.refs_of: dict[int, set[int]] = {}    # locate -> refs of its live orders
        self.bbos: dict[int, tuple[int, int, int, int]] = {}
        self.symbols: dict[int, str] = {}
        self.states: dict[int, str] = {}
        self.counts: Counter[str] = Counter()

    # --- queries --------------------------------------------------------------------------------

    def bbo(self, locate: int) -> tuple[int, int, int, int]:
        return self.bbos.get(locate, EMPTY)

    def trading(self, locate: int) -> bool:
        return self.states.get(locate) == "T"

    def compute_bbo(self, locate: int) -> tuple[int, int, int, int]:
        """The BBO of `locate`, from scratch: scan every live order of the symbol."""
        bid = bid_qty = ask = ask_qty = 0
        for ref in self.refs_of.get(locate, ()):
            o = self.orders[ref]
            if o.side == "B":
                if o.price > bid:
                    bid, bid_qty = o.price, o.shares
                elif o.price == bid:
                    bid_qty += o.shares
            else:
                if ask == 0 or o.price < ask:
                    ask, ask_qty = o.price, o.shares
                elif o.price == ask:
                    ask_qty += o.shares
        return (bid, bid_qty, ask, ask_qty)

    # --- order table ----------------------------------------------------------------------------

    def _add(self, ref: int, locate: int, side: str, shares: int, price: int) -> None:
        if ref in self.orders:
            self.counts["duplicate_ref"] += 1
        elif shares == 0 or price == 0:
            self.counts["empty_add"] += 1
        else:
            self.orders[ref] = Order(locate, side, price, shares)
            self.refs_of.setdefault(locate, set()).add(ref)

    def _remove(self, ref: int) -> Order:
        order = self.orders.pop(ref)
        self.refs_of[order.locate].discard(ref)
        return order

    def _reduce(self, ref: int, shares: int) -> int | None:
        order = self.orders.get(ref)
        if order is None:
            self.counts["unknown_ref"] += 1
            return None
        if shares >= order.shares:
            self._remove(ref)
        else:
            order.shares -= shares
        return order.locate

    # --- messages -------------------------------------------------------------------------------

    def apply(self, msg: itch.Message) -> list[int]:
        """Apply one decoded ITCH message; return the locates whose BBO changed (sorted)."""
        touched: set[int] = set()
        if isinstance(msg, itch.AddOrder | itch.AddOrderMPID):
            if msg.side not in ("B", "S"):
                self.counts["malformed"] += 1
                return []
            self._add(msg.ref, msg.locate, msg.side, msg.shares, msg.price)
            touched.add(msg.locate)
        elif isinstance(msg, itch.OrderExecuted | itch.OrderExecutedWithPrice
                        | itch.OrderCancel):
            locate = self._reduce(msg.ref, msg.shares)
            if locate is not None:
                touched.add(locate)
        elif isinstance(msg, itch.OrderDelete):
            order = self.orders.get(msg.ref)
            if order is None:
                self.counts["unknown_ref"] += 1
            else:
                self._remove(msg.ref)
                touched.add(order.locate)
        elif isinstance(msg, itch.OrderReplace):
            order = self.orders.get(msg.ref)
            if order is None:
                self.counts["unknown_ref"] += 1
            else:
                self._remove(msg.ref)
                self._add(msg.new_ref, order.locate, order.side, msg.shares, msg.price)
                touched.add(order.locate)
        elif isinstance(msg, itch.StockTradingAction):
            self.states[msg.locate] = msg.trading_state
        elif isinstance(msg, itch.StockDirectory):
            self.symbols[msg.locate] = msg.stock
        # SystemEvent, Trade (P) and Unknown types leave the book alone.
        changed = []
        for locate in sorted(touched):
            now = self.compute_bbo(locate)
            if now != self.bbo(locate):
                self.bbos[locate] = now
                changed.append(locate)
        return changed
