"""The appliance's FIX 4.4 session to a venue: an initiator that sends the card's bytes as they are.

Where it sits: between the card's egress (its FIX order bytes, each already numbered) and the
venue's acceptor; inbound application messages go up to `on_message` (the bus edge publishes
them). QuickFIX parses and validates every inbound message against its FIX 4.4 dictionary; the
session layer itself is written here because no FIX engine sends pre-encoded messages numbered
by someone else, and the card numbers its own orders.

One MsgSeqNum space. The card's encoder owns the outgoing counter: an order takes the next number
as the card encodes it; an admin message (Logon, Heartbeat, TestRequest, ResendRequest, Reject,
Logout) takes one with `SequenceSource.reserve()` (the card's `fix_seq_reserve`). Everything is
written to the socket in sequence order, so the venue sees one gap-free sequence: a message that
comes early waits for the numbers before it.

Rules (docs/references.md, "FIX session layer"; QuickFIX's Session.cpp behaves the same):
- A venue's ResendRequest is answered with one SequenceReset-GapFill (35=4, 123=Y, 43=Y) over the
  whole range: an order is never re-sent late.
- An inbound MsgSeqNum above the one expected is kept, a ResendRequest asks for the gap, and the
  kept messages are processed once it is filled; one below it without PossDupFlag ends the
  session ("MsgSeqNum too low"); a PossDup one below it is dropped.
- A garbled message (framing, BodyLength, CheckSum) is logged, counted and dropped; the expected
  number does not move. One that parses but breaks the dictionary gets a Reject (35=3, 45, 373,
  58) and counts as received. Either way the session stays up.
- Heartbeat after HeartBtInt with nothing sent; TestRequest after 1.2 x HeartBtInt with nothing
  received; disconnect after 2.4 x.
- Several sessions (one per venue) can share the card's counter (`SharedSequence`): a number
  that went to another venue is passed over here, and a SequenceReset-GapFill over it precedes
  the next message written, so each venue sees one gap-free sequence.
- After a dropped connection it reconnects every `reconnect_seconds`. The inbound number expected
  next is kept in the store file, so the venue's stored reports are asked for again (at least
  once: the OMS de-duplicates by ExecID). Orders the card emits while no session is up are not
  sent later: they are handed to `on_undelivered` (the wiring ends them in the card), and the
  venue sees their numbers as a gap that the next ResendRequest's GapFill covers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import quickfix

from sw.fix.dictionary import data_dictionary
from sw.session import framing

log = logging.getLogger("sw.session")

ADMIN = frozenset("0A12345")
#: QuickFIX's exception types -> SessionRejectReason (373).
REJECT_REASONS = {"InvalidTagNumber": 0, "RequiredTagMissing": 1, "TagNotDefinedForMessage": 2,
                  "NoTagValue": 4, "IncorrectTagValue": 5, "IncorrectDataFormat": 6,
                  "RepeatedTag": 13, "InvalidMessageType": 11, "TagOutOfOrder": 14}


class SessionError(RuntimeError):
    """A session that cannot be configured or started (the text says why)."""


class SequenceSource(Protocol):
    """The card's MsgSeqNum counter (drivers/card.py: the encoder's fix_seq_* registers)."""

    def reserve(self) -> int:
        """Take the next MsgSeqNum for a message the host sends (an admin message)."""

    def next(self) -> int:
        """The MsgSeqNum the next order or reservation will take."""


class SharedSequence:
    """One card counter behind several sessions (one per venue): every number one session
    takes, for an order routed to it or for its own admin message, is passed over by all the
    others (`FixSession.pass_over`), so each venue still sees one gap-free sequence."""

    def __init__(self, source: SequenceSource) -> None:
        self.source = source
        self.sessions: list[FixSession] = []

    def for_session(self) -> _SessionSequence:
        return _SessionSequence(self)

    def routed(self, seq: int, to: FixSession) -> None:
        """Number `seq` goes to `to`: the other sessions pass over it."""
        for session in self.sessions:
            if session is not to:
                session.pass_over(seq)


class _SessionSequence:
    """One session's view of a SharedSequence (its owner is set when the session is made)."""

    def __init__(self, shared: SharedSequence) -> None:
        self.shared = shared
        self.owner: FixSession | None = None

    def reserve(self) -> int:
        seq = self.shared.source.reserve()
        self.shared.routed(seq, self.owner)
        return seq

    def next(self) -> int:
        return self.shared.source.next()


