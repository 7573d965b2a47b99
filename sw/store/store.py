"""The event store: every bus event in an embedded analytical database (DuckDB), and Parquet out.

Where it sits: a subscriber of every bus topic (`follow`), beside the services. Each event type
has its own table, named after it in snake case (`ExecutionReport` -> `execution_report`), with
one column per event field under its FIX name, plus `date` (the UTC date of TransactTime) for
partitioning. The schema is derived from the event classes themselves (sw/bus/events.py), so it
cannot drift from what the bus carries; docs/store.md lists it with worked SQL.

Events are buffered per table and written in batches through DuckDB's appender (one statement
per batch, never one INSERT per event), when a table's buffer reaches `batch_rows` and every
`flush_seconds` while following the bus. `export_parquet` writes a Hive-partitioned tree
(`<table>/date=YYYY-MM-DD/Symbol=XXX/*.parquet`) a warehouse on another host can read.

Two tables are not bus events and are fed directly, because the bus does not carry them:

- `feed`: one row per ITCH message the host's feed handler delivered, with its fast-path message
  index and ingress stamps. A run has 10^5-10^6 of them, far too many to publish one by one, so
  `add_feed` takes them as numpy columns (sw/store/feed.py makes them from the feed's frames)
  and writes each batch with one INSERT ... SELECT over the registered arrays.
- `decision`: every order the card sent and every order its gate refused, with what the bus
  events leave out: why (`Cause`), the index of the feed message that caused it (`MsgIndex`),
  and every failing check; `add_decision` takes the bus event and those. `MsgIndex` joins a
  decision to the `feed` row behind it.

Units are the bus's: prices in ITCH price units (1/10,000 dollar), quantities in shares, money in
price units x shares, TransactTime in ns since the Unix epoch (UTC); enumerations are their FIX
values.

DuckDB allows one read-write process per file; other processes open it with `read_only=True`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import duckdb
import numpy as np

from spec.codes import OrderCause
from sw.bus.events import EVENT_TYPES, Event, OrderRejected, OrderSent

NS_PER_DAY = 86_400 * 10**9
_EPOCH = dt.date(1970, 1, 1)


def table_name(event_type: type[Event]) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event_type.__name__).lower()


def _sql_type(annotation: object) -> str | None:
    """The DuckDB column type of a field annotation (None: not stored, e.g. the type tag)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _sql_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _sql_type(kinds[0])
    if origin is typing.Literal:
        return None
    if isinstance(annotation, type):
        if issubclass(annotation, enum.IntEnum):
            return "INTEGER"
        if issubclass(annotation, enum.Enum | str):
            return "VARCHAR"
        if issubclass(annotation, bool):
            return "BOOLEAN"
        if issubclass(annotation, int):
            return "BIGINT"
    raise TypeError(f"no column type for {annotation!r}")


def columns(event_type: type[Event]) -> list[tuple[str, str]]:
    """(column, DuckDB type) of an event type's table: its fields, then `date`."""
    hints = typing.get_type_hints(event_type, include_extras=True)
    cols = [(name, kind) for name in event_type.model_fields
            if (kind := _sql_type(hints[name])) is not None]
    return [*cols, ("date", "DATE")]


# --- the feed and decision tables (not bus events) -----------------------------------------------

#: (column, DuckDB type) of `feed`. OrderRef is ITCH's unsigned 64-bit order reference number.
FEED_COLUMNS: list[tuple[str, str]] = [
    ("MsgIndex", "BIGINT"), ("MoldSeq", "BIGINT"), ("ItchType", "VARCHAR"),
    ("Locate", "INTEGER"), ("Symbol", "VARCHAR"), ("OrderRef", "UBIGINT"),
    ("NewOrderRef", "UBIGINT"), ("Side", "VARCHAR"), ("Shares", "BIGINT"), ("Price", "BIGINT"),
    ("ItchTimestamp", "BIGINT"), ("IngressCycle", "BIGINT"), ("IngressTime", "BIGINT"),
    ("Malformed", "BOOLEAN"), ("date", "DATE"),
]
#: The message types that carry each field as the fast path decodes it (docs/store.md); the
#: field is NULL on every other type and on malformed messages, whatever the input holds, so a
#: caller passes the decoder's zeros as they are.
FEED_CARRIED: dict[str, str] = {
    "OrderRef": "AFECXDU", "NewOrderRef": "U", "Side": "AF", "Shares": "AFECXU", "Price": "AFU",
}
#: add_feed's optional columns and what an absent one stores (None: NULL).
FEED_OPTIONAL: dict[str, object] = {
    "MoldSeq": None, "Symbol": None, "NewOrderRef": 0, "ItchTimestamp": None, "Malformed": False,
}
_FEED_INT = {"MsgIndex", "MoldSeq", "Locate", "OrderRef", "NewOrderRef", "Shares", "Price",
             "ItchTimestamp", "IngressCycle", "IngressTime"}
