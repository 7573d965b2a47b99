"""The host's operations on one card: limits, strategy parameters, kill switch, status.

Where it sits: above `Device` (registers by name, any transport) and below the services (the
control plane, the replay host). Each operation is the register sequence the hardware
documents (hw/rtl/risk.py, strategy.py, nic.py): stage, read back, commit, check the sticky
error. Nothing here knows HTTP.

Slots: the card trades a symbol in the slot its book gave it, in the order the feed's
directory (R messages) names symbols. The host knows that directory before the open and gives
it here (`symbols`, slot order); a symbol outside it has no slot and nothing to configure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from drivers.device import Device, DriverError
from drivers.events import CardEvent, decode
from hw.rtl import risk, strategy
from hw.rtl.fastpath import SLOTS
from sw.feed.net import UdpEndpoint
from sw.model.config import Limits, StrategyConfig, StrategyParams, SymbolLimits
from sw.model.risk import Reason


class CardError(DriverError):
    """The card refused or did not take an operation (commit error, read-back mismatch)."""


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
    "book_slots_used",
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
    """One card through a Device (see the module doc)."""

    def __init__(self, device: Device, symbols: Sequence[str] = ()) -> None:
        if len(symbols) > SLOTS:
            raise CardError(f"{len(symbols)} symbols do not fit the card's {SLOTS} slots")
        if len(set(symbols)) != len(symbols):
            raise CardError("the symbol directory names a symbol twice")
        self.device = device
        self.symbols = list(symbols)

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

    def slot_of(self, symbol: str) -> int | None:
        return self.symbols.index(symbol) if symbol in self.symbols else None

    # --- kill switch -----------------------------------------------------------------------

    def halt(self) -> None:
        """Block every new order from the next cycle; the card cancels its live orders."""
        self.device.write("risk_halt", 1)

    def release(self) -> None:
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
        writes = strategy_writes(slot, params)
        device = self.device
        with device.lock:
            device.wait_until("strategy_commit_busy", lambda v: v == 0)
            device.batch([("write", "strategy_commit_error", 1)]
                         + [("write", n, v) for n, v in writes])
            device.wait_until("strategy_commit_busy", lambda v: v == 0)
            if device.read("strategy_commit_error"):
                raise CardError(f"the card refused the strategy parameters of slot {slot}")

    def load_limits(self, limits: Limits, *, positions: bool = True) -> None:
        """Every directory symbol's limits (and confirmed position), committed and checked.
        The kill switch is left as it is: releasing is the host's explicit decision."""
        for slot, symbol in enumerate(self.symbols):
            position = limits.positions.get(symbol, 0) if positions else None
            self.commit_limits(slot, limits.for_symbol(symbol), position)

    def load_strategy(self, config: StrategyConfig) -> None:
        for slot, symbol in enumerate(self.symbols):
            self.commit_params(slot, config.for_symbol(symbol))

    # --- events and order ends ------------------------------------------------------------

    def events(self, limit: int = 256) -> list[CardEvent]:
        return [decode(word) for word in self.device.events(limit)]

    def order_ended(self, handle: int) -> None:
        """The venue confirmed an order chain ended: release its exposure in the gate."""
        self.device.write("trader_order_end", handle)

    def clear_stale(self) -> None:
        self.device.write("mold_stale", 1)
