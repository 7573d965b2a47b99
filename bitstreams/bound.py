# amaranth: UnusedElaboratable=no
# (`BookWidths` builds a BookBuilder only to read a capacity's widths, never elaborated)
"""What the ECP5 fabric allows one cycle of a book to do: the floor under the book's targets.

The book's issue asks for at most 3 cycles from an event to its BBO update *and* at least
156.25 MHz (6.4 ns a cycle) on the largest ECP5. An execution, cancel or delete names only an
order ref; its price level is known only once the order is read. So every book, whatever its
pipeline, reads two memories one after the other: the order (by the ref's hash) and then its
price level (by the slot, side and price the order holds). At the default capacity both are in
block RAM: 8,192 orders of about 100 bits (800 Kbit) and 32 x 2 x 256 levels of 38 bits
(620 Kbit) do not fit the part's 670 Kbit of LUT RAM, let alone beside the rest of the path.

With 3 cycles, 3 clock edges: the order RAM latches its address at the first (or before the
book, if the decoder hashes the ref), the level RAM latches its address at the second, the
update leaves at the third. So some cycle holds, at the least, the order table's clock-to-output,
the ways' tag compares, the matched way's level address selected, and the level RAM's address
setup; and the last cycle holds the level RAM's clock-to-output, the aggregate's add and
whatever makes a BBO of it. This script places and routes those cycles alone, each as its
minimal circuit at the book's default widths, with nothing else on the chip, by the same flow
and harness as `fmax.py` (every input and output of the circuit registered):

- `bram`: a block-RAM read into flip-flops: the floor of any cycle that starts at a block RAM.
- `lookup`: the order table's 8 ways (1,024 x 101 bits each) read at a registered set index;
  each way's 54-bit tag compared with the ref's; the matched way's slot, side and bucket
  (14 bits) as the address of the levels (16,384 x 38 bits); its read into flip-flops.
- `level`: a level read, its shares plus or minus the event's (one carry chain), compared with
  the side's registered best shares (the least a BBO needs: is this level now the best's size)
  and written back.

    python bitstreams/bound.py [bram|lookup|level ...] [--seeds N] [--capacity NAME]

`--capacity` (hw/rtl/capacity.py) sizes the RAMs as that build's book has them (default: the
default capacity); a smaller book is fewer RAMs and shorter wires.

If `lookup` alone cannot reach 156.25 MHz, no design that keeps the orders and levels in
block RAM meets both targets on this FPGA, and the cycle count that 156.25 MHz needs follows
from how many such cycles the chain must be cut into. Part of `make bench`.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from amaranth import Cat, Module, Mux, Signal  # noqa: E402
from amaranth.lib import data, wiring  # noqa: E402
from amaranth.lib.memory import Memory  # noqa: E402
from amaranth.lib.wiring import In, Out  # noqa: E402

from bitstreams import fmax  # noqa: E402
from hw.rtl.book import TABLES, WAYS, BookBuilder  # noqa: E402
from hw.rtl.capacity import CAPACITIES, DEFAULT, Capacity, by_name  # noqa: E402


class BookWidths:
    """The widths a capacity's book gives its order entries and level addresses."""

    def __init__(self, capacity: Capacity):
        book = BookBuilder(slots=capacity.slots, order_sets=capacity.order_sets,
                           levels=capacity.levels)
        self.set_bits = book.set_bits
        self.level_addr = book.slot_bits + 1 + book.level_bits          # slot, side, bucket
        self.order = data.StructLayout({"valid": 1, "tag": 64 - book.set_bits,
                                        "slot": book.slot_bits, "side": 1,
                                        "bucket": book.level_bits, "shares": 32})
        self.level = data.StructLayout({"offset": max(book.bucket_shift, 1), "shares": 32})


def _ram(m: Module, name: str, shape, depth: int, write: dict, addr: Signal):
    """A block RAM with a write port from the harness (so synthesis keeps it) and a
    non-transparent read port at `addr` (as the book's)."""
    m.submodules[name] = ram = Memory(shape=shape, depth=depth, init=[])
    wr = ram.write_port()
    m.d.comb += [wr.addr.eq(write["addr"]), wr.data.eq(write["data"]), wr.en.eq(write["en"])]
    rd = ram.read_port(transparent_for=())
    m.d.comb += rd.addr.eq(addr)
    return rd.data


def _write(shape, depth_bits: int, count: int | None = None) -> dict:
    """Write-port inputs of a RAM (of `count` RAMs), as top-level ports of the circuit."""
    ports = {"addr": In(depth_bits), "data": In(shape), "en": In(1)}
    if count is not None:
        ports = {name: member.array(count) for name, member in ports.items()}
    return ports


class BlockRamRead(wiring.Component):
    """`bram`: one level RAM read, address from flip-flops, data into flip-flops."""

    def __init__(self, widths: BookWidths):
        self.widths = w = widths
        super().__init__({"addr": In(w.level_addr), "level": Out(w.level),
                          **{f"write_{k}": v for k, v in _write(w.level, w.level_addr).items()}})

    def elaborate(self, platform):
        m = Module()
        w = self.widths
        m.d.comb += self.level.eq(_ram(m, "levels", w.level, 1 << w.level_addr,
                                       {"addr": self.write_addr, "data": self.write_data,
                                        "en": self.write_en}, self.addr))
        return m


