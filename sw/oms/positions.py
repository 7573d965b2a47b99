"""Positions and P&L: the firm's holdings per symbol and per venue, from fills.

Where it sits: inside the OMS (sw/oms/oms.py), which applies every fill here once, in the order
the journal holds them. Money is integer price units x shares (an ITCH price unit is 1/10,000
dollar), so nothing is lost to rounding in the book of record:

- `cost` is the cost basis of the open position: the sum of price x shares of what is held,
  signed like the position (negative for a short);
- a fill that adds to the position adds price x shares to `cost`; one that reduces it takes
  the reduced shares' share of `cost` away (cost x shares / position, floored) and books the
  difference from the fill's proceeds as realised P&L; one that crosses zero closes the old
  position whole and opens the rest at the fill's price;
- so realised P&L + cost basis is exact: the floor's remainder stays in the cost basis of the
  shares still held, and is realised when they are;
- unrealised P&L marks the open position to a price (the card's mid): mark x position - cost;
- fees are kept apart (`fees`, price units x shares, a rebate negative); `net_pnl` subtracts
  them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Position:
    """One symbol's (or one symbol-at-one-venue's) holding; see the module doc for units."""

    qty: int = 0              # shares, negative when short
    cost: int = 0             # cost basis of `qty`, price units x shares, signed like qty
    realised_pnl: int = 0
    fees: int = 0
    bought: int = 0           # shares bought and sold, for turnover
    sold: int = 0

    def fill(self, side_sign: int, qty: int, price: int, fee: int = 0) -> int:
        """Apply a fill: +1 buy, -1 sell; returns the P&L it realised."""
        if qty <= 0:
            raise ValueError(f"a fill has a positive quantity, not {qty}")
        signed = side_sign * qty
        if side_sign > 0:
            self.bought += qty
        else:
            self.sold += qty
        self.fees += fee
        realised = 0
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            self.cost += signed * price
        else:
            closed = min(qty, abs(self.qty))
            released = self.cost * closed // abs(self.qty) if closed < abs(self.qty) \
                else self.cost
            # Closing a long sells at `price` what cost `released`; closing a short buys back at
            # `price` what was sold for -`released` (a short's cost basis is negative).
            held_sign = 1 if self.qty > 0 else -1
            realised = held_sign * closed * price - released
            self.cost -= released
            left = qty - closed
            if left:
                self.cost += side_sign * left * price
        self.qty += signed
        self.realised_pnl += realised
        return realised

    @property
    def avg_price(self) -> float:
        """Average cost per share of the open position, price units (0 when flat)."""
        return self.cost / self.qty if self.qty else 0.0

    def unrealised_pnl(self, mark: int | None) -> int | None:
        """P&L of the open position marked at `mark` (None: no mark, unknown unless flat)."""
        if self.qty == 0:
            return 0
        if mark is None:
            return None
        return mark * self.qty - self.cost

    @property
    def net_realised(self) -> int:
        return self.realised_pnl - self.fees


class PositionBook:
    """Positions per symbol, and per (symbol, venue), with marks for unrealised P&L."""

    def __init__(self) -> None:
        self.by_symbol: dict[str, Position] = {}
        self.by_venue: dict[tuple[str, str], Position] = {}
        self.marks: dict[str, int] = {}

    def fill(self, symbol: str, venue: str, side_sign: int, qty: int, price: int,
             fee: int = 0) -> int:
        self.by_venue.setdefault((symbol, venue), Position()).fill(side_sign, qty, price, fee)
        return self.by_symbol.setdefault(symbol, Position()).fill(side_sign, qty, price, fee)

    def mark(self, symbol: str, price: int | None) -> None:
        if price is None:
            self.marks.pop(symbol, None)
        else:
            self.marks[symbol] = price

    def unrealised(self, symbol: str) -> int | None:
        position = self.by_symbol.get(symbol)
        return position.unrealised_pnl(self.marks.get(symbol)) if position else 0

    def totals(self) -> dict[str, int | None]:
        """Realised, unrealised (None if a held symbol has no mark), fees, net, in price units
        x shares."""
        realised = sum(p.realised_pnl for p in self.by_symbol.values())
        fees = sum(p.fees for p in self.by_symbol.values())
        marks = [self.unrealised(s) for s in self.by_symbol]
        unrealised = None if None in marks else sum(marks)
        net = None if unrealised is None else realised + unrealised - fees
        return {"realised_pnl": realised, "unrealised_pnl": unrealised, "fees": fees,
                "net_pnl": net}
