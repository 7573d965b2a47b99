"""What only the NATS transport (sw.bus.broker) does: the wire on real subjects, JetStream's file
store behind the drop copy, connection errors. The shared contract is in test_transport.py."""

from __future__ import annotations

import json

import nats
import pytest

from sw.bus import BusError, open_bus
from sw.bus.broker import STREAM
from sw.bus.server import NatsServer
from sw.bus.wire import encode

from .conftest import run, settle
from .samples import fill, quote
from .test_transport import Inbox


def test_events_travel_as_wire_json_on_their_subjects(nats_server):
    """A plain NATS client (any language's would do) sees nerve.<topic>.<symbol> and the JSON."""
    async def scenario():
        nc = await nats.connect(nats_server.url)
        sub = await nc.subscribe("nerve.>")
        await nc.flush()
        async with await open_bus(nats_server.url) as bus:
            await bus.publish(quote(1, "BRK.A"))
            await bus.publish(fill(1))
        first, second = await sub.next_msg(2), await sub.next_msg(2)
        await nc.close()
        assert (first.subject, first.data) == ("nerve.market.BRK%2EA", encode(quote(1, "BRK.A")))
        assert second.subject == "nerve.executions.AAPL"
        assert json.loads(second.data)["e"]["ExecID"] == "X-1"
    run(scenario())


def test_drop_copy_survives_a_broker_restart(tmp_path):
    """Executions published before the broker stopped reach a durable subscriber after it
    starts again on the same store: JetStream keeps them on disk, with the consumer's place."""
    async def before(url):
        async with await open_bus(url) as bus:
            inbox = Inbox()
            await bus.drop_copy("oms", inbox)
            await bus.publish(fill(1))
            await settle(lambda: len(inbox.events) == 1)
        async with await open_bus(url) as bus:
            for n in range(2, 5):
                await bus.publish(fill(n))

    async def after(url):
        async with await open_bus(url) as bus:
            inbox = Inbox()
            await bus.drop_copy("oms", inbox)
            await settle(lambda: len(inbox.events) == 3)
            return inbox.events

    with NatsServer(tmp_path / "store") as server:
        run(before(server.url))
    with NatsServer(tmp_path / "store") as server:
        assert run(after(server.url)) == [fill(2), fill(3), fill(4)]


def test_executions_are_stored_with_their_exec_id(nats_server):
    async def scenario():
        async with await open_bus(nats_server.url) as bus:
            await bus.publish(fill(77, "ZZZT"))
        nc = await nats.connect(nats_server.url)
        stored = await nc.jetstream().get_last_msg(STREAM, "nerve.executions.ZZZT")
        await nc.close()
        assert stored.headers["Nats-Msg-Id"] == "X-77"
        assert stored.data == encode(fill(77, "ZZZT"))
    run(scenario())


def test_connect_errors_are_bus_errors():
    async def scenario():
        with pytest.raises(BusError, match="cannot connect to the NATS server at "
                                           "nats://127.0.0.1:1"):
            await open_bus("nats://127.0.0.1:1")
        with pytest.raises(ValueError, match="bus url must be nats://host:port, not 'tcp://x'"):
            await open_bus("tcp://x")
    run(scenario())
