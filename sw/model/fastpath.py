"""The golden model of the whole fast path, stage by stage, as the RTL is built.

    frame -> NetFilter -> Sequencer -> Decoder -> BookBuilder -> Strategy -> RiskGate -> Encoder

Deterministic and zero-latency: every output is attributed to the feed message that caused it
(`msg_index`, counted over every ITCH message the sequencer delivers) and carries the ingress
cycle of that message's packet. The RTL reproduces the outputs exactly; only its latency differs.

Host actions (kill switch, release, clear stale, limits) take effect between packets.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from spec.codes import BookEventKind, OrderCause
from sw.feed.net import UdpEndpoint
from sw.model import decoder
from sw.model.book import BookBuilder
from sw.model.config import Limits, StrategyConfig, SymbolLimitsUpdate
from sw.model.encoder import Encoder
from sw.model.netfilter import NetFilter
from sw.model.orders import SIDE_CHAR, LiveOrder, OrderRequest
from sw.model.risk import Reason, RiskGate
from sw.model.sequencer import Sequencer
from sw.model.strategy import Strategy

_TRADING_STATE = int(BookEventKind.TRADING_STATE)
_DIRECTORY = int(BookEventKind.DIRECTORY)


def tradable_symbol(symbol: str) -> bool:
    """A symbol the encoder can put in tag 55: 1-8 printable ASCII characters, no spaces inside.

    The stock field of an R message is 8 bytes, space padded; anything else in it (control bytes,
    SOH, embedded spaces, all spaces) would corrupt the FIX message, so that locate never trades.
    """
    return 0 < len(symbol) <= 8 and all(0x21 <= ord(c) <= 0x7E for c in symbol)


class BboRow(NamedTuple):
    msg_index: int
    locate: int
    symbol: str
    bid_px: int
    bid_qty: int
    ask_px: int
    ask_qty: int


class OrderRow(NamedTuple):
    msg_index: int
    msg_type: str
    clordid: str
    symbol: str
    side: str
    price: int
    qty: int
    orig_clordid: str
    tif: str
    seq: int
    ingress_cycle: int
    cause: str


class RejectRow(NamedTuple):
    msg_index: int
    symbol: str
    side: str
    price: int
    qty: int
    reason: str
    msg_type: str
    failed: str          # every failing check, '|'-separated, priority order
    ingress_cycle: int
    cause: str           # who asked: the strategy, or the host (CAUSE_HOST)


# Why an order was sent (OrderRow.cause; spec.codes.OrderCause, by name).
CAUSE_STRATEGY = OrderCause.STRATEGY.text
CAUSE_REJECTED_REPLACE = OrderCause.REJECTED_REPLACE.text  # the G was refused: pull the quote
CAUSE_KILL_SWITCH = OrderCause.KILL_SWITCH.text
CAUSE_FEED_STALE = OrderCause.FEED_STALE.text               # sequence gap or malformed message
CAUSE_HOST = OrderCause.HOST.text                           # the host order port


@dataclass
class FastPathOutput:
    bbo: list[BboRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    fix: list[bytes] = field(default_factory=list)
    rejects: list[RejectRow] = field(default_factory=list)
    #: orders and rejects interleaved in decision order (the card's event order)
    decisions: list[OrderRow | RejectRow] = field(default_factory=list)


class FastPath:
    def __init__(self, limits: Limits, strategy: StrategyConfig, *,
                 dst: UdpEndpoint = UdpEndpoint(), trade_date: dt.date = dt.date(2026, 11, 20),
                 sender: str = "NERVE", target: str = "VENUE",
                 clordid_prefix: str = "NRV") -> None:
        self.limits = limits
        self.strategy_config = strategy
        self.netfilter = NetFilter(dst)
        self.sequencer = Sequencer(on_stale=self._go_stale)
        self.book = BookBuilder()
        self.strategy = Strategy()
        self.gate = RiskGate(halted=limits.halted)
        self.encoder = Encoder(sender=sender, target=target, clordid_prefix=clordid_prefix,
                               trade_date=trade_date)
        self.out = FastPathOutput()
        self.msg_index = 0        # messages delivered so far = index of the next one
        self.now = 0              # ingress cycle of the packet being processed (monotonic)
        self.malformed = 0
        self.untradable_symbols = 0   # R messages naming a symbol FIX cannot carry
        self.stale_events: Counter[str] = Counter()
        # Locates the card has decided on since their R: the ones a host order may name (the
        # RTL's order table learns a slot's book, and its name, from the updates it decides).
        self.decided: set[int] = set()
        self.host_orders_refused = 0

    # --- ingress -----------------------------------------------------------------------------

    def clock(self, ingress_cycle: int) -> None:
        # The hardware's cycle counter never runs backwards, whatever the feed's timestamps do.
        if ingress_cycle > self.now:
            self.now = ingress_cycle

    def frame(self, frame: bytes, ingress_cycle: int) -> None:
        """One Ethernet frame from the MAC, stamped with its ingress cycle."""
        self.clock(ingress_cycle)
        payload = self.netfilter.filter(frame)
        if payload is None:
            return
        for msg in self.sequencer.packet(payload):
            self._message(msg)

    def message(self, msg: bytes, ingress_cycle: int) -> None:
        """One ITCH message without transport (NASDAQ file replay): its own packet."""
        self.clock(ingress_cycle)
        self._message(msg)

    def row(self, row: tuple, ingress_cycle: int) -> None:
        """One message already decoded by `decoder.decode_batch` (a row): its own packet."""
        self.clock(ingress_cycle)
        self._fields(*row)

    def _message(self, msg) -> None:
        self._fields(*decoder.as_row(decoder.decode(msg)))

    def _fields(self, kind: int, locate: int, ref: int, new_ref: int, side: int, shares: int,
                price: int, stock: int, code: int) -> None:
        """Everything one ITCH message does, from its BookEvent fields (kind 0: no event)."""
        index = self.msg_index
        self.msg_index = index + 1
        if kind == decoder.NONE_KIND:
            return
        if kind == decoder.MALFORMED_KIND:
            self.malformed += 1
            self.sequencer.raise_stale("malformed_message")
            return
        book = self.book
        changed = book.apply_fields(kind, locate, ref, new_ref, side, shares, price, stock, code)
        if changed is not None:
            bbo = book.books[changed].published
            self.out.bbo.append(BboRow(index, changed, book.symbols.get(changed, ""), *bbo))
            self._evaluate(changed, index)
        elif kind == _TRADING_STATE:
            self._evaluate(locate, index)
        elif kind == _DIRECTORY:
            symbol = book.symbols[locate]
            if tradable_symbol(symbol):
                self.bind(locate, symbol)
            else:
                self.untradable_symbols += 1

    # --- decisions ---------------------------------------------------------------------------

    def bind(self, locate: int, symbol: str) -> None:
        """An R message named a tradable symbol: give its locate limits and parameters. (The
        register-level card model, drivers/model.py, overrides this: there the host's per-slot
        commits decide.)"""
        self.gate.bind(locate, self.limits.for_symbol(symbol),
                       self.limits.positions.get(symbol, 0))
        self.strategy.bind(locate, self.strategy_config.for_symbol(symbol))

    def _evaluate(self, locate: int, index: int) -> None:
        risk = self.gate.symbols.get(locate)
        if risk is None:  # no R for this locate: no symbol to trade
            return
        self.decided.add(locate)
        book = self.book
        bbo = book.books[locate].published if locate in book.books else (0, 0, 0, 0)
        trading = book.trading(locate)
        stale = self.sequencer.stale
        # The strategy stands down while the kill switch is on or the feed is stale, so the
        # reject log is not flooded; the gate still checks both on every order, independently.
        permitted = trading and not stale and not self.gate.halted
        for req in self.strategy.evaluate(locate, bbo, permitted, risk.position):
            verdict = self.gate.check(req, self.now, bbo, trading, stale)
            if verdict.accepted:
                order = self._send(req, index, CAUSE_STRATEGY)
                self.strategy.placed(req, order)
                continue
            self._reject(req, verdict, index, CAUSE_STRATEGY)
            if req.msg_type == "G":
                old = req.order
                self._send(OrderRequest("F", locate, old.side, old.price, old.qty, order=old),
                           index, CAUSE_REJECTED_REPLACE)

    def _reject(self, req: OrderRequest, verdict, index: int, cause: str) -> None:
        reject = RejectRow(
            index, self.book.symbols[req.locate], SIDE_CHAR[req.side], req.price, req.qty,
            verdict.reason.value, req.msg_type, "|".join(r.value for r in verdict.failed),
            self.now, cause)
        self.out.rejects.append(reject)
        self.out.decisions.append(reject)

    def _send(self, req: OrderRequest, index: int, cause: str) -> LiveOrder:
        enc = self.encoder
        clordid = enc.take_clordid()
        orig = req.order.clordid if req.order is not None else None
        symbol = self.book.symbols[req.locate]
        fix, seq = enc.encode(req.msg_type, clordid, orig, symbol, req.side, req.price,
                              req.qty, req.tif, self.now)
        self.out.fix.append(fix)
        row = OrderRow(
            index, req.msg_type, enc.clordid_text(clordid).decode(), symbol,
            SIDE_CHAR[req.side], req.price, req.qty,
            enc.clordid_text(orig).decode() if orig is not None else "", req.tif, seq,
            self.now, cause)
        self.out.orders.append(row)
        self.out.decisions.append(row)
        return self.gate.sent(req, clordid)

    def _cancel_all(self, cause: str) -> None:
        for order in self.gate.live_orders():
            self._send(OrderRequest("F", order.locate, order.side, order.price, order.qty,
                                    order=order), self.msg_index, cause)

    def _go_stale(self, why: str) -> None:
        self.stale_events[why] += 1
        self._cancel_all(CAUSE_FEED_STALE)

    # --- host actions (between packets) -------------------------------------------------------

    def halt(self) -> None:
        """Kill switch: block new orders now and cancel every live order the fast path owns."""
        self.gate.halted = True
        self._cancel_all(CAUSE_KILL_SWITCH)

    def release(self) -> None:
        self.gate.halted = False

    def clear_stale(self) -> None:
        self.sequencer.clear_stale()

    def set_limits(self, symbol: str | None, update: SymbolLimitsUpdate) -> None:
        """Apply a partial limits update to the defaults (symbol None) or to one symbol."""
        self.limits = self.limits.updated(symbol, update)
        for locate, name in self.book.symbols.items():
            if locate in self.gate.symbols and (symbol is None or name == symbol):
                self.gate.symbols[locate].set_limits(self.limits.for_symbol(name))

    def locate_of(self, symbol: str) -> int | None:
        """The locate an R named `symbol` (the latest, if several did), if it trades."""
        found = [loc for loc, name in self.book.symbols.items()
                 if name == symbol and loc in self.gate.symbols]
        return found[-1] if found else None

    def host_order(self, locate: int, side: int, price: int, qty: int, tif: str = "3") -> bool:
        """A new order the host makes (reducing a position, a hedge), by the host order port:
        the same gate, against the symbol's book as the card last decided on it, and the same
        encoder as every other order. False (and counted) when the card has not decided on the
        locate since its R, so has no book or name for it: nothing is sent or reported."""
        if locate not in self.decided:
            self.host_orders_refused += 1
            return False
        book = self.book
        bbo = book.books[locate].published if locate in book.books else (0, 0, 0, 0)
        req = OrderRequest("D", locate, side, price, qty, tif)
        verdict = self.gate.check(req, self.now, bbo, book.trading(locate),
                                  self.sequencer.stale)
        if verdict.accepted:
            self._send(req, self.msg_index, CAUSE_HOST)
        else:
            self._reject(req, verdict, self.msg_index, CAUSE_HOST)
        return True

    def order_ended(self, chain: int) -> None:
        """Host confirmation that an order (by its first ClOrdID number) is done."""
        self.gate.order_ended(chain)

    # --- reporting -------------------------------------------------------------------------

    def summary(self) -> dict:
        rejects = Counter(r.reason for r in self.out.rejects)
        by_type = Counter(o.msg_type for o in self.out.orders)
        by_cause = Counter(o.cause for o in self.out.orders)
        return {
            "messages": self.msg_index,
            "bbo_updates": len(self.out.bbo),
            "orders": len(self.out.orders),
            "orders_by_type": dict(sorted(by_type.items())),
            "orders_by_cause": dict(sorted(by_cause.items())),
            "rejects": len(self.out.rejects),
            "rejects_by_reason": {r.value: rejects[r.value] for r in Reason if rejects[r.value]},
            "gaps": self.sequencer.counts["gaps"],
            "missing_messages": self.sequencer.counts["missing_messages"],
            "malformed_messages": self.malformed,
            "untradable_symbols": self.untradable_symbols,
            "frames_dropped": dict(sorted(self.netfilter.drops.items())),
            "sequencer": dict(sorted(self.sequencer.counts.items())),
            "book": dict(sorted(self.book.counts.items())),
            "stale_events": dict(sorted(self.stale_events.items())),
            "halted": self.gate.halted,
        }
