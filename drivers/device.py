"""One driver API for the card's registers and events, over any transport.

Where it sits: between the host's services (control plane, OMS, replay host) and the card.
`Device` knows the register map exported by hw/rtl (names, widths, access, multi-word layout)
and nothing about how words travel; a `Transport` moves 32-bit words at word addresses and
knows nothing about names. The transports are drivers.model (the golden model in process),
drivers.sim (the Verilator-simulated RTL over a local socket), drivers.uart (a dev board's
UART-to-CSR bridge) and drivers.pcie (a smart NIC's BAR, memory-mapped).

Multi-word registers follow the bank's rules (hw/rtl/csr.py): words go least significant first,
a wide read-write register changes when its last word is written, and reading word 0 of a wide
read-only register latches a consistent snapshot for the other words.

Events (hw -> host): the card queues an `OrderEvent` for every order and reject (hw/rtl/nic.py,
"event channel"); `Device.events()` pops them through the `event_*` registers. A full queue
loses events, which the card flags (`event_overflow`, which halts trading) and counts
(`event_lost`): never silently.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence

from hw.rtl.csr import WORD_BITS, Placed, RegisterMap

_WORD_MASK = (1 << WORD_BITS) - 1


class DriverError(RuntimeError):
    """A register access that cannot be made (unknown name, wrong access, value out of range)
    or a transport failure (timeout, corrupted frame, closed link)."""


class Transport(ABC):
    """Moves 32-bit words to and from word addresses on the card's CSR bus."""

    #: Short name for reports and metrics labels ("model", "sim", "uart", "pcie").
    kind = "transport"

    @abstractmethod
    def read_word(self, address: int) -> int: ...

    @abstractmethod
    def write_word(self, address: int, value: int) -> None: ...

    def transact(self, accesses: Sequence[tuple[int, int | None]]) -> list[int | None]:
        """Several accesses in order: (address, value) writes, (address, None) reads; returns
        the read values (None for writes). Transports with a round-trip cost override this to
        send the batch at once."""
        results: list[int | None] = []
        for address, value in accesses:
            if value is None:
                results.append(self.read_word(address))
            else:
                self.write_word(address, value)
                results.append(None)
        return results

    def knows(self, name: str) -> bool:
        """Whether register `name` reflects real state here (a model may not model them all)."""
        return True

    def close(self) -> None:  # noqa: B027 - most transports have nothing to release
        pass


class Device:
    """Registers by name (from the exported map) and events, over one transport.

    Thread-safe: every call holds the device's lock for its whole batch, so the words of one
    register (or of one `write_many`) are never interleaved with another caller's accesses.
    """

    def __init__(self, transport: Transport, regmap: RegisterMap | None = None) -> None:
        if regmap is None:
            from hw.rtl.nic import REGMAP as regmap
        self.transport = transport
        self.regmap = regmap
        self._by_name = {p.name: p for p in regmap.placed}
        self.lock = threading.RLock()

    @property
    def kind(self) -> str:
        return self.transport.kind

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def knows(self, name: str) -> bool:
        """False for a register the backend does not model: show it as unknown."""
        return self.transport.knows(name)

    def placed(self, name: str) -> Placed:
        try:
            return self._by_name[name]
        except KeyError:
            raise DriverError(f"no register named {name!r} in the card's map") from None

    # --- word plans ------------------------------------------------------------------------

    def _write_plan(self, name: str, value: int) -> list[tuple[int, int]]:
        p = self.placed(name)
        reg = p.register
        if reg.access == "ro":
            raise DriverError(f"{name} is read-only")
        if not isinstance(value, int) or isinstance(value, bool) and reg.width != 1:
            raise DriverError(f"{name}: value must be an int, not {value!r}")
        if not 0 <= int(value) < 1 << reg.width:
            raise DriverError(f"{name}: {value!r} does not fit {reg.width} bits")
        return [(p.address + w, (int(value) >> (WORD_BITS * w)) & _WORD_MASK)
                for w in range(reg.words)]

    def _read_plan(self, name: str) -> list[tuple[int, None]]:
        p = self.placed(name)
        return [(p.address + w, None) for w in range(p.register.words)]

    @staticmethod
    def _assemble(words: Iterable[int | None]) -> int:
        value = 0
        for w, word in enumerate(words):
            value |= (word or 0) << (WORD_BITS * w)
        return value

    # --- registers ---------------------------------------------------------------------------

    def read(self, name: str) -> int:
        return self.read_many([name])[name]

    def write(self, name: str, value: int) -> None:
        self.write_many([(name, value)])

    def read_many(self, names: Sequence[str]) -> dict[str, int]:
        """Several registers in one transport batch."""
        plans = [self._read_plan(n) for n in names]
        with self.lock:
            words = self.transport.transact([a for plan in plans for a in plan])
        values, at = {}, 0
        for name, plan in zip(names, plans, strict=True):
            values[name] = self._assemble(words[at:at + len(plan)])
            at += len(plan)
        return values

    def write_many(self, writes: Mapping[str, int] | Sequence[tuple[str, int]]) -> None:
        """Several writes in order, in one batch, with nothing else in between. Every value is
        checked before the first word is sent: a bad one refuses the whole batch."""
        items = list(writes.items()) if isinstance(writes, Mapping) else list(writes)
        plan = [access for name, value in items for access in self._write_plan(name, value)]
        with self.lock:
            self.transport.transact(plan)

    def batch(self, ops: Sequence[tuple[str, str, int | None]]) -> list[int | None]:
        """Mixed ("write", name, value) and ("read", name, None) ops in one batch; returns the
        read values in order (None for writes)."""
        plans, kinds = [], []
        for op, name, value in ops:
            if op == "write":
                plans.append(self._write_plan(name, value))
            elif op == "read":
                plans.append(self._read_plan(name))
            else:
                raise DriverError(f"op must be 'read' or 'write', not {op!r}")
            kinds.append(op)
        with self.lock:
            words = self.transport.transact([a for plan in plans for a in plan])
        results, at = [], 0
        for op, plan in zip(kinds, plans, strict=True):
            part = words[at:at + len(plan)]
            results.append(self._assemble(part) if op == "read" else None)
            at += len(plan)
        return results

    def wait_until(self, name: str, predicate, *, timeout: float = 5.0,
                   interval: float = 0.0005) -> int:
        """Poll `name` until `predicate(value)`; DriverError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.read(name)
            if predicate(value):
                return value
            if time.monotonic() > deadline:
                raise DriverError(f"{name} still {value:#x} after {timeout} s")
            time.sleep(interval)

    # --- events ------------------------------------------------------------------------------

    def events(self, limit: int = 256) -> list[int]:
        """Pop up to `limit` queued events (each an `OrderEvent`, packed as an int; unpack with
        hw.rtl.records.unpack). One batch reads the count; one batch per event reads its head
        and pops it."""
        from hw.rtl.records import OrderEvent

        width = OrderEvent.as_shape().size
        out: list[int] = []
        with self.lock:
            waiting = self.read("event_count")
            for _ in range(min(waiting, limit)):
                head, _ = self.batch([("read", "event_head", None), ("write", "event_pop", 1)])
                out.append(head & ((1 << width) - 1))
        return out

    def close(self) -> None:
        self.transport.close()
