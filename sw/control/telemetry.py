"""Live telemetry of the card: what the dashboard, the event stream and /metrics show.

Where it sits: one poller (`Telemetry.run`, an asyncio task of the app's lifespan) reads
`Card.status()` and drains `Card.events()` every `interval` seconds (in a worker thread: card
access blocks) and publishes a snapshot; `next()` hands each new snapshot to the event stream,
and sw/control/metrics.py reads the latest one for Prometheus.

The snapshot holds rates (messages, orders and rejects per second, from counter deltas over the
last second), cumulative counters, rejects by reason, the tick-to-trade histogram of the card's
orders (cycles and ns), feed health (gaps, missing messages, stale flag, unreliable books) and
per-symbol limit use (live orders and position plus open-order exposure against the limits).

Unknown stays unknown: a register the backend does not model (`Status.registers` value None),
a card that cannot be read, or exposure that the events cannot account for is None (JSON null,
"unknown" on the dashboard, an absent sample in /metrics), never 0 and never healthy.

Events: until the OMS exists this poller is the card's only event reader. Open-order exposure
is rebuilt from them the way the gate keeps it (sw/model/risk.py): a D opens a chain with its
quantity, a G raises the chain's exposure to the larger quantity, an F ends its liveness; only
the host's order end (the OMS, not built) releases exposure, so none is released here either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drivers.device import DriverError
from drivers.events import CardEvent
from hw.rtl.fastpath import ORDERS
from hw.rtl.nic import EVENT_DEPTH
from spec.itch import PRICE_SCALE
from sw.model.clock import CLOCK_HZ, cycles_to_ns
from sw.model.risk import Reason

if TYPE_CHECKING:
    from sw.control.desk import Desk
from sw.control.trading import NO_TRADING, TradingView

log = logging.getLogger(__name__)

#: Tick-to-trade histogram bounds, in cycles of the fast-path clock (6.4 ns each).
TICK_TO_TRADE_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
RATE_WINDOW_S = 1.0
EVENT_BATCH = 256


def total(*values: int | None) -> int | None:
    """The sum, or None if any part is unknown."""
    return None if any(v is None for v in values) else sum(values)  # type: ignore[arg-type]


class LatencyHistogram:
    """Tick-to-trade of the card's orders: cumulative buckets (for Prometheus) and recent
    samples (for percentiles), in cycles."""

    def __init__(self, bounds: tuple[int, ...] = TICK_TO_TRADE_BUCKETS, recent: int = 4096):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)        # the last bucket is +Inf
        self.count = 0
        self.sum_cycles = 0
        self.recent: deque[int] = deque(maxlen=recent)
        self.lock = threading.Lock()

    def add(self, cycles: int) -> None:
        with self.lock:
            index = next((i for i, b in enumerate(self.bounds) if cycles <= b), len(self.bounds))
            self.counts[index] += 1
            self.count += 1
            self.sum_cycles += cycles
            self.recent.append(cycles)

    def quantile(self, q: float) -> int | None:
        with self.lock:
            ordered = sorted(self.recent)
        if not ordered:
            return None
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def cumulative(self) -> tuple[list[tuple[float, int]], int, float]:
        """([(upper bound in seconds, orders at or below it)], count, sum in seconds)."""
        with self.lock:
            counts, count, sum_cycles = list(self.counts), self.count, self.sum_cycles
        running, out = 0, []
        for bound, n in zip((*self.bounds, float("inf")), counts, strict=True):
            running += n
            out.append((bound / CLOCK_HZ, running))
        return out, count, sum_cycles / CLOCK_HZ

    def view(self) -> dict:
        """The dashboard's view: percentiles of the recent orders and every bucket."""
        def ns(cycles: int | None) -> float | None:
            return None if cycles is None else cycles_to_ns(cycles)

        with self.lock:
            counts, count = list(self.counts), self.count
            top = max(self.recent, default=None)
        p50, p99 = self.quantile(0.5), self.quantile(0.99)
        return {
            "count": count,
            "p50_cycles": p50, "p50_ns": ns(p50),
            "p99_cycles": p99, "p99_ns": ns(p99),
            "max_cycles": top, "max_ns": ns(top),
            "buckets": [{"le_cycles": b, "le_ns": ns(b), "count": n}
                        for b, n in zip((*self.bounds, None), counts, strict=True)],
        }


@dataclass
class Chain:
    """A live order chain the card sent, as its events tell it: what a G or F of it needs."""

    symbol: str
    side: str
    exposure: int


