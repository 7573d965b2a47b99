"""Receive side of the card's Ethernet port: the MAC's bytes gathered into 64-bit beats.

Data flow: MAC rx (GMII clock) -> BytePacker -> async FIFO -> RxFrameBuffer -> Nic.i_frame.
The packer runs in the MAC's receive clock, so the async FIFO after it carries one entry per
eight bytes, not one per byte.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.records import CheckedBeat, MacByte, RxVerdict


class BytePacker(wiring.Component):
    """MacByte stream -> CheckedBeat stream (lanes as in FrameBeat: lane i = frame byte 8b+i).

    Latency: a beat is valid on `o_beat` the cycle after its 8th byte (or the frame's last
    byte) was valid on `i_byte`.
    Rate: one byte per cycle, any idle cycles between bytes. No backpressure on either side
    (both always ready): the FIFO behind is sized for the MAC's rate.
    Output: `first` on a frame's first beat; `last`, `keep` (contiguous from lane 0) and
    `verdict` on its last beat (0 on the others). `verdict` is `i_verdict`, read with the
    `last` byte; a `last` byte with `error` set but a zero `i_verdict` gets `verdict.crc`, so
    an errored frame is never taken for good.
    Reset: outside a frame.
    Bad input: bytes outside a frame (before any `first`) are dropped. A `first` byte inside an
    unfinished frame ends the old frame: its bytes so far go out as its last beat (possibly
    with keep 0) with `verdict.crc` set, and the new frame starts with that byte. If that
    `first` byte is also `last` (a one-byte frame, a runt anyway), it is dropped: the cut
    frame's beat takes the output that cycle.
    """

    i_byte: In(stream.Signature(MacByte, always_ready=True))
    i_verdict: In(RxVerdict)
    o_beat: Out(stream.Signature(CheckedBeat, always_ready=True))

    def elaborate(self, platform):
        m = Module()

        byte = self.i_byte.p
        out = self.o_beat.p
        acc = Signal(64)        # the beat being gathered: lanes below `lane` are filled
        lane = Signal(3)
        in_frame = Signal()
        at_start = Signal()     # no beat of the current frame has gone out yet
        pos = Signal(3)         # the lane this byte lands in
        merged = Signal(64)     # the beat with this byte in it
        verdict = Signal(RxVerdict)
        take = self.i_byte.valid & (byte.first | in_frame)
        cut = self.i_byte.valid & byte.first & in_frame
        done = take & (byte.last | (pos == 7))
        m.d.comb += [
            pos.eq(Mux(byte.first, 0, lane)),
            merged.eq(Mux(byte.first, 0, acc)),
            merged.word_select(pos, 8).eq(byte.data),
            verdict.eq(self.i_verdict),
        ]
        with m.If(byte.error & (self.i_verdict.as_value() == 0)):
            m.d.comb += verdict.crc.eq(1)

        m.d.sync += self.o_beat.valid.eq(0)
        with m.If(cut):
            m.d.sync += [
                self.o_beat.valid.eq(1),
                out.beat.data.eq(acc),
                out.beat.keep.eq(Cat(*[lane > i for i in range(8)])),
                out.beat.first.eq(at_start),
                out.beat.last.eq(1),
                out.verdict.eq(0),
                out.verdict.crc.eq(1),
            ]
        with m.Elif(done):
            m.d.sync += [
                self.o_beat.valid.eq(1),
                out.beat.data.eq(merged),
                out.beat.keep.eq(Cat(*[pos >= i for i in range(8)])),
                out.beat.first.eq(byte.first | at_start),
                out.beat.last.eq(byte.last),
                out.verdict.eq(Mux(byte.last, verdict.as_value(), 0)),
            ]
        with m.If(take):
            m.d.sync += in_frame.eq(~byte.last)
            with m.If(done):
                # Unused lanes are zeroed so a short last beat carries no stale bytes.
                m.d.sync += [acc.eq(0), lane.eq(0), at_start.eq(0)]
            with m.Else():
                m.d.sync += [acc.eq(merged), lane.eq(pos + 1),
                             at_start.eq(byte.first | at_start)]
        return m
