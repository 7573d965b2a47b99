"""The `model` transport: the card's register map served by the golden model, in process.

Where it sits: the stand-in for hardware when there is none (the control plane's tests and
demos, `nerve serve --backend model`). `ModelCard` behaves like hw/rtl/nic.py at the register
level: the CSR bank's rules (multi-word staging and snapshots, w1c, cmd, `csr_bad_writes`), the
risk gate's and strategy's staged commits with the same range checks and sticky
`commit_error`, the kill switch, order ends, the PTP clock and the event queue with its
overflow flag. Behind the registers is the golden model (sw/model/fastpath.py): frames given to
`ModelCard.frame()` go through it, its orders and rejects become queued events, its counters
are the read-only registers.

Slots: as in the RTL (hw/rtl/book.py). While `book_learn` is 1 (its reset value) a locate takes
the next free slot the first time an R, an H or an add names it; `book_subscribe` gives a
locate the next free slot (refused and counted when the slots are used up or the locate is
beyond the table); with `book_learn` 0 only subscribed locates get slots. An R of a locate
with a slot names the slot (`book_map_*` read the map back); a locate trades from its R on,
with the limits, position and parameters the host committed to its slot, and a locate with no
slot never trades.

FIX session identity (`fix_sender`, `fix_target`, `fix_clordid_prefix`, their lengths,
`fix_trade_date`): the golden encoder takes them as written, and an invalid value raises
`fix_config_error`, which halts trading, as in the RTL encoder.

Not modelled (they read as the reset value, and `ModelCard.modelled(name)` is False for them,
so a dashboard can show them as unknown): the network filter's and decoder's counters, the
book's capacity flags and the counters of what the golden book does not refuse, and the UART
bridge's counters.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, deque

from drivers import events as card_events
from drivers.device import Transport
from hw.rtl import book, nic, risk, strategy
from hw.rtl.csr import WORD_BITS
from hw.rtl.fastpath import ORDERS, SLOTS
from hw.rtl.records import BookEventKind, StrategyMode
from sw.feed.net import UdpEndpoint
from sw.model.config import Limits, StrategyConfig, StrategyParams, SymbolLimits
from sw.model.fastpath import FastPath, OrderRow, RejectRow
from sw.model.risk import GateLimits, Reason

_MASK = (1 << WORD_BITS) - 1
_DISABLED = GateLimits.of(SymbolLimits(enabled=False))
_OFF = StrategyParams(mode="off")
_MODES = {StrategyMode.OFF.value: "off", StrategyMode.QUOTE.value: "quote",
          StrategyMode.TAKE.value: "take"}
#: Book events that give a locate a slot while learning is on (as in hw/rtl/book.py).
_NAMING = (int(BookEventKind.ADD), int(BookEventKind.TRADING_STATE),
           int(BookEventKind.DIRECTORY))
_DIRECTORY = int(BookEventKind.DIRECTORY)
_FIX = ("sender", "sender_len", "target", "target_len", "clordid_prefix", "clordid_prefix_len",
        "trade_date")
_MOLD = ("gaps", "missing_messages", "duplicate_packets", "duplicate_messages", "heartbeats",
         "end_of_session", "wrong_session", "truncated_header", "bad_message_length",
         "trailing_bytes")


class _CardFastPath(FastPath):
    """The golden fast path whose symbols take their slots as the RTL book gives them and
    their limits from the card's slots."""

    def __init__(self, card: ModelCard, dst: UdpEndpoint) -> None:
        super().__init__(Limits(halted=True), StrategyConfig(), dst=dst)
        self.card = card
        self.slot_of: dict[int, int] = {}          # locate -> slot
        self.slot_locate: list[int] = []           # slot -> locate
        self.slot_stock: dict[int, int] = {}       # slot -> stock field of its locate's last R
        self.slot_by_symbol: dict[str, int] = {}   # the same, by the symbol events carry
        self.subscribe_refused = 0
        self.unsubscribed = 0

    def take_slot(self, locate: int) -> bool:
        """Give `locate` the next free slot if it has none; False if it cannot have one."""
        if locate in self.slot_of:
            return True
        if len(self.slot_locate) >= SLOTS or locate >> book.DEFAULT_LOCATE_BITS:
            return False
        self.slot_of[locate] = len(self.slot_locate)
        self.slot_locate.append(locate)
        return True

    def _fields(self, kind: int, locate: int, ref: int, new_ref: int, side: int, shares: int,
                price: int, stock: int, code: int) -> None:
        learns = bool(self.card.values["book_learn"])
        if kind in _NAMING and not (learns and self.take_slot(locate) or locate in self.slot_of):
            self.unsubscribed += 1
        if kind == _DIRECTORY and locate in self.slot_of:
            self.slot_stock[self.slot_of[locate]] = stock
        super()._fields(kind, locate, ref, new_ref, side, shares, price, stock, code)

    def bind(self, locate: int, symbol: str) -> None:
        slot = self.slot_of.get(locate)
        if slot is None:
            return                                  # no slot: never traded
        self.slot_by_symbol[symbol] = slot
        self.gate.bind(locate, self.card.slot_limits[slot], self.card.slot_position[slot])
        self.strategy.bind(locate, self.card.slot_params[slot])


