"""The bus contract (sw.bus.transport), run over both transports: in-process and NATS."""

from __future__ import annotations

import asyncio

import pytest

from sw.bus import BusError, Event, Topic
from sw.bus.events import EVENT_TYPES, ExecutionReport, Quote
from sw.bus.wire import encode

from .conftest import run, settle
from .samples import SAMPLES, fill, quote


class Inbox:
    """A handler that keeps what it gets."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


def test_subscribe_by_topic(connect):
    """A topic's subscribers get that topic's events and no other."""
    async def scenario():
        async with await connect() as bus:
            market, executions = Inbox(), Inbox()
            await bus.subscribe(market, topic=Topic.MARKET)
            await bus.subscribe(executions, topic=Topic.EXECUTIONS)
            await bus.publish(quote(1))
            await bus.publish(fill(1))
            await bus.publish(quote(2))
            await settle(lambda: len(market.events) == 2 and len(executions.events) == 1)
        assert market.events == [quote(1), quote(2)]
        assert executions.events == [fill(1)]
    run(scenario())


def test_per_symbol_and_wildcard(connect):
    """A symbol's subscription gets that symbol only; the topic's wildcard gets all symbols. A
    symbol with a '.' is escaped in its subject, so it neither leaks into nor swallows another."""
    async def scenario():
        async with await connect() as bus:
            aapl, brk, brk_a, every = Inbox(), Inbox(), Inbox(), Inbox()
            await bus.subscribe(aapl, topic=Topic.MARKET, symbol="AAPL")
            await bus.subscribe(brk, topic=Topic.MARKET, symbol="BRK")
            await bus.subscribe(brk_a, topic=Topic.MARKET, symbol="BRK.A")
            await bus.subscribe(every, topic=Topic.MARKET)
            sent = [quote(1, "AAPL"), quote(2, "MSFT"), quote(3, "BRK.A"), quote(4, "AAPL"),
                    quote(5, "BRK")]
            for event in sent:
                await bus.publish(event)
            await settle(lambda: len(every.events) == len(sent))
            await asyncio.sleep(0.05)  # let any stray delivery arrive
        assert every.events == sent
        assert aapl.events == [sent[0], sent[3]]
        assert brk_a.events == [sent[2]]
        assert brk.events == [sent[4]]
    run(scenario())


def test_every_event_type_round_trips(connect):
    """One event of each type, every field set, arrives equal (and of its type) at a
    subscription to every topic."""
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES.values())

    async def scenario():
        async with await connect() as bus:
            inbox = Inbox()
            await bus.subscribe(inbox)
            for event in SAMPLES:
                await bus.publish(event)
            await settle(lambda: len(inbox.events) == len(SAMPLES))
        assert inbox.events == SAMPLES
        assert [type(e) for e in inbox.events] == [type(e) for e in SAMPLES]
    run(scenario())


def test_order_is_kept(connect):
    """A subscriber sees one publisher's events in publication order."""
    async def scenario():
        async with await connect() as bus:
            inbox = Inbox()
            await bus.subscribe(inbox, topic=Topic.MARKET)
            for n in range(1000):
                await bus.publish(quote(n, "AAPL" if n % 3 else "MSFT"))
            await settle(lambda: len(inbox.events) == 1000)
        assert [e.TransactTime for e in inbox.events] == [quote(n).TransactTime
                                                          for n in range(1000)]
    run(scenario())


def test_malformed_messages_are_counted_and_dropped(connect):
    """Garbage, another wire version, an unknown type, a bad enumeration value and an event on
    another's subject are each counted as malformed; the subscriber goes on and gets the next
    good event."""
    good = encode(quote(1))
    bad = [
        b"\x00\x01 not json",
        good.replace(b'"v":1', b'"v":2'),
        good.replace(b'"type":"Quote"', b'"type":"Gossip"'),
        encode(fill(1)).replace(b'"Side":"2"', b'"Side":"S"'),
        good.replace(b'"BidSize":100', b'"BidSize":100.5'),
        good,  # on MSFT's subject below
    ]

    async def scenario():
        async with await connect() as bus:
            inbox = Inbox()
            sub = await bus.subscribe(inbox)
            for payload in bad[:-1]:
                await bus.publish_raw("nerve.market.AAPL", payload)
            await bus.publish_raw("nerve.market.MSFT", bad[-1])
            await bus.publish_raw("nerve.market.AAPL", good)
            await bus.publish(quote(2))
            await settle(lambda: len(inbox.events) == 2)
        assert inbox.events == [quote(1), quote(2)]
        assert sub.stats.malformed == len(bad)
        assert sub.stats.delivered == 2
    run(scenario())


