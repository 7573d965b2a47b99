"""The event store (sw/store/store.py): every bus event type lands in its table, in batches,
queries answer in FIX names and feed units, and the Parquet export is partitioned by date and
symbol."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest

from sw.bus import open_bus
from sw.bus.events import (
    EVENT_TYPES,
    CxlRejResponseTo,
    ExecType,
    ExecutionReport,
    MsgType,
    OrderCancelReject,
    OrderSent,
    OrdStatus,
    Side,
)
from sw.store.store import EventStore, columns, table_name
from tests.sw.bus.samples import SAMPLES, T0


def test_every_event_type_has_a_table_with_its_fields():
    store = EventStore()
    for event_type in EVENT_TYPES.values():
        described = store.con.execute(f"DESCRIBE {table_name(event_type)}").fetchall()
        assert [row[0] for row in described] == [c for c, _ in columns(event_type)]
        assert "type" not in [row[0] for row in described]
    assert table_name(ExecutionReport) == "execution_report"


def test_samples_round_trip_with_fix_values_and_integer_units():
    store = EventStore()
    store.add_many(SAMPLES)
    assert store.flush() == len(SAMPLES)
    report = next(e for e in SAMPLES if isinstance(e, ExecutionReport))
    row = store.query("SELECT ExecID, ExecType, OrdStatus, Side, LastQty, LastPx, Commission, "
                      "LastLiquidityInd, TransactTime, date FROM execution_report")
    day = dt.datetime.fromtimestamp((T0 + 6) // 10**9, dt.UTC).date()
    assert row == [(report.ExecID, "F", "1", "1", 40, 1_899_800, -800, 1, T0 + 6, day)]


def fill(n: int, symbol: str, venue: str, qty: int, px: int) -> ExecutionReport:
    return ExecutionReport(ExecID=f"X{n}", OrderID=f"O{n}", ClOrdID=f"NRV{n:08d}",
                           ExecType=ExecType.TRADE, OrdStatus=OrdStatus.FILLED, Symbol=symbol,
                           Side=Side.BUY, OrderQty=qty, Price=px, LastQty=qty, LastPx=px,
                           CumQty=qty, LeavesQty=0, LastMkt=venue, TransactTime=T0 + n)


def test_writes_are_batched_and_fills_per_venue_aggregate():
    store = EventStore(batch_rows=100)
    for n in range(250):
        store.add(fill(n, "AAPL" if n % 2 else "MSFT", f"V{n % 3}", 10 + n % 5, 1_000_000))
    assert store.stored["execution_report"] == 200              # two full batches so far
    rows = store.query("SELECT LastMkt, count(*), sum(LastQty) FROM execution_report "
                       "GROUP BY LastMkt ORDER BY LastMkt")
    assert store.stored["execution_report"] == 250
    expected = {}
    for n in range(250):
        count, qty = expected.get(f"V{n % 3}", (0, 0))
        expected[f"V{n % 3}"] = (count + 1, qty + 10 + n % 5)
    assert rows == [(v, c, q) for v, (c, q) in sorted(expected.items())]


def test_parquet_export_is_partitioned_by_date_and_symbol(tmp_path):
    store = EventStore(tmp_path / "events.duckdb")
    for n in range(6):
        store.add(fill(n, ("AAPL", "MSFT", "BRK.A")[n % 3], "V1", 10, 1_000_000))
    written = store.export_parquet(tmp_path / "pq")
    assert written == {"execution_report": 6}
    parts = sorted(p.relative_to(tmp_path / "pq").parent.as_posix()
                   for p in (tmp_path / "pq").rglob("*.parquet"))
    day = store.query("SELECT DISTINCT date FROM execution_report")[0][0].isoformat()
    assert parts == [f"execution_report/date={day}/Symbol={s}" for s in ("AAPL", "BRK.A",
                                                                          "MSFT")]
    back = duckdb.connect().execute(
        f"SELECT Symbol, count(*) FROM read_parquet('{tmp_path}/pq/execution_report/**/*.parquet',"
        " hive_partitioning = true) GROUP BY Symbol ORDER BY Symbol").fetchall()
    assert back == [("AAPL", 2), ("BRK.A", 2), ("MSFT", 2)]
    store.close()
    reader = duckdb.connect(str(tmp_path / "events.duckdb"), read_only=True)
    assert reader.execute("SELECT count(*) FROM execution_report").fetchone() == (6,)


def test_following_the_bus_stores_what_is_published():
    async def run() -> EventStore:
        store = EventStore(flush_seconds=0.01)
        async with await open_bus() as bus:
            task = asyncio.create_task(store.follow(bus))
            await asyncio.sleep(0.01)
            for event in SAMPLES:
                await bus.publish(event)
            for _ in range(100):
                if sum(store.stored.values()) == len(SAMPLES):
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return store

    store = asyncio.run(run())
    assert sum(store.stored.values()) == len(SAMPLES)
    assert all(store.stored[table_name(type(e))] >= 1 for e in SAMPLES)


DOC = Path(__file__).resolve().parents[3] / "docs" / "store.md"


def test_the_documented_schema_is_the_schema():
    text = DOC.read_text()
    for event_type in EVENT_TYPES.values():
        cols = ", ".join(f"`{c}` {k}" for c, k in columns(event_type))
        assert f"| `{table_name(event_type)}` | {event_type.topic} | {cols} |" in text


def test_the_documented_queries_answer_on_a_small_session():
    """The worked SQL of docs/store.md, run as written, on one order's chain: a D, a G that
    replaces it, a partial fill, and a cancel refused too late."""
    store = EventStore()
    store.add_many([
        OrderSent(MsgType=MsgType.NEW_ORDER_SINGLE, ClOrdID="NRV00000017", Symbol="AAPL",
                  Side=Side.BUY, OrderQty=100, Price=1_000_000, IngressCycle=1_000,
                  EgressCycle=1_020, TransactTime=T0),
        OrderSent(MsgType=MsgType.ORDER_CANCEL_REPLACE_REQUEST, ClOrdID="NRV00000018",
                  OrigClOrdID="NRV00000017", Symbol="AAPL", Side=Side.BUY, OrderQty=100,
                  Price=1_000_100, IngressCycle=2_000, EgressCycle=2_025, TransactTime=T0 + 2),
        fill(3, "AAPL", "V1", 40, 1_000_100).model_copy(update={"ClOrdID": "NRV00000018"}),
        fill(4, "MSFT", "V2", 10, 2_000_000),
        OrderCancelReject(OrderID="O1", ClOrdID="NRV00000019", OrigClOrdID="NRV00000018",
                          OrdStatus=OrdStatus.FILLED,
                          CxlRejResponseTo=CxlRejResponseTo.ORDER_CANCEL_REQUEST,
                          TransactTime=T0 + 9),
    ])
    store.add(OrderSent(MsgType=MsgType.ORDER_CANCEL_REQUEST, ClOrdID="NRV00000019",
                        OrigClOrdID="NRV00000018", Symbol="AAPL", Side=Side.BUY, OrderQty=100,
                        TransactTime=T0 + 5))
    queries = re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)
    tick_to_trade, chain, per_venue = (store.query(q) for q in queries[:3])
    assert [(r[0], r[2], r[3]) for r in tick_to_trade] == [
        ("NRV00000018", 25, 160.0), ("NRV00000017", 20, 128.0)]
    assert [(r[1], r[2], r[3]) for r in chain] == [
        ("out", "D", "NRV00000017"), ("out", "G", "NRV00000018"), ("in", "8/F", "NRV00000018"),
        ("out", "F", "NRV00000019"), ("in", "9", "NRV00000019")]
    assert per_venue == [("V1", 1, 40, 100.01, 0.0), ("V2", 1, 10, 200.0, 0.0)]
