"""The host's operations on one card: limits, strategy parameters, kill switch, status.

Where it sits: above `Device` (registers by name, any transport) and below the services (the
control plane, the replay host). Each operation is the register sequence the hardware
documents (hw/rtl/risk.py, strategy.py, nic.py): stage, read back, commit, check the sticky
error. Nothing here knows HTTP.

Slots: symbols are bound by name, never by arrival order. The host gives the symbols it trades
with the stock locate of each where it knows it (from the feed's stock directory, R, or from
configuration). `subscribe` turns learning off (`book_learn` 0) and subscribes those locates;
the card's map (`book_map_*`: which locate, and the name its R gave, each slot holds) is then
the only source of slot numbers. A symbol is bound to a slot when the map shows its locate
there and no other name; every per-symbol write (limits, confirmed position, strategy) goes to
that slot, and a symbol the map does not show is never written: its slot stays disabled as it
was at reset (fail closed). The card itself never trades a slot no R has named. `sync` reads
the map again, binds what has appeared, and halts the card on any disagreement (a slot holding
a locate the host did not subscribe, another name than expected, a subscribed locate no slot
holds, as after a book reset), naming the slot; until a sync agrees again no per-symbol write
is made (`bound` is empty). `release` syncs first; the host syncs again after a feed gap
(`mold_gaps` moved) or a book reset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drivers.device import Device, DriverError
from drivers.events import CardEvent, decode
from hw.rtl import encoder, risk, strategy
from hw.rtl.fastpath import SLOTS
from spec.itch import stock_field, stock_text  # noqa: F401 (part of the card API)
from sw.feed.net import UdpEndpoint
from sw.model.config import Limits, StrategyConfig, StrategyParams, SymbolLimits
from sw.model.risk import Reason


class CardError(DriverError):
    """The card refused or did not take an operation (commit error, read-back mismatch)."""


class SymbolMapError(CardError):
    """The card's slot map disagrees with the host's subscriptions (the card is halted)."""


@dataclass(frozen=True)
class SlotEntry:
    """One slot of the card's map: the locate it holds and the name its R gave (None: no R
    yet)."""

    slot: int
    locate: int
    name: str | None


def map_reads(slot: int) -> list[tuple[str, str, int | None]]:
    """The register batch that reads one slot of the map (select, then its three values)."""
    return [("write", "book_map_slot", slot), ("read", "book_map_locate", None),
            ("read", "book_map_named", None), ("read", "book_map_stock", None)]


def map_entry(slot: int, locate: int, named: int, stock: int) -> SlotEntry:
    return SlotEntry(slot, locate, stock_text(stock) if named else None)


def confirm(locates: Mapping[str, int],
            entries: Sequence[SlotEntry]) -> tuple[dict[str, int], list[str]]:
    """Bind symbols to slots by the card's map: (the slot of each symbol whose locate a slot
    holds under no other name, what disagrees). `locates`: the host's subscriptions."""
    symbol_of = {locate: symbol for symbol, locate in locates.items()}
    slots: dict[str, int] = {}
    wrong: list[str] = []
    for entry in entries:
        expected = symbol_of.get(entry.locate)
        found = entry.name if entry.name is not None else "no name yet"
        if expected is None:
            wrong.append(f"slot {entry.slot} holds locate {entry.locate} ({found}), which the "
                         f"host did not subscribe")
        elif entry.name is not None and entry.name != expected:
            wrong.append(f"slot {entry.slot}: expected {expected} (locate {entry.locate}), "
                         f"found {entry.name}")
        elif expected in slots:
            wrong.append(f"slot {entry.slot}: {expected} (locate {entry.locate}) is already "
                         f"in slot {slots[expected]}")
        else:
            slots[expected] = entry.slot
    wrong += [f"no slot holds {symbol} (locate {locate}): the card refused or lost its "
              f"subscription" for symbol, locate in locates.items() if symbol not in slots]
    return slots, wrong


def limits_writes(slot: int, limits: SymbolLimits | None,
                  position: int | None = None) -> list[tuple[str, int]]:
    """Stage a slot's limits and/or confirmed position and commit them (one register batch)."""
    writes = []
    if limits is not None:
        writes += [(f"risk_limit_{name}", value)
                   for name, value in risk.register_values(limits).items()]
    if position is not None:
        writes.append(("risk_position", position & 0xFFFF_FFFF))
    # risk_commit: bits 0-7 slot, bit 8 apply the limits, bit 9 apply the position.
    commit = slot | int(limits is not None) << 8 | int(position is not None) << 9
    return [*writes, ("risk_commit", commit)]


