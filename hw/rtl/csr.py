"""Register map: registers declared once, next to the logic they serve; addresses assigned here.

A block lists its registers as data (`Register`), e.g. the network filter's destination and
counters. `RegisterMap` gathers the blocks' lists under block prefixes, assigns word addresses in
declaration order, and exports the map for the host (JSON for the drivers, a C header, a Markdown
table for the docs). `CsrBank` serves the map on a simple 32-bit CSR bus. Nobody types an
address: the exported map is the only source of offsets.

CSR bus (word addressed, 32-bit data, one access per cycle):
  addr, w_stb + w_data: write (applied three cycles later); r_stb: read, r_data valid
  `READ_LATENCY` (four) cycles later. The bank registers the bus first (the address fans out to
  every word's decoder), then registers each word's decoded select, then acts: a write lands;
  a read is multiplexed in two steps, each block's words into one registered word beside that
  block's registers, then the blocks' words into `r_data`. So no cycle gathers thousands of
  register bits from all over the chip into one place (that gather was a routing hot spot of
  the whole fast path), and the bank keeps up with the fast path's clock on any placement; the
  host never notices four cycles.
Registers wider than 32 bits take consecutive words, least significant first. Reading word 0 of
a read-only register latches the whole value, and its other words return the latched bits, so a
48-bit counter is read consistently although it may count between the word reads. Writes to a
multi-word read-write register take effect when its last word is written (the lower words are
staged), so the logic never sees a half-updated value. Unmapped reads return 0; writes to
unmapped or read-only words are ignored and counted in `csr_bad_writes` (a read-only register of
the bank itself, at address 0). A "w1c" register is a status the logic drives (read like "ro")
that the host clears by writing 1s: the bank presents the written bits for one cycle on
`clear[name]` (e.g. the sticky stale-feed flag); it is at most one word wide. A "cmd" register
is a command the host writes and the logic takes once: the bank presents the written word for
one cycle on `command[name]` (`.stb` with `.value`), e.g. subscribing a symbol; it is at most one
word wide and reads as 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from amaranth import Const, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

WORD_BITS = 32
#: Cycles from a read strobe on the CSR bus to its `r_data` (bus register, word select, the
#: block's word, `r_data`). A write takes effect one cycle sooner.
READ_LATENCY = 4
#: Width of every event counter: 2.8e14 events, no wrap in a trading day at one per 6.4 ns cycle.
COUNTER_BITS = 48
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Register:
    """One register: `access` is "rw" (host writes, logic reads), "ro" (logic drives), "w1c"
    (logic drives, host writes 1s to clear) or "cmd" (host writes, logic takes it once)."""

    name: str
    width: int
    access: str
    doc: str
    reset: int = 0

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"register name must be lower_snake_case, not {self.name!r}")
        if not 1 <= self.width <= 512:
            raise ValueError(f"register width must be 1..512 bits, not {self.width!r}")
        if self.access not in ("rw", "ro", "w1c", "cmd"):
            raise ValueError("register access must be 'rw', 'ro', 'w1c' or 'cmd', "
                             f"not {self.access!r}")
        if self.access in ("w1c", "cmd") and self.width > WORD_BITS:
            raise ValueError(f"a {self.access} register is at most {WORD_BITS} bits, "
                             f"not {self.width!r}")
        if not 0 <= self.reset < 1 << self.width:
            raise ValueError(f"reset value {self.reset!r} does not fit {self.width} bits")
        if not self.doc:
            raise ValueError(f"register {self.name!r} needs a description")

    @property
    def words(self) -> int:
        return -(-self.width // WORD_BITS)


@dataclass(frozen=True)
class Placed:
    """A register at its address in the map."""

    name: str           # full name: block_register
    register: Register
    address: int        # word address of its least significant word
    block: str          # the block prefix it was declared under


BANK_REGISTERS = (
    Register("bad_writes", 32, "ro", "writes to unmapped or read-only words, ignored"),
)


class RegisterMap:
    """Blocks' registers under their prefixes, at consecutive word addresses."""

    def __init__(self, blocks: Iterable[tuple[str, Sequence[Register]]]) -> None:
        self.placed: list[Placed] = []
        address = 0
        seen: set[str] = set()
        for prefix, registers in [("csr", BANK_REGISTERS), *blocks]:
            if not _NAME.match(prefix):
                raise ValueError(f"block prefix must be lower_snake_case, not {prefix!r}")
            for reg in registers:
                name = f"{prefix}_{reg.name}"
                if name in seen:
                    raise ValueError(f"register {name!r} declared twice")
                seen.add(name)
                self.placed.append(Placed(name, reg, address, prefix))
                address += reg.words
        self.words = address

    def __getitem__(self, name: str) -> Placed:
        for p in self.placed:
            if p.name == name:
                return p
        raise KeyError(f"no register named {name!r}")

    # --- exports -----------------------------------------------------------------------------

    def as_dict(self) -> dict:
        return {"word_bits": WORD_BITS, "words": self.words, "registers": [
            {"name": p.name, "address": p.address, "byte_offset": 4 * p.address,
             "width": p.register.width, "words": p.register.words, "access": p.register.access,
             "reset": p.register.reset, "doc": p.register.doc} for p in self.placed]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1) + "\n"

    def to_c_header(self, guard: str = "NERVE_REGS_H") -> str:
        lines = ["/* Nerve register map. Generated from hw/rtl; do not edit. */",
                 f"#ifndef {guard}", f"#define {guard}", "",
                 f"#define NERVE_CSR_WORDS {self.words}u", ""]
        for p in self.placed:
            upper = p.name.upper()
            lines += [f"/* {p.register.doc} ({p.register.access}, {p.register.width} bits) */",
                      f"#define NERVE_{upper}_OFFSET 0x{4 * p.address:04x}u",
                      f"#define NERVE_{upper}_WIDTH {p.register.width}u",
                      f"#define NERVE_{upper}_RESET 0x{p.register.reset:x}ull", ""]
        return "\n".join([*lines, f"#endif /* {guard} */", ""])

    def to_markdown(self) -> str:
        rows = ["| byte offset | register | bits | access | reset | description |",
                "|---|---|---|---|---|---|"]
        for p in self.placed:
            r = p.register
            rows.append(f"| 0x{4 * p.address:04x} | `{p.name}` | {r.width} | {r.access} | "
                        f"0x{r.reset:x} | {r.doc} |")
        return "\n".join(rows) + "\n"


