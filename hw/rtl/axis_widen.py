"""Transmit side of the OpenNIC box: the card's 64-bit frame beats packed into 512-bit words.

Data flow (hw/rtl/opennic_box.py), all of this block in the CMAC's clock (`cmac`, ~322 MHz):

    (sync) Nic.o_egress -> UdpEgress -> async FIFO -> AxisWiden -> arbiter -> CMAC tx AXIS

The shell's 322 MHz interface forbids `tvalid` falling inside a packet (the CMAC would
underflow), and the beats arrive at 64 bits per fast-path cycle, far slower than the CMAC
takes words. So the block is store-and-forward: a frame's words are packed into a FIFO and
offered only once its last word is in, then leave back to back.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.axis_narrow import BEATS_PER_WORD, AxisWord
from hw.rtl.records import FrameBeat

#: Default FIFO depth in 512-bit words (4 KB: the card's frames are a few hundred bytes).
DEFAULT_DEPTH = 64


class _Stored(data.Struct):
    data: 512
    keep: 64
    last: 1


class AxisWiden(wiring.Component):
    """64-bit `FrameBeat`s in, 512-bit AXI4-Stream words out (see the module doc).

    Latency: a frame's last beat accepted on `i_beat` to its first word valid on `o_axis`,
    when the FIFO holds nothing else: `LATENCY` (1) cycle, or `ONE_WORD_LATENCY` (2) for a
    frame of one word (at most 64 bytes: its only word is still entering the FIFO).
    Rate: in, one beat per cycle; out, one word per cycle while `o_axis.ready`. Once a
    frame's first word is offered its words stay valid back to back to its last (all of them
    are already in the FIFO): `valid` never falls inside a frame.
    Backpressure: `o_axis` honours ready (AXI4-Stream: valid and the word held until taken);
    `i_beat.ready` falls while the FIFO is full.
    Bad input: frames are delimited by `last` alone (`first` is not read); beat keep is read on
    the last beat only (contiguous from lane 0; lanes it does not keep are 0 on `o_axis`).
    A frame longer than the FIFO (`depth` words) cannot be held whole: rather than wait for a
    last word that cannot come in, the FIFO is released when full, so nothing hangs, but such
    a frame may reach the CMAC with a gap (the card's own frames are far shorter).
    `user_err` is always 0.
    Reset: empty, no word open.
    """

    LATENCY = 1
    ONE_WORD_LATENCY = 2

    def __init__(self, depth: int = DEFAULT_DEPTH):
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 2:
            raise ValueError(f"depth must be an int of at least 2 words, not {depth!r}")
        self.depth = depth
        super().__init__({
            "i_beat": In(stream.Signature(FrameBeat)),
            "o_axis": Out(stream.Signature(AxisWord)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.words = words = fifo.SyncFIFOBuffered(
            width=_Stored.as_shape().size, depth=self.depth)

        # --- packing ---------------------------------------------------------------------------
        beat = self.i_beat.p
        lane = Signal(range(BEATS_PER_WORD))
        data_r = Signal(512)            # lanes below `lane` of the open word
        keep_r = Signal(64)
        take = self.i_beat.valid & self.i_beat.ready
        word_done = beat.last | (lane == BEATS_PER_WORD - 1)
        beat_keep = Mux(beat.last, beat.keep, 0xFF)
        # The open word with this beat in its lane: written in the cycle of its final beat.
        here = Signal(512)
        here_keep = Signal(64)
        stored = _Stored(words.w_data)
        m.d.comb += [
            here.eq(beat.data << (lane * 64)),
            here_keep.eq(beat_keep << (lane * 8)),
            self.i_beat.ready.eq(words.w_rdy),
            stored.data.eq(data_r | here),
            stored.keep.eq(keep_r | here_keep),
            stored.last.eq(beat.last),
            words.w_en.eq(take & word_done),
        ]
        with m.If(take):
            with m.If(word_done):
                m.d.sync += [lane.eq(0), data_r.eq(0), keep_r.eq(0)]
            with m.Else():
                m.d.sync += [lane.eq(lane + 1), data_r.eq(data_r | here),
                             keep_r.eq(keep_r | here_keep)]

        # --- release whole frames --------------------------------------------------------------
        head = _Stored(words.r_data)
        complete = Signal(range(self.depth + 1))       # frames whose last word is in the FIFO
        sending_r = Signal()                           # a frame's words have started out
        wrote_last = words.w_en & stored.last
        sent_last = self.o_axis.valid & self.o_axis.ready & head.last
        full = words.w_level == self.depth
        m.d.comb += [
            self.o_axis.valid.eq(words.r_rdy & ((complete != 0) | sending_r | full)),
            self.o_axis.p.data.eq(head.data),
            self.o_axis.p.keep.eq(head.keep),
            self.o_axis.p.last.eq(head.last),
            self.o_axis.p.user_err.eq(0),
            words.r_en.eq(self.o_axis.ready & self.o_axis.valid),
        ]
        m.d.sync += complete.eq(complete + wrote_last - sent_last)
        with m.If(self.o_axis.valid & self.o_axis.ready):
            m.d.sync += sending_r.eq(~head.last)
        return m
