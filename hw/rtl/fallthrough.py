"""A FIFO that costs no cycle when it is empty: the queues on the tick-to-trade path.

The Trader's update queue and the command FIFO in front of the FIX encoder exist for bursts
(several updates in a row, an order arriving while the encoder streams the previous one); in
the common case they are empty, and a plain FIFO would still add its 1-2 cycles of latency to
every order. This one hands an entry straight from `w` to `r` in the cycle it arrives when
nothing is stored, and stores it otherwise, so order is always kept.
"""

from amaranth import Module, Mux, Shape
from amaranth.hdl import ShapeLike
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out


class FallThroughFIFO(wiring.Component):
    """`depth` entries of `shape`, with a bypass while empty.

    Latency: 0 cycles through an empty FIFO (`r` carries the entry offered on `w` in the same
    cycle; if `r.ready` is 1 it is taken there and never stored); a stored entry reaches `r`
    2 cycles after it was written (`SyncFIFOBuffered`). Entries leave in the order they came:
    the bypass is used only while `level` is 0, which counts entries still in flight inside
    the buffered FIFO.
    Backpressure: `w.ready` is 0 only when the FIFO is full and the entry cannot pass; the
    producer decides what a refused entry means (the Trader counts it as a fault).
    Reset: empty.
    """

    def __init__(self, *, shape: ShapeLike, depth: int):
        if not isinstance(depth, int) or depth < 2:
            raise TypeError(f"depth must be an integer >= 2, not {depth!r}")
        self.shape, self.depth = shape, depth
        super().__init__({
            "w": In(stream.Signature(shape)),
            "r": Out(stream.Signature(shape)),
            "level": Out(range(depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.store = store = fifo.SyncFIFOBuffered(
            width=Shape.cast(self.shape).width, depth=self.depth)
        empty = store.level == 0
        passing = empty & self.r.ready      # the entry on `w` is taken on `r` this cycle
        m.d.comb += [
            self.r.valid.eq(Mux(empty, self.w.valid, store.r_rdy)),
            self.r.p.eq(Mux(empty, self.w.p, store.r_data)),
            store.r_en.eq(self.r.ready & ~empty),
            store.w_en.eq(self.w.valid & ~passing),
            store.w_data.eq(self.w.p),
            self.w.ready.eq(passing | store.w_rdy),
            self.level.eq(store.level),
        ]
        return m
