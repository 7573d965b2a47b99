"""Receive side of the OpenNIC box: the 100G MAC's 512-bit AXI4-Stream cut into 64-bit beats.

Data flow (hw/rtl/opennic_box.py), all of this block in the CMAC's clock (`cmac`, ~322 MHz):

    CMAC rx AXIS (512 bits, no tready) -> AxisNarrow -> async FIFO -> (sync) RxFrameBuffer
                                                                      -> Nic.i_frame

Rates: the CMAC may deliver a 512-bit word every cycle (up to 165 Gb/s of bus, 100 Gb/s of
line), the narrow side moves 64 bits per cycle, and the async FIFO behind it drains at the fast
path's clock (64 bits at 156.25 MHz = 10 Gb/s). A burst of frames is absorbed by a frame FIFO
of 512-bit words in front; a frame that arrives when the FIFO cannot hold a frame of the
largest size is dropped whole (never cut, never mixed with another) and counted on `dropped`.
The market-data feeds the card decodes are far below that rate; at line rate on a busy port
the card sees a sample of the frames, and says how many it missed.

Byte order is the shell's (and the project's): tdata[8i+7:8i] is frame byte i of the word,
so lane j of narrow beat k is tdata[64k+8j+7:64k+8j], frame byte 64*word+8k+j.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.records import CheckedBeat
from spec.ethernet import MAX_FRAME

#: Bytes per AXI4-Stream word at the CMAC, and 64-bit beats per word.
WORD_BYTES = 64
BEATS_PER_WORD = WORD_BYTES // 8
#: Words of the longest frame the box takes whole (MAX_FRAME counts the FCS, which the CMAC
#: may or may not strip: room for it either way).
MAX_FRAME_WORDS = -(-MAX_FRAME // WORD_BYTES)
#: Default frame FIFO depth in 512-bit words: five frames of the largest size, or 64 short
#: (one-word) frames.
DEFAULT_DEPTH = 128


class AxisWord(data.Struct):
    """One word of the OpenNIC shell's 322 MHz AXI4-Stream (tdata, tkeep, tlast, tuser_err).

    `keep` bit i marks byte i; the shell allows null bytes only on the last word, contiguous
    from byte 0. `user_err` on the last word marks a bad frame (FCS, length, PHY errors).
    """

    data: 512
    keep: 64
    last: 1
    user_err: 1


class _Stored(data.Struct):
    data: 512
    keep: 64
    last: 1
    err: 1
    giant: 1


class AxisNarrow(wiring.Component):
    """512-bit AXI4-Stream words in, 64-bit `CheckedBeat`s out (see the module doc).

    Latency: a frame's first word accepted on `i_axis` to its first beat valid on `o_beat`:
    `LATENCY` (2) cycles when the FIFO is empty.
    Rate: in, one word per cycle, always (the CMAC has no tready); out, one beat per cycle
    while `o_beat.ready`: a word of n bytes takes ceil(n / 8) cycles (1..8).
    Backpressure: `o_beat` honours ready; behind it the frame FIFO (`depth` words) fills. A
    frame is admitted only if, at its first word, the FIFO has room for `MAX_FRAME_WORDS`
    words; otherwise all its words are discarded and `dropped` strobes once (at its first
    word). An admitted frame is therefore never cut for room.
    Bad input: `user_err` on the last word gives the frame `verdict.crc` (RxFrameBuffer drops
    and counts it). A frame longer than `MAX_FRAME_WORDS` words is cut there: its last kept
    word is marked last with `verdict.giant`, the rest discarded. A last word whose byte 0 is
    not kept (keep 0) goes out as one beat of keep 0 with `verdict.crc`. tkeep is not read
    on other words (all 64 bytes are taken); holes in a last word's keep are not checked (the
    shell's contract rules them out). `tvalid` gaps inside a frame are allowed.
    Output: `first` on a frame's first beat, `last` and the verdict on its last; a verdict is
    0 on every other beat.
    Reset: empty, outside a frame (the next word starts one).
    """

    LATENCY = 2

    def __init__(self, depth: int = DEFAULT_DEPTH):
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < MAX_FRAME_WORDS:
            raise ValueError(f"depth must be an int of at least {MAX_FRAME_WORDS} words (one "
                             f"frame of {MAX_FRAME} bytes), not {depth!r}")
        self.depth = depth
        super().__init__({
            "i_axis": In(stream.Signature(AxisWord, always_ready=True)),
            "o_beat": Out(stream.Signature(CheckedBeat)),
            "dropped": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.words = words = fifo.SyncFIFOBuffered(
            width=_Stored.as_shape().size, depth=self.depth)

        # --- write side: admit whole frames only ---------------------------------------------
        word = self.i_axis.p
        in_frame = Signal()              # a word of this frame was seen (admitted or not)
        admitted = Signal()              # this frame's words go to the FIFO
        count = Signal(range(MAX_FRAME_WORDS + 1))    # words of this frame written
        stored = _Stored(words.w_data)
        starts = self.i_axis.valid & ~in_frame
        room = (self.depth - words.w_level) >= MAX_FRAME_WORDS
        # The word that reaches the limit ends the frame as a giant unless it is its last.
        at_limit = Mux(starts, 0, count) == MAX_FRAME_WORDS - 1
        writes = self.i_axis.valid & Mux(starts, room, admitted)
        m.d.comb += [
            stored.data.eq(word.data),
            stored.keep.eq(word.keep),
            stored.last.eq(word.last | at_limit),
            stored.err.eq(word.user_err),
            stored.giant.eq(at_limit & ~word.last),
            # `room` guarantees the FIFO never refuses an admitted word.
            words.w_en.eq(writes),
            self.dropped.eq(starts & ~room),
        ]
        with m.If(self.i_axis.valid):
            m.d.sync += in_frame.eq(~word.last)
            with m.If(starts):
                m.d.sync += [admitted.eq(room & ~at_limit & ~word.last), count.eq(1)]
            with m.Elif(writes):
                m.d.sync += count.eq(count + 1)
                with m.If(at_limit):
                    m.d.sync += admitted.eq(0)

        # --- read side: one 64-bit beat per cycle ----------------------------------------------
        head = _Stored(words.r_data)
        lane = Signal(range(BEATS_PER_WORD))
        first_r = Signal(init=1)         # the next beat out starts a frame
        lane_keep = head.keep.word_select(lane, 8)
        # The word's last beat: the top lane, or (on a frame's last word) no byte after it.
        keep_after = Signal(WORD_BYTES)
        m.d.comb += keep_after.eq(head.keep >> (lane * 8 + 8))
        word_done = (lane == BEATS_PER_WORD - 1) | (head.last & ~keep_after[0])
        frame_done = head.last & word_done
        no_bytes = head.last & (head.keep[0] == 0)
        beat = self.o_beat.p.beat
        verdict = self.o_beat.p.verdict
        m.d.comb += [
            self.o_beat.valid.eq(words.r_rdy),
            beat.data.eq(head.data.word_select(lane, 64)),
            beat.keep.eq(Mux(head.last & word_done, lane_keep, 0xFF)),
            beat.first.eq(first_r),
            beat.last.eq(frame_done),
            verdict.crc.eq(frame_done & (head.err | no_bytes)),
            verdict.giant.eq(frame_done & head.giant),
            words.r_en.eq(self.o_beat.ready & word_done),
        ]
        with m.If(self.o_beat.valid & self.o_beat.ready):
            m.d.sync += [
                lane.eq(Mux(word_done, 0, lane + 1)),
                first_r.eq(frame_done),
            ]
        return m