@dataclass
class SymbolExposure:
    """One symbol's live orders and open-order exposure over every chain seen."""

    open_orders: int = 0
    open_buy: int = 0
    open_sell: int = 0


class Exposure:
    """Live orders and open-order exposure per symbol, rebuilt from the card's events.

    Chains are followed by ClOrdID: a G or F names the chain's latest ClOrdID as its
    OrigClOrdID (as FIX does), so no other identifier is needed. Only live chains are kept, for
    the G or F that may still name them; an F ends a chain's liveness and its entry, and its
    exposure (which only the host's order end releases) stays in its symbol's totals. The
    totals move with each event, so a poll reads them per symbol, never going over chains.

    Bounded: one entry per live chain and one per symbol. The card holds at most `capacity`
    chains (its order table); more live chains than that mean the events no longer describe
    the card (`overflowed`: the exposure is unknown from then on, and the chains are dropped).
    """

    def __init__(self, capacity: int = ORDERS) -> None:
        self.capacity = capacity
        self.live: dict[int, Chain] = {}            # a live chain's latest ClOrdID -> chain
        self.symbols: dict[str, SymbolExposure] = {}
        self.overflowed = False

    def apply(self, event: CardEvent) -> None:
        if event.rejected or self.overflowed:
            return
        if event.msg_type == "D":
            if len(self.live) >= self.capacity:
                self.overflowed = True
                self.live.clear()
                return
            chain = Chain(event.symbol, event.side, event.qty)
            self.live[event.clordid] = chain
            totals = self.symbols.setdefault(event.symbol, SymbolExposure())
            totals.open_orders += 1
            self._expose(totals, chain.side, chain.exposure)
            return
        chain = self.live.pop(event.orig_clordid, None)
        if chain is None:
            return                                  # a chain opened before we listened
        totals = self.symbols[chain.symbol]
        if event.msg_type == "G":
            grown = max(chain.exposure, event.qty)
            self._expose(totals, chain.side, grown - chain.exposure)
            chain.exposure = grown
            self.live[event.clordid] = chain
        else:
            totals.open_orders -= 1

    @staticmethod
    def _expose(totals: SymbolExposure, side: str, shares: int) -> None:
        if side == "B":
            totals.open_buy += shares
        elif side == "S":
            totals.open_sell += shares

    def of(self, symbol: str) -> dict[str, int]:
        totals = self.symbols.get(symbol, SymbolExposure())
        return {"open_orders": totals.open_orders, "open_buy": totals.open_buy,
                "open_sell": totals.open_sell}