_FEED_U64 = {"OrderRef", "NewOrderRef"}
_FEED_BATCH = "__nerve_feed_batch"   # the name a batch's arrays are registered under

#: (column, DuckDB type) of `decision`: one row per card decision, an order or a gate reject.
DECISION_COLUMNS: list[tuple[str, str]] = [
    ("MsgIndex", "BIGINT"), ("IngressCycle", "BIGINT"), ("EgressCycle", "BIGINT"),
    ("Cause", "VARCHAR"), ("Rejected", "BOOLEAN"), ("MsgType", "VARCHAR"),
    ("ClOrdID", "VARCHAR"), ("OrigClOrdID", "VARCHAR"), ("Symbol", "VARCHAR"),
    ("Side", "VARCHAR"), ("OrderQty", "BIGINT"), ("Price", "BIGINT"), ("MsgSeqNum", "BIGINT"),
    ("GateReason", "VARCHAR"), ("FailedChecks", "VARCHAR"), ("TransactTime", "BIGINT"),
    ("date", "DATE"),
]
#: Why the card decided (spec.codes.OrderCause by name, lower case): the strategy, a refused
#: replace's pull, the kill switch's or a stale feed's cancel-all, or the host's own order.
DECISION_CAUSES = tuple(cause.text for cause in OrderCause)

#: Every table of the store: the bus events' and the two fed directly.
TABLES: dict[str, list[tuple[str, str]]] = {
    **{table_name(t): columns(t) for t in EVENT_TYPES.values()},
    "feed": FEED_COLUMNS,
    "decision": DECISION_COLUMNS,
}


class FeedInputError(ValueError):
    """A feed batch `add_feed` refused (nothing of it was stored or buffered)."""


