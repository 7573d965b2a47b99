"""The event store's feed and decision tables (sw/store/store.py, sw/store/feed.py): the feed's
messages land in batches with the fast path's message index, every card decision joins to the
message that caused it, the documented SQL answers, the Parquet export is partitioned, and bad
input is refused whole."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pytest

from spec.codes import OrderCause
from sw.bus.events import GATE_REJECT_REASON, MsgType, OrderRejected, OrderSent, Side
from sw.feed.generator import DEFAULT_DATE, MarketConfig, PcapOptions, generate
from sw.feed.net import UdpEndpoint
from sw.model.clock import cycles_to_ns
from sw.model.config import load_limits, load_strategy
from sw.model.fastpath import FastPath, OrderRow
from sw.model.ingress import feed_frames
from sw.model.replay import Feed
from sw.model.risk import Reason
from sw.store.feed import feed_rows
from sw.store.store import (
    DECISION_CAUSES,
    FEED_COLUMNS,
    TABLES,
    EventStore,
    FeedInputError,
)

DST = UdpEndpoint()
MIDNIGHT = int(dt.datetime(DEFAULT_DATE.year, DEFAULT_DATE.month, DEFAULT_DATE.day,
                           tzinfo=dt.UTC).timestamp()) * 10**9
DOC = Path(__file__).resolve().parents[3] / "docs" / "store.md"


@dataclass
class Session:
    """A generated feed with gaps, duplicates and malformed messages, traded by the golden fast
    path, and the feed rows of the same frames."""

    fast: FastPath
    cols: dict[str, np.ndarray]
    decisions: list[tuple]         # (bus event, msg_index, cause, failed) per card decision


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Session:
    path = tmp_path_factory.mktemp("feed") / "feed.pcap"
    generate(MarketConfig(symbols=4, messages=20_000, seed=3), path,
             pcap=PcapOptions(gaps=2, duplicates=2, malformed=2))
    feed = Feed.open(path)
    frames = feed_frames(feed.data, feed.kind, DST)      # as the appliance makes them
    fast = FastPath(load_limits({}), load_strategy({}))
    for cycle, frame in frames:
        fast.frame(frame, cycle)
    return Session(fast, feed_rows(frames, DST, MIDNIGHT), list(_decisions(fast)))


def _decisions(fast: FastPath):
    """The fast path's decisions as the appliance hands them over: the bus event it publishes,
    plus the card event's index, cause and failing checks. EgressCycle: a made-up latency."""
    for k, row in enumerate(fast.out.decisions):
        side = Side.BUY if row.side == "B" else Side.SELL
        now = MIDNIGHT + cycles_to_ns(row.ingress_cycle)
        if isinstance(row, OrderRow):
            yield (OrderSent(MsgType=MsgType(row.msg_type), ClOrdID=row.clordid,
                             OrigClOrdID=row.orig_clordid or None, Symbol=row.symbol, Side=side,
                             OrderQty=row.qty, Price=row.price if row.msg_type != "F" else None,
                             MsgSeqNum=row.seq, IngressCycle=row.ingress_cycle,
                             EgressCycle=row.ingress_cycle + 20 + k % 7, TransactTime=now),
                   row.msg_index, row.cause, ())
        else:
            reason = Reason(row.reason)
            yield (OrderRejected(MsgType=MsgType(row.msg_type), Symbol=row.symbol, Side=side,
                                 OrderQty=row.qty, Price=row.price,
                                 OrdRejReason=GATE_REJECT_REASON[reason], GateReason=reason,
                                 IngressCycle=row.ingress_cycle, TransactTime=now),
                   row.msg_index, getattr(row, "cause", "strategy"), row.failed.split("|"))


def stored(session: Session, path: str | Path = ":memory:") -> EventStore:
    store = EventStore(path)
    store.add_feed(session.cols)
    for event, index, cause, failed in session.decisions:
        store.add_decision(event, msg_index=index, cause=cause, failed=failed)
    store.flush()
    return store