@dataclass
class SessionConfig:
    """What a standard QuickFIX initiator settings file says about one session."""

    host: str
    port: int
    sender: str
    target: str
    heartbeat_seconds: int = 30
    reconnect_seconds: float = 30.0
    store: Path = Path("build/session")

    @classmethod
    def from_quickfix(cls, path: str | Path) -> SessionConfig:
        try:
            settings = quickfix.SessionSettings(str(path))
        except quickfix.ConfigError as error:
            raise SessionError(f"{path}: {error}") from None
        sessions = settings.getSessions()
        if len(sessions) != 1:
            raise SessionError(f"{path}: one [SESSION] expected, found {len(sessions)}")
        (session_id,) = sessions
        d = settings.get(session_id)

        def get(key: str, default=None, kind=str):
            if not d.has(key):
                if default is None:
                    raise SessionError(f"{path}: {key} is missing")
                return default
            value = d.getString(key)
            try:
                return kind(value)
            except ValueError:
                raise SessionError(f"{path}: {key}={value!r} is not {kind.__name__}") from None

        if get("BeginString") != "FIX.4.4":
            raise SessionError(f"{path}: BeginString must be FIX.4.4")
        return cls(get("SocketConnectHost"), get("SocketConnectPort", kind=int),
                   get("SenderCompID"), get("TargetCompID"), get("HeartBtInt", 30, int),
                   get("ReconnectInterval", 30.0, float), Path(get("FileStorePath")))


@dataclass
class SessionCounters:
    sent: int = 0                 # messages written (orders and admin)
    orders_sent: int = 0
    orders_undelivered: int = 0   # emitted while no session was up: never sent
    received: int = 0             # inbound messages accepted in sequence
    garbled: int = 0              # dropped before parsing (framing, BodyLength, CheckSum)
    rejected: int = 0             # answered with a Reject (35=3)
    resend_requests_sent: int = 0
    gap_fills_sent: int = 0
    duplicates: int = 0           # PossDup messages below the expected number, dropped
    logons: int = 0
    disconnects: int = 0


@dataclass(order=True)
class _Outgoing:
    seq: int
    data: bytes = field(compare=False)
    is_order: bool = field(compare=False, default=False)


