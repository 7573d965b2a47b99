"""The desk's controls over one card: limits, strategy, symbols and the kill switch.

Where it sits: between the routes (sw/control/routes/) and, below it, the card
(drivers/card.py) and the store (sw/control/store.py). Nothing here knows HTTP.

Every change of a document takes one path (`Desk._apply`), under one lock: read the current
document, make the new one, write it and its audit row in one transaction and, inside that
transaction, commit the slots whose values changed to the card (each commit is staged, read
back, committed and checked by `Card`). If the card refuses a slot, the transaction rolls back
and the slots already committed are put back, so nothing is persisted and the hardware holds
what it held before. If putting a slot back fails too, the card is halted: fail closed.

The kill switch is the exception: `halt` writes the card first and audits after, and takes no
lock, so it never waits behind a slow commit and a broken store cannot stop it.

Reduce-only: a symbol's `max_long` / `max_short` become `max(position, 0)` / `max(-position, 0)`
from its host-confirmed position, so the gate passes only orders that bring the position
towards zero. The override's previous values (None: taken from the defaults) are kept in the
`reduce_only` document and put back when the symbol leaves reduce-only.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from drivers.card import Card, CardError
from drivers.device import DriverError
from sw.control.auth import SYSTEM, User
from sw.control.store import Store, Transaction, utc_now
from sw.model.config import (
    Limits,
    StrategyConfig,
    StrategyParams,
    StrategyParamsUpdate,
    SymbolLimits,
    SymbolLimitsUpdate,
)

POSITION_KEYS = ("max_long", "max_short")


class DeskError(Exception):
    """A change the desk refuses; the message says why."""


class UnknownSymbol(DeskError, LookupError):
    """A symbol outside the card's directory: it has no slot, so nothing to control."""


class Conflict(DeskError):
    """A change that the current state does not allow (e.g. release before limits load)."""


class StoreFailure(DeskError):
    """The store failed; the message says what did happen on the card."""


@dataclass
class LoadState:
    """Whether the persisted documents are in the card (see `Desk.load`)."""

    limits_loaded: bool = False
    strategy_loaded: bool = False
    error: str | None = None
    at: str | None = None


@dataclass(frozen=True)
class StrategyUpdate:
    """Partial changes of the strategy defaults and of per-symbol overrides."""

    defaults: StrategyParamsUpdate | None = None
    symbols: dict[str, StrategyParamsUpdate] | None = None


def updated_strategy(config: StrategyConfig, update: StrategyUpdate) -> StrategyConfig:
    """`config` with the non-None keys of `update` applied."""
    defaults = config.defaults
    if update.defaults is not None:
        defaults = defaults.model_copy(update=update.defaults.model_dump(exclude_none=True))
    symbols = dict(config.symbols)
    for symbol, change in (update.symbols or {}).items():
        merged = symbols.get(symbol, StrategyParamsUpdate()).model_dump(exclude_none=True)
        symbols[symbol] = StrategyParamsUpdate(**{**merged,
                                                  **change.model_dump(exclude_none=True)})
    return config.model_copy(update={"defaults": defaults, "symbols": symbols})


def override(limits: Limits, symbol: str) -> dict:
    """The keys a symbol overrides."""
    entry = limits.symbols.get(symbol)
    return entry.model_dump(exclude_none=True) if entry is not None else {}


def with_override(limits: Limits, symbol: str, keys: dict) -> Limits:
    """`limits` with `symbol`'s override replaced by `keys` (None values: from the defaults)."""
    kept = {k: v for k, v in keys.items() if v is not None}
    symbols = {s: o for s, o in limits.symbols.items() if s != symbol}
    if kept:
        symbols[symbol] = SymbolLimitsUpdate(**kept)
    return limits.model_copy(update={"symbols": symbols})


def seed_documents(store: Store, *, limits: Limits | None = None,
                   strategy: StrategyConfig | None = None,
                   symbols: Mapping[str, int | None] | Sequence[str] | None = None,
                   user: User = SYSTEM) -> list[str]:
    """Write the documents the store lacks (the given ones, else the defaults) and the symbol
    directory if it differs; returns what was written. Existing documents are kept."""
    wrote = []
    with store.transaction() as tx:
        for kind, doc in (("limits", limits or Limits()),
                          ("strategy", strategy or StrategyConfig())):
            if store.document(kind) is None:
                body = doc.model_dump(mode="json")
                tx.put_document(kind, body)
                tx.audit(user, f"{kind}.seed", kind, None, body)
                wrote.append(kind)
        old = store.locates()
        new = (None if symbols is None else dict(symbols) if isinstance(symbols, Mapping)
               else dict.fromkeys(symbols))
        if new is not None and list(new.items()) != list(old.items()):
            tx.set_directory(new)
            tx.audit(user, "directory.set", "directory", _directory_view(old),
                     _directory_view(new))
            wrote.append("directory")
    return wrote


