"""The bus API every service codes against, and the delivery machinery both transports share.

Where it sits: services hold a `Bus` (from `open_bus`) and never know whether it is the in-process
transport (`sw.bus.local`, the default) or NATS (`sw.bus.broker`). The transports differ only in
how a message reaches a subscription; what a subscription does with it is here:

- Every subscription has its own bounded queue and its own task, so events reach a handler in the
  order they were published (per publisher, per subscription) and a slow handler delays only its
  own subscription.
- Overflow policy: when a subscription's queue is full, the new message is dropped and counted in
  `stats.dropped` (the publisher is never blocked: the fast path's consumers must not be held up
  by a dashboard). NATS's client does the same to a slow consumer. Nothing that must not be lost
  relies on this: executions have the durable drop copy (`Bus.drop_copy`).
- A payload that does not decode is counted in `stats.malformed` and dropped; a handler that raises
  is counted in `stats.handler_errors`. Neither stops the subscription.

The drop copy is the exception to "may drop": `Bus.drop_copy(durable, handler)` delivers every
execution report ever published, in order, resuming after the last one a subscriber with the same
durable name acknowledged (a handler that returns acknowledges). Delivery is at least once: a
subscriber that dies between handling and acknowledging sees that report again, so consumers
de-duplicate by ExecID. A handler that raises gets the report again, up to `MAX_DELIVER` times in
all, then it is skipped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Self

from sw.bus.events import Event, Topic
from sw.bus.wire import WireError, decode, subject_filter

log = logging.getLogger("sw.bus")

#: An event handler: awaited once per event, in order.
Handler = Callable[[Event], Awaitable[None]]

#: Default bound of a subscription's queue (messages).
QUEUE_SIZE = 10_000
#: Deliveries of one drop-copy report to a handler that keeps raising before it is skipped.
MAX_DELIVER = 5


class BusError(RuntimeError):
    """A bus operation that cannot be done (closed bus, durable name already in use, ...)."""


@dataclass
class SubscriptionStats:
    """What happened to the messages a subscription received."""

    delivered: int = 0       # handled (handler returned)
    dropped: int = 0         # refused because the queue was full
    malformed: int = 0       # did not decode (sw.bus.wire.WireError)
    handler_errors: int = 0  # the handler raised


class Subscription(ABC):
    """A live subscription. `drain()` delivers what is queued then stops; `unsubscribe()` stops
    at once and discards it."""

    def __init__(self, subject: str, handler: Handler) -> None:
        self.subject = subject
        self.handler = handler
        self.stats = SubscriptionStats()
        self.closed = False

    @abstractmethod
    async def unsubscribe(self) -> None:
        """Stop now; queued messages are discarded."""

    @abstractmethod
    async def drain(self) -> None:
        """Stop receiving, deliver what has been received, then stop."""

    async def _handle(self, item: Event | bytes, subject: str) -> bool:
        """Decode if needed and run the handler; False if the item was malformed."""
        if isinstance(item, bytes):
            try:
                item = decode(item, subject)
            except WireError as exc:
                self.stats.malformed += 1
                log.warning("%s: malformed message on %s dropped: %s", self.subject, subject, exc)
                return False
        try:
            await self.handler(item)
        except Exception:
            self.stats.handler_errors += 1
            log.exception("%s: handler failed on %s", self.subject, item.type)
            raise
        self.stats.delivered += 1
        return True


class QueuedSubscription(Subscription):
    """A subscription fed by its transport through `offer()`: bounded queue, one task."""

    def __init__(self, subject: str, handler: Handler, queue_size: int,
                 detach: Callable[[], Awaitable[None]]) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be a positive integer, not {queue_size!r}")
        super().__init__(subject, handler)
        self._queue: asyncio.Queue[tuple[Event | bytes, str]] = asyncio.Queue(queue_size)
        self._detach = detach
        self._task = asyncio.get_running_loop().create_task(self._run(), name=subject)

    def offer(self, item: Event | bytes, subject: str) -> None:
        """Queue one message (never blocks: a full queue drops it, counted)."""
        if self.closed:
            return
        try:
            self._queue.put_nowait((item, subject))
        except asyncio.QueueFull:
            self.stats.dropped += 1
            if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                log.warning("%s: queue full, %d message(s) dropped", self.subject,
                            self.stats.dropped)

    async def _run(self) -> None:
        while True:
            item, subject = await self._queue.get()
            try:
                await self._handle(item, subject)
            except Exception:
                pass  # counted and logged by _handle
            finally:
                self._queue.task_done()

    async def unsubscribe(self) -> None:
        if self.closed:
            return
        self.closed = True
        await self._detach()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def drain(self) -> None:
        if self.closed:
            return
        await self._detach()  # the transport hands over everything it still holds
        self.closed = True
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Bus(ABC):
    """Typed publish/subscribe by topic and symbol, over one transport.

    ::

        async with open_bus() as bus:                       # or open_bus("nats://127.0.0.1:4222")
            async def on_fill(report: ExecutionReport) -> None: ...
            await bus.subscribe(on_fill, topic=Topic.EXECUTIONS, symbol="AAPL")
            await bus.publish(report)
    """

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.closed = False

    @abstractmethod
    async def publish(self, event: Event) -> None:
        """Publish an event on its subject (`sw.bus.wire.subject_of`)."""

    @abstractmethod
    async def publish_raw(self, subject: str, payload: bytes) -> None:
        """Publish an already encoded payload (a bridge's, or a test's malformed one)."""

    @abstractmethod
    async def _attach(self, subject: str, handler: Handler, queue_size: int) -> Subscription:
        """Transport part of `subscribe`."""

    @abstractmethod
    async def _attach_drop_copy(self, durable: str, handler: Handler) -> Subscription:
        """Transport part of `drop_copy`."""

    @abstractmethod
    async def _shutdown(self) -> None:
        """Transport part of `close`, after every subscription has drained."""

    async def subscribe(self, handler: Handler, *, topic: Topic | None = None,
                        symbol: str | None = None, queue_size: int = QUEUE_SIZE) -> Subscription:
        """Call `handler` with every event of `topic` (None: every topic) about `symbol` (None:
        every symbol), in publication order."""
        if queue_size < 1:
            raise ValueError(f"queue_size must be a positive integer, not {queue_size!r}")
        self._check_open()
        sub = await self._attach(subject_filter(topic, symbol), handler, queue_size)
        self._subscriptions = [s for s in self._subscriptions if not s.closed]
        self._subscriptions.append(sub)
        return sub

    async def drop_copy(self, durable: str, handler: Handler) -> Subscription:
        """Call `handler` with every ExecutionReport not yet acknowledged under `durable`, in
        order, then with each new one (see the module docstring for the guarantees)."""
        if not durable or not durable.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"durable name must be letters, digits, '-' or '_', not {durable!r}")
        self._check_open()
        sub = await self._attach_drop_copy(durable, handler)
        self._subscriptions.append(sub)
        return sub

    async def close(self) -> None:
        """Drain every subscription (queued events are delivered), then close the transport."""
        if self.closed:
            return
        self.closed = True
        for sub in self._subscriptions:
            await sub.drain()
        self._subscriptions.clear()
        await self._shutdown()

    def _check_open(self) -> None:
        if self.closed:
            raise BusError("the bus is closed")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_bus(url: str | None = None, **options: object) -> Bus:
    """The in-process bus (no `url`), or a NATS bus connected to `url` ("nats://host:port")."""
    if url is None:
        from sw.bus.local import InProcessBus
        return InProcessBus(**options)  # type: ignore[arg-type]
    if not url.startswith("nats://"):
        raise ValueError(f"bus url must be nats://host:port, not {url!r}")
    from sw.bus.broker import NatsBus
    return await NatsBus.connect(url, **options)  # type: ignore[arg-type]
