"""The OMS's append-only journal: every order and execution event, on disk before it counts.

Where it sits: under the OMS (sw/oms/oms.py), which journals each batch of events it receives,
fsyncs, and only then applies them and publishes what changed. On start the OMS replays the
journal and reaches the state it had (the journal is the book of record; positions, P&L and
order states are derived from it).

Format: one bus event per line, in the bus's wire encoding (sw/bus/wire.py: JSON, versioned),
so a journal is readable with jq and decodes with the same strict checks as the bus. Appends
are batched: one write and one fsync per batch (group commit), so throughput does not pay an
fsync per event.

A crash can leave the last line half written. Opening the journal drops such a torn tail (a
last line with no newline), truncates the file back to its last whole line and says so in
`torn_bytes`. Any other line that does not decode is corruption: opening fails with
`JournalError` naming the line, and the OMS does not start on a book it cannot read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from sw.bus import wire
from sw.bus.events import Event


class JournalError(RuntimeError):
    """A journal that cannot be read back whole (the text names the file and line)."""


class Journal:
    """See the module doc. `events` holds what was on disk when it was opened."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.torn_bytes = 0
        self.events: list[Event] = self._read()
        self._file = open(self.path, "ab")   # noqa: SIM115 (held open for the OMS's life)
        self.appended = 0

    def _read(self) -> list[Event]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        whole = data.rfind(b"\n") + 1
        if whole < len(data):
            self.torn_bytes = len(data) - whole
            with open(self.path, "r+b") as file:
                file.truncate(whole)
                file.flush()
                os.fsync(file.fileno())
        events = []
        for number, line in enumerate(data[:whole].splitlines(), 1):
            try:
                events.append(wire.decode(line))
            except wire.WireError as error:
                raise JournalError(f"{self.path}: line {number} is not a bus event ({error})")\
                    from None
        return events

    def append(self, events: Iterable[Event]) -> int:
        """Write the events and fsync; returns how many. Nothing is applied before this."""
        lines = [wire.encode(event) + b"\n" for event in events]
        if not lines:
            return 0
        self._file.write(b"".join(lines))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.appended += len(lines)
        return len(lines)

    def close(self) -> None:
        self._file.close()
