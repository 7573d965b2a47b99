"""One simulated venue as a process: a QuickFIX FIX 4.4 acceptor, the matching engine and the
feed, kept in step with the appliance by a line protocol on standard input and output.

Where it sits: the other end of the appliance's FIX session. The venue replays the same feed
file the card receives and trades our orders against it at feed time (sw/venue/matching.py).
It runs in its own process, as a real venue would; QuickFIX's acceptor cannot be stopped and
started again inside one process (quickfix 1.16 crashes), which a process sidesteps too.

Lock-step with the appliance (why a run is reproducible at any speed). The run's driver, which
also feeds the card, says how far feed time has gone and how many orders it has sent:

    advance <ns> <orders>   wait until <orders> D/F/G have arrived in all, hand them to the
                            engine, replay the feed up to <ns>, send every report;
                            answers  at <ns> <reports sent>
    end <orders>            the same to the end of the feed; answers  done <reports sent>,
                            then logs out and exits
    status                  answers  status {json counters}
    drop                    closes the member's connection (a network fault, for drills);
                            answers  dropped

Send times. The driver advances the venue whenever the card has sent orders, to the feed time
it sent them at, so the orders that an `advance NS` hands over were sent at NS: they reach the
engine NS plus the inbound latency. TransactTime (60) cannot say it: the card stamps it to the
millisecond, coarser than the venue's latencies. The orders `end` hands over were sent at the
last time the venue was advanced to; an order whose TransactTime is later than its send time
is counted as `late_stamps` (a member clock ahead of the feed). Errors are answered as
`error <text>` and the venue carries on.

The venue answers on its standard output only with these lines; it writes a `ready <port>` line
first, once the acceptor listens.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

import quickfix

from sw.feed import itch
from sw.venue import fix
from sw.venue.market import feed_messages
from sw.venue.matching import MatchingEngine, Request, VenueSettings

WAIT_SECONDS = 10.0        # default: how long `advance` waits for orders the driver sent


@dataclass
class Counters:
    received: int = 0          # D/F/G that reached the acceptor
    refused: int = 0           # of those, unreadable (answered with a reject)
    late_stamps: int = 0       # TransactTime later than the send time (see the module doc)
    reports: int = 0           # ExecutionReports and OrderCancelRejects sent
    market_messages: int = 0


class _Application(quickfix.Application):
    """QuickFIX callbacks (on QuickFIX's thread): inbound orders go to a queue, never further."""

    def __init__(self, venue: VenueServer) -> None:
        super().__init__()
        self.venue = venue

    def onCreate(self, session_id):            # noqa: N802 (QuickFIX's names)
        self.venue.session_id = session_id

    def onLogon(self, session_id):             # noqa: N802
        self.venue.logged_on.set()

    def onLogout(self, session_id):            # noqa: N802
        self.venue.logged_on.clear()

    def toAdmin(self, message, session_id):    # noqa: N802
        pass

    def fromAdmin(self, message, session_id):  # noqa: N802
        pass

    def toApp(self, message, session_id):      # noqa: N802
        pass

    def fromApp(self, message, session_id):    # noqa: N802
        # An exception escaping a QuickFIX callback ends the process: take everything here.
        try:
            self.venue.received(message)
        except Exception as exc:   # noqa: BLE001 (see above; the venue reports it)
            self.venue.fault = f"{type(exc).__name__}: {exc}"


class VenueServer:
    """See the module doc. `fix_settings` is a QuickFIX acceptor settings file."""

    def __init__(self, fix_settings: str, feed: bytes, settings: VenueSettings,
                 trade_date: dt.date, *, wait_seconds: float = WAIT_SECONDS) -> None:
        self.engine = MatchingEngine(settings)
        self.wait_seconds = wait_seconds
        self.trade_date = trade_date
        self.counters = Counters()
        self.session_id = None
        self.logged_on = threading.Event()
        self.fault = ""
        self._feed: Iterator[itch.Message] = feed_messages(feed)
        self._next_message: itch.Message | None = None
        self._inbox: list[tuple[Request, int]] = []
        self._arrived = threading.Condition()
        self._watermark = 0
        qf_settings = quickfix.SessionSettings(fix_settings)
        self._app = _Application(self)
        self._acceptor = quickfix.SocketAcceptor(
            self._app, quickfix.FileStoreFactory(qf_settings), qf_settings,
            quickfix.FileLogFactory(qf_settings))

    def start(self) -> None:
        self._acceptor.start()

    # --- inbound (QuickFIX's thread) -------------------------------------------------------

    def received(self, message: quickfix.Message) -> None:
        try:
            request, sent_ns = fix.parse_request(message)
        except fix.RequestError as error:
            with self._arrived:
                self.counters.received += 1
                self.counters.refused += 1
                self._arrived.notify_all()
            self._send(fix.refusal_message(message, error, self.trade_date, self._watermark))
            return
        with self._arrived:
            self._inbox.append((request, sent_ns))
            self.counters.received += 1
            self._arrived.notify_all()

    # --- the control protocol (the main thread) --------------------------------------------

    def serve(self, commands: TextIO, answers: TextIO) -> None:
        for line in commands:
            words = line.split()
            if not words:
                continue
            try:
                answer = self._command(words)
            except (ValueError, TimeoutError) as error:
                answer = f"error {error}"
            answers.write(answer + "\n")
            answers.flush()
            if words[0] == "end":
                return

    def _command(self, words: list[str]) -> str:
        match words:
            case ["advance", ns, orders]:
                self._advance(int(ns), int(orders))
                return f"at {ns} {self.counters.reports}"
            case ["end", orders]:
                self._advance(None, int(orders))
                return f"done {self.counters.reports}"
            case ["drop"]:
                session = quickfix.Session.lookupSession(self.session_id)
                if session is not None:
                    session.disconnect()
                return "dropped"
            case ["status"]:
                return "status " + json.dumps(vars(self.counters) | {
                    "logged_on": self.logged_on.is_set(), "fault": self.fault,
                    "watermark_ns": self._watermark})
        raise ValueError(f"unknown command {' '.join(words)!r} (advance NS ORDERS, end ORDERS, "
                         "status, drop)")

    def _advance(self, until_ns: int | None, orders: int) -> None:
        with self._arrived:
            if not self._arrived.wait_for(lambda: self.counters.received >= orders,
                                          self.wait_seconds):
                raise TimeoutError(f"{orders} orders expected, {self.counters.received} arrived "
                                   f"in {self.wait_seconds:g} s")
            inbox, self._inbox = self._inbox, []
        sent_at = until_ns if until_ns is not None else self._watermark
        for request, stamped_ns in inbox:
            if stamped_ns > sent_at:
                self.counters.late_stamps += 1
            self.engine.submit(request, sent_at)
        start = len(self.engine.reports)
        while True:
            message = self._peek()
            if message is None or (until_ns is not None and _time(message) > until_ns):
                break
            self._next_message = None
            self.counters.market_messages += 1
            self.engine.on_market(message)
        end = until_ns if until_ns is not None else max(self.engine.market.time_ns,
                                                       self._watermark) + 10**12
        self.engine.advance(end)
        self._watermark = max(self._watermark, until_ns or self.engine.market.time_ns)
        for report in self.engine.reports[start:]:
            self._send(fix.report_message(report, self.trade_date))

    def _peek(self) -> itch.Message | None:
        if self._next_message is None:
            self._next_message = next(self._feed, None)
        return self._next_message

    def _send(self, message: quickfix.Message) -> None:
        # Sent whether or not the session is logged on: QuickFIX stores it under its sequence
        # number, and a member that reconnects gets it back by ResendRequest.
        if self.session_id is None:
            raise ValueError("no FIX session is configured")
        quickfix.Session.sendToTarget(message, self.session_id)
        with self._arrived:     # QuickFIX's thread sends refusals too
            self.counters.reports += 1

    def stop(self, timeout: float = 5.0) -> None:
        """Log the session out and wait until it is (QuickFIX sends the Logout on its next
        timer tick, then waits for the member's); the caller then ends the process, since
        quickfix 1.16's acceptor.stop() can crash."""
        if self.session_id is None:
            return
        session = quickfix.Session.lookupSession(self.session_id)
        if session is not None and self.logged_on.is_set():
            session.logout("venue closing")
            deadline = time.monotonic() + timeout
            while self.logged_on.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)


def _time(message: itch.Message) -> int:
    return getattr(message, "timestamp", 0)
