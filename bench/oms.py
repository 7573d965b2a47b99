"""OMS benchmark: execution reports applied per second with the journal on (fsynced batches),
and order -> execution report round trips through the bus, in process and over NATS.

    python bench/oms.py [--reports 200000] [--batch 1 64 256 1024] [--round-trips 2000]

Prints figures; asserts nothing (docs/development.md has the latest)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sw.bus import open_bus  # noqa: E402
from sw.bus.events import (  # noqa: E402
    ExecType,
    ExecutionReport,
    MsgType,
    OrderSent,
    OrdStatus,
    Side,
    Topic,
)
from sw.bus.server import NatsServer  # noqa: E402
from sw.oms.oms import Oms  # noqa: E402

T0 = 1_763_630_000_000_000_000


def stream(orders: int) -> list:
    """Per order: the D, a New, a partial fill and the fill (three reports an order)."""
    events = []
    for n in range(orders):
        c = f"NRV{n:08d}"
        side, symbol = (Side.BUY, Side.SELL)[n % 2], ("AAPL", "MSFT", "NVDA", "AMZN")[n % 4]
        events.append(OrderSent(MsgType=MsgType.NEW_ORDER_SINGLE, ClOrdID=c, Symbol=symbol,
                                Side=side, OrderQty=100, Price=1_000_000, TransactTime=T0 + n))
        for k, (kind, status, qty, cum) in enumerate(((ExecType.NEW, OrdStatus.NEW, 0, 0),
                                                     (ExecType.TRADE, OrdStatus.PARTIALLY_FILLED,
                                                      40, 40),
                                                     (ExecType.TRADE, OrdStatus.FILLED, 60,
                                                      100))):
            events.append(ExecutionReport(
                ExecID=f"E{n}-{k}", OrderID=f"O{n}", ClOrdID=c, ExecType=kind,
                OrdStatus=status, Symbol=symbol, Side=side, OrderQty=100, Price=1_000_000,
                LastQty=qty, LastPx=1_000_000 + n % 7 if qty else 0, CumQty=cum,
                LeavesQty=100 - cum, LastMkt="SIM", Commission=qty * 30,
                TransactTime=T0 + n))
    return events


def throughput(reports: int, batches: tuple[int, ...]) -> None:
    """Reports applied per second when the OMS takes what has arrived in batches of `batch`
    events, one journal write and fsync each (group commit)."""
    print("OMS, journal on, execution reports applied per second (target 50,000/s); three "
          "reports and one order an order chain:")
    for batch in batches:
        events = stream(reports // 3 if batch > 1 else 3_000)
        with tempfile.TemporaryDirectory() as tmp:
            oms = Oms(Path(tmp) / "journal.jsonl")
            started = time.perf_counter()
            for k in range(0, len(events), batch):
                oms.handle(events[k:k + batch])
            seconds = time.perf_counter() - started
            oms.close()
            size = (Path(tmp) / "journal.jsonl").stat().st_size
        n_reports = sum(1 for e in events if isinstance(e, ExecutionReport))
        print(f"  fsync per {batch:>5} events: {n_reports:>8,} reports in {seconds:6.2f} s = "
              f"{n_reports / seconds:>9,.0f} reports/s ({size / len(events):.0f} bytes/event)")


async def round_trips(url: str | None, n: int) -> np.ndarray:
    """Order published -> a venue stand-in answers with a fill -> the OMS has applied it."""
    latencies = []
    with tempfile.TemporaryDirectory() as tmp:
        oms = Oms(Path(tmp) / "journal.jsonl")
        applied = asyncio.Event()
        async with await open_bus(url) as bus:
            async def venue(event) -> None:
                await bus.publish(ExecutionReport(
                    ExecID=f"E-{event.ClOrdID}", OrderID="O", ClOrdID=event.ClOrdID,
                    ExecType=ExecType.TRADE, OrdStatus=OrdStatus.FILLED, Symbol=event.Symbol,
                    Side=event.Side, OrderQty=event.OrderQty, Price=event.Price,
                    LastQty=event.OrderQty, LastPx=event.Price, CumQty=event.OrderQty,
                    LeavesQty=0, LastMkt="SIM", TransactTime=event.TransactTime))

            async def book(event) -> None:
                oms.handle([event])
                applied.set()

            await bus.subscribe(venue, topic=Topic.ORDERS)
            await bus.subscribe(book, topic=Topic.EXECUTIONS)
            await asyncio.sleep(0.05)
            for k in range(n):
                order = OrderSent(MsgType=MsgType.NEW_ORDER_SINGLE, ClOrdID=f"RT{k:08d}",
                                  Symbol="AAPL", Side=Side.BUY, OrderQty=100, Price=1_000_000,
                                  TransactTime=T0 + k)
                oms.handle([order])
                applied.clear()
                started = time.perf_counter_ns()
                await bus.publish(order)
                await asyncio.wait_for(applied.wait(), 5)
                latencies.append(time.perf_counter_ns() - started)
        oms.close()
    return np.asarray(latencies) / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 64, 256, 1024])
    parser.add_argument("--round-trips", type=int, default=2_000)
    args = parser.parse_args()
    throughput(args.reports, tuple(args.batch))
    print("order -> execution report applied by the OMS (journal on, fsync each), round trip "
          "through the bus:")
    local = asyncio.run(round_trips(None, args.round_trips))
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp)) as server:
        nats = asyncio.run(round_trips(server.url, args.round_trips))
    for name, us in (("in-process", local), ("NATS", nats)):
        print(f"  {name:>10}: p50 {np.percentile(us, 50):7.1f} us, p99 "
              f"{np.percentile(us, 99):7.1f} us over {us.size:,} orders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
