"""The in-process transport: the bus inside one asyncio event loop (the default, and unit tests).

Where it sits: behind `sw.bus.transport.Bus` when every service runs in one process (the
appliance's one-command demo, every unit test). Events are passed as the immutable objects they
are, not encoded: a publish is a subject match and a `put_nowait` per matching subscription, so it
never blocks and keeps publication order. Raw payloads (`publish_raw`) are decoded at each
subscription, as the NATS transport does, so malformed input behaves the same on both.

Its drop copy is an in-memory log of every ExecutionReport published on this bus, with one cursor
per durable name: a subscriber that stops and comes back under the same name resumes after the
last report it acknowledged. It lives as long as the bus object (a process restart loses it; the
NATS transport's JetStream drop copy survives that). Like JetStream with a message id, it keeps
one copy of each ExecID.
"""

from __future__ import annotations

import asyncio
import contextlib

from sw.bus.events import Event, ExecutionReport, Topic
from sw.bus.transport import (
    MAX_DELIVER,
    Bus,
    BusError,
    Handler,
    QueuedSubscription,
    Subscription,
)
from sw.bus.wire import PREFIX, subject_filter, subject_matches, subject_of

_EXECUTIONS = subject_filter(Topic.EXECUTIONS)


class InProcessBus(Bus):
    """The bus within one event loop."""

    def __init__(self) -> None:
        super().__init__()
        self._live: list[QueuedSubscription] = []
        self._routes: dict[str, list[QueuedSubscription]] = {}  # subject -> matching subs
        # The drop copy: the log, each durable's next index, the subscriptions bound now.
        self._log: list[tuple[Event | bytes, str]] = []
        self._exec_ids: set[str] = set()
        self._cursors: dict[str, int] = {}
        self._bound: dict[str, _DropCopy] = {}

    async def publish(self, event: Event) -> None:
        self._check_open()
        subject = subject_of(event)
        if isinstance(event, ExecutionReport) and event.ExecID not in self._exec_ids:
            self._exec_ids.add(event.ExecID)
            self._append(event, subject)
        self._route(event, subject)

    async def publish_raw(self, subject: str, payload: bytes) -> None:
        self._check_open()
        tokens = subject.split(".")
        if tokens[0] != PREFIX or "*" in tokens or ">" in tokens or "" in tokens:
            raise ValueError(f"not a subject to publish on: {subject!r}")
        if subject_matches(_EXECUTIONS, subject):
            self._append(payload, subject)
        self._route(payload, subject)

    def _route(self, item: Event | bytes, subject: str) -> None:
        subs = self._routes.get(subject)
        if subs is None:
            subs = self._routes[subject] = [
                s for s in self._live if subject_matches(s.subject, subject)]
        for sub in subs:
            sub.offer(item, subject)

    def _append(self, item: Event | bytes, subject: str) -> None:
        self._log.append((item, subject))
        for sub in self._bound.values():
            sub.wake.set()

    async def _attach(self, subject: str, handler: Handler, queue_size: int) -> Subscription:
        async def detach() -> None:
            self._live.remove(sub)
            self._routes.clear()

        sub = QueuedSubscription(subject, handler, queue_size, detach)
        self._live.append(sub)
        self._routes.clear()
        return sub

    async def _attach_drop_copy(self, durable: str, handler: Handler) -> Subscription:
        if durable in self._bound:
            raise BusError(f"drop copy {durable!r} already has a subscriber")
        sub = self._bound[durable] = _DropCopy(self, durable, handler)
        return sub

    async def _shutdown(self) -> None:
        self._live.clear()
        self._routes.clear()


class _DropCopy(Subscription):
    """One subscriber of the in-process drop copy, reading the log from its durable's cursor."""

    def __init__(self, bus: InProcessBus, durable: str, handler: Handler) -> None:
        super().__init__(_EXECUTIONS, handler)
        self.durable = durable
        self.wake = asyncio.Event()
        self._bus = bus
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=durable)

    async def _run(self) -> None:
        log, cursors = self._bus._log, self._bus._cursors
        while not self._stopping:
            self.wake.clear()
            while not self._stopping and cursors.setdefault(self.durable, 0) < len(log):
                item, subject = log[cursors[self.durable]]
                for _ in range(MAX_DELIVER):
                    try:
                        await self._handle(item, subject)
                        break
                    except Exception:
                        continue  # counted by _handle; delivered again
                cursors[self.durable] += 1  # acknowledged (or malformed, or out of attempts)
            await self.wake.wait()

    async def _stop(self, *, now: bool) -> None:
        if self.closed:
            return
        self.closed = self._stopping = True
        self.wake.set()
        if now:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        del self._bus._bound[self.durable]

    async def unsubscribe(self) -> None:
        await self._stop(now=True)

    async def drain(self) -> None:
        await self._stop(now=False)
