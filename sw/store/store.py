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
from collections.abc import Iterable
from pathlib import Path

import duckdb

from sw.bus.events import EVENT_TYPES, Event

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


class EventStore:
    """See the module doc."""

    def __init__(self, path: str | Path = ":memory:", *, batch_rows: int = 10_000,
                 flush_seconds: float = 0.5) -> None:
        self.path = path
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.con = duckdb.connect(str(path))
        self._fields: dict[type[Event], list[str]] = {}
        self._buffers: dict[type[Event], list[tuple]] = {}
        self.stored: dict[str, int] = {}
        for event_type in EVENT_TYPES.values():
            cols = columns(event_type)
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table_name(event_type)} ("
                             + ", ".join(f'"{c}" {t}' for c, t in cols) + ")")
            self._fields[event_type] = [c for c, _ in cols[:-1]]
            self._buffers[event_type] = []
            self.stored[table_name(event_type)] = 0

    # --- writing -----------------------------------------------------------------------------

    def add(self, event: Event) -> None:
        """Buffer one event; its table is written when the buffer is full (or on `flush`)."""
        event_type = type(event)
        row = tuple(_value(getattr(event, name)) for name in self._fields[event_type])
        buffer = self._buffers[event_type]
        buffer.append((*row, _EPOCH + dt.timedelta(days=event.TransactTime // NS_PER_DAY)))
        if len(buffer) >= self.batch_rows:
            self._write(event_type)

    def add_many(self, events: Iterable[Event]) -> None:
        for event in events:
            self.add(event)

    def flush(self) -> int:
        """Write every buffered event; returns how many."""
        return sum(self._write(event_type) for event_type in self._buffers)

    def _write(self, event_type: type[Event]) -> int:
        rows = self._buffers[event_type]
        if not rows:
            return 0
        appender = self.con.appender(table_name(event_type))
        appender.append_rows(rows)
        appender.flush()
        self._buffers[event_type] = []
        self.stored[table_name(event_type)] += len(rows)
        return len(rows)

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
        for event_type in EVENT_TYPES.values():
            table = table_name(event_type)
            rows = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if not rows:
                continue
            by = "date, Symbol" if "Symbol" in event_type.model_fields else "date"
            target = str(out / table).replace("'", "''")
            self.con.execute(f"COPY {table} TO '{target}' (FORMAT parquet, PARTITION_BY ({by}),"
                             " OVERWRITE_OR_IGNORE)")
            written[table] = rows
        return written

    def close(self) -> None:
        self.flush()
        self.con.close()


def _value(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value