class EventStore:
    """See the module doc."""

    def __init__(self, path: str | Path = ":memory:", *, batch_rows: int = 10_000,
                 flush_seconds: float = 0.5) -> None:
        self.path = path
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.con = duckdb.connect(str(path))
        # The store writes through its own cursor: DuckDB 2 refuses an appender or a registered
        # array on a connection that holds a half-fetched result, which a reader of `con` may
        # leave at any time.
        self._writer = self.con.cursor()
        self._fields = {event_type: [c for c, _ in columns(event_type)[:-1]]
                        for event_type in EVENT_TYPES.values()}
        # Rows waiting per table (tuples in column order); feed batches wait as columns.
        self._buffers: dict[str, list[tuple]] = {}
        self._feed: list[dict[str, np.ndarray]] = []
        self._feed_rows = 0
        self.stored: dict[str, int] = {}
        for table, cols in TABLES.items():
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} ("
                             + ", ".join(f'"{c}" {t}' for c, t in cols) + ")")
            self._buffers[table] = []
            self.stored[table] = 0

    # --- writing -----------------------------------------------------------------------------

    def add(self, event: Event) -> None:
        """Buffer one event; its table is written when the buffer is full (or on `flush`)."""
        event_type = type(event)
        row = tuple(_value(getattr(event, name)) for name in self._fields[event_type])
        self._buffer(table_name(event_type), (*row, _date(event.TransactTime)))

    def add_many(self, events: Iterable[Event]) -> None:
        for event in events:
            self.add(event)

    def add_decision(self, event: OrderSent | OrderRejected, *, msg_index: int | None,
                     cause: str, failed: Sequence[str] = ()) -> None:
        """Buffer one card decision for `decision`: the bus event the appliance made of it (an
        order sent or a gate reject) and what that event does not carry: the fast-path index of
        the message that caused it (None: a host order without one), the cause
        (DECISION_CAUSES) and, for a reject, every failing check in priority order."""
        if cause not in DECISION_CAUSES:
            raise ValueError(f"decision cause {cause!r} is not one of {DECISION_CAUSES}")
        if msg_index is not None and (not isinstance(msg_index, int) or msg_index < 0):
            raise ValueError(f"msg_index must be a message index (int >= 0), not {msg_index!r}")
        if isinstance(event, OrderSent):
            rejected, egress, seq, reason, checks = (False, event.EgressCycle, event.MsgSeqNum,
                                                     None, None)
        elif isinstance(event, OrderRejected):
            rejected, egress, seq = True, None, None
            reason = event.GateReason.value
            checks = "|".join(failed) or reason
        else:
            raise TypeError(f"a decision is an OrderSent or an OrderRejected, not "
                            f"{type(event).__name__}")
        self._buffer("decision", (
            msg_index, event.IngressCycle, egress, cause, rejected, event.MsgType.value,
            event.ClOrdID, event.OrigClOrdID, event.Symbol, event.Side.value, event.OrderQty,
            event.Price, seq, reason, checks, event.TransactTime, _date(event.TransactTime)))

    def add_feed(self, cols: Mapping[str, object]) -> int:
        """Buffer a batch of feed messages given as columns (numpy arrays or sequences of one
        length; names and types in docs/store.md, as sw/store/feed.py `feed_rows` makes them);
        written when `batch_rows` are waiting, or on `flush`. Returns the rows taken.

        A batch is checked whole before anything of it is kept: a bad one raises
        FeedInputError and leaves the store, and what it had buffered, as they were."""
        batch = _feed_batch(cols)
        rows = len(batch["MsgIndex"])
        if rows:
            self._feed.append(batch)
            self._feed_rows += rows
            if self._feed_rows >= self.batch_rows:
                self._write_feed()
        return rows

    def flush(self) -> int:
        """Write every buffered row; returns how many."""
        return sum(self._write(table) for table in self._buffers) + self._write_feed()

    def _buffer(self, table: str, row: tuple) -> None:
        buffer = self._buffers[table]
        buffer.append(row)
        if len(buffer) >= self.batch_rows:
            self._write(table)

    def _write(self, table: str) -> int:
        rows = self._buffers[table]
        if not rows:
            return 0
        appender = self._writer.appender(table)
        appender.append_rows(rows)
        appender.flush()
        self._buffers[table] = []
        self.stored[table] += len(rows)
        return len(rows)

    def _write_feed(self) -> int:
        """Every waiting feed batch in one statement: DuckDB scans the numpy arrays in place (no
        row is built in Python) and the types' NULL rules apply in the SELECT."""
        if not self._feed:
            return 0
        merged = {name: np.concatenate([b[name] for b in self._feed]) for name in self._feed[0]}
        self._writer.register(_FEED_BATCH, merged)
        try:
            self._writer.execute(f"INSERT INTO feed SELECT {_FEED_SELECT} FROM {_FEED_BATCH}")
        finally:
            self._writer.unregister(_FEED_BATCH)
        rows = self._feed_rows
        self._feed, self._feed_rows = [], 0
        self.stored["feed"] += rows
        return rows

    async def follow(self, bus) -> None:
        """Store every event the bus carries until cancelled; flush every `flush_seconds`."""
        async def store(event: Event) -> None:
            self.add(event)

        subscription = await bus.subscribe(store)
        try:
            while True:
                await asyncio.sleep(self.flush_seconds)
                self.flush()
        finally:
            await subscription.drain()
            self.flush()

    # --- reading and export ------------------------------------------------------------------

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        self.flush()
        return self.con.execute(sql, params or []).fetchall()

    def export_parquet(self, out_dir: str | Path) -> dict[str, int]:
        """Write every non-empty table under `out_dir/<table>/`, partitioned by date and, where
        the table has one, Symbol; returns the rows written per table."""
        self.flush()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        for table, cols in TABLES.items():
            rows = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if not rows:
                continue
            by = "date, Symbol" if "Symbol" in dict(cols) else "date"
            target = str(out / table).replace("'", "''")
            self.con.execute(f"COPY {table} TO '{target}' (FORMAT parquet, PARTITION_BY ({by}),"
                             " OVERWRITE_OR_IGNORE)")
            written[table] = rows
        return written

    def close(self) -> None:
        self.flush()
        self._writer.close()
        self.con.close()