def test_handler_error_is_counted_and_delivery_goes_on(connect):
    async def scenario():
        async with await connect() as bus:
            seen = []

            async def flaky(event):
                seen.append(event)
                if len(seen) == 1:
                    raise RuntimeError("handler bug")

            sub = await bus.subscribe(flaky, topic=Topic.MARKET)
            await bus.publish(quote(1))
            await bus.publish(quote(2))
            await settle(lambda: len(seen) == 2)
        assert sub.stats.handler_errors == 1
        assert sub.stats.delivered == 1
    run(scenario())


def test_unsubscribe_stops_delivery(connect):
    async def scenario():
        async with await connect() as bus:
            gone, stays = Inbox(), Inbox()
            sub = await bus.subscribe(gone, topic=Topic.MARKET)
            await bus.subscribe(stays, topic=Topic.MARKET)
            await bus.publish(quote(1))
            await settle(lambda: len(gone.events) == 1 and len(stays.events) == 1)
            await sub.unsubscribe()
            assert sub.closed
            await bus.publish(quote(2))
            await settle(lambda: len(stays.events) == 2)
            await asyncio.sleep(0.05)
        assert gone.events == [quote(1)]
    run(scenario())


def test_drain_delivers_what_is_queued_then_stops(connect):
    async def scenario():
        async with await connect() as bus:
            inbox = Inbox()

            async def slow(event):
                await asyncio.sleep(0.001)
                await inbox(event)

            sub = await bus.subscribe(slow, topic=Topic.MARKET)
            for n in range(20):
                await bus.publish(quote(n))
            await sub.drain()
            assert inbox.events == [quote(n) for n in range(20)]
            assert sub.closed
            await bus.publish(quote(20))
            await asyncio.sleep(0.05)
        assert len(inbox.events) == 20
    run(scenario())


def test_close_delivers_what_is_queued(connect):
    """close() drains: every event already published reaches a slow handler before it returns."""
    async def scenario():
        bus = await connect()
        inbox = Inbox()

        async def slow(event):
            await asyncio.sleep(0.001)
            await inbox(event)

        await bus.subscribe(slow, topic=Topic.MARKET)
        for n in range(50):
            await bus.publish(quote(n))
        await bus.close()
        assert len(inbox.events) == 50
        with pytest.raises(BusError, match="closed"):
            await bus.publish(quote(51))
    run(scenario())


def test_full_queue_drops_the_newest(connect):
    """Overflow policy: a subscriber whose queue is full loses the new events (counted); the
    publisher is not held up and the subscriber keeps the oldest ones."""
    async def scenario():
        async with await connect() as bus:
            gate = asyncio.Event()
            inbox, started = Inbox(), []

            async def blocked(event):
                started.append(event)
                await gate.wait()
                await inbox(event)

            sub = await bus.subscribe(blocked, topic=Topic.MARKET, queue_size=3)
            await bus.publish(quote(0))
            await settle(lambda: len(started) == 1)
            for n in range(1, 10):
                await bus.publish(quote(n))
            # One event is in the handler, three wait in the queue, six are dropped.
            await settle(lambda: sub.stats.dropped == 6)
            gate.set()
            await settle(lambda: len(inbox.events) == 4)
        assert inbox.events == [quote(n) for n in range(4)]
        assert sub.stats.dropped == 6
    run(scenario())


def test_subscribe_rejects_a_bad_queue_size(connect):
    async def scenario():
        async with await connect() as bus:
            with pytest.raises(ValueError, match="queue_size must be a positive integer, not 0"):
                await bus.subscribe(Inbox(), queue_size=0)
    run(scenario())


