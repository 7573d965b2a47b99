"""The NATS transport: the bus across processes and hosts, through a NATS server (nats-py).

Where it sits: behind `sw.bus.transport.Bus` when services run in separate processes (the OMS, the
session manager, the control plane, the event store). The broker is the project's own
`nats-server` (`sw.bus.server`).

- Events travel as `sw.bus.wire` payloads on ``nerve.<topic>.<symbol>``. NATS keeps the order of a
  publisher's messages to each subscriber; each subscription then hands them, in that order, to
  the shared queue-and-task machinery of `sw.bus.transport` (same overflow policy as in-process).
- ExecutionReports are also stored, for the drop copy, in the JetStream stream `STREAM` (file
  storage), published with JetStream's acknowledgement (the publish returns once the report is
  stored) and with the ExecID as message id, so a re-published report is stored once.
- `drop_copy(durable, handler)` binds a durable push consumer on that stream: explicit
  acknowledgement after the handler returns, one report in flight at a time (max_ack_pending 1,
  so even a redelivered report keeps its place in the order), `MAX_DELIVER` deliveries at most.
  The consumer lives in the server, so a subscriber that stops (or crashes) and comes back under
  the same name resumes exactly after the last report it acknowledged.

docs/references.md, "NATS", lists the NATS behaviour relied on here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from sw.bus.events import Event, ExecutionReport, Topic
from sw.bus.transport import MAX_DELIVER, Bus, BusError, Handler, QueuedSubscription, Subscription
from sw.bus.wire import encode, subject_filter, subject_of

log = logging.getLogger("sw.bus")

#: The JetStream stream holding the execution drop copy.
STREAM = "NERVE_EXECUTIONS"
_EXECUTIONS = subject_filter(Topic.EXECUTIONS)
#: Seconds JetStream remembers a message id (ExecID) to drop a re-published report.
DUPLICATE_WINDOW = 120.0
#: Tries (50 ms apart) to bind a durable the server still counts as bound.
BIND_ATTEMPTS = 20


class NatsBus(Bus):
    """The bus over one NATS connection; make one with `NatsBus.connect(url)`."""

    def __init__(self, nc: Client, js: JetStreamContext) -> None:
        super().__init__()
        self._nc = nc
        self._js = js
        self._by_nats_sub: dict[object, QueuedSubscription] = {}
        # Durables bound through this connection. The server refuses a second subscriber from
        # elsewhere only once it has seen the first one's interest (nats-py reads push_bound),
        # so this bus checks its own first.
        self._bound: set[str] = set()

    @classmethod
    async def connect(cls, url: str, *, name: str = "nerve",
                      connect_timeout: float = 2.0) -> NatsBus:
        """Connect to the NATS server at `url` and make sure the drop-copy stream exists."""
        bus: NatsBus | None = None

        async def on_error(exc: Exception) -> None:
            # The client's own queue overflowed (it dropped the message): count it like ours.
            if isinstance(exc, nats.errors.SlowConsumerError) and bus is not None:
                sub = bus._by_nats_sub.get(exc.sub)
                if sub is not None:
                    sub.stats.dropped += 1
                    return
            log.warning("NATS %s: %s", url, exc)

        # nats-py retries a failed first connection for minutes (its reconnect policy, which
        # is right once connected): try the port once first, so a wrong URL fails at once.
        host, _, port = url.removeprefix("nats://").rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)),
                                               connect_timeout)
            writer.close()
            await writer.wait_closed()
            nc = await nats.connect(url, name=name, error_cb=on_error,
                                    connect_timeout=connect_timeout)
        except (OSError, ValueError, TimeoutError, nats.errors.Error) as exc:
            raise BusError(f"cannot connect to the NATS server at {url}: {exc!r}") from exc
        js = nc.jetstream()
        try:
            await js.add_stream(name=STREAM, subjects=[_EXECUTIONS],
                                storage=api.StorageType.FILE, duplicate_window=DUPLICATE_WINDOW)
        except nats.errors.Error as exc:
            await nc.close()
            raise BusError(
                f"the NATS server at {url} refused the drop-copy stream {STREAM} ({exc!r}); it "
                f"needs JetStream (nats-server -js; sw.bus.server starts it so)") from exc
        bus = cls(nc, js)
        return bus

    async def publish(self, event: Event) -> None:
        self._check_open()
        subject, payload = subject_of(event), encode(event)
        if isinstance(event, ExecutionReport):
            await self._js.publish(subject, payload, stream=STREAM,
                                   headers={api.Header.MSG_ID: event.ExecID})
        else:
            await self._nc.publish(subject, payload)

    async def publish_raw(self, subject: str, payload: bytes) -> None:
        self._check_open()
        if "*" in subject.split(".") or ">" in subject.split("."):
            raise ValueError(f"not a subject to publish on: {subject!r}")
        await self._nc.publish(subject, payload)

    async def _attach(self, subject: str, handler: Handler, queue_size: int) -> Subscription:
        async def on_message(msg: Msg) -> None:
            sub.offer(msg.data, msg.subject)

        async def detach() -> None:
            with contextlib.suppress(nats.errors.Error):
                # Round-trip first: nats-py's drain right after this connection's own publishes
                # sometimes loses them (docs/references.md, "NATS").
                await self._nc.flush()
                await nats_sub.drain()
            self._by_nats_sub.pop(nats_sub, None)

        nats_sub = await self._nc.subscribe(subject, cb=on_message)
        sub = QueuedSubscription(subject, handler, queue_size, detach)
        self._by_nats_sub[nats_sub] = sub
        await self._nc.flush()  # the server knows the subscription before we return
        return sub

    async def _attach_drop_copy(self, durable: str, handler: Handler) -> Subscription:
        if durable in self._bound:
            raise BusError(f"drop copy {durable!r} already has a subscriber")
        sub = _DropCopy(durable, handler, self._nc, self._bound)
        config = api.ConsumerConfig(
            durable_name=durable, ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL, max_ack_pending=1, max_deliver=MAX_DELIVER)
        for attempt in range(BIND_ATTEMPTS):
            try:
                sub.nats_sub = await self._js.subscribe(
                    _EXECUTIONS, durable=durable, stream=STREAM, config=config,
                    manual_ack=True, cb=sub.on_message)
                break
            except nats.js.errors.Error as exc:
                # A subscriber that has just left may still count as bound for a moment.
                if "already bound" in str(exc) and attempt + 1 < BIND_ATTEMPTS:
                    await asyncio.sleep(0.05)
                    continue
                raise BusError(f"cannot bind drop copy {durable!r}: {exc}") from exc
        self._bound.add(durable)
        await self._nc.flush()
        return sub

    async def _shutdown(self) -> None:
        with contextlib.suppress(nats.errors.Error):
            await self._nc.flush()
        await self._nc.close()


class _DropCopy(Subscription):
    """A subscriber bound to a durable JetStream consumer of the execution stream."""

    def __init__(self, durable: str, handler: Handler, nc: Client, bound: set[str]) -> None:
        super().__init__(_EXECUTIONS, handler)
        self.durable = durable
        self._nc = nc
        self._bound = bound
        self.nats_sub: JetStreamContext.PushSubscription | None = None

    async def on_message(self, msg: Msg) -> None:
        try:
            decoded = await self._handle(msg.data, msg.subject)
        except Exception:
            await msg.nak()  # counted by _handle; JetStream delivers it again
            return
        if decoded:
            await msg.ack()
        else:
            await msg.term()  # malformed: never deliver it again

    async def _stop(self, *, now: bool) -> None:
        if self.closed or self.nats_sub is None:
            return
        self.closed = True
        self._bound.discard(self.durable)
        with contextlib.suppress(nats.errors.Error):
            if now:
                await self.nats_sub.unsubscribe()
            else:
                await self._nc.flush()  # see QueuedSubscription's detach in NatsBus._attach
                await self.nats_sub.drain()
            await self._nc.flush()  # the last acknowledgement reaches the server

    async def unsubscribe(self) -> None:
        await self._stop(now=True)

    async def drain(self) -> None:
        await self._stop(now=False)