class FixSession:
    """See the module doc."""

    def __init__(self, config: SessionConfig, seq: SequenceSource,
                 on_message: Callable[[quickfix.Message], None], *,
                 on_undelivered: Callable[[bytes], None] | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.config = config
        self.seq = seq
        if isinstance(seq, _SessionSequence):        # one of several sessions on one counter
            seq.owner = self
            seq.shared.sessions.append(self)
        self.on_message = on_message
        self.on_undelivered = on_undelivered
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.counters = SessionCounters()
        self.logged_on = asyncio.Event()
        self._store = config.store / f"{config.sender}-{config.target}.seqnums"
        self.next_in = self._load_next_in()
        self._pending: list[_Outgoing] = []          # waiting for earlier numbers (a heap)
        self._next_out: int | None = None            # the number the socket writes next
        self._gap_from: int | None = None            # first passed-over number not yet filled
        self._queued_in: dict[int, bytes] = {}       # arrived above the expected number
        self._writer: asyncio.StreamWriter | None = None
        self._last_sent = self._last_received = 0.0
        self._test_request_sent = False
        self._resend_requested = False
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._closed = asyncio.Event()

    # --- the store ---------------------------------------------------------------------------

    def _load_next_in(self) -> int:
        try:
            return int(self._store.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 1

    def _save_next_in(self) -> None:
        self._store.parent.mkdir(parents=True, exist_ok=True)
        self._store.write_text(f"{self.next_in}\n")

    # --- running -----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect, log on, and keep the session up (reconnecting) until `stop`."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, text: str = "appliance closing", timeout: float = 5.0) -> None:
        """Log out, wait for the venue's Logout (or `timeout`), close."""
        self._stopping = True
        if self._writer is not None and self.logged_on.is_set():
            self._send_admin("5", [(58, text)])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close()
        self._save_next_in()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                reader, writer = await asyncio.open_connection(self.config.host,
                                                               self.config.port)
            except OSError as error:
                log.warning("connect %s:%d failed: %s", self.config.host, self.config.port,
                            error)
                await asyncio.sleep(self.config.reconnect_seconds)
                continue
            self._writer, self._closed = writer, asyncio.Event()
            self._pending.clear()
            self._next_out = self._gap_from = None
            self._queued_in.clear()
            self._test_request_sent = self._resend_requested = False
            loop = asyncio.get_running_loop()
            self._last_sent = self._last_received = loop.time()
            self._send_admin("A", [(98, 0), (108, self.config.heartbeat_seconds)])
            timer = loop.create_task(self._timers())
            try:
                await self._read(reader)
            finally:
                timer.cancel()
                self._close()
                self.counters.disconnects += 1
                self._save_next_in()
            if not self._stopping:
                await asyncio.sleep(self.config.reconnect_seconds)

    def _close(self) -> None:
        self.logged_on.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._closed.set()

    async def _timers(self) -> None:
        interval = self.config.heartbeat_seconds
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, interval / 10))
            now = loop.time()
            if not self.logged_on.is_set():
                continue
            if now - self._last_received > 2.4 * interval:
                log.warning("no message for %.1f s: disconnecting", now - self._last_received)
                self._close()
                return
            if now - self._last_received > 1.2 * interval and not self._test_request_sent:
                self._send_admin("1", [(112, f"TEST{int(now)}")])
                self._test_request_sent = True
            if now - self._last_sent >= interval:
                self._send_admin("0", [])

    # --- outbound ----------------------------------------------------------------------------

    def send_order(self, raw: bytes) -> bool:
        """Send an order exactly as the card encoded it (True), or hand it to `on_undelivered`
        when no session is up (False): an order is never sent late."""
        seq = framing.seq_of(raw)
        if self._writer is None or not self.logged_on.is_set():
            self.counters.orders_undelivered += 1
            if self._next_out is not None:
                self._enqueue(_Outgoing(seq, b""))   # its number is passed over, not waited for
            if self.on_undelivered is not None:
                self.on_undelivered(raw)
            return False
        self._enqueue(_Outgoing(seq, raw, is_order=True))
        return True

    def _send_admin(self, msg_type: str, fields: list[tuple[int, object]]) -> None:
        number = self.seq.reserve()
        self._enqueue(_Outgoing(number, framing.build(
            msg_type, self.config.sender, self.config.target, number, self._timestamp(),
            fields)))

    def _gap_fill(self, begin: int, new_seq: int, *, resent: bool = False) -> None:
        """A SequenceReset-GapFill numbered `begin` over [begin, new_seq), written at once: one
        that answers a ResendRequest is itself a resend (43=Y with 122), one that passes over
        numbers in the stream is not."""
        fields = [(43, "Y"), (122, self._timestamp())] if resent else []
        self._write(framing.build("4", self.config.sender, self.config.target, begin,
                                  self._timestamp(), [*fields, (123, "Y"), (36, new_seq)]))
        self.counters.gap_fills_sent += 1

    def pass_over(self, seq: int) -> None:
        """Number `seq` will never be written here (it went to another venue's session, or
        was taken while no session was up): the next message written is preceded by a
        SequenceReset-GapFill over it, so the venue sees no gap."""
        if self._next_out is not None:       # numbered from its Logon on (logged on or not)
            self._enqueue(_Outgoing(seq, b""))

    def _enqueue(self, message: _Outgoing) -> None:
        if self._next_out is None:
            self._next_out = message.seq     # the session's first number (its Logon)
        heapq.heappush(self._pending, message)
        while self._pending and self._pending[0].seq <= self._next_out:
            head = heapq.heappop(self._pending)
            if head.seq < self._next_out:
                continue                     # a number the venue has already been told about
            self._next_out = head.seq + 1
            if not head.data:                # passed over: filled before the next message
                if self._gap_from is None:
                    self._gap_from = head.seq
                continue
            if self._gap_from is not None:
                self._gap_fill(self._gap_from, head.seq)
                self._gap_from = None
            self._write(head.data)
            if head.is_order:
                self.counters.orders_sent += 1

    def _write(self, data: bytes) -> None:
        if not data or self._writer is None:
            return
        self._writer.write(data)
        self.counters.sent += 1
        self._last_sent = asyncio.get_running_loop().time()

    def _timestamp(self) -> str:
        now = self.clock()
        return f"{now:%Y%m%d-%H:%M:%S}.{now.microsecond // 1000:03d}"

    # --- inbound -----------------------------------------------------------------------------

    async def _read(self, reader: asyncio.StreamReader) -> None:
        frames = framing.FrameReader()
        while True:
            data = await reader.read(65536)
            if not data:
                return
            self._last_received = asyncio.get_running_loop().time()
            self._test_request_sent = False
            for piece in frames.feed(data):
                if isinstance(piece, framing.Garbled):
                    self.counters.garbled += 1
                    log.warning("garbled inbound message dropped (%s): %r", piece.why,
                                piece.data[:80])
                    continue
                if not self._inbound(piece):
                    return

    def _inbound(self, raw: bytes) -> bool:
        """One framed message; False when the session must end."""
        try:
            message = quickfix.Message(raw.decode("ascii"), data_dictionary(), False)
        except (quickfix.FIXException, UnicodeDecodeError) as error:
            self.counters.garbled += 1
            log.warning("unparseable inbound message dropped: %s", error)
            return True
        header = message.getHeader()
        seq = int(header.getField(34))
        msg_type = header.getField(35)
        poss_dup = header.isSetField(43) and header.getField(43) == "Y"
        if msg_type == "4" and not (message.isSetField(123) and message.getField(123) == "Y"):
            return self._reset(int(message.getField(36)))      # reset mode: no seq check
        if seq > self.next_in:
            if msg_type == "A":
                self._on_logon(message)
            if msg_type == "5":
                return False
            self._queued_in[seq] = raw
            if not self._resend_requested:
                self._send_admin("2", [(7, self.next_in), (16, 0)])
                self.counters.resend_requests_sent += 1
                self._resend_requested = True
            return True
        if seq < self.next_in:
            if poss_dup:
                self.counters.duplicates += 1
                return True
            text = f"MsgSeqNum too low, expecting {self.next_in} but received {seq}"
            self._send_admin("5", [(58, text)])
            log.error(text)
            return False
        if not self._accept(message, raw, msg_type):
            return False
        while self.next_in in self._queued_in:
            queued = self._queued_in.pop(self.next_in)
            if not self._inbound(queued):
                return False
        if not self._queued_in:
            self._resend_requested = False
        return True

    def _accept(self, message: quickfix.Message, raw: bytes, msg_type: str) -> bool:
        """An in-sequence message: validate it, act on it, count it."""
        try:
            data_dictionary().validate(message)
        except quickfix.FIXException as error:
            reason = REJECT_REASONS.get(type(error).__name__, 99)
            self._send_admin("3", [(45, self.next_in), (373, reason),
                                   (58, f"{type(error).__name__}: {error}"[:120])])
            self.counters.rejected += 1
            self.next_in += 1
            return True
        if msg_type == "4":                                   # GapFill
            self.next_in = max(self.next_in + 1, int(message.getField(36)))
            return True
        self.next_in += 1
        self.counters.received += 1
        if msg_type == "A":
            self._on_logon(message)
        elif msg_type == "1":
            self._send_admin("0", [(112, message.getField(112))])
        elif msg_type == "2":
            self._answer_resend(int(message.getField(7)), int(message.getField(16)))
        elif msg_type == "5":
            if not self._stopping:
                self._send_admin("5", [(58, "logout acknowledged")])
            return False
        elif msg_type not in ADMIN:
            self.on_message(message)
        if self.counters.received % 64 == 0:
            self._save_next_in()
        return True

    def _on_logon(self, message: quickfix.Message) -> None:
        if not self.logged_on.is_set():
            self.logged_on.set()
            self.counters.logons += 1
            log.info("logged on to %s", self.config.target)

    def _answer_resend(self, begin: int, end: int) -> None:
        """A GapFill over [begin, the next number): nothing is ever re-sent."""
        new_seq = self.seq.next()
        if self._next_out is not None:
            new_seq = max(new_seq, self._next_out)
        self._gap_fill(begin, new_seq, resent=True)
        log.info("ResendRequest %d..%d answered with GapFill to %d", begin, end, new_seq)

    def _reset(self, new_seq: int) -> bool:
        log.warning("SequenceReset (reset mode) to %d", new_seq)
        self.next_in = new_seq
        self._queued_in = {s: m for s, m in self._queued_in.items() if s >= new_seq}
        return True