class OrderLookup(wiring.Component):
    """`lookup`: order ways -> tag compares -> matched way's level address -> level read."""

    def __init__(self, widths: BookWidths):
        self.widths = w = widths
        ways = TABLES * WAYS
        super().__init__({
            "sets": In(w.set_bits).array(TABLES),   # the ref's set in each table (registered)
            "tag": In(64 - w.set_bits),             # the ref's bits above the set index
            **{f"write_{k}": v for k, v in _write(w.order, w.set_bits, ways).items()},
            **{f"level_write_{k}": v for k, v in _write(w.level, w.level_addr).items()},
            "level": Out(w.level),
            "hit": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ww = self.widths
        # The ref's tag arrives with the set index and is compared a cycle later, when the
        # ways come out of the RAMs: register it beside them, as any pipeline would.
        tag_r = Signal.like(self.tag)
        m.d.sync += tag_r.eq(self.tag)
        entries = []
        for t in range(TABLES):
            for w in range(WAYS):
                way = t * WAYS + w
                raw = _ram(m, f"orders{t}_{w}", ww.order, 1 << ww.set_bits,
                           {"addr": self.write_addr[way], "data": self.write_data[way],
                            "en": self.write_en[way]}, self.sets[t])
                entries.append(data.View(ww.order, raw))
        matches = [e.valid & (e.tag == tag_r) for e in entries]
        # One-hot OR of the matched way's level address (refs are unique: at most one hits).
        address = 0
        for match, e in zip(matches, entries, strict=True):
            address = address | Mux(match, Cat(e.bucket, e.side, e.slot), 0)
        hit = Signal()
        m.d.comb += hit.eq(sum(matches) != 0)
        m.d.sync += self.hit.eq(hit)
        m.d.comb += self.level.eq(_ram(m, "levels", ww.level, 1 << ww.level_addr,
                                       {"addr": self.level_write_addr,
                                        "data": self.level_write_data,
                                        "en": self.level_write_en}, address))
        return m


class LevelUpdate(wiring.Component):
    """`level`: level read -> shares +/- the event's -> compared with the best's -> written."""

    def __init__(self, widths: BookWidths):
        self.widths = w = widths
        super().__init__({"addr": In(w.level_addr), "shares": In(32), "remove": In(1),
                          "best_shares": In(32), "is_best": Out(1), "level": Out(w.level)})

    def elaborate(self, platform):
        m = Module()
        w = self.widths
        addr_r, shares_r, remove_r = (Signal.like(s) for s in (self.addr, self.shares,
                                                               self.remove))
        m.d.sync += [addr_r.eq(self.addr), shares_r.eq(self.shares), remove_r.eq(self.remove)]
        updated = Signal(w.level)
        level = data.View(w.level, _ram(m, "levels", w.level, 1 << w.level_addr,
                                      {"addr": addr_r, "data": updated, "en": 1}, self.addr))
        m.d.comb += [updated.offset.eq(level.offset),
                     updated.shares.eq(Mux(remove_r, level.shares - shares_r,
                                           level.shares + shares_r))]
        m.d.comb += [self.is_best.eq(updated.shares >= self.best_shares),
                     self.level.eq(updated)]
        return m


CIRCUITS = {"bram": BlockRamRead, "lookup": OrderLookup, "level": LevelUpdate}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("circuits", nargs="*", default=list(CIRCUITS), choices=list(CIRCUITS))
    parser.add_argument("--seeds", type=int, default=1, help="placer seeds 1..N (default 1)")
    parser.add_argument("--capacity", default=DEFAULT.name, choices=list(CAPACITIES),
                        help="the capacity whose RAMs to size (default: default)")
    args = parser.parse_args()
    if not fmax.tools_installed():
        return 2
    capacity = by_name(args.capacity)
    suffix = "" if capacity == DEFAULT else f"_{capacity.name}"
    print(f"capacity {capacity.describe()}")
    for name in args.circuits:
        out = fmax.synthesise(f"bound_{name}{suffix}", CIRCUITS[name](BookWidths(capacity)))
        results = fmax.sweep(out, args.seeds)
        best = max(results, key=lambda r: r["fmax"])
        fmax.summarise(f"bound_{name}{suffix}", best)
        fmax.summarise_seeds(results)
        ns, period = 1000 / best["fmax"], 1000 / fmax.TARGET_MHZ
        print(f"  best of {args.seeds} seed(s): it takes {ns:.2f} ns; {fmax.TARGET_MHZ} MHz "
              f"allows {period:.2f} ns a cycle: cut evenly, it would take "
              f"{math.ceil(ns / period)} cycles at that clock")
    return 0


if __name__ == "__main__":
    sys.exit(main())
