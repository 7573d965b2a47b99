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

Market regimes (`MarketConfig.regimes`, in order, each over its share of the session's body
messages; none: the whole session is normal, byte for byte the feed this module always wrote):

- normal: the random walk above.
- trending: the mid moves steadily one way, `ticks` ticks every `every` events of the symbol
  (no random steps; a symbol's mid moves ticks x (its events in the regime // every) ticks in
  all, and the displayed book follows). Each move is an aggressive order sweeping the side the
  trend eats: every resting order on it up to the new mid (asks for a rise, bids for a fall) is
  executed, one E per message, 50 ns apart, in time priority from the touch. Ordinary executions
  hit that side too (four times in five). A passive quote on that side less than `ticks` from
  the mid is traded through by each move, and the mid keeps going: heavy adverse selection.
- quiet: the mid barely moves (a tick on one event in 200 of the symbol's, not 20), the book
  is thinner (an eighth of `max_orders_per_symbol`) and executions and prints are rare (3% of
  events, 13% in normal), so the touch stays one tick wide nearly all the time. Now and then
  (`shock_rate` of events) a liquidity shock sweeps one side, from the touch to one to
  `shock_ticks` ticks past the mid, and the book refills around the same mid: a quote wider than
  the touch trades only then, at a price the market comes back from.

The invariants above hold in every regime.

Output: a NASDAQ file (2-byte length per message) or a pcap of MoldUDP64 packets in
Ethernet/IPv4/UDP frames, optionally with dropped (gap) and repeated (duplicate) packets.
"""

from __future__ import annotations

import datetime as dt
import math
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


REGIME_KINDS = ("normal", "trending", "quiet")
SWEEP_STEP_NS = 50          # between the executions of one sweep: one aggressive order's burst


@dataclass(frozen=True)
class Regime:
    """A stretch of the session with its own market behaviour (module doc). `share` is relative:
    each regime gets share / (sum of the shares) of the session's body messages."""

    kind: str = "normal"
    share: float = 1.0
    direction: int = 1              # trending: +1 the mid rises, -1 it falls
    every: int = 50                 # trending: the mid moves once per this many symbol events
    ticks: int = 3                  # trending: by this many ticks
    shock_rate: float = 0.001       # quiet: chance per event of a liquidity shock
    shock_ticks: int = 6            # quiet: a shock reaches up to this many ticks past the mid

    def __post_init__(self) -> None:
        if self.kind not in REGIME_KINDS:
            raise ValueError(f"regime kind must be one of {', '.join(REGIME_KINDS)}, not "
                             f"{self.kind!r}")
        if not (math.isfinite(self.share) and self.share > 0):
            raise ValueError(f"regime share must be a positive number, not {self.share!r}")
        if self.direction not in (1, -1):
            raise ValueError(f"regime direction must be 1 (up) or -1 (down), not "
                             f"{self.direction!r}")
        if self.every < 1 or self.ticks < 1 or self.shock_ticks < 1:
            raise ValueError("regime every, ticks and shock_ticks must be at least 1")
        if not 0.0 <= self.shock_rate <= 1.0:
            raise ValueError(f"regime shock_rate must be in [0, 1], not {self.shock_rate!r}")


def parse_regimes(text: str) -> tuple[Regime, ...]:
    """`KIND:SHARE[:OPTION...][,KIND:SHARE...]` (nerve gen --regime) as regimes, in order.

    Options: trending takes `up` or `down`, `every=N` and `ticks=N`; quiet takes
    `shock_rate=P` and `shock_ticks=N`. Any error is a ValueError naming the bad part."""
    regimes = []
    for part in text.split(","):
        fields = part.strip().split(":")
        if len(fields) < 2 or not fields[0]:
            raise ValueError(f"regime {part.strip()!r} must be KIND:SHARE (KIND one of "
                             f"{', '.join(REGIME_KINDS)}), e.g. normal:1,trending:2:down")
        kind, share_text, options = fields[0].lower(), fields[1], fields[2:]
        if kind not in REGIME_KINDS:
            raise ValueError(f"regime {part.strip()!r}: unknown kind {fields[0]!r} (expected "
                             f"{', '.join(REGIME_KINDS)})")
        try:
            share = float(share_text)
        except ValueError:
            share = math.nan
        if not (math.isfinite(share) and share > 0):
            raise ValueError(f"regime {part.strip()!r}: SHARE must be a positive number, not "
                             f"{share_text!r}")
        values: dict[str, int | float] = {}
        allowed = {"trending": {"every": "N", "ticks": "N"},
                   "quiet": {"shock_rate": "P", "shock_ticks": "N"}, "normal": {}}[kind]
        for option in options:
            key, sep, value = option.partition("=")
            if kind == "trending" and not sep and option in ("up", "down"):
                values["direction"] = 1 if option == "up" else -1
                continue
            if not sep or key not in allowed:
                words = (["up", "down"] if kind == "trending" else []) + \
                    [f"{k}={v}" for k, v in allowed.items()]
                raise ValueError(f"regime {part.strip()!r}: unknown option {option!r} for "
                                 f"{kind} (expected {', '.join(words) or 'none'})")
            try:
                values[key] = float(value) if key == "shock_rate" else int(value)
            except ValueError:
                raise ValueError(f"regime {part.strip()!r}: {key} must be a number, not "
                                 f"{value!r}") from None
        try:
            regimes.append(Regime(kind, share, **values))  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"regime {part.strip()!r}: {exc}") from None
    return tuple(regimes)


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
    regimes: tuple[Regime, ...] = ()  # in order over the session; none: all normal

    def __post_init__(self) -> None:
        object.__setattr__(self, "regimes", tuple(self.regimes))   # a list is fine too
        if not all(isinstance(r, Regime) for r in self.regimes):
            raise ValueError("regimes must be Regime values")
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
    __slots__ = ("locate", "name", "mid", "levels", "refs", "halted_until", "trend_events")

    def __init__(self, locate: int, name: str, mid: int) -> None:
        self.locate = locate
        self.name = name
        self.mid = mid
        self.levels: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})  # bid, ask
        self.refs: list[int] = []            # live refs, for uniform random choice
        self.halted_until = -1
        self.trend_events = 0                # events in trending regimes, for the steady drift

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
        # The regime of each body message: (regime, first n, end n), filled in by __iter__.
        self.spans: list[tuple[Regime, int, int]] = []
        self._span = 0
        self._sweep: tuple[_Symbol, int, int] | None = None     # symbol, side, limit price

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
        self.spans = _spans(cfg.regimes, body)
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

    def _regime(self, n: int) -> Regime | None:
        while self._span < len(self.spans) and n >= self.spans[self._span][2]:
            self._span += 1
        return self.spans[self._span][0] if self._span < len(self.spans) else None

    def _event(self, n: int) -> itch.Message:
        rng = self.rng
        regime = self._regime(n)
        if self._sweep is not None:          # an aggressive order still eating a side
            swept = self._sweep_step()
            if swept is not None:
                return swept
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
        if regime is not None and regime.kind == "trending":
            return self._trending(sym, ts, regime)
        if regime is not None and regime.kind == "quiet":
            return self._quiet(sym, ts, regime)
        # Normal: the draws below are the generator's original ones, so a session without
        # regimes (or all normal) keeps its bytes.
        if rng.random() < 0.05:
            sym.mid = max(10 * TICK, sym.mid + rng.choice((-TICK, TICK)))
        return self._order_flow(sym, ts)

    def _order_flow(self, sym: _Symbol, ts: int,
                    execution_side: Callable[[], int] | None = None) -> itch.Message:
        """One message of the symbol's order flow: an add, delete, cancel, execution (on the
        side `execution_side` draws, else the best side's), replace or trade."""
        live = len(sym.refs)
        r = self.rng.random()
        if live == 0 or (live < self.cfg.max_orders_per_symbol and r < 0.42):
            return self._add(sym, ts)
        if r < 0.64:
            return self._delete(sym, ts)
        if r < 0.74:
            return self._cancel(sym, ts)
        if r < 0.84:
            if execution_side is None:
                return self._execute(sym, ts)
            return self._execute(sym, ts, execution_side())
        if r < 0.97:
            return self._replace(sym, ts)
        return self._trade(sym, ts)

    # --- regimes ----------------------------------------------------------------------------

    def _trending(self, sym: _Symbol, ts: int, regime: Regime) -> itch.Message:
        """The mid moves `ticks` every `every` events of the symbol; each move sweeps the side
        the trend eats up to the new mid (module doc)."""
        rng = self.rng
        sym.trend_events += 1
        eaten = 1 if regime.direction > 0 else 0       # a rise eats the asks, a fall the bids
        if sym.trend_events % regime.every == 0:
            sym.mid = max(10 * TICK, sym.mid + regime.direction * regime.ticks * TICK)
            self._sweep = (sym, eaten, sym.mid)
            swept = self._sweep_step(ts)
            if swept is not None:
                return swept
        return self._order_flow(sym, ts,
                                lambda: eaten if rng.random() < 0.8 else 1 - eaten)

    def _quiet(self, sym: _Symbol, ts: int, regime: Regime) -> itch.Message:
        """A still mid, orders at the touch, few executions; now and then a shock sweeps one
        side a few ticks deep and the book refills around the same mid (module doc)."""
        rng = self.rng
        if rng.random() < 0.005:
            sym.mid = max(10 * TICK, sym.mid + rng.choice((-TICK, TICK)))
        if rng.random() < regime.shock_rate:
            side = rng.randrange(2)
            reach = rng.randint(1, regime.shock_ticks) * TICK
            self._sweep = (sym, side, sym.mid - reach if side == 0 else sym.mid + reach)
            swept = self._sweep_step(ts)
            if swept is not None:
                return swept
        live = len(sym.refs)
        r = rng.random()
        # A thinner book than normal (an eighth of the orders): a shock takes tens of orders,
        # not hundreds, so executions stay rare.
        if live == 0 or (live < max(self.cfg.max_orders_per_symbol // 8, 1) and r < 0.45):
            return self._add(sym, ts)
        if r < 0.70:
            return self._delete(sym, ts)
        if r < 0.82:
            return self._cancel(sym, ts)
        if r < 0.84:
            return self._execute(sym, ts)
        if r < 0.99:
            return self._replace(sym, ts)
        return self._trade(sym, ts)

    def _sweep_step(self, ts: int | None = None) -> itch.Message | None:
        """The sweep's next execution: the whole touch order of its side, while the touch is
        within its limit; None (and the sweep over) once it is not."""
        assert self._sweep is not None
        sym, side, limit = self._sweep
        best = sym.best(side)
        if not best or (best > limit if side == 1 else best < limit):
            self._sweep = None
            return None
        if ts is None:
            self.now += SWEEP_STEP_NS            # no draw: the burst's timing is fixed
            ts = self.now
        ref = sym.levels[side][best][0]          # time priority at the touch
        shares = self.orders[ref].shares
        self._remove(ref)
        match = self.next_match
        self.next_match += 1
        return itch.OrderExecuted(sym.locate, 0, ts, ref, shares, match)

    # --- events -----------------------------------------------------------------------------

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

    def _execute(self, sym: _Symbol, ts: int, prefer: int | None = None) -> itch.Message:
        sides = [s for s in (0, 1) if sym.levels[s]]
        # `prefer`: the side a trend eats, when it has orders (no draw, so normal is unchanged).
        side = prefer if prefer in sides else self.rng.choice(sides)
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


def _spans(regimes: tuple[Regime, ...], body: int) -> list[tuple[Regime, int, int]]:
    """Each regime's body messages [first, end), by its share of `body`, in order."""
    total = sum(r.share for r in regimes)
    spans, start, running = [], 0, 0.0
    for regime in regimes:
        running += regime.share
        end = round(body * running / total)
        spans.append((regime, start, end))
        start = end
    return spans


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
