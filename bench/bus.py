"""Message-bus benchmark: publish -> handler latency and messages per second, per transport.

Transports: local (in-process, the default bus) and nats (a nats-server started here on loopback,
one client connection publishing and subscribing, as two services on one host would).

- latency: one Quote at a time, published and awaited at a subscriber's handler before the next
  (unloaded one-way latency, perf_counter clock), p50 / p99 in microseconds;
- throughput: Quotes published back to back until the subscriber has handled them all, messages
  per second (the subscriber's queue is sized so none is dropped; drops are printed anyway);
- drop copy: one ExecutionReport at a time from publish to a durable drop-copy handler (on NATS:
  JetStream's acknowledged publish, file store, explicit ack).

Usage: python bench/bus.py [--latency N] [--throughput N] [--drop-copy N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sw.bus import Bus, Topic, open_bus  # noqa: E402
from sw.bus.events import ExecType, ExecutionReport, OrdStatus, Quote, Side  # noqa: E402
from sw.bus.server import NatsServer  # noqa: E402


def quote(n: int) -> Quote:
    return Quote(Symbol="AAPL", BidPx=1_899_900, BidSize=100, OfferPx=1_900_100, OfferSize=200,
                 TransactTime=n)


def fill(n: int) -> ExecutionReport:
    return ExecutionReport(ExecID=f"B-{n}", OrderID=f"V-{n}", ClOrdID="NRV%08d" % n,
                           ExecType=ExecType.TRADE, OrdStatus=OrdStatus.FILLED, Symbol="AAPL",
                           Side=Side.BUY, OrderQty=100, Price=1_899_900, LastQty=100,
                           LastPx=1_899_900, CumQty=100, LeavesQty=0, TransactTime=n)


async def one_at_a_time(bus: Bus, count: int, *, drop_copy: bool) -> list[float]:
    """Microseconds from publish to handler, one event in flight at a time."""
    arrived = asyncio.Event()
    received_at: list[int] = []

    async def handler(event: object) -> None:
        received_at.append(time.perf_counter_ns())
        arrived.set()

    if drop_copy:
        await bus.drop_copy("bench", handler)
    else:
        await bus.subscribe(handler, topic=Topic.MARKET, symbol="AAPL")
    latencies = []
    for n in range(count):
        event = fill(n) if drop_copy else quote(n)
        arrived.clear()
        sent = time.perf_counter_ns()
        await bus.publish(event)
        await arrived.wait()
        latencies.append((received_at[-1] - sent) / 1000)
    return latencies


async def back_to_back(bus: Bus, count: int) -> tuple[float, int]:
    """Messages per second through one subscription, and how many it dropped."""
    done = asyncio.Event()
    handled = 0

    async def handler(event: object) -> None:
        nonlocal handled
        handled += 1
        if handled == count:
            done.set()

    sub = await bus.subscribe(handler, topic=Topic.MARKET, queue_size=count + 1)
    events = [quote(n) for n in range(count)]
    started = time.perf_counter()
    for event in events:
        await bus.publish(event)
    await asyncio.wait_for(done.wait(), 60)
    return count / (time.perf_counter() - started), sub.stats.dropped


async def measure(url: str | None, args: argparse.Namespace) -> dict:
    async with await open_bus(url) as bus:
        latencies = await one_at_a_time(bus, args.latency, drop_copy=False)
    async with await open_bus(url) as bus:
        rate, dropped = await back_to_back(bus, args.throughput)
    async with await open_bus(url) as bus:
        drop_copy = await one_at_a_time(bus, args.drop_copy, drop_copy=True)
    return {"latency": latencies, "rate": rate, "dropped": dropped, "drop_copy": drop_copy}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=int, default=5_000, help="events timed one by one")
    parser.add_argument("--throughput", type=int, default=50_000, help="events back to back")
    parser.add_argument("--drop-copy", type=int, default=1_000, help="executions timed")
    args = parser.parse_args()

    results = {"local": asyncio.run(measure(None, args))}
    with NatsServer() as server:
        results["nats"] = asyncio.run(measure(server.url, args))

    print(f"\nmessage bus: publish -> handler, one process ({args.latency:,} events timed one "
          f"at a time, {args.throughput:,} back to back, {args.drop_copy:,} drop-copy reports)")
    print(f"  {'transport':<10} {'p50 us':>8} {'p99 us':>8} {'msgs/s':>10} {'dropped':>8} "
          f"{'drop copy p50 us':>17} {'p99 us':>8}")
    for name, r in results.items():
        p50, p99 = np.percentile(r["latency"], [50, 99])
        d50, d99 = np.percentile(r["drop_copy"], [50, 99])
        print(f"  {name:<10} {p50:>8.1f} {p99:>8.1f} {r['rate']:>10,.0f} {r['dropped']:>8} "
              f"{d50:>17.1f} {d99:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
