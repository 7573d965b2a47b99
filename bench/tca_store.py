"""TCA and event-store benchmarks: TCA over many fills (seconds), event-store ingest (events/s),
feed rows from frames and their ingest into the store's feed table (rows/s).

    python bench/tca_store.py [--fills 1000000] [--events 500000] [--feed-rows 1000000]

Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sw.bus.events import (  # noqa: E402
    ExecType,
    ExecutionReport,
    LastLiquidityInd,
    MsgType,
    OrderSent,
    OrdStatus,
    Quote,
    Side,
)
from sw.feed.generator import MarketConfig, generate  # noqa: E402
from sw.feed.net import UdpEndpoint  # noqa: E402
from sw.model.ingress import feed_frames  # noqa: E402
from sw.model.replay import Feed  # noqa: E402
from sw.store.feed import feed_rows  # noqa: E402
from sw.store.store import EventStore  # noqa: E402
from sw.tca.analysis import TcaAnalysis  # noqa: E402

T0 = 1_763_630_000_000_000_000
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META")


def session(fills: int, seed: int = 1):
    """Quotes every 100 us on a random walk, one order a fill, spread over the symbols."""
    rng = np.random.default_rng(seed)
    n_quotes = fills
    mids = 1_000_000 + np.cumsum(rng.integers(-50, 51, n_quotes)) // 2 * 2
    quotes = [Quote(Symbol=SYMBOLS[k % len(SYMBOLS)], BidPx=int(m - 100), BidSize=100,
                    OfferPx=int(m + 100), OfferSize=100, TransactTime=T0 + k * 100_000)
              for k, m in enumerate(mids)]
    orders, reports = [], []
    for k in range(fills):
        symbol, side = SYMBOLS[k % len(SYMBOLS)], (Side.BUY, Side.SELL)[k % 2]
        px = int(mids[k] + (100 if side == Side.BUY else -100))
        c, at = f"NRV{k:08d}", T0 + k * 100_000 + 10_000
        orders.append(OrderSent(MsgType=MsgType.NEW_ORDER_SINGLE, ClOrdID=c, Symbol=symbol,
                                Side=side, OrderQty=100, Price=px, IngressCycle=k,
                                EgressCycle=k + 20, TransactTime=at))
        reports.append(ExecutionReport(
            ExecID=f"E{k}", OrderID=f"O{k}", ClOrdID=c, ExecType=ExecType.TRADE,
            OrdStatus=OrdStatus.FILLED, Symbol=symbol, Side=side, OrderQty=100, Price=px,
            LastQty=100, LastPx=px, CumQty=100, LeavesQty=0, LastMkt=("FAST", "SLOW")[k % 2],
            LastLiquidityInd=LastLiquidityInd((k % 2) + 1), Commission=300,
            TransactTime=at + 50_000))
    return quotes, orders, reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--feed-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    quotes, orders, reports = session(args.fills)
    print(f"built {len(quotes):,} quotes, {len(orders):,} orders, {len(reports):,} fills in "
          f"{time.perf_counter() - started:.1f} s")
    tca = TcaAnalysis()
    started = time.perf_counter()
    for events in (quotes, orders, reports):
        for event in events:
            tca.add(event)
    gathered = time.perf_counter() - started
    started = time.perf_counter()
    result = tca.measure()
    measured = time.perf_counter() - started
    print(f"TCA over {result['fills']:,} fills: gathering the events {gathered:.1f} s "
          f"({(len(quotes) + len(orders) + len(reports)) / gathered:,.0f} events/s), every "
          f"measure and aggregate {measured:.1f} s (numpy)")
    events = (quotes + orders + reports)[:args.events]
    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore(Path(tmp) / "events.duckdb")
        started = time.perf_counter()
        store.add_many(events)
        store.flush()
        seconds = time.perf_counter() - started
        store.close()
    print(f"event store: {len(events):,} events ingested in {seconds:.1f} s = "
          f"{len(events) / seconds:,.0f} events/s (appender, batches of 10,000)")
    feed_bench(args.feed_rows)
    return 0


def feed_bench(rows: int, messages: int = 50_000) -> None:
    """The feed table: rows from a generated feed's frames (sw/store/feed.py), then those rows
    repeated to `rows` and ingested by `add_feed` into a store on disk, in batches of 100,000."""
    dst = UdpEndpoint()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.pcap"
        generate(MarketConfig(symbols=8, messages=messages, seed=1), path)
        feed = Feed.open(path)
        frames = feed_frames(feed.data, feed.kind, dst)
        started = time.perf_counter()
        cols = feed_rows(frames, dst, T0 - T0 % 86_400_000_000_000)
        seconds = time.perf_counter() - started
        n = len(cols["MsgIndex"])
        print(f"feed rows: {n:,} messages from {len(frames):,} frames in {seconds:.2f} s = "
              f"{n / seconds:,.0f} messages/s (filter, sequencer, batch decode)")
        repeat = -(-rows // n)
        big = {name: np.tile(a, repeat)[:rows] for name, a in cols.items()}
        big["MsgIndex"] = np.arange(rows, dtype=np.int64)
        store = EventStore(Path(tmp) / "events.duckdb", batch_rows=100_000)
        store.add_feed({name: a[:1] for name, a in big.items()})  # DuckDB's numpy scan, warm
        store.flush()
        started = time.perf_counter()
        for start in range(0, rows, 100_000):
            store.add_feed({name: a[start:start + 100_000] for name, a in big.items()})
        store.flush()
        seconds = time.perf_counter() - started
        store.close()
    print(f"event store feed table: {rows:,} rows ingested in {seconds:.2f} s = "
          f"{rows / seconds:,.0f} rows/s (add_feed, numpy batches of 100,000)")


if __name__ == "__main__":
    sys.exit(main())
