"""The best price level of one side of a symbol's book, from its occupancy bitmap.

Data flow: a component of the book builder (hw/rtl/book.py, its stages S5 and S6). Each symbol
and side has a row of `levels` bits, one per price bucket, set while the bucket holds shares;
the best bid is the highest set bucket, the best ask the lowest. A priority encoder over a
whole row is too deep for one cycle at the fast path's clock, so it is cut in two: the best bit
of each group of the row, registered, then the best group.
"""

from amaranth import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

#: Cycles from a row on `row` to its best bucket on `best` (the group stage's registers).
LATENCY = 1


def highest(row: Value) -> tuple[Value, Value]:
    """(any bit set, index of the highest set bit) of `row`, as a balanced tree. The lowest set
    bit is the highest of the row reversed."""
    if len(row) == 1:
        return row[0], Const(0, 0)
    half = len(row) // 2
    lo_any, lo_idx = highest(row[:half])
    hi_any, hi_idx = highest(row[half:])
    return lo_any | hi_any, Mux(hi_any, Cat(hi_idx, 1), Cat(lo_idx, 0))


class BestLevelFinder(wiring.Component):
    """`row` (bit n: bucket n holds shares) and `side` (0 bids, 1 asks) in; `LATENCY` cycles
    later, `any` (a bucket holds shares) and `best`: the highest set bucket for bids, the
    lowest for asks (meaningless while `any` is 0). One row a clock, no backpressure;
    combinational after the group registers, so the book addresses the best level's RAM with
    `best` in that cycle.
    """

    def __init__(self, levels: int):
        if levels < 2 or levels & (levels - 1):
            raise TypeError(f"levels must be a power of two of at least 2, not {levels!r}")
        self.levels = levels
        self.level_bits = levels.bit_length() - 1
        super().__init__({"row": In(levels), "side": In(1),
                          "any": Out(1), "best": Out(self.level_bits)})

    def elaborate(self, platform):
        m = Module()
        levels, level_bits = self.levels, self.level_bits
        # Asks: the lowest bucket is the highest of the row reversed.
        ordered = Mux(self.side, Cat(*reversed([self.row[i] for i in range(levels)])), self.row)
        group_bits = (level_bits + 1) // 2
        group = 1 << group_bits
        groups = levels // group
        group_any = Signal(groups)
        group_best = [Signal(group_bits, name=f"group_best{g}") for g in range(groups)]
        side_r = Signal()
        m.d.sync += side_r.eq(self.side)
        for g in range(groups):
            any_, best = highest(ordered[g * group:(g + 1) * group])
            m.d.sync += [group_any[g].eq(any_), group_best[g].eq(best)]

        if groups > 1:
            found, best_group = highest(group_any)
            best_in_order = Cat(Array(group_best)[best_group], best_group)
        else:
            found, best_in_order = group_any[0], group_best[0]
        m.d.comb += [self.any.eq(found),
                     self.best.eq(Mux(side_r, ~best_in_order, best_in_order))]   # asks: undo
        return m