def count(store: EventStore, table: str) -> int:
    # Straight from DuckDB: `store.query` would flush first.
    return store.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def slice_of(cols: dict[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    return {name: a[start:stop] for name, a in cols.items()}


# --- the rows ---------------------------------------------------------------------------------

def test_feed_rows_are_the_messages_the_fast_path_counted(session):
    cols, fast = session.cols, session.fast
    assert len(cols["MsgIndex"]) == fast.msg_index
    assert int(cols["Malformed"].sum()) == fast.malformed > 0
    gaps = np.diff(cols["MoldSeq"]) - 1
    assert int(gaps.sum()) == fast.sequencer.counts["missing_messages"] > 0
    assert (gaps >= 0).all() and (np.diff(cols["IngressCycle"]) >= 0).all()
    # Every BBO change names its message, locate and symbol: the rows line up with the model.
    for row in fast.out.bbo:
        assert cols["Locate"][row.msg_index] == row.locate
        if row.symbol:
            assert cols["Symbol"][row.msg_index] == row.symbol


def test_feed_rows_land_after_flush_in_one_batch(session):
    cols = session.cols
    n = len(cols["MsgIndex"])
    store = EventStore(batch_rows=10**7)
    assert store.add_feed(cols) == n
    assert count(store, "feed") == 0 and store.stored["feed"] == 0   # buffered, not written
    assert store.flush() == n
    assert count(store, "feed") == n == store.stored["feed"]
    by_type = dict(store.query(
        "SELECT ItchType, count(*) FILTER (Price IS NULL) FROM feed GROUP BY ItchType"))
    types, malformed = cols["ItchType"], cols["Malformed"]
    assert by_type["D"] == sum(types == ord("D"))                # D carries no price
    for t in "AU":                                               # these do, unless malformed
        assert by_type[t] == sum((types == ord(t)) & malformed)
    first_add = int(np.flatnonzero(cols["ItchType"] == ord("A"))[0])
    assert store.query("SELECT MsgIndex, MoldSeq, ItchType, Symbol, OrderRef, Side, Shares, "
                       "Price, IngressCycle, IngressTime, date FROM feed WHERE MsgIndex = ?",
                       [first_add]) == [(
        first_add, int(cols["MoldSeq"][first_add]), "A", cols["Symbol"][first_add],
        int(cols["OrderRef"][first_add]), cols["Side"][first_add],
        int(cols["Shares"][first_add]), int(cols["Price"][first_add]),
        int(cols["IngressCycle"][first_add]), int(cols["IngressTime"][first_add]),
        DEFAULT_DATE)]


def test_small_batches_wait_until_batch_rows_then_go_in_one_statement(session):
    store = EventStore(batch_rows=10_000)
    for start in range(0, 9_000, 3_000):
        store.add_feed(slice_of(session.cols, start, start + 3_000))
    assert count(store, "feed") == 0
    store.add_feed(slice_of(session.cols, 9_000, 11_000))       # 11,000 waiting: written
    assert count(store, "feed") == 11_000
    assert store.query("SELECT min(MsgIndex), max(MsgIndex), count(DISTINCT MsgIndex) "
                       "FROM feed") == [(0, 10_999, 11_000)]


def test_a_feed_given_as_plain_columns_with_optional_ones_left_out():
    store = EventStore()
    store.add_feed({"MsgIndex": [0, 1], "ItchType": ["A", "D"], "Locate": [1, 1],
                    "OrderRef": [7, 7], "Side": ["2", None], "Shares": [100, 0],
                    "Price": [1_000_000, 0], "IngressCycle": [10, 20],
                    "IngressTime": [MIDNIGHT + 64, MIDNIGHT + 128]})
    assert store.query("SELECT * FROM feed ORDER BY MsgIndex") == [
        (0, None, "A", 1, None, 7, None, "2", 100, 1_000_000, None, 10, MIDNIGHT + 64, False,
         DEFAULT_DATE),
        (1, None, "D", 1, None, 7, None, None, None, None, None, 20, MIDNIGHT + 128, False,
         DEFAULT_DATE)]


# --- decisions and the join -------------------------------------------------------------------

def documented_queries() -> list[str]:
    section = DOC.read_text().split("### The feed and the decisions")[1]
    return re.findall(r"```sql\n(.*?)```", section.split("Reading the Parquet")[0], re.S)


def test_every_order_joins_to_the_feed_message_that_caused_it(session):
    store = stored(session)
    cols = session.cols
    caused = [(e, i) for e, i, cause, _ in session.decisions
              if isinstance(e, OrderSent) and cause in ("strategy", "rejected_replace")]
    rows = store.query(documented_queries()[0])
    assert len(rows) == len(caused) > 20
    expected = sorted(((e.ClOrdID, e.MsgType.value, e.Symbol, chr(cols["ItchType"][i]), i,
                        int(cols["IngressTime"][i]), e.EgressCycle - e.IngressCycle,
                        (e.EgressCycle - e.IngressCycle) * 32 / 5) for e, i in caused),
                      key=lambda r: (-r[6], r[0]))
    assert [(*r[:7], float(r[7])) for r in rows] == expected     # ns: a DECIMAL
    # The triggering message's stamp is the decision's, and its symbol the order's.
    assert store.query(
        "SELECT count(*) FROM decision d JOIN feed f USING (MsgIndex) WHERE d.Cause = 'strategy'"
        " AND (f.IngressCycle <> d.IngressCycle OR f.Symbol <> d.Symbol)") == [(0,)]
    assert {r[3] for r in rows} <= set("AFECXDUH")         # messages that change a book
    # Gate rejects keep their cause and every failing check.
    assert store.query("SELECT count(*), count(DISTINCT MsgIndex) > 1 FROM decision "
                       "WHERE Rejected AND FailedChecks LIKE GateReason || '%'") == [
        (len(session.fast.out.rejects), True)]


def test_the_market_messages_in_the_millisecond_before_an_order(session):
    store = stored(session)
    cols = session.cols
    order = next(e for e, _, _, _ in session.decisions
                 if isinstance(e, OrderSent) and e.ClOrdID == "NRV00000017")
    trigger = next(i for e, i, _, _ in session.decisions if e is order)
    times = cols["IngressTime"]
    before = np.flatnonzero((cols["MsgIndex"] <= trigger)
                            & (times >= times[trigger] - 1_000_000))
    rows = store.query(documented_queries()[1])
    assert [r[0] for r in rows] == before.tolist() and len(rows) > 5
    assert rows[-1][0] == trigger and rows[-1][6] == 0
    assert all(0 <= r[6] <= 1_000_000 for r in rows)


def test_why_the_feed_went_stale(session):
    store = stored(session)
    fast = session.fast
    cancels = sum(1 for _, _, cause, _ in session.decisions if cause == "feed_stale")
    ((index, n, last_type, malformed, missing),) = store.query(documented_queries()[2])
    assert n == cancels > 0
    if "malformed_message" in fast.stale_events:
        assert malformed and missing == 0
    else:
        assert not malformed and missing > 0
    assert 0 < index <= fast.msg_index and last_type.isalpha()


def test_decisions_refuse_an_unknown_cause_and_keep_nothing_of_it(session):
    store = EventStore()
    event, index, _, _ = session.decisions[0]
    with pytest.raises(ValueError, match="decision cause"):
        store.add_decision(event, msg_index=index, cause="mystery")
    with pytest.raises(ValueError, match="msg_index"):
        store.add_decision(event, msg_index=-1, cause="strategy")
    store.add_decision(event, msg_index=None, cause="host")
    assert store.flush() == 1
    assert store.query("SELECT MsgIndex, Cause FROM decision") == [(None, "host")]


def test_the_decision_causes_are_the_cards():
    assert {c.name.lower() for c in OrderCause} <= set(DECISION_CAUSES)


# --- export, documentation, bad input ---------------------------------------------------------

def test_parquet_export_partitions_the_feed_by_date_and_symbol(session, tmp_path):
    store = stored(session, tmp_path / "events.duckdb")
    written = store.export_parquet(tmp_path / "pq")
    assert written == {"feed": len(session.cols["MsgIndex"]),
                       "decision": len(session.decisions)}
    parts = {p.relative_to(tmp_path / "pq").parent.as_posix()
             for p in (tmp_path / "pq" / "feed").rglob("*.parquet")}
    symbols = {s for s in session.cols["Symbol"].tolist() if s is not None}
    assert len(symbols) == 4
    assert parts == {f"feed/date={DEFAULT_DATE}/Symbol={s}" for s in symbols} | {
        f"feed/date={DEFAULT_DATE}/Symbol=__HIVE_DEFAULT_PARTITION__"}   # S: no symbol
    assert (tmp_path / "pq" / "decision" / f"date={DEFAULT_DATE}").is_dir()
    back = duckdb.connect().execute(
        f"SELECT count(*), count(DISTINCT MsgIndex) FROM read_parquet("
        f"'{tmp_path}/pq/feed/**/*.parquet', hive_partitioning = true)").fetchone()
    assert back == (len(session.cols["MsgIndex"]),) * 2
    store.close()


def test_the_documented_schema_of_the_direct_tables():
    text = DOC.read_text()
    for table, method in (("feed", "add_feed"), ("decision", "add_decision")):
        cols = ", ".join(f"`{c}` {k}" for c, k in TABLES[table])
        assert f"| `{table}` | `{method}` | {cols} |" in text


def _bad(cols: dict[str, np.ndarray], name: str, value) -> dict:
    return {**cols, name: value} if value is not None else {
        k: v for k, v in cols.items() if k != name}


@pytest.mark.parametrize(("name", "value", "says"), [
    ("Price", lambda a: a[:-1], "one length"),
    ("Price", lambda a: a.astype(float), "integers"),
    ("Shares", lambda a: -a.astype(np.int64) - 1, "negative"),
    ("Locate", lambda a: a.astype(np.int64) + 70_000, "above 65535"),
    ("Side", lambda a: np.full(len(a), "B"), "FIX sides"),
    ("ItchType", lambda a: np.full(len(a), "AB"), "one ASCII character"),
    ("Symbol", lambda a: np.arange(len(a)).astype(object), "text"),
    ("IngressTime", None, "missing"),
    ("Venue", lambda a: a, "unknown"),
])
def test_bad_feed_input_is_refused_whole_and_loses_nothing(session, name, value, says):
    cols = slice_of(session.cols, 0, 1_000)
    store = EventStore(batch_rows=1_500)
    store.add_feed(slice_of(session.cols, 0, 1_000))        # written below: 1,000 stored ...
    store.add_feed(slice_of(session.cols, 1_000, 2_000))    # ... 2,000 >= 1,500
    store.add_feed(slice_of(session.cols, 2_000, 2_500))    # 500 waiting
    assert count(store, "feed") == 2_000
    base = cols.get(name, cols["Price"])
    bad = _bad(cols, name, None if value is None else value(base))
    with pytest.raises(FeedInputError, match=says):
        store.add_feed(bad)
    assert count(store, "feed") == 2_000
    assert store.flush() == 500
    assert store.query("SELECT count(*), count(DISTINCT MsgIndex), max(MsgIndex) FROM feed") == [
        (2_500, 2_500, 2_499)]


def test_the_feed_table_has_the_documented_columns():
    store = EventStore()
    assert [r[0] for r in store.con.execute("DESCRIBE feed").fetchall()] == [
        c for c, _ in FEED_COLUMNS]