def _value(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value


def _date(ns: int) -> dt.date:
    """The UTC date of ns since the epoch: the first partition key."""
    return _EPOCH + dt.timedelta(days=ns // NS_PER_DAY)


def _carried(column: str) -> str:
    types = ", ".join(str(ord(t)) for t in FEED_CARRIED[column])
    return f"CASE WHEN ItchType IN ({types}) AND NOT Malformed THEN {column} END"


# The batch's columns as `feed` stores them: the type byte as its character, absent optional
# columns (-1, never a valid value) as NULL, fields a type does not carry as NULL, and the date
# of the ingress stamp.
_FEED_SELECT = ", ".join([
    "MsgIndex", "CASE WHEN MoldSeq >= 0 THEN MoldSeq END", "chr(ItchType)", "Locate", "Symbol",
    _carried("OrderRef"), _carried("NewOrderRef"), _carried("Side"), _carried("Shares"),
    _carried("Price"), "CASE WHEN ItchTimestamp >= 0 THEN ItchTimestamp END", "IngressCycle",
    "IngressTime", "Malformed",
    f"DATE '1970-01-01' + CAST(IngressTime // {NS_PER_DAY} AS INTEGER)",
])


def _feed_batch(cols: Mapping[str, object]) -> dict[str, np.ndarray]:
    """`cols` checked and normalised to the arrays `_write_feed` registers; FeedInputError
    names the first thing wrong."""
    names = [c for c, _ in FEED_COLUMNS[:-1]]
    unknown = sorted(set(cols) - set(names))
    missing = [c for c in names if c not in cols and c not in FEED_OPTIONAL]
    if unknown or missing:
        raise FeedInputError(f"feed columns: unknown {unknown}, missing {missing} (expected "
                             f"{names}; optional {sorted(FEED_OPTIONAL)})")
    arrays = {name: np.asarray(value) for name, value in cols.items()}
    lengths = {name: a.shape[0] if a.ndim == 1 else None for name, a in arrays.items()}
    if len(set(lengths.values())) != 1 or None in lengths.values():
        raise FeedInputError(f"feed columns must be one-dimensional and of one length: "
                             f"{lengths}")
    n = next(iter(lengths.values()))
    batch: dict[str, np.ndarray] = {}
    for name in names:
        if name not in arrays:
            # Absent: NULL (-1 for an integer; never a valid value) or the column's default, in
            # the dtype a given column gets, so batches with and without it concatenate.
            default = FEED_OPTIONAL[name]
            if name == "Symbol":
                batch[name] = np.full(n, None, dtype=object)
            elif name == "Malformed":
                batch[name] = np.full(n, bool(default))
            elif default is None:
                batch[name] = np.full(n, -1, dtype=np.int64)
            else:
                batch[name] = np.full(n, default, dtype=np.uint64 if name in _FEED_U64
                                      else np.int64)
            continue
        a = arrays[name]
        if name == "ItchType":
            batch[name] = _type_codes(a)
        elif name in _FEED_INT:
            batch[name] = _integers(name, a)
        elif name == "Malformed":
            if a.dtype != np.bool_:
                raise FeedInputError(f"feed column Malformed must be booleans, not {a.dtype}")
            batch[name] = a.copy()
        else:  # Symbol, Side: text or None (checked here: a bad value in the INSERT would
            # leave the batch waiting and fail every later flush)
            if a.dtype.kind not in "UO" or (a.dtype.kind == "O" and not set(
                    map(type, a.tolist())) <= {str, type(None)}):
                raise FeedInputError(f"feed column {name} must be text (or None)")
            batch[name] = a.astype(object)
    side = arrays["Side"]
    # Text arrays are checked vectorised; object arrays (None allowed) one value at a time.
    odd = (set(side[~np.isin(side, ["1", "2"])].tolist()) if side.dtype.kind == "U"
           else set(side.tolist()) - {"1", "2", None})
    if odd:
        raise FeedInputError(f"feed column Side holds FIX sides '1' (buy) and '2' (sell), not "
                             f"{sorted(odd)[:5]}")
    return batch


def _integers(name: str, a: np.ndarray) -> np.ndarray:
    """An integer column as int64 (uint64 for the order refs); floats are refused, because
    prices and quantities are integers in ITCH units end to end."""
    if a.dtype.kind not in "iu":
        raise FeedInputError(f"feed column {name} must be integers (ITCH units), not {a.dtype}")
    unsigned = name in _FEED_U64
    if len(a):
        if a.dtype.kind == "i" and a.min() < 0:
            raise FeedInputError(f"feed column {name} has a negative value ({a.min()})")
        top = 0xFFFF if name == "Locate" else None if unsigned else np.iinfo(np.int64).max
        if top is not None and a.max() > top:
            raise FeedInputError(f"feed column {name} has a value above {top} ({a.max()})")
    return a.astype(np.uint64 if unsigned else np.int64)  # a copy: the caller may reuse a


def _type_codes(a: np.ndarray) -> np.ndarray:
    """ItchType as its ASCII codes: given as codes (the wire byte) or one-character text."""
    if a.dtype.kind in "iu":
        codes = a
    elif a.dtype.kind in "UO" and all(isinstance(t, str) and len(t) == 1 for t in a.tolist()):
        codes = np.array([ord(t) for t in a.tolist()], dtype=np.int64)
    else:
        raise FeedInputError("feed column ItchType must be one ASCII character per message "
                             "(text or byte codes)")
    if len(codes) and (codes.min() < 0x20 or codes.max() > 0x7E):
        raise FeedInputError("feed column ItchType must be printable ASCII (ITCH type codes)")
    return codes.astype(np.uint8)
