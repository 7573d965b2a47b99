"""The replayed market as a venue sees it: every public order, its price levels, trading states.

Where it sits: inside the venue simulator (sw/venue). The venue trades our orders against the
market the feed describes, so it rebuilds that market from the same ITCH 5.0 messages the card
receives, independently of the appliance's own book (the exchange and its member do not share
code). Each message is turned into the changes a matching engine needs: depth that left a level
by execution (a trade at that price), depth that left otherwise (cancels, deletes, the old half
of a replace), and trades that do not touch the book (ITCH P).

Prices are ITCH units (1/10,000 dollar) and quantities shares, as on the wire.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import dpkt

from sw.feed import itch, mold
from sw.feed.generator import DEFAULT_DATE
from sw.feed.net import capture_date, is_pcap, read_pcap

BUY, SELL = 0, 1     # index of a side: bids, asks


def side_index(code: str) -> int:
    """ITCH's side character (B or S) as a side index."""
    return BUY if code == "B" else SELL


class LevelChange(NamedTuple):
    """What one feed message did to one price level of one symbol.

    `traded` shares printed against the level's side at `price`: an execution of a resting
    public order (ITCH E and C; the level's depth fell by as much) or a trade with a
    non-displayed order (ITCH P; the depth is unchanged). `trade_price` is the price the trade
    printed at when it is not the level's own (ITCH C's execution price), else 0. `removed`
    shares left without trading (a cancel, a delete, a replace's old half). A change with
    neither is depth added (ITCH A, F and a replace's new half).
    """

    symbol: str
    side: int
    price: int
    traded: int
    removed: int
    trade_price: int


@dataclass
class SymbolMarket:
    """One symbol's price levels (side index -> price -> shares) and trading state."""

    levels: tuple[dict[int, int], dict[int, int]] = field(default_factory=lambda: ({}, {}))
    trading_state: str = ""          # ITCH H state; "" until the first H

    def depth(self, side: int, price: int) -> int:
        return self.levels[side].get(price, 0)

    def best(self, side: int) -> int:
        """Best price of a side (highest bid, lowest ask), 0 when the side is empty."""
        levels = self.levels[side]
        if not levels:
            return 0
        return max(levels) if side == BUY else min(levels)

    def prices_through(self, side: int, limit: int) -> list[int]:
        """The levels of `side` an order on the other side with price `limit` can take, best
        first (asks at or below a buy's limit, bids at or above a sell's)."""
        levels = self.levels[side]
        if side == SELL:
            return sorted(p for p in levels if p <= limit)
        return sorted((p for p in levels if p >= limit), reverse=True)


@dataclass
class _PublicOrder:
    symbol: str
    side: int
    price: int
    shares: int