def strategy_writes(slot: int, params: StrategyParams) -> list[tuple[str, int]]:
    """Stage a slot's strategy parameters and commit them (send when commit_busy is 0)."""
    staged = [(f"strategy_param_{name}", value)
              for name, value in strategy.register_values(params).items()]
    return [*staged, ("strategy_commit", slot)]


HALT_SOURCES = {
    "risk_halt": "kill switch",
    "trader_fault": "order table fault",
    "fix_config_error": "FIX configuration invalid",
    "event_overflow": "host events lost",
}
STATUS_REGISTERS = (
    *HALT_SOURCES, "ingress_cycle", "mold_stale", "mold_messages", "mold_gaps",
    "mold_missing_messages", "itch_malformed", "book_clearing", "book_unreliable",
    "book_slots_used", "book_unsubscribed", "book_subscribe_refused",
    "risk_checked", "risk_accepted", "risk_cancels", "trader_open_chains", "fix_next_seq",
    "event_count", "event_lost", "event_queued",
    *(f"risk_reject_{reason.name.lower()}" for reason in Reason),
)


@dataclass(frozen=True)
class Status:
    halted: bool
    halt_reasons: tuple[str, ...]
    registers: dict[str, int | None]      # None: the backend does not model it (unknown)


class Card:
    """One card through a Device (see the module doc).

    `symbols`: the symbols the host trades, each with its stock locate where the host knows it
    (a mapping symbol -> locate or None; a plain sequence of symbols knows no locate yet).
    """

    def __init__(self, device: Device,
                 symbols: Mapping[str, int | None] | Sequence[str] = ()) -> None:
        directory = (dict(symbols) if isinstance(symbols, Mapping)
                     else dict.fromkeys(symbols))
        if len(directory) != len(symbols):
            raise CardError("the symbol directory names a symbol twice")
        self.device = device
        #: Symbol slots the card was built with (its capacity, hw/rtl/capacity.py).
        self.slot_capacity = min(device.read("book_slots"), SLOTS)
        if len(directory) > self.slot_capacity:
            raise CardError(f"{len(directory)} symbols do not fit the card's "
                            f"{self.slot_capacity} slots")
        self.symbols = list(directory)
        self.locates: dict[str, int] = {}
        for symbol, locate in directory.items():
            if locate is not None:
                self.learned(symbol, locate)
        self.slots: dict[str, int] = {}         # symbol -> slot, as the card's map confirmed
        self.disagrees = False                  # the last sync found the map wrong: halted
        self._limits: Limits | None = None
        self._positions = True
        self._strategy: StrategyConfig | None = None

    def listen(self, dst: UdpEndpoint, trade_date: dt.date) -> None:
        """Accept the feed's multicast group and port; date the FIX messages."""
        date = int.from_bytes(f"{trade_date:%Y%m%d}".encode())   # 8 ASCII digits
        # Out of reset the book writes its RAMs empty (hw/rtl/book.py, 105 us); the feed and
        # subscriptions wait for it. A card that never finishes is refused, not used.
        if "book_clearing" in self.device and self.device.knows("book_clearing"):
            try:
                self.device.wait_until("book_clearing", lambda v: v == 0, timeout=1.0)
            except DriverError as error:
                raise CardError(f"the book never finished clearing after reset: {error}") \
                    from error
        self.device.write_many([("net_dst_ip", dst.ip_int), ("net_dst_port", dst.port),
                                ("fix_trade_date", date)])

    def set_session(self, sender: str, target: str) -> None:
        """The FIX session's CompIDs, as the encoder writes them into every order (49, 56);
        refused (CardError) when the card flags them invalid (fix_config_error)."""
        values = encoder.config_values(sender, target)
        self.device.write_many([(f"fix_{name}", values[name])
                                for name in ("sender", "sender_len", "target", "target_len")])
        if self.device.knows("fix_config_error") and self.device.read("fix_config_error"):
            raise CardError(f"the card refused the FIX CompIDs {sender!r} -> {target!r} "
                            "(fix_config_error)")

    def clordid_prefix(self) -> str:
        """The letters the card's encoder puts before every ClOrdID number."""
        values = self.device.read_many(["fix_clordid_prefix", "fix_clordid_prefix_len"])
        return encoder.ascii_text(values["fix_clordid_prefix"],
                                  values["fix_clordid_prefix_len"])

    # --- the symbol map ---------------------------------------------------------------------

    @property
    def directory(self) -> dict[str, int | None]:
        """The symbols the host trades, in its order, with the locates it knows."""
        return {symbol: self.locates.get(symbol) for symbol in self.symbols}

    def keep(self, *, limits: Limits | None = None,
             strategy: StrategyConfig | None = None) -> None:
        """What a symbol bound later (`sync`) is configured with, once the host has changed
        the documents slot by slot itself."""
        if limits is not None:
            self._limits = limits
        if strategy is not None:
            self._strategy = strategy

    def learned(self, symbol: str, locate: int) -> None:
        """The host learned `symbol`'s stock locate (the feed's R, or configuration); the next
        `subscribe` subscribes it."""
        if symbol not in self.symbols:
            raise CardError(f"{symbol} is not in the symbol directory "
                            f"({', '.join(self.symbols) or 'empty'})")
        if not 1 <= locate <= 0xFFFF:
            raise CardError(f"{symbol}: a stock locate is 1..65535, not {locate!r}")
        holder = next((s for s, loc in self.locates.items() if loc == locate), symbol)
        if holder != symbol:
            raise CardError(f"{symbol} and {holder} both have stock locate {locate}")
        self.locates[symbol] = locate

    def subscribe(self) -> list[str]:
        """Learning off, then every known locate the card's map does not show yet subscribed,
        in the host's order; then `sync`. Returns the symbols bound by it.

        After a book reset (a slot the host configured no longer holds its symbol's locate) the
        card is halted and every slot the host configured is disabled first: the symbols are
        bound afresh."""
        entries = self.read_map()
        shown = {entry.locate for entry in entries}
        holds = {entry.slot: entry.locate for entry in entries}
        if any(holds.get(slot) != self.locates[symbol] for symbol, slot in self.slots.items()):
            self.halt()
            for slot in sorted(set(self.slots.values())):
                self.commit_limits(slot, SymbolLimits(enabled=False), 0)
            self.slots = {}
        writes = [("book_learn", 0)] + [("book_subscribe", locate)
                                        for locate in self.locates.values()
                                        if locate not in shown]
        self.device.write_many(writes)
        return self.sync()

    def read_map(self) -> list[SlotEntry]:
        """Every taken slot of the card's map."""
        device = self.device
        with device.lock:
            used = min(device.read("book_slots_used"), self.slot_capacity)
            values = device.batch([op for slot in range(used) for op in map_reads(slot)])
        return [map_entry(slot, *values[4 * slot + 1:4 * slot + 4]) for slot in range(used)]

    def sync(self) -> list[str]:
        """Read the map; bind the symbols it now confirms and write their limits, position
        and strategy (those last loaded); on any disagreement halt the card and raise
        SymbolMapError naming the slot. Returns the symbols bound by this call."""
        slots, wrong = confirm(self.locates, self.read_map())
        self.disagrees = bool(wrong)
        if wrong:
            self.halt()
            raise SymbolMapError("the card's symbol map disagrees (halted): "
                                 + "; ".join(wrong))
        moved = [s for s, n in self.slots.items() if slots.get(s) != n]
        if moved:   # subscribed again behind the host's back: the old slots hold its writes
            self.disagrees = True
            self.halt()
            raise SymbolMapError(f"the card's symbol map moved {', '.join(moved)} (halted)")
        new = [s for s in slots if s not in self.slots]
        self.slots = slots
        for symbol in new:
            self._configure(symbol)
        return new

    @property
    def bound(self) -> dict[str, int]:
        """symbol -> slot for every per-symbol write; none while the map disagrees."""
        return {} if self.disagrees else dict(self.slots)

    def slot_of(self, symbol: str) -> int | None:
        """The slot the card's map confirms for `symbol` (None: not bound, nothing written)."""
        return self.bound.get(symbol)

    def _configure(self, symbol: str) -> None:
        slot = self.slots[symbol]
        if self._limits is not None:
            position = self._limits.positions.get(symbol, 0) if self._positions else None
            self.commit_limits(slot, self._limits.for_symbol(symbol), position)
        if self._strategy is not None:
            self.commit_params(slot, self._strategy.for_symbol(symbol))

    # --- kill switch -----------------------------------------------------------------------

    def halt(self) -> None:
        """Block every new order from the next cycle; the card cancels its live orders."""
        self.device.write("risk_halt", 1)

    def release(self) -> None:
        """Release the kill switch, once the card's map agrees with the host's (`sync`)."""
        self.sync()
        self.device.write("risk_halt", 0)

    def status(self) -> Status:
        names = [n for n in STATUS_REGISTERS if n in self.device]
        values = self.device.read_many(names)
        known = {n: (v if self.device.knows(n) else None) for n, v in values.items()}
        reasons = tuple(why for name, why in HALT_SOURCES.items() if values.get(name))
        return Status(bool(reasons), reasons, known)

    # --- limits and parameters ------------------------------------------------------------

    def commit_limits(self, slot: int, limits: SymbolLimits | None,
                      position: int | None = None) -> None:
        """Stage, read back, commit, check: raises CardError if the card did not take it."""
        writes = limits_writes(slot, limits, position)
        staged, commit = writes[:-1], writes[-1]
        device = self.device
        with device.lock:
            ops = [("write", n, v) for n, v in staged] + [("read", n, None) for n, _ in staged]
            back = device.batch(ops)[len(staged):]
            for (name, wrote), got in zip(staged, back, strict=True):
                if got != wrote:
                    raise CardError(f"{name} reads back {got}, wrote {wrote}: not committed")
            error = device.batch([("write", "risk_commit_error", 1), ("write", *commit),
                                  ("read", "risk_commit_error", None)])[-1]
        if error:
            raise CardError(f"the card refused the limits of slot {slot} (risk_commit_error)")

    def commit_params(self, slot: int, params: StrategyParams) -> None:
        """Stage, read back, commit, check: raises CardError if the card did not take it."""
        writes = strategy_writes(slot, params)
        staged, commit = writes[:-1], writes[-1]
        device = self.device
        with device.lock:
            device.wait_until("strategy_commit_busy", lambda v: v == 0)
            ops = [("write", n, v) for n, v in staged] + [("read", n, None) for n, _ in staged]
            back = device.batch(ops)[len(staged):]
            for (name, wrote), got in zip(staged, back, strict=True):
                if got != wrote:
                    raise CardError(f"{name} reads back {got}, wrote {wrote}: not committed")
            device.batch([("write", "strategy_commit_error", 1), ("write", *commit)])
            device.wait_until("strategy_commit_busy", lambda v: v == 0)
            if device.read("strategy_commit_error"):
                raise CardError(f"the card refused the strategy parameters of slot {slot}")

    def load_limits(self, limits: Limits, *, positions: bool = True) -> None:
        """Every bound symbol's limits (and confirmed position), committed to the slot the
        card's map gives it and checked; a symbol bound later (`sync`) gets them then. The
        kill switch is left as it is: releasing is the host's explicit decision."""
        self._limits, self._positions = limits, positions
        for symbol, slot in self.bound.items():
            position = limits.positions.get(symbol, 0) if positions else None
            self.commit_limits(slot, limits.for_symbol(symbol), position)

    def load_strategy(self, config: StrategyConfig) -> None:
        self._strategy = config
        for symbol, slot in self.bound.items():
            self.commit_params(slot, config.for_symbol(symbol))

    # --- events and order ends ------------------------------------------------------------

    def events(self, limit: int = 256) -> list[CardEvent]:
        return [decode(word) for word in self.device.events(limit)]

    def order_ended(self, handle: int) -> None:
        """The venue confirmed an order chain ended: release its exposure in the gate."""
        self.device.write("trader_order_end", handle)

    def submit_order(self, symbol: str, side: str, price: int, qty: int, *,
                     ioc: bool = True) -> None:
        """Send an order the host makes (reducing a position, a hedge) by the card's host order
        port: it passes the same risk gate and encoder as the strategy's orders, and comes back
        as an order event (cause "host") or a gate reject. `side` is "B" or "S"; price in ITCH
        units. The symbol goes to the slot the card's map confirms; a symbol it does not show
        raises SymbolMapError."""
        slot = self.slot_of(symbol)
        if slot is None:
            raise SymbolMapError(f"{symbol} has no confirmed slot on the card: no host order")
        if side not in ("B", "S"):
            raise ValueError(f"side must be 'B' or 'S', not {side!r}")
        if not 0 < qty < 1 << 32 or not 0 < price < 1 << 32:
            raise ValueError(f"a host order needs a positive 32-bit price and qty, not "
                             f"{price!r} x {qty!r}")
        self.device.write_many([     # one batch: no other writer between terms and submit
            ("trader_order_price", price), ("trader_order_qty", qty),
            ("trader_order_submit", slot | (side == "S") << 8 | int(ioc) << 9)])

    def clear_stale(self) -> None:
        self.device.write("mold_stale", 1)
