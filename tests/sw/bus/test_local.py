"""What only the in-process transport (sw.bus.local) does; the shared contract is in
test_transport.py."""

from __future__ import annotations

import asyncio

import pytest

from sw.bus import open_bus
from sw.bus.local import InProcessBus

from .conftest import run, settle
from .samples import fill, quote
from .test_transport import Inbox


def test_default_bus_is_in_process():
    async def scenario():
        async with await open_bus() as bus:
            assert isinstance(bus, InProcessBus)
    run(scenario())


def test_events_are_passed_as_the_same_objects():
    """No encoding in process: the subscriber gets the publisher's (immutable) event."""
    async def scenario():
        async with InProcessBus() as bus:
            inbox = Inbox()
            await bus.subscribe(inbox)
            event = quote(1)
            await bus.publish(event)
            await settle(lambda: inbox.events)
            assert inbox.events[0] is event
    run(scenario())


@pytest.mark.parametrize("subject", ["nerve.market.*", "nerve.>", "other.market.AAPL",
                                     "nerve..AAPL"])
def test_publish_raw_needs_a_full_nerve_subject(subject):
    async def scenario():
        async with InProcessBus() as bus:
            with pytest.raises(ValueError, match="not a subject to publish on"):
                await bus.publish_raw(subject, b"{}")
    run(scenario())


def test_drop_copy_redelivers_what_an_unsubscribed_handler_did_not_finish():
    """At least once: a subscriber stopped in the middle of a report gets it again."""
    async def scenario():
        async with InProcessBus() as bus:
            started = asyncio.Event()

            async def stuck(report):
                started.set()
                await asyncio.Event().wait()

            sub = await bus.drop_copy("oms", stuck)
            await bus.publish(fill(1))
            await started.wait()
            await sub.unsubscribe()
            inbox = Inbox()
            await bus.drop_copy("oms", inbox)
            await settle(lambda: inbox.events)
            assert inbox.events == [fill(1)]
    run(scenario())


def test_drop_copy_lives_as_long_as_the_bus():
    """The in-process drop copy is memory: a new bus (a restarted process) starts empty. The NATS
    transport's is on disk (test_broker.py)."""
    async def scenario():
        async with InProcessBus() as bus:
            await bus.publish(fill(1))
        async with InProcessBus() as bus:
            inbox = Inbox()
            await bus.drop_copy("oms", inbox)
            await asyncio.sleep(0.02)
            assert inbox.events == []
    run(scenario())