class CsrBus(wiring.Signature):
    def __init__(self, addr_width: int):
        super().__init__({
            "addr": Out(addr_width), "w_stb": Out(1), "w_data": Out(WORD_BITS),
            "r_stb": Out(1), "r_data": In(WORD_BITS),
        })


class CsrBank(wiring.Component):
    """Serves a RegisterMap on the CSR bus (the bus is `In`: this is the target side).

    `rw[name]` are the current values of read-write registers (to the logic);
    `ro[name]` are the logic's read-only and w1c values (from the logic); `clear[name]` are the
    bits the host wrote to a w1c register, for one cycle; `command[name]` is a cmd register's
    written value (`.value`) with its one-cycle strobe (`.stb`). Read latency: `READ_LATENCY`
    cycles; a write takes effect a cycle sooner.
    Reset: read-write registers at their declared reset values.
    """

    def __init__(self, regmap: RegisterMap, addr_width: int = 16):
        if regmap.words > 1 << addr_width:
            raise ValueError(f"{regmap.words} words do not fit a {addr_width}-bit word address")
        self.regmap = regmap
        self.addr_width = addr_width  # the bus's, not the map's: unmapped addresses must exist
        super().__init__({"bus": In(CsrBus(addr_width))})
        self.rw = {p.name: Signal(p.register.width, name=p.name, init=p.register.reset)
                   for p in regmap.placed if p.register.access == "rw"}
        self.ro = {p.name: Signal(p.register.width, name=p.name)
                   for p in regmap.placed if p.register.access in ("ro", "w1c")
                   and p.name != "csr_bad_writes"}
        self.clear = {p.name: Signal(p.register.width, name=f"{p.name}_clear")
                      for p in regmap.placed if p.register.access == "w1c"}
        self.command = {p.name: Signal(data.StructLayout({"stb": 1, "value": p.register.width}),
                                       name=f"{p.name}_command")
                        for p in regmap.placed if p.register.access == "cmd"}

    def elaborate(self, platform):
        m = Module()
        # Register the bus on the way in: the address fans out to every word's decoder.
        addr = Signal.like(self.bus.addr, name="addr_r")
        w_stb, r_stb = Signal(name="w_stb_r"), Signal(name="r_stb_r")
        # Data registers carry no reset: only control state does (a smaller reset net).
        w_data = Signal(WORD_BITS, name="w_data_r", reset_less=True)
        m.d.sync += [addr.eq(self.bus.addr), w_stb.eq(self.bus.w_stb),
                     w_data.eq(self.bus.w_data), r_stb.eq(self.bus.r_stb)]
        bad_writes = Signal(32)
        write_selects = []
        w_data_d = Signal(WORD_BITS, name="w_data_d", reset_less=True)  # aligned with selects
        w_stb_d = Signal(name="w_stb_d")
        m.d.sync += [w_data_d.eq(w_data), w_stb_d.eq(w_stb)]
        # Read, cycle 1: decode the address into a registered one-hot word select (and latch
        # wide read-only registers); cycle 2: AND-OR the selected word of each block into that
        # block's registered word; cycle 3: OR the blocks' words into r_data.
        read_terms: dict[str, list] = {}

        for p in self.regmap.placed:
            reg = p.register
            if p.name == "csr_bad_writes":
                source = bad_writes
            elif reg.access in ("ro", "w1c"):
                source = self.ro[p.name]
            elif reg.access == "cmd":
                source = Const(0, reg.width)
            else:
                source = self.rw[p.name]
            snapshot = reg.access == "ro" and reg.words > 1
            latched = (Signal(reg.width, name=f"{p.name}_snapshot", reset_less=True)
                       if snapshot else None)
            staged = (Signal(WORD_BITS * (reg.words - 1), name=f"{p.name}_staged",
                             reset_less=True)
                      if reg.access == "rw" and reg.words > 1 else None)
            for word in range(reg.words):
                hit = addr == p.address + word
                lo, hi = WORD_BITS * word, min(reg.width, WORD_BITS * (word + 1))
                # --- read ---
                selected = Signal(name=f"{p.name}_w{word}_sel")
                m.d.sync += selected.eq(r_stb & hit)
                if snapshot:
                    # Word 0 returns the value it latches in the same cycle; the other words
                    # return the latch. Driven from the registered select: off the decoder.
                    if word == 0:
                        with m.If(selected):
                            m.d.sync += latched.eq(source)
                    value = source[lo:hi] if word == 0 else latched[lo:hi]
                else:
                    value = source[lo:hi]
                read_terms.setdefault(p.block, []).append(Mux(selected, value, 0))
                # --- write (from the registered select) ---
                if reg.access == "ro":
                    continue
                written = Signal(name=f"{p.name}_w{word}_wsel")
                m.d.sync += written.eq(w_stb & hit)
                write_selects.append(written)
                if reg.access == "rw":
                    with m.If(written):
                        if reg.words == 1:
                            m.d.sync += source.eq(w_data_d)
                        elif word < reg.words - 1:
                            m.d.sync += staged[lo:hi].eq(w_data_d)
                        else:
                            m.d.sync += source.eq(
                                (w_data_d << (WORD_BITS * word)) | staged)
                elif reg.access == "w1c":
                    m.d.sync += self.clear[p.name].eq(Mux(written, w_data_d, 0))
                else:                         # cmd
                    command = self.command[p.name]
                    m.d.sync += [command.stb.eq(written), command.value.eq(w_data_d)]
        block_words = []
        for block, terms in read_terms.items():
            word = Signal(WORD_BITS, name=f"{block}_read", reset_less=True)
            m.d.sync += word.eq(_or_tree(terms))
            block_words.append(word)
        m.d.sync += self.bus.r_data.eq(_or_tree(block_words))
        bad_write = Signal()          # from the registered selects: off the decode path
        m.d.sync += bad_write.eq(w_stb_d & ~_or_tree(write_selects))
        with m.If(bad_write):
            m.d.sync += bad_writes.eq(bad_writes + 1)
        return m


def own_or_shared_bank(m: Module, component: wiring.Component, bank: CsrBank | None,
                       regmap: RegisterMap, addr_width: int) -> CsrBank:
    """The bank a block's registers live in: `bank`, a design-wide one it was given, or else
    its own, serving `regmap` on the block's `csr` port (which it then has)."""
    if bank is None:
        m.submodules.bank = bank = CsrBank(regmap, addr_width)
        wiring.connect(m, csr=wiring.flipped(component.csr), bank=bank.bus)
    return bank


def _or_tree(terms):
    """OR of many values as a balanced tree (shallow logic for a wide read multiplexer)."""
    while len(terms) > 1:
        terms = [terms[i] | terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0] if terms else 0


def count_events(m: Module, counters, increments: dict) -> None:
    """Add each `increments[name]` (a small value, this cycle) to `counters.name`.

    The increments are registered first and added a cycle later, so a counter's adder starts
    from a register and never lengthens the logic that decides what to count.
    """
    for name, value in increments.items():
        counter = getattr(counters, name)
        staged = Signal(len(Value.cast(value)), name=f"inc_{name}")
        m.d.sync += staged.eq(value)
        with m.If(staged != 0):
            m.d.sync += counter.eq(counter + staged)
