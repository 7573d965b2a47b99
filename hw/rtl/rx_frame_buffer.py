"""Receive side of the card's Ethernet port: store-and-forward in front of the fast path.

Data flow: MAC rx -> BytePacker -> async FIFO -> RxFrameBuffer -> Nic.i_frame.
The MAC judges a frame (FCS, length, PHY errors) only at its end, and the fast path acts on a
frame's bytes as they come, so a frame is held here until its verdict is known: no byte of a
bad frame ever reaches the fast path. The cost is latency: a frame's beats leave only after its
FCS has been checked, one per fast-path cycle, so its last beat reaches the fast path the
frame's length in beats later than it would cut through (13 cycles for a packet carrying one
Add Order). The gain is that the network filter and everything after it see only frames the MAC
passed: a cut-through design would have to undo the book changes of a frame found bad at its
end.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.rtl.records import CheckedBeat, FrameBeat, MacStats

#: Cycles from a good frame's last beat valid on `i_beat` to its first beat valid on `o_frame`,
#: when the output is idle.
LATENCY = 1


class RxFrameBuffer(wiring.Component):
    """A ring of `depth` beats that releases whole good frames and discards the rest.

    Latency: `LATENCY` (1) cycle from a good frame's last beat on `i_beat` to its first beat on
    `o_frame` when no earlier frame is still going out; then its beats go out back to back,
    one per cycle, and the next committed frame follows with no gap.
    Rate: one beat per cycle in, any gaps; one beat per cycle out, so the buffer only fills
    with the frame being received plus what is still draining.
    Backpressure: none on either side (both always ready; the Nic's input must never stall).
    Bad input: a frame whose last beat has a non-zero verdict is discarded whole (the write
    pointer rolls back to the last committed frame) and counted once, by the first of phy,
    giant, runt, crc its verdict has. A frame that meets a full buffer is not written further
    and, if its verdict is good, is discarded whole and counted as `rx_overflow`. A beat with
    `first` inside an open frame discards the open frame (counted as `rx_crc`: it was cut)
    and starts a new one. Beats outside a frame are ignored.
    `stats`: one-cycle strobes, one cycle after the last beat that decided (tx fields 0).
    Reset: empty, outside a frame. The memory is not reset: only committed beats are read.
    """

    def __init__(self, depth: int = 512):
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 2 \
                or depth & (depth - 1):
            raise ValueError(f"depth must be a power of two >= 2, not {depth!r}")
        self.depth = depth
        super().__init__({
            "i_beat": In(stream.Signature(CheckedBeat, always_ready=True)),
            "o_frame": Out(stream.Signature(FrameBeat, always_ready=True)),
            "stats": Out(MacStats),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.store = store = Memory(shape=FrameBeat, depth=self.depth, init=[])
        writer = store.write_port()
        # Transparent for the writer: a one-beat frame is committed, and read, in the cycle its
        # only beat is written, and the read must see that beat. Otherwise the read address
        # (a committed beat) and the write address (past the committed frames, and less than
        # `depth` beats ahead of the reader) never meet while the read is used.
        reader = store.read_port(transparent_for=(writer,))

        bits = self.depth.bit_length()     # one bit more than the address: full != empty
        head = Signal(bits)                # next beat to read
        committed = Signal(bits)           # end of the last good frame
        tail = Signal(bits)                # next beat to write in the open frame
        in_frame = Signal()
        overflow = Signal()                # the open frame met a full buffer
        origin = Signal(bits)              # where this beat goes
        used = Signal(bits)
        overflowing = Signal()
        beat = self.i_beat.p.beat
        verdict = self.i_beat.p.verdict
        start = self.i_beat.valid & beat.first
        take = self.i_beat.valid & (beat.first | in_frame)
        closes = take & beat.last
        bad = verdict.as_value() != 0
        commit = closes & ~bad & ~overflowing
        available = (head != committed) | commit
        m.d.comb += [
            origin.eq(Mux(start, committed, tail)),
            used.eq(origin - head),
            # `used` reaches `depth` (its top bit) only when the ring is full.
            overflowing.eq((overflow & ~start) | used[-1]),
            writer.addr.eq(origin),
            writer.data.eq(beat),
            writer.en.eq(take & ~overflowing),
            reader.addr.eq(head),
            self.o_frame.p.eq(reader.data),
        ]

        m.d.sync += [
            self.o_frame.valid.eq(available),
            head.eq(head + available),
        ]
        with m.If(take):
            m.d.sync += [
                in_frame.eq(~beat.last),
                overflow.eq(overflowing),
                tail.eq(origin + ~overflowing),
            ]
            with m.If(commit):
                m.d.sync += committed.eq(origin + 1)

        stats = self.stats
        m.d.sync += [
            stats.rx_good.eq(commit),
            stats.rx_overflow.eq(closes & ~bad & overflowing),
            stats.rx_phy.eq(closes & verdict.phy),
            stats.rx_giant.eq(closes & ~verdict.phy & verdict.giant),
            stats.rx_runt.eq(closes & ~verdict.phy & ~verdict.giant & verdict.runt),
            stats.rx_crc.eq(closes & ~verdict.phy & ~verdict.giant & ~verdict.runt & verdict.crc
                            | start & in_frame),
        ]
        return m