class Desk:
    """Limits, strategy, symbols and kill switch of one card (see the module doc)."""

    def __init__(self, card: Card, store: Store,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.card = card
        self.store = store
        self.on_change = on_change          # e.g. Telemetry.poke: publish the change now
        self.load_state = LoadState()
        self._lock = threading.RLock()
        self._map_marks: tuple | None = None    # (mold_gaps, book_slots_used) last checked

    # --- reading ---------------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        return list(self.card.symbols)

    def slot_of(self, symbol: str) -> int | None:
        """The slot the card's map confirms for a directory symbol (None: not bound yet, so
        nothing is written to the card for it until it is)."""
        if symbol not in self.card.symbols:
            raise UnknownSymbol(f"{symbol} is not in the card's symbol directory "
                                f"({', '.join(self.card.symbols) or 'empty'})")
        return self.card.slot_of(symbol)

    def limits(self) -> Limits:
        doc = self.store.document("limits")
        return Limits() if doc is None else Limits.model_validate(doc)

    def effective_limits(self, limits: Limits | None = None) -> dict[str, SymbolLimits]:
        limits = limits or self.limits()
        return {symbol: limits.for_symbol(symbol) for symbol in self.card.symbols}

    def strategy(self) -> StrategyConfig:
        doc = self.store.document("strategy")
        return StrategyConfig() if doc is None else StrategyConfig.model_validate(doc)

    def effective_strategy(self) -> dict[str, StrategyParams]:
        config = self.strategy()
        return {symbol: config.for_symbol(symbol) for symbol in self.card.symbols}

    def reduce_only(self) -> dict[str, dict]:
        """symbol -> {position, previous: {max_long, max_short}, since, by}."""
        return dict(self.store.document("reduce_only") or {})

    def positions(self) -> dict[str, int]:
        """Each directory symbol's host-confirmed position (the limits document's)."""
        limits = self.limits()
        return {symbol: limits.positions.get(symbol, 0) for symbol in self.card.symbols}

    def halted(self) -> bool:
        return bool(self.card.device.read("risk_halt"))

    # --- start-up --------------------------------------------------------------------------

    def start(self) -> LoadState:
        """Fail closed: halt the card, then load the persisted documents into it. Releasing is
        a risk officer's explicit decision (`release`), never a side effect of starting."""
        try:
            self.card.halt()
        except DriverError as exc:
            self.load_state = LoadState(error=f"cannot halt the card: {exc}", at=utc_now())
            return self.load_state
        try:
            seed_documents(self.store, symbols=self.card.directory)
            return self.load(SYSTEM)
        except Exception as exc:      # whatever broke: start halted and say why
            self.load_state = LoadState(error=f"cannot load the store's documents: {exc}",
                                        at=utc_now())
            return self.load_state

    def load(self, user: User) -> LoadState:
        """Commit every slot's persisted limits, confirmed position and strategy parameters
        to the card (each staged, read back, committed and checked). Audited."""
        with self._lock:
            old = self.load_state
            state = LoadState(at=utc_now())
            try:
                # The symbols bound by name first (learning off, subscriptions, the card's
                # map): limits go only to the slots the map confirms.
                self.card.subscribe()
                self.card.load_limits(self.limits())
                state.limits_loaded = True
                self.card.load_strategy(self.strategy())
                state.strategy_loaded = True
            except (DriverError, ValueError) as exc:   # ValueError: an invalid document
                state.error = str(exc)
            self.load_state = state
            with self.store.transaction() as tx:
                tx.audit(user, "card.load", "card", _load_view(old), _load_view(state))
        self.on_change()
        return state

    def watch(self, registers: dict) -> None:
        """Check the card's symbol map again when a poll sees a feed gap (`mold_gaps` moved)
        or a book reset (`book_slots_used` fell): a disagreement halts the card (`Card.sync`)
        and shows as the load error until the documents are loaded again (which subscribes
        afresh after a reset)."""
        marks = (registers.get("mold_gaps"), registers.get("book_slots_used"))
        last, self._map_marks = self._map_marks, marks
        if last is None or None in marks or (marks[0] == last[0] and marks[1] >= last[1]):
            return
        with self._lock:
            try:
                self.card.sync()
            except DriverError as exc:
                self.load_state = LoadState(error=str(exc), at=utc_now())

    def confirm_positions(self, user: User, positions: dict[str, int]) -> None:
        """The OMS's confirmed positions into the limits document (the card has them already,
        written fill by fill), so that a reload of the documents loads current positions.
        Audited when they changed."""
        with self._lock:
            old = self.limits()
            merged = {**old.positions, **positions}
            if merged == old.positions:
                return
            new = old.model_copy(update={"positions": merged})
            with self.store.transaction() as tx:
                tx.put_document("limits", new.model_dump(mode="json"))
                tx.audit(user, "positions.confirm", "limits.positions", old.positions, merged)

    # --- kill switch -----------------------------------------------------------------------

    def halt(self, user: User) -> None:
        """Block every new order at once; the card cancels its live orders. No lock, and the
        card is written before the store (see the module doc)."""
        was = self._read_halt()
        self.card.halt()
        try:
            with self.store.transaction() as tx:
                tx.audit(user, "halt", "card.halt", {"halted": was}, {"halted": True})
        except sqlite3.Error as exc:
            raise StoreFailure(f"the card is halted, but the audit could not record it: "
                               f"{exc}") from exc
        finally:
            self.on_change()

    def reduce_position(self, user: User, symbol: str, side: str, qty: int, price: int,
                        why: str | None = None) -> None:
        """Send an order that reduces a position (an IOC, by the card's host order port, so it
        passes the same gate as every order) and audit it with why. Like the kill switch, a
        risk-reducing action: the card first, then the audit."""
        self.slot_of(symbol)                     # UnknownSymbol outside the directory
        position = self.limits().positions.get(symbol, 0)
        toward_flat = (side == "S" and 0 < qty <= position) or (
            side == "B" and 0 < qty <= -position)
        if not toward_flat:
            raise Conflict(f"{side} {qty} does not reduce {symbol}'s confirmed position of "
                           f"{position} shares: a reduction trades toward flat, no further")
        self.card.submit_order(symbol, side, price, qty, ioc=True)
        try:
            with self.store.transaction() as tx:
                tx.audit(user, "position.reduce", f"position.{symbol}", {"position": position},
                         {"side": side, "qty": qty, "price": price, "why": why})
        except sqlite3.Error as exc:
            raise StoreFailure(f"the reducing order was sent, but the audit could not record "
                               f"it: {exc}") from exc
        finally:
            self.on_change()

    def release(self, user: User) -> None:
        """Let the card trade again: only once the persisted limits are in it."""
        with self._lock:
            if not self.load_state.limits_loaded:
                raise Conflict("the persisted limits are not loaded into the card "
                               f"({self.load_state.error or 'not loaded'}): load them first "
                               "(POST /api/v1/limits/load)")
            was = self._read_halt()
            self._apply(lambda tx: tx.audit(user, "release", "card.halt", {"halted": was},
                                            {"halted": False}),
                        [(self.card.release, self.card.halt)])
        self.on_change()

    def _read_halt(self) -> bool | None:
        try:
            return self.halted()
        except DriverError:
            return None

    # --- limits ----------------------------------------------------------------------------

    def update_defaults(self, user: User, update: SymbolLimitsUpdate) -> Limits:
        return self._change_limits(user, "limits.update", None,
                                   lambda limits, ro: (limits.updated(None, update), ro))

    def update_symbol(self, user: User, symbol: str, update: SymbolLimitsUpdate) -> Limits:
        def change(limits: Limits, ro: dict) -> tuple[Limits, dict]:
            touched = [k for k in POSITION_KEYS if getattr(update, k) is not None]
            if symbol in ro and touched:
                raise Conflict(f"{symbol} is in reduce-only: its {' and '.join(touched)} "
                               "come from its position until it leaves reduce-only")
            return limits.updated(symbol, update), ro

        return self._change_limits(user, "limits.update", symbol, change)

    def disable(self, user: User, symbol: str) -> Limits:
        return self._set_enabled(user, symbol, False)

    def enable(self, user: User, symbol: str) -> Limits:
        return self._set_enabled(user, symbol, True)

    def _set_enabled(self, user: User, symbol: str, enabled: bool) -> Limits:
        update = SymbolLimitsUpdate(enabled=enabled)
        action = "symbol.enable" if enabled else "symbol.disable"
        return self._change_limits(user, action, symbol,
                                   lambda limits, ro: (limits.updated(symbol, update), ro))

    def enter_reduce_only(self, user: User, symbol: str) -> Limits:
        """Bound the symbol to its confirmed position. Again while in it: recompute the bounds
        from the current confirmed position, keeping the limits to restore."""
        def change(limits: Limits, ro: dict) -> tuple[Limits, dict]:
            position = limits.positions.get(symbol, 0)
            keys = override(limits, symbol)
            previous = (ro[symbol]["previous"] if symbol in ro
                        else {k: keys.get(k) for k in POSITION_KEYS})
            bounded = {**keys, "max_long": max(position, 0), "max_short": max(-position, 0)}
            entry = {"position": position, "previous": previous, "since": utc_now(),
                     "by": user.name}
            return with_override(limits, symbol, bounded), {**ro, symbol: entry}

        return self._change_limits(user, "symbol.reduce_only.enter", symbol, change)

    def leave_reduce_only(self, user: User, symbol: str) -> Limits:
        def change(limits: Limits, ro: dict) -> tuple[Limits, dict]:
            if symbol not in ro:
                raise Conflict(f"{symbol} is not in reduce-only")
            keys = {**override(limits, symbol), **ro[symbol]["previous"]}
            rest = {s: entry for s, entry in ro.items() if s != symbol}
            return with_override(limits, symbol, keys), rest

        return self._change_limits(user, "symbol.reduce_only.leave", symbol, change)

    def _change_limits(self, user: User, action: str, symbol: str | None,
                       change: Callable[[Limits, dict], tuple[Limits, dict]]) -> Limits:
        if symbol is not None:
            self.slot_of(symbol)
        with self._lock:
            old, old_ro = self.limits(), self.reduce_only()
            new, new_ro = change(old, old_ro)
            if new == old and new_ro == old_ro:
                return old                       # nothing changes: nothing to audit
            if symbol is None:
                target, before, after = ("limits.defaults", old.defaults.model_dump(),
                                         new.defaults.model_dump())
            else:
                # A symbol's audit view: its override and its reduce-only record, if any.
                target = f"limits.symbols.{symbol}"
                before = {"override": override(old, symbol), "reduce_only": old_ro.get(symbol)}
                after = {"override": override(new, symbol), "reduce_only": new_ro.get(symbol)}

            def record(tx: Transaction) -> None:
                tx.put_document("limits", new.model_dump(mode="json"))
                if new_ro != old_ro:
                    tx.put_document("reduce_only", new_ro)
                tx.audit(user, action, target, before, after)

            was, now = self.effective_limits(old), self.effective_limits(new)
            self._apply(record, [
                (lambda slot=slot, s=s: self.card.commit_limits(slot, now[s]),
                 lambda slot=slot, s=s: self.card.commit_limits(slot, was[s]))
                for s, slot in self.card.bound.items() if was[s] != now[s]])
            self.card.keep(limits=new)
        self.on_change()
        return new

    # --- strategy --------------------------------------------------------------------------

    def update_strategy(self, user: User, update: StrategyUpdate,
                        why: dict | None = None) -> StrategyConfig:
        """Apply a strategy change to the store and the card together, audited; `why` (the
        figures behind an automatic change, such as the feedback policy's) is audited with
        it, in the same transaction."""
        for symbol in update.symbols or {}:
            self.slot_of(symbol)
        with self._lock:
            old = self.strategy()
            new = updated_strategy(old, update)
            if new == old:
                return old
            before, after = old.model_dump(mode="json"), new.model_dump(mode="json")

            def record(tx: Transaction) -> None:
                tx.put_document("strategy", after)
                tx.audit(user, "strategy.update", "strategy", before, after)
                if why is not None:
                    tx.audit(user, "strategy.reason", "strategy", None, why)

            self._apply(record, [
                (lambda slot=slot, s=s: self.card.commit_params(slot, new.for_symbol(s)),
                 lambda slot=slot, s=s: self.card.commit_params(slot, old.for_symbol(s)))
                for s, slot in self.card.bound.items()
                if old.for_symbol(s) != new.for_symbol(s)])
            self.card.keep(strategy=new)
        self.on_change()
        return new

    # --- one change: store and card together -----------------------------------------------

    def _apply(self, record: Callable[[Transaction], None],
               steps: list[tuple[Callable[[], None], Callable[[], None]]]) -> None:
        """Persist and audit (`record`) and make the card `steps` (do, undo) as one change:
        if any of it fails, the store rolls back and the card is put back."""
        undos: list[Callable[[], None]] = []
        try:
            with self.store.transaction() as tx:
                record(tx)
                for do, undo in steps:
                    do()
                    undos.append(undo)
        except BaseException:
            self._put_back(undos)
            raise

    def _put_back(self, undos: list[Callable[[], None]]) -> None:
        for undo in reversed(undos):
            try:
                undo()
            except DriverError as exc:
                try:
                    self.card.halt()
                finally:
                    self.on_change()
                raise CardError(f"the change failed and the card could not be put back "
                                f"({exc}): the card is halted") from exc


def _directory_view(directory: Mapping[str, int | None]) -> list[str]:
    """The directory as the audit shows it: SYMBOL, or SYMBOL=LOCATE."""
    return [symbol if locate is None else f"{symbol}={locate}"
            for symbol, locate in directory.items()]


def _load_view(state: LoadState) -> dict:
    return {"limits_loaded": state.limits_loaded, "strategy_loaded": state.strategy_loaded,
            "error": state.error}