class ModelCard:
    """The register map of hw/rtl/nic.py over the golden model (see the module doc)."""

    def __init__(self, dst: UdpEndpoint = UdpEndpoint()) -> None:
        self.regmap = nic.REGMAP
        self.lock = threading.RLock()
        self._at: dict[int, tuple] = {}
        for p in self.regmap.placed:
            for word in range(p.register.words):
                self._at[p.address + word] = (p, word)
        self.values = {p.name: p.register.reset for p in self.regmap.placed}
        self._staged: dict[str, int] = {}
        self._snapshot: dict[str, int] = {}
        self.bad_writes = 0
        self.slot_limits = [_DISABLED] * SLOTS
        self.slot_position = [0] * SLOTS
        self.slot_params = [_OFF] * SLOTS
        self.events: deque[int] = deque()
        self.lost = self.queued = 0
        self.overflow = False
        self.time = 0
        self._handles: dict[int, int] = {}           # order-table entry -> chain
        self._handle_of: dict[int, int] = {}         # chain -> order-table entry
        # The latest ClOrdID number of each open chain (the only one a G or F can name next),
        # both ways: an entry leaves when the chain moves on or ends, so this stays bounded.
        self._chain: dict[int, int] = {}             # latest ClOrdID number -> its chain
        self._latest: dict[int, int] = {}            # chain -> its latest ClOrdID number
        self._next_handle = 0
        self.fast = _CardFastPath(self, dst)
        self.fix_error = False
        self._reported = 0                  # golden decisions already queued as events
        self._egressed = 0                  # FIX messages already taken by `egress`
        self.counts = Counter()             # the gate's counters, from the decisions
        self._sources = self._ro_sources()

    # --- the feed ------------------------------------------------------------------------------

    def frame(self, frame: bytes, ingress_cycle: int | None = None) -> None:
        """One Ethernet frame from the MAC, stamped with the PTP time (or `ingress_cycle`)."""
        with self.lock:
            if ingress_cycle is not None:
                self.time = max(self.time, ingress_cycle)
            self.fast.frame(frame, self.time)
            self._report()

    def egress(self) -> list[bytes]:
        """The FIX messages the card has sent since the last call, in order (the egress port:
        on a board, each leaves in a UDP datagram to the session host)."""
        with self.lock:
            sent = self.fast.out.fix[self._egressed:]
            self._egressed += len(sent)
            return sent

    def advance(self, cycles: int) -> None:
        """Let the PTP clock run (the model has no clock of its own)."""
        with self.lock:
            self.time += cycles

    def _report(self) -> None:
        """Queue the golden model's new orders and rejects as events, in decision order, and
        count them as the gate's counters do."""
        decisions = self.fast.out.decisions
        for row in decisions[self._reported:]:
            if isinstance(row, RejectRow):
                self.counts[f"risk_reject_{Reason(row.reason).name.lower()}"] += 1
                self.counts["risk_checked"] += 1
            elif row.msg_type == "F":
                self.counts["risk_cancels"] += 1
            else:
                self.counts["risk_checked"] += 1
                self.counts["risk_accepted"] += 1
            self._queue(self._event(row))
        self._reported = len(decisions)

    def _event(self, row: OrderRow | RejectRow) -> int:
        slot = self.fast.slot_by_symbol.get(row.symbol, 0)
        if isinstance(row, RejectRow):
            event = card_events.CardEvent(
                True, row.msg_type, row.symbol, slot, row.side, row.price, row.qty, 0, 0,
                False, row.cause, row.reason, tuple(row.failed.split("|")), 0,
                row.msg_index, 0, row.ingress_cycle, self.time)
        else:
            number = int(row.clordid[-8:])
            orig = int(row.orig_clordid[-8:]) if row.orig_clordid else 0
            # A G or F continues the chain of the message it names, whenever it was sent.
            chain = number if row.msg_type == "D" else self._chain.pop(orig, orig)
            self._chain[number] = chain
            self._latest[chain] = number
            handle = self._handle(chain)
            event = card_events.CardEvent(
                False, row.msg_type, row.symbol, slot, row.side, row.price, row.qty, number,
                orig, row.tif == "3", row.cause, "", (), handle, row.msg_index, row.seq,
                row.ingress_cycle, self.time)
        return card_events.encode(event)

    def _handle(self, chain: int) -> int:
        """The chain's order-table entry, the next of the ring when the chain is new."""
        handle = self._handle_of.get(chain)
        if handle is None:
            handle = self._next_handle
            self._next_handle = (handle + 1) % ORDERS
            previous = self._handles.get(handle)       # a chain the ring has come round to
            if previous is not None:
                self._forget(previous)
            self._handles[handle] = chain
            self._handle_of[chain] = handle
        return handle

    def _forget(self, chain: int) -> None:
        """The chain has left the order table (ended by the host, or its entry reused)."""
        del self._handle_of[chain]
        self._chain.pop(self._latest.pop(chain, None), None)

    def _queue(self, event: int) -> None:
        if len(self.events) >= nic.EVENT_DEPTH:
            self.lost += 1
            if not self.overflow:
                self.overflow = True
                self._apply_halt()
            return
        self.events.append(event)
        self.queued += 1

    # --- halting -----------------------------------------------------------------------------

    def _apply_halt(self) -> None:
        halted = bool(self.values["risk_halt"]) or self.overflow or self.fix_error
        if halted and not self.fast.gate.halted:
            self.fast.halt()
        elif not halted and self.fast.gate.halted:
            self.fast.release()
        self._report()

    # --- register semantics (hw/rtl/csr.py) ----------------------------------------------------

    def read_word(self, address: int) -> int:
        with self.lock:
            if address not in self._at:
                return 0
            p, word = self._at[address]
            reg = p.register
            if reg.access == "cmd":
                return 0
            if reg.access == "rw":
                value = self.values[p.name]
            elif reg.words > 1:
                if word == 0:
                    self._snapshot[p.name] = self._read_only(p.name)
                value = self._snapshot.get(p.name, 0)
            else:
                value = self._read_only(p.name)
            return (value >> (WORD_BITS * word)) & _MASK

    def write_word(self, address: int, value: int) -> None:
        with self.lock:
            if address not in self._at or self._at[address][0].register.access == "ro":
                self.bad_writes += 1
                return
            p, word = self._at[address]
            reg = p.register
            if reg.access == "rw":
                if word < reg.words - 1:
                    staged = self._staged.get(p.name, 0) & ~(_MASK << (WORD_BITS * word))
                    self._staged[p.name] = staged | (value << (WORD_BITS * word))
                    return
                low = self._staged.get(p.name, 0) & ((1 << (WORD_BITS * word)) - 1)
                full = (low | (value << (WORD_BITS * word))) & ((1 << reg.width) - 1)
                self.values[p.name] = full
                if p.name == "risk_halt":
                    self._apply_halt()
                elif p.name.startswith("fix_"):
                    self._fix_config()
            elif reg.access == "w1c":
                self._clear(p.name, value & ((1 << reg.width) - 1))
            else:
                self._command(p.name, value & ((1 << reg.width) - 1))

    def _clear(self, name: str, bits: int) -> None:
        if not bits & 1:            # every w1c register here is one sticky bit
            return
        if name in ("risk_commit_error", "strategy_commit_error", "ptp_refused"):
            self.values[name] = 0
        elif name == "mold_stale":
            self.fast.clear_stale()
        elif name == "event_overflow":
            self.overflow = False
            self._apply_halt()

    def _command(self, name: str, value: int) -> None:
        if name == "risk_commit":
            self._risk_commit(value & 0xFF, bool(value >> 8 & 1), bool(value >> 9 & 1))
        elif name == "strategy_commit":
            self._strategy_commit(value & 0xFF)
        elif name == "trader_order_end":
            chain = self._handles.pop(value, None)
            if chain is not None:
                self._forget(chain)
                if chain in self.fast.gate.orders:
                    self.fast.order_ended(chain)
        elif name == "trader_order_submit":
            self._host_order(value & 0xFF, value >> 8 & 1, bool(value >> 9 & 1))
        elif name == "event_pop":
            if self.events:
                self.events.popleft()
        elif name == "ptp_set":
            if self.values["ptp_set_value"] <= nic.DAY_CYCLES:
                self.time = self.values["ptp_set_value"]
            else:
                self.values["ptp_refused"] = 1
        elif name == "fix_seq_set":
            if 1 <= value <= 99_999_999:
                self.fast.encoder.next_seq = value
        elif name == "book_subscribe":
            if not self.fast.take_slot(value):
                self.fast.subscribe_refused += 1
        elif name == "fix_seq_reserve":
            self.values["fix_seq_reserved"] = self.fast.encoder.next_seq
            self.fast.encoder.next_seq += 1

    def _host_order(self, slot: int, side: int, ioc: bool) -> None:
        """The host order port (hw/rtl/trader.py): a D for the slot's locate at the staged
        price and qty, through the golden gate and encoder."""
        fast = self.fast
        fast.clock(self.time)          # stamped with the PTP time now, as the RTL does
        taken = slot < len(fast.slot_locate) and fast.host_order(
            fast.slot_locate[slot], side, self.values["trader_order_price"],
            self.values["trader_order_qty"], "3" if ioc else "0")
        self.counts["trader_host_orders" if taken else "trader_host_orders_refused"] += 1
        self._report()

    def _fix_config(self) -> None:
        """The encoder's session identity as the registers hold it (hw/rtl/encoder.py: an
        invalid one raises config_error, which halts trading; the last valid one stays)."""
        v = {name: self.values[f"fix_{name}"] for name in _FIX}

        def text(name: str, length: int) -> bytes:
            return v[name].to_bytes(8, "big")[:length]

        sender, target = text("sender", v["sender_len"]), text("target", v["target_len"])
        prefix, date = text("clordid_prefix", v["clordid_prefix_len"]), text("trade_date", 8)
        printable = all(0x20 <= c <= 0x7E and c != ord("|") for c in sender + target)
        self.fix_error = not (1 <= v["sender_len"] <= 8 and 1 <= v["target_len"] <= 8
                              and v["clordid_prefix_len"] <= 8 and printable
                              and (not prefix or prefix.isalnum()) and date.isdigit())
        if not self.fix_error:
            encoder = self.fast.encoder
            encoder.header_ids = b"49=" + sender + b"\x01" + b"56=" + target + b"\x01"
            encoder.prefix = prefix
            encoder.trade_date = _TradeDate(date)
        self._apply_halt()

    def _risk_commit(self, slot: int, limits: bool, position: bool) -> None:
        staged = {lim.name: self.values[f"risk_limit_{lim.name}"] for lim in risk.LIMITS}
        in_range = all(lim.low <= staged[lim.name] <= lim.high for lim in risk.LIMITS)
        if slot >= SLOTS or (limits and not in_range):
            self.values["risk_commit_error"] = 1
            return
        if limits:
            self.slot_limits[slot] = GateLimits(**(staged | {"enabled": bool(staged["enabled"])}))
        if position:
            raw = self.values["risk_position"]
            self.slot_position[slot] = raw - (1 << 32) if raw >> 31 else raw
        for locate, bound in self.fast.slot_of.items():
            if bound == slot and locate in self.fast.gate.symbols:
                state = self.fast.gate.symbols[locate]
                if limits:
                    state.set_limits(self.slot_limits[slot])
                if position:
                    state.position = self.slot_position[slot]

    def _strategy_commit(self, slot: int) -> None:
        staged = {p.name: self.values[f"strategy_param_{p.name}"] for p in strategy.PARAMS}
        if slot >= SLOTS or not all(p.low <= staged[p.name] <= p.high for p in strategy.PARAMS):
            self.values["strategy_commit_error"] = 1
            return
        self.slot_params[slot] = StrategyParams(**(staged | {"mode": _MODES[staged["mode"]]}))
        for locate, bound in self.fast.slot_of.items():
            if bound == slot:
                self.fast.strategy.bind(locate, self.slot_params[slot])

    # --- read-only registers --------------------------------------------------------------------

    def modelled(self, name: str) -> bool:
        """Whether `name` reflects the model's state (False: it only holds its reset value)."""
        p = self.regmap[name]
        return p.register.access in ("rw", "cmd") or name in self._sources

    def _ro_sources(self) -> dict:
        """Where each modelled read-only register's value comes from (made once)."""
        fast = self.fast
        counts = self.counts
        sources = {
            "csr_bad_writes": lambda: self.bad_writes,
            "ingress_cycle": lambda: self.time,
            "mold_stale": lambda: int(fast.sequencer.stale),
            "mold_messages": lambda: fast.msg_index,
            "itch_malformed": lambda: fast.malformed,
            "book_slots": lambda: SLOTS,
            "book_slots_used": lambda: len(fast.slot_locate),
            "book_subscribe_refused": lambda: fast.subscribe_refused,
            "book_unsubscribed": lambda: fast.unsubscribed,
            "book_map_locate": lambda: self._map_slot(fast.slot_locate, 0),
            "book_map_named": lambda: int(self._map_slot(fast.slot_stock, None) is not None),
            "book_map_stock": lambda: self._map_slot(fast.slot_stock, 0),
            "fix_config_error": lambda: int(self.fix_error),
            "book_clearing": lambda: 0,          # the model's book starts empty at once
            "risk_commit_error": lambda: self.values["risk_commit_error"],
            "risk_checked": lambda: counts["risk_checked"],
            "risk_accepted": lambda: counts["risk_accepted"],
            "risk_cancels": lambda: counts["risk_cancels"],
            "strategy_commit_error": lambda: self.values["strategy_commit_error"],
            "ptp_refused": lambda: self.values["ptp_refused"],
            "strategy_commit_busy": lambda: 0,
            "fix_seq_reserved": lambda: self.values["fix_seq_reserved"],
            "fix_next_seq": lambda: fast.encoder.next_seq,
            "trader_open_chains": lambda: len(fast.gate.orders),
            "trader_fault": lambda: 0,
            "trader_host_orders": lambda: counts["trader_host_orders"],
            "trader_host_orders_refused": lambda: counts["trader_host_orders_refused"],
            "event_count": lambda: len(self.events),
            "event_head": lambda: self.events[0] if self.events else 0,
            "event_overflow": lambda: int(self.overflow),
            "event_lost": lambda: self.lost,
            "event_queued": lambda: self.queued,
        }
        for name in _MOLD:
            sources[f"mold_{name}"] = lambda name=name: fast.sequencer.counts[name]
        for reason in Reason:
            name = f"risk_reject_{reason.name.lower()}"
            sources[name] = lambda name=name: counts[name]
        return sources

    def _map_slot(self, table, empty):
        slot = self.values["book_map_slot"]
        if isinstance(table, list):
            return table[slot] if slot < len(table) else empty
        return table.get(slot, empty)

    def _read_only(self, name: str) -> int:
        source = self._sources.get(name)
        return source() if source is not None else self.values[name]


class _TradeDate(dt.date):
    """fix_trade_date's eight digits as the encoder writes them, a calendar date or not (the
    RTL checks digits only; the card's time never passes midnight of the trade date)."""

    def __new__(cls, digits: bytes):
        try:
            day = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            day = dt.date(1, 1, 1)
        self = super().__new__(cls, day.year, day.month, day.day)
        self.digits = digits.decode()
        return self

    def __add__(self, other):
        return self

    def __format__(self, spec: str) -> str:
        return self.digits if spec == "%Y%m%d" else super().__format__(spec)


class ModelTransport(Transport):
    """Word accesses straight into a ModelCard (no wire)."""

    kind = "model"

    def __init__(self, card: ModelCard | None = None) -> None:
        self.card = card or ModelCard()

    def read_word(self, address: int) -> int:
        return self.card.read_word(address)

    def write_word(self, address: int, value: int) -> None:
        self.card.write_word(address, value)

    def knows(self, name: str) -> bool:
        return self.card.modelled(name)

    def transact(self, accesses):
        with self.card.lock:       # a batch is atomic against the feed, as on the bus
            return super().transact(accesses)