class Telemetry:
    """The poller and its latest snapshot (see the module doc)."""

    def __init__(self, desk: Desk, interval: float = 0.2, *,
                 trading: TradingView = NO_TRADING, card_events: bool = True) -> None:
        """`card_events` False: another reader owns the card's event queue (a running trading
        loop) and hands the events over with `observe`; the poll does not pop them."""
        self.desk = desk
        self.interval = interval
        self.trading = trading
        self.card_events = card_events
        self._events_lock = threading.Lock()
        self.tick_to_trade = LatencyHistogram()
        self.exposure = Exposure()
        self.exposure_known: bool | None = None      # decided at the first poll
        self.snapshot: dict | None = None
        self.version = 0
        self._window: deque[tuple[float, dict]] = deque()
        self._first_lost: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poke: asyncio.Event | None = None
        self._published: asyncio.Event | None = None
        self._closed = False

    # --- one poll (blocking: runs in a worker thread) ---------------------------------------

    def poll(self) -> dict:
        card = self.desk.card
        now = time.monotonic()
        try:
            status = card.status()
            error = None
            if self.card_events:
                self._drain(card)
        except DriverError as exc:
            status, error = None, str(exc)
        regs = status.registers if status is not None else {}
        if status is not None:
            self._check_exposure(regs)
            self.desk.watch(regs)
        counters = {
            "messages": regs.get("mold_messages"),
            "orders": total(regs.get("risk_accepted"), regs.get("risk_cancels")),
            "checked": regs.get("risk_checked"),
            "rejects": total(*(regs.get(f"risk_reject_{r.name.lower()}") for r in Reason)),
            "events_lost": regs.get("event_lost"),
            "open_chains": regs.get("trader_open_chains"),
        }
        load = self.desk.load_state
        try:
            symbols, store_error = self._symbols(regs, reachable=status is not None), None
        except (ValueError, sqlite3.Error) as exc:     # an unreadable limits document
            symbols, store_error = None, f"cannot read the limits: {exc}"
        return {
            "at": time.time(),
            "card": {"backend": card.device.kind, "reachable": error is None, "error": error},
            "halted": status.halted if status is not None else None,
            "halt_reasons": list(status.halt_reasons) if status is not None else [],
            "limits_loaded": load.limits_loaded,
            "strategy_loaded": load.strategy_loaded,
            "load_error": load.error,
            "rates": self._rates(now, counters),
            "counters": counters,
            "rejects_by_reason": {r.value: regs.get(f"risk_reject_{r.name.lower()}")
                                  for r in Reason},
            "tick_to_trade": self.tick_to_trade.view(),
            "feed": self._feed(regs),
            "symbols": symbols,
            "store_error": store_error,
            "trading": self._trading(),
        }

    def observe(self, events: list[CardEvent]) -> None:
        """The card's events, from the reader that owns its queue (see __init__)."""
        for event in events:
            self._take(event)

    def _trading(self) -> dict | None:
        """What the trading loop says, for the dashboard (None: no loop runs)."""
        totals = self.trading.totals()
        if totals is None:
            return None
        tca = self.trading.tca() or {}
        every = tca.get("all") or {}
        audit = self.desk.store.audit(200)      # one read of the log for both lists
        changes = [{"at": e.at, "who": e.who, "change": e.new} for e in audit
                   if e.who == "feedback-policy" and e.action == "strategy.reason"][:10]
        actions = [{"at": e.at, "who": e.who, "action": e.action, "what": automatic_action(e)}
                   for e in audit if e.who in AUTOMATIC][:10]
        return {"totals": totals, "positions": self.trading.positions(),
                "fills": self.trading.fills(10),
                "modes": {mode: {k: row.get(k) for k in ("fills", "shares", "pnl", "risk_charge",
                                                          "risk_adjusted_pnl")}
                          for mode, row in (tca.get("mode") or {}).items()},
                "tca": {"fills": tca.get("fills"), "slippage_bps": every.get("slippage_bps"),
                        "markout_1s_bps": (every.get("markout_bps") or {}).get(1_000_000_000),
                        "adverse_1s_bps": (every.get("adverse_selection_bps") or {}).get(
                            1_000_000_000)},
                "changes": changes, "actions": actions}

    def _drain(self, card) -> None:
        """Read the queued events, up to twice the card's queue per poll (so one poll's time
        stays bounded while the card keeps sending)."""
        for _ in range(2 * EVENT_DEPTH // EVENT_BATCH):
            events = card.events(EVENT_BATCH)
            for event in events:
                self._take(event)
            if len(events) < EVENT_BATCH:
                return

    def _take(self, event: CardEvent) -> None:
        with self._events_lock:
            self._follow(event)

    def _follow(self, event: CardEvent) -> None:
        if self.exposure_known is not False:        # unknown for good: nothing to follow
            self.exposure.apply(event)
        # Tick-to-trade is feed-to-order: orders the strategy sent on a market-data tick.
        if event.cause == "strategy" and event.tick_to_trade_cycles is not None:
            self.tick_to_trade.add(event.tick_to_trade_cycles)

    def _check_exposure(self, regs: dict) -> None:
        """Exposure from events is known only if we saw every chain: none was open at the
        first poll, and the card has lost no event since."""
        lost = regs.get("event_lost")
        if self.exposure_known is None:
            chains = regs.get("trader_open_chains")
            self.exposure_known = chains == 0 and lost is not None
            self._first_lost = lost
        elif lost is None or lost != self._first_lost:
            self.exposure_known = False
        if self.exposure.overflowed:
            self.exposure_known = False
        if self.exposure_known is False:
            self.exposure = Exposure()              # its chains and totals are no use now

    def _rates(self, now: float, counters: dict) -> dict:
        keys = ("messages", "orders", "rejects")
        self._window.append((now, {k: counters[k] for k in keys}))
        while len(self._window) > 2 and now - self._window[1][0] >= RATE_WINDOW_S:
            self._window.popleft()
        then, old = self._window[0]
        span = now - then
        rates = {}
        for key in keys:
            known = span > 0 and counters[key] is not None and old[key] is not None
            # max(0): a card reset starts its counters again; that is no negative rate.
            rates[f"{key}_per_s"] = max(counters[key] - old[key], 0) / span if known else None
        return rates

    def _feed(self, regs: dict) -> dict:
        stale, mask = regs.get("mold_stale"), regs.get("book_unreliable")
        symbols = {slot: symbol for symbol, slot in self.desk.card.bound.items()}
        return {
            "gaps": regs.get("mold_gaps"),
            "missing_messages": regs.get("mold_missing_messages"),
            "malformed_messages": regs.get("itch_malformed"),
            "stale": None if stale is None else bool(stale),
            "unreliable_books": None if mask is None else [
                symbols.get(slot, f"slot {slot}")
                for slot in range(32) if mask >> slot & 1],
        }

    def _symbols(self, regs: dict, reachable: bool) -> list[dict]:
        limits = self.desk.limits()
        reduce_only = self.desk.reduce_only()
        mask = regs.get("book_unreliable")
        # A running trading loop's OMS knows positions and live orders exactly; without one,
        # positions are the limits document's and live orders are followed from card events.
        booked, live = self.trading.positions(), self.trading.exposure()
        rows = []
        for symbol in self.desk.symbols:
            slot = self.desk.card.slot_of(symbol)
            bound = limits.for_symbol(symbol)
            if booked is not None:
                position = booked.get(symbol, {}).get("qty", 0)
            else:
                position = limits.positions.get(symbol, 0)
            orders = long = short = None
            if live is not None:
                seen = live.get(symbol, {"open_orders": 0, "open_buy": 0, "open_sell": 0})
            elif self.exposure_known and reachable:
                with self._events_lock:
                    seen = self.exposure.of(symbol)
            else:
                seen = None
            if seen is not None:
                orders = seen["open_orders"]
                long, short = position + seen["open_buy"], seen["open_sell"] - position
            rows.append({
                "symbol": symbol, "slot": slot, "enabled": bound.enabled,
                "reduce_only": symbol in reduce_only, "position": position,
                "unreliable": None if mask is None or slot is None else bool(mask >> slot & 1),
                # used against limit, as the gate checks them: live orders, position plus
                # open buy exposure (max_long), open sell exposure minus position (max_short)
                "open_orders": {"used": orders, "limit": bound.max_open_orders},
                "long": {"used": long, "limit": bound.max_long},
                "short": {"used": short, "limit": bound.max_short},
            })
        return rows

    # --- the poller and its subscribers (event loop) ----------------------------------------

    async def run(self) -> None:
        """Poll until cancelled; `poke()` makes the next poll happen at once."""
        self._loop = asyncio.get_running_loop()
        self._poke = asyncio.Event()
        self._published = asyncio.Event()
        while not self._closed:
            try:
                self._publish(await asyncio.to_thread(self.poll))
            except Exception:       # the poller must outlive any one failed poll
                log.exception("telemetry poll failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self.interval)
            self._poke.clear()

    def _publish(self, snapshot: dict) -> None:
        self.version += 1
        self.snapshot = {**snapshot, "version": self.version}
        published, self._published = self._published, asyncio.Event()
        published.set()

    def poke(self) -> None:
        """Something changed (a halt, a limit): poll now. Safe from any thread."""
        if self._loop is None or self._poke is None:
            return
        # RuntimeError: the loop has closed, so nobody is listening any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._poke.set)

    @property
    def closed(self) -> bool:
        return self._closed

    async def next(self, after: int, timeout: float) -> dict | None:
        """The first snapshot newer than version `after`, or None after `timeout` seconds
        (or once the telemetry is closed)."""
        if self.snapshot is not None and self.version > after:
            return self.snapshot
        if self._published is None or self._closed:
            await asyncio.sleep(min(timeout, self.interval))
            return None
        try:
            await asyncio.wait_for(self._published.wait(), timeout)
        except TimeoutError:
            return None
        return self.snapshot if self.version > after else None

    def close(self) -> None:
        self._closed = True
        if self._published is not None:
            self._published.set()


#: Who acts on its own in a run (sw/run/appliance.py): its actions are shown as they happen.
AUTOMATIC = ("portfolio-risk", "router")


def automatic_action(entry) -> str:
    """One line for an automatic action in the audit: what it did, and why."""
    new = entry.new if isinstance(entry.new, dict) else {}
    if entry.action == "position.reduce":
        return (f"{entry.target.removeprefix('position.')}: {new.get('side')} "
                f"{new.get('qty')} @ {new.get('price', 0) / PRICE_SCALE:.4f} ({new.get('why')})")
    if entry.action.startswith("symbol.reduce_only"):
        bounds = new.get("override") or {}
        return (f"{entry.target.removeprefix('limits.symbols.')}: max_long "
                f"{bounds.get('max_long')}, max_short {bounds.get('max_short')}")
    if entry.action == "routing.change":
        return f"{new.get('symbol')} ({new.get('sizes')}): {new.get('reason')}"
    return f"{entry.action} {entry.target}"