class Market:
    """The public book of every symbol, rebuilt from ITCH messages (see the module doc).

    `apply(message)` returns the level changes the message made, in the order they happened.
    Messages that name an unknown order ref change nothing (a feed joined mid-session cannot
    know orders added before it); they are counted in `unknown_refs`.
    """

    def __init__(self) -> None:
        self.symbols: dict[str, SymbolMarket] = {}
        self._orders: dict[int, _PublicOrder] = {}
        self._locate_symbol: dict[int, str] = {}
        self.unknown_refs = 0
        self.time_ns = 0             # the latest message's timestamp (ns since midnight)

    def symbol(self, name: str) -> SymbolMarket:
        book = self.symbols.get(name)
        if book is None:
            book = self.symbols[name] = SymbolMarket()
        return book

    def knows(self, name: str) -> bool:
        return name in self.symbols

    def apply(self, msg: itch.Message) -> list[LevelChange]:
        if isinstance(msg, itch.Unknown):
            return []
        self.time_ns = max(self.time_ns, msg.timestamp)
        if isinstance(msg, itch.StockDirectory):
            self._locate_symbol[msg.locate] = msg.stock
            self.symbol(msg.stock)
            return []
        if isinstance(msg, itch.StockTradingAction):
            self.symbol(msg.stock).trading_state = msg.trading_state
            return []
        if isinstance(msg, itch.AddOrder | itch.AddOrderMPID):
            return self._add(msg.ref, msg.stock, side_index(msg.side), msg.price, msg.shares)
        if isinstance(msg, itch.Trade):
            # A non-displayed order traded: the book is unchanged, but it printed at its price
            # against the side it names (the resting side).
            return [LevelChange(msg.stock, side_index(msg.side), msg.price, msg.shares, 0, 0)]
        if not hasattr(msg, "ref"):
            return []                   # system events and the like: no order, no level
        order = self._orders.get(msg.ref)
        if order is None:
            self.unknown_refs += 1
            return []
        if isinstance(msg, itch.OrderExecuted):
            return [self._take(msg.ref, order, msg.shares, traded=True)]
        if isinstance(msg, itch.OrderExecutedWithPrice):
            change = self._take(msg.ref, order, msg.shares, traded=True)
            printed = msg.price if msg.price != change.price else 0
            return [change._replace(trade_price=printed)]
        if isinstance(msg, itch.OrderCancel):
            return [self._take(msg.ref, order, msg.shares, traded=False)]
        if isinstance(msg, itch.OrderDelete):
            return [self._take(msg.ref, order, order.shares, traded=False)]
        if isinstance(msg, itch.OrderReplace):
            changes = [self._take(msg.ref, order, order.shares, traded=False)]
            return changes + self._add(msg.new_ref, order.symbol, order.side, msg.price,
                                       msg.shares)
        return []

    def _add(self, ref: int, symbol: str, side: int, price: int,
             shares: int) -> list[LevelChange]:
        if shares == 0 or price == 0 or ref in self._orders:
            return []
        self._orders[ref] = _PublicOrder(symbol, side, price, shares)
        levels = self.symbol(symbol).levels[side]
        levels[price] = levels.get(price, 0) + shares
        return [LevelChange(symbol, side, price, 0, 0, 0)]

    def _take(self, ref: int, order: _PublicOrder, shares: int, *, traded: bool) -> LevelChange:
        shares = min(shares, order.shares)
        order.shares -= shares
        if order.shares == 0:
            del self._orders[ref]
        levels = self.symbol(order.symbol).levels[order.side]
        left = levels.get(order.price, 0) - shares
        if left > 0:
            levels[order.price] = left
        else:
            levels.pop(order.price, None)
        return LevelChange(order.symbol, order.side, order.price,
                           shares if traded else 0, 0 if traded else shares, 0)


def feed_messages(data: bytes) -> Iterator[itch.Message]:
    """The market messages of a feed file image, in order: a NASDAQ ITCH file as it is, or a
    pcap of MoldUDP64 packets with each sequence number taken once (the exchange sent each
    message once; the capture's duplicates are the member's transport faults, not the market).
    Frames that are not well-formed UDP MoldUDP64 are skipped, as the card's filter skips them;
    a malformed ITCH message is skipped (the venue trades on what it can read)."""
    if not is_pcap(data):
        for offset, length in itch.iter_framed(data):
            yield from _decoded(data, offset, length)
        return
    next_sequence = None
    for _, frame in read_pcap(data):
        payload = _udp_payload(frame)
        if payload is None:
            continue
        try:
            packet = mold.decode(payload)
        except itch.FeedFormatError:
            continue
        for i, message in enumerate(packet.messages):
            sequence = packet.sequence + i
            if next_sequence is not None and sequence < next_sequence:
                continue
            next_sequence = sequence + 1
            yield from _decoded(message, 0, len(message))


def _decoded(data: bytes, offset: int, length: int) -> Iterator[itch.Message]:
    try:
        yield itch.decode(data, offset, length)
    except itch.FeedFormatError:
        return


def _udp_payload(frame: bytes) -> bytes | None:
    try:
        ip = dpkt.ethernet.Ethernet(frame).data
        udp = ip.data if isinstance(ip, dpkt.ip.IP) else None
    except (dpkt.UnpackError, ValueError):
        return None
    return bytes(udp.data) if isinstance(udp, dpkt.udp.UDP) else None



def feed_date(data: bytes) -> dt.date:
    """The trade date of a feed: a pcap's first capture timestamp (UTC); a NASDAQ ITCH file
    carries none, so the generator's date."""
    return capture_date(data) or DEFAULT_DATE