# --- The execution drop copy ----------------------------------------------------------------------

def test_drop_copy_resumes_where_the_durable_left_off(fresh_connect):
    """A drop-copy subscriber stops; executions are published meanwhile; it comes back under the
    same durable name and gets every one of them exactly once, in order."""
    async def scenario():
        async with await fresh_connect() as bus:
            first = Inbox()
            oms = await bus.drop_copy("oms", first)
            for n in range(1, 4):
                await bus.publish(fill(n))
            await settle(lambda: len(first.events) == 3)
            await oms.drain()

            for n in range(4, 9):
                await bus.publish(fill(n))  # nobody listening under "oms"

            again = Inbox()
            await bus.drop_copy("oms", again)
            await bus.publish(fill(9))
            await settle(lambda: len(again.events) == 6)
            await asyncio.sleep(0.1)  # a duplicate would arrive now
        assert first.events == [fill(n) for n in range(1, 4)]
        assert again.events == [fill(n) for n in range(4, 10)]
    run(scenario())


def test_drop_copy_new_durable_gets_the_history(fresh_connect):
    async def scenario():
        async with await fresh_connect() as bus:
            for n in range(1, 4):
                await bus.publish(fill(n))
            late = Inbox()
            await bus.drop_copy("tca", late)
            await settle(lambda: len(late.events) == 3)
        assert late.events == [fill(1), fill(2), fill(3)]
    run(scenario())


def test_drop_copy_redelivers_after_a_handler_error_in_order(fresh_connect):
    async def scenario():
        async with await fresh_connect() as bus:
            seen: list[str] = []

            async def fails_twice_on_x2(report: ExecutionReport) -> None:
                seen.append(report.ExecID)
                if report.ExecID == "X-2" and seen.count("X-2") <= 2:
                    raise RuntimeError("journal busy")

            sub = await bus.drop_copy("oms", fails_twice_on_x2)
            for n in range(1, 4):
                await bus.publish(fill(n))
            await settle(lambda: "X-3" in seen)
        assert seen == ["X-1", "X-2", "X-2", "X-2", "X-3"]
        assert sub.stats.handler_errors == 2
        assert sub.stats.delivered == 3
    run(scenario())


def test_drop_copy_keeps_one_copy_per_exec_id(fresh_connect):
    async def scenario():
        async with await fresh_connect() as bus:
            inbox = Inbox()
            await bus.drop_copy("oms", inbox)
            await bus.publish(fill(1))
            await bus.publish(fill(1))  # the session manager re-sent it
            await bus.publish(fill(2))
            await settle(lambda: len(inbox.events) >= 2)
            await asyncio.sleep(0.1)
        assert inbox.events == [fill(1), fill(2)]
    run(scenario())


def test_drop_copy_skips_a_malformed_report(fresh_connect):
    async def scenario():
        async with await fresh_connect() as bus:
            inbox = Inbox()
            sub = await bus.drop_copy("oms", inbox)
            await bus.publish_raw("nerve.executions.AAPL", b'{"v":1,"e":{"type":"Fill"}}')
            await bus.publish(fill(1))
            await settle(lambda: len(inbox.events) == 1)
        assert inbox.events == [fill(1)]
        assert sub.stats.malformed == 1
    run(scenario())


def test_drop_copy_durable_has_one_subscriber(fresh_connect):
    async def scenario():
        async with await fresh_connect() as bus:
            await bus.drop_copy("oms", Inbox())
            with pytest.raises(BusError, match="oms"):
                await bus.drop_copy("oms", Inbox())
            with pytest.raises(ValueError, match="durable name"):
                await bus.drop_copy("o.m.s", Inbox())
    run(scenario())


def test_quote_is_not_in_the_drop_copy(fresh_connect):
    async def scenario():
        async with await fresh_connect() as bus:
            inbox = Inbox()
            await bus.publish(quote(1))
            await bus.publish(fill(1))
            await bus.drop_copy("oms", inbox)
            await settle(lambda: len(inbox.events) == 1)
            await asyncio.sleep(0.05)
        assert inbox.events == [fill(1)]
        assert not any(isinstance(e, Quote) for e in inbox.events)
    run(scenario())
