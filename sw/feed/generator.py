"""Synthetic NASDAQ ITCH 5.0 market: deterministic from a seed, valid by construction.

Where it sits: the toolkit's feed source for demos, tests and benchmarks. It produces a day's
session: S (start of messages), an R and an H (trading) per symbol, S (market hours), then Poisson
arrivals of adds (A, some F), partial cancels (X), deletes (D), executions at the touch in time
priority (E, some C), replaces (U), non-displayed trades (P) and occasional trading halts (H),
then the closing S messages. Each symbol's mid price follows a random walk on its tick grid; new
orders rest on their own side of it and never cross the opposite best, so the book stays uncrossed.

Invariants (tested): every E/C/X/D/U names a live order; executed or cancelled shares never exceed
what remains; order refs are unique; timestamps never decrease; prices sit on the tick grid; every
locate is announced by R before any other message names it; the same seed gives the same bytes.

A mid-session feed (as a card that joins late sees it) breaks the announcement rule on purpose:
`late_symbols` (the first, most active symbols) get their R and H only a quarter of the way into
the session, after their first adds, and `unnamed_symbols` (the last ones) never get an R (their
H arrives with the late announcements).

Output: a NASDAQ file (2-byte length per message) or a pcap of MoldUDP64 packets in
Ethernet/IPv4/UDP frames, optionally with dropped (gap) and repeated (duplicate) packets.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sw.feed import itch, mold
from sw.feed.net import UdpEndpoint, udp_frame, write_pcap

DEFAULT_DATE = dt.date(2026, 11, 20)
MARKET_OPEN_NS = (9 * 3600 + 30 * 60) * 1_000_000_000
SESSION = b"NERVE00001"
TICK = 100  # $0.01 in ITCH price units

_TICKERS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "AVGO", "COST", "NFLX",
            "AMD", "PEP", "ADBE", "CSCO", "INTC", "QCOM", "TXN", "AMAT", "INTU", "ISRG",
            "BKNG", "SBUX", "MDLZ", "GILD", "ADP", "REGN", "VRTX", "LRCX", "MU", "PANW")


def ticker(i: int) -> str:
    """The i-th symbol name: real-looking tickers first, then ZX00001-style names."""
    return _TICKERS[i] if i < len(_TICKERS) else f"ZX{i:05d}"


@dataclass(frozen=True)
class MarketConfig:
    symbols: int = 8
    messages: int = 10_000          # total messages written, announcements included
    seed: int = 1
    rate: float = 200_000.0         # mean message arrival rate, messages per second
    halt_rate: float = 1e-4         # chance per message that a trading symbol is halted
    halt_messages: int = 300        # a halt lasts about this many messages
    max_orders_per_symbol: int = 400
    late_symbols: int = 0           # announced (R, H) after their first adds: a mid-session join
    unnamed_symbols: int = 0        # never announced by an R

    def __post_init__(self) -> None:
        if not 1 <= self.symbols <= 65_535:
            raise ValueError(f"symbols must be 1..65535, not {self.symbols}")
        if min(self.late_symbols, self.unnamed_symbols) < 0 or \
                self.late_symbols + self.unnamed_symbols > self.symbols:
            raise ValueError(f"late_symbols ({self.late_symbols}) and unnamed_symbols "
                             f"({self.unnamed_symbols}) must be at least 0 and together at "
                             f"most symbols ({self.symbols})")
        if self.messages < self.header_messages + 3:
            raise ValueError(f"messages must be at least {self.header_messages + 3} for "
                             f"{self.symbols} symbols, not {self.messages}")
        if not self.rate > 0:
            raise ValueError(f"rate must be positive, not {self.rate}")

    @property
    def header_messages(self) -> int:
        return 2 * self.symbols + 2


class _Symbol:
    __slots__ = ("locate", "name", "mid", "levels", "refs", "halted_until")

    def __init__(self, locate: int, name: str, mid: int) -> None:
        self.locate = locate
        self.name = name
        self.mid = mid
        self.levels: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})  # bid, ask
        self.refs: list[int] = []            # live refs, for uniform random choice
        self.halted_until = -1

    def best(self, side: int) -> int:
        levels = self.levels[side]
        if not levels:
            return 0
        return max(levels) if side == 0 else min(levels)


class _Order:
    __slots__ = ("symbol", "side", "price", "shares", "slot")

    def __init__(self, symbol: _Symbol, side: int, price: int, shares: int) -> None:
        self.symbol, self.side, self.price, self.shares = symbol, side, price, shares
        self.slot = -1


class MarketGenerator:
    """Yields ITCH messages (as `sw.feed.itch` tuples) for one synthetic session."""

    def __init__(self, config: MarketConfig) -> None:
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.now = MARKET_OPEN_NS - 1_000_000  # announcements shortly before the open
        self.next_ref = 1
        self.next_match = 1
        self.orders: dict[int, _Order] = {}
        self.symbols = [_Symbol(i + 1, ticker(i), self.rng.randrange(1_000, 50_000) * TICK)
                        for i in range(config.symbols)]
        # Activity is skewed across symbols as in a real feed (weight 1/(rank+1)).
        self.weights = [1.0 / (i + 1) for i in range(config.symbols)]
        self.halted: list[_Symbol] = []
        self.count = 0

    # --- message helpers --------------------------------------------------------------------

    def _tick_clock(self) -> int:
        self.now += max(1, int(self.rng.expovariate(self.cfg.rate) * 1e9))
        return self.now

    def _shares(self) -> int:
        r = self.rng.random()
        if r < 0.1:
            return self.rng.randrange(1, 100)            # odd lot
        return 100 * self.rng.randrange(1, 11)

    def _place(self, sym: _Symbol, side: int, ref: int, price: int, shares: int) -> None:
        order = _Order(sym, side, price, shares)
        self.orders[ref] = order
        sym.levels[side].setdefault(price, []).append(ref)
        order.slot = len(sym.refs)
        sym.refs.append(ref)

    def _remove(self, ref: int) -> _Order:
        order = self.orders.pop(ref)
        sym = order.symbol
        level = sym.levels[order.side][order.price]
        level.remove(ref)
        if not level:
            del sym.levels[order.side][order.price]
        last = sym.refs.pop()
        if last != ref:
            sym.refs[order.slot] = last
            self.orders[last].slot = order.slot
        return order

    def _resting_price(self, sym: _Symbol, side: int) -> int:
        """A price on `side` near the mid that does not cross the opposite best."""
        depth = min(int(self.rng.expovariate(0.5)), 20)
        if side == 0:
            price = sym.mid - depth * TICK
            opposite = sym.best(1)
            if opposite:
                price = min(price, opposite - TICK)
        else:
            price = sym.mid + (depth + 1) * TICK
            opposite = sym.best(0)
            if opposite:
                price = max(price, opposite + TICK)
        return max(price, TICK)

    # --- the session --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[itch.Message]:
        cfg = self.cfg
        late = self.symbols[:cfg.late_symbols]
        unnamed = self.symbols[cfg.symbols - cfg.unnamed_symbols:]
        on_time = self.symbols[cfg.late_symbols:cfg.symbols - cfg.unnamed_symbols]
        yield itch.SystemEvent(0, 0, self.now, "O")
        for sym in on_time:
            self.now += 1_000
            yield self._directory(sym)
        for sym in on_time:
            self.now += 1_000
            yield itch.StockTradingAction(sym.locate, 0, self.now, sym.name, "T", " ", "    ")
        self.now = max(self.now, MARKET_OPEN_NS)  # many symbols: announcements run past it
        yield itch.SystemEvent(0, 0, self.now, "Q")
        body = cfg.messages - cfg.header_messages - 3 + cfg.unnamed_symbols
        for n in range(body):
            if n == body // 4 and (late or unnamed):
                for sym in late:
                    yield self._directory(sym)
                for sym in late + unnamed:
                    yield itch.StockTradingAction(sym.locate, 0, self.now, sym.name, "T", " ",
                                                  "    ")
            yield self._event(n)
        for code in ("M", "E", "C"):
            self._tick_clock()
            yield itch.SystemEvent(0, 0, self.now, code)

    def _directory(self, sym: _Symbol) -> itch.Message:
        return itch.StockDirectory(sym.locate, 0, self.now, sym.name, "Q", "N", 100, "N", "C",
                                   "Z ", "P", "N", "N", "1", "N", 0, "N")

    def _event(self, n: int) -> itch.Message:
        rng = self.rng
        ts = self._tick_clock()
        # Halts end, then maybe start.
        if self.halted and self.halted[0].halted_until <= n:
            sym = self.halted.pop(0)
            return itch.StockTradingAction(sym.locate, 0, ts, sym.name, "T", " ", "    ")
        if rng.random() < self.cfg.halt_rate:
            candidates = [s for s in self.symbols if s.halted_until < 0 or s.halted_until <= n]
            candidates = [s for s in candidates if s not in self.halted]
            if candidates:
                sym = rng.choice(candidates)
                sym.halted_until = n + max(1, int(rng.expovariate(1 / self.cfg.halt_messages)))
                self.halted.append(sym)
                self.halted.sort(key=lambda s: s.halted_until)
                state = rng.choice("HP")
                return itch.StockTradingAction(sym.locate, 0, ts, sym.name, state, " ", "LUDP")

        sym = rng.choices(self.symbols, self.weights)[0]
        if rng.random() < 0.05:
            sym.mid = max(10 * TICK, sym.mid + rng.choice((-TICK, TICK)))
        live = len(sym.refs)
        r = rng.random()
        if live == 0 or (live < self.cfg.max_orders_per_symbol and r < 0.42):
            return self._add(sym, ts)
        if r < 0.64:
            return self._delete(sym, ts)
        if r < 0.74:
            return self._cancel(sym, ts)
        if r < 0.84:
            return self._execute(sym, ts)
        if r < 0.97:
            return self._replace(sym, ts)
        return self._trade(sym, ts)

    def _add(self, sym: _Symbol, ts: int) -> itch.Message:
        side = self.rng.randrange(2)
        price = self._resting_price(sym, side)
        shares = self._shares()
        ref = self.next_ref
        self.next_ref += 1
        self._place(sym, side, ref, price, shares)
        side_char = "BS"[side]
        if self.rng.random() < 0.1:
            return itch.AddOrderMPID(sym.locate, 0, ts, ref, side_char, shares, sym.name, price,
                                     "NRVE")
        return itch.AddOrder(sym.locate, 0, ts, ref, side_char, shares, sym.name, price)

    def _delete(self, sym: _Symbol, ts: int) -> itch.Message:
        ref = self.rng.choice(sym.refs)
        self._remove(ref)
        return itch.OrderDelete(sym.locate, 0, ts, ref)

    def _cancel(self, sym: _Symbol, ts: int) -> itch.Message:
        ref = self.rng.choice(sym.refs)
        order = self.orders[ref]
        if order.shares < 2:
            self._remove(ref)
            return itch.OrderDelete(sym.locate, 0, ts, ref)
        cut = self.rng.randrange(1, order.shares)
        order.shares -= cut
        return itch.OrderCancel(sym.locate, 0, ts, ref, cut)

    def _execute(self, sym: _Symbol, ts: int) -> itch.Message:
        sides = [s for s in (0, 1) if sym.levels[s]]
        side = self.rng.choice(sides)
        ref = sym.levels[side][sym.best(side)][0]       # time priority at the touch
        order = self.orders[ref]
        shares = order.shares if self.rng.random() < 0.5 else self.rng.randrange(
            1, order.shares + 1)
        match = self.next_match
        self.next_match += 1
        if shares == order.shares:
            self._remove(ref)
        else:
            order.shares -= shares
        if self.rng.random() < 0.2:
            return itch.OrderExecutedWithPrice(sym.locate, 0, ts, ref, shares, match, "Y",
                                               order.price)
        return itch.OrderExecuted(sym.locate, 0, ts, ref, shares, match)

    def _replace(self, sym: _Symbol, ts: int) -> itch.Message:
        ref = self.rng.choice(sym.refs)
        old = self._remove(ref)
        price = self._resting_price(sym, old.side)
        shares = self._shares()
        new_ref = self.next_ref
        self.next_ref += 1
        self._place(sym, old.side, new_ref, price, shares)
        return itch.OrderReplace(sym.locate, 0, ts, ref, new_ref, shares, price)

    def _trade(self, sym: _Symbol, ts: int) -> itch.Message:
        match = self.next_match
        self.next_match += 1
        return itch.Trade(sym.locate, 0, ts, 0, self.rng.choice("BS"), self._shares(), sym.name,
                          sym.mid, match)


# --- writers --------------------------------------------------------------------------------

def packets(messages: Iterator[bytes | tuple[int, bytes]], *, max_payload: int = 1400,
            window_ns: int = 5_000) -> Iterator[tuple[int, list[bytes]]]:
    """Group (timestamp_ns, encoded message) into MoldUDP64 packet contents.

    A packet closes when the next message would overflow `max_payload` bytes of UDP payload or
    arrives more than `window_ns` after the packet's first message. The packet's timestamp is
    that of its last message (it leaves when the last message is ready).
    """
    batch: list[bytes] = []
    first_ts = last_ts = 0
    size = mold.HEADER_SIZE
    for ts, body in messages:
        if batch and (size + 2 + len(body) > max_payload or ts - first_ts > window_ns):
            yield last_ts, batch
            batch, size = [], mold.HEADER_SIZE
        if not batch:
            first_ts = ts
        batch.append(body)
        size += 2 + len(body)
        last_ts = ts
    if batch:
        yield last_ts, batch


@dataclass(frozen=True)
class PcapOptions:
    dst: UdpEndpoint = UdpEndpoint()
    date: dt.date = DEFAULT_DATE
    gaps: int = 0           # data packets dropped at random (sequence gaps)
    duplicates: int = 0     # data packets sent twice at random
    malformed: int = 0      # messages sent one byte too long for their type, at random


def _midnight_ns(date: dt.date) -> int:
    epoch = dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp()
    return int(epoch) * 1_000_000_000


def pcap_frames(messages: list[itch.Message], options: PcapOptions,
                seed: int) -> Iterator[tuple[int, bytes]]:
    """(capture ns since the epoch, frame) for a message list, with injected faults."""
    rng = random.Random(seed ^ 0x5EED)
    timed = [(m.timestamp, itch.encode(m)) for m in messages]  # type: ignore[union-attr]
    # A trailing byte makes the length wrong for the type: the decoder must drop the message,
    # count it and raise stale (docs/golden-model.md). Its own stream of choices, so the
    # packets dropped and repeated stay the same with or without it.
    corrupt = random.Random(seed ^ 0xBAD)
    for i in corrupt.sample(range(len(timed)), min(options.malformed, len(timed))):
        ts, body = timed[i]
        timed[i] = (ts, body + b"\0")
    grouped = list(packets(timed))
    drop = set(rng.sample(range(1, len(grouped)), min(options.gaps, len(grouped) - 1)))
    kept = [i for i in range(len(grouped)) if i not in drop]  # a dropped packet has no copy
    dup = set(rng.sample(kept, min(options.duplicates, len(kept))))
    base = _midnight_ns(options.date)
    sequence = 1
    ip_id = 0
    for index, (ts, batch) in enumerate(grouped):
        payload = mold.encode(SESSION, sequence, batch)
        sequence += len(batch)
        for _ in range(2 if index in dup else 1):
            ip_id = (ip_id + 1) & 0xFFFF
            if index not in drop:
                yield base + ts, udp_frame(payload, options.dst, ip_id=ip_id)
    last_ts = grouped[-1][0] if grouped else 0
    yield base + last_ts + 1_000, udp_frame(mold.end_of_session(SESSION, sequence), options.dst)


def generate(config: MarketConfig, out: Path, *, pcap: PcapOptions = PcapOptions(),
             progress: Callable[[int], None] | None = None) -> dict:
    """Write a synthetic session to `out` (.itch NASDAQ file or .pcap); returns a summary."""
    suffix = out.suffix.lower()
    if suffix not in (".itch", ".pcap"):
        raise ValueError(f"output must end in .itch or .pcap, not {out.name!r}")
    messages = []
    for i, msg in enumerate(MarketGenerator(config)):
        messages.append(msg)
        if progress is not None and i % 100_000 == 99_999:
            progress(i + 1)
    counts: dict[str, int] = {}
    for m in messages:
        t = itch.message_type(m)
        counts[t] = counts.get(t, 0) + 1
    summary = {"messages": len(messages), "symbols": config.symbols, "by_type": counts}
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".itch":
        out.write_bytes(itch.write_file(messages))
    else:
        with out.open("wb") as f:
            summary["frames"] = write_pcap(f, pcap_frames(messages, pcap, config.seed))
    summary["bytes"] = out.stat().st_size
    return summary
