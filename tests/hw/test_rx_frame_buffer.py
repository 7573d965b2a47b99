# amaranth: UnusedElaboratable=no
# (the constructor test makes buffers only to see their depth refused)

"""RxFrameBuffer (hw/rtl/rx_frame_buffer.py), in the Amaranth simulator: only good frames
come out, whole and back to back; bad, cut and overflowing frames are discarded and counted;
the latency is pinned."""

import random
from collections import Counter

import pytest
from amaranth import Module, Mux, ResetSignal, Signal
from amaranth.asserts import AnyConst, AnySeq, Initial
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import wiring

from hw.rtl.rx_frame_buffer import LATENCY, RxFrameBuffer
from hw.tb.frames import Beat, beats_of
from hw.tb.unit import simulate

#: Cycles from reset the formal check covers: several frames through the 4-beat ring.
BOUND = 16
STATS = ("rx_good", "rx_crc", "rx_runt", "rx_giant", "rx_phy", "rx_overflow")


def run(dut, cycles):
    """Drive `cycles` (each None or (Beat, verdict)); return the output beats as
    (cycle, data, keep, first, last) and the stats strobes counted."""
    seen, stats = [], Counter()

    async def bench(ctx, dut):
        for n, item in enumerate([*cycles, *[None] * 40]):
            ctx.set(dut.i_beat.valid, item is not None)
            beat, verdict = item or (None, 0)
            p = dut.i_beat.p
            ctx.set(p.beat.data, beat.data if beat else 0)
            ctx.set(p.beat.keep, beat.keep if beat else 0)
            ctx.set(p.beat.first, beat.first if beat else 0)
            ctx.set(p.beat.last, beat.last if beat else 0)
            ctx.set(p.verdict.as_value(), verdict)
            if ctx.get(dut.o_frame.valid):
                o = dut.o_frame.p
                seen.append((n, ctx.get(o.data), ctx.get(o.keep), ctx.get(o.first),
                             ctx.get(o.last)))
            for name in STATS:
                stats[name] += ctx.get(getattr(dut.stats, name))
            await ctx.tick()

    simulate(dut, bench)
    return seen, stats


def frames_out(seen):
    """The frames, checking each goes out back to back (one beat per cycle)."""
    frames, current, prev = [], None, None
    for n, data, keep, first, last in seen:
        assert bool(first) == (current is None)
        if current is None:
            current = bytearray()
        else:
            assert n == prev + 1, "a frame's beats must go out back to back"
        prev = n
        current += data.to_bytes(8, "little")[:bin(keep).count("1") if last else 8]
        if last:
            frames.append(bytes(current))
            current = None
    assert current is None
    return frames


def frame_cycles(frame, verdict, rng, idle):
    out = []
    beats = beats_of(frame)
    for i, beat in enumerate(beats):
        while rng.random() < idle:
            out.append(None)
        out.append((beat, verdict if i == len(beats) - 1 else 0))
    return out


REASON = {0: "rx_good", 1: "rx_crc", 2: "rx_runt", 4: "rx_giant", 8: "rx_phy",
          9: "rx_phy", 5: "rx_giant", 3: "rx_runt"}


@pytest.mark.parametrize("seed", range(3))
def test_only_good_frames_come_out_whole_and_back_to_back(seed):
    rng = random.Random(seed)
    cycles, good, counts = [], [], Counter()
    for _ in range(80):
        frame = rng.randbytes(rng.randint(1, 200))
        verdict = rng.choice([0, 0, 0, 0, 1, 2, 4, 8, 9, 5, 3])
        cycles += frame_cycles(frame, verdict, rng, idle=[0.0, 0.2, 0.5][seed])
        counts[REASON[verdict]] += 1
        if verdict == 0:
            good.append(frame)
    seen, stats = run(RxFrameBuffer(), cycles)
    assert frames_out(seen) == good
    assert stats == counts


def test_latency_from_the_last_beat_to_the_first_beat_out():
    cycles = [None, None] + frame_cycles(bytes(range(20)), 0, random.Random(0), idle=0)
    seen, _ = run(RxFrameBuffer(), cycles)
    last_in = len(cycles) - 1
    assert seen[0][0] == last_in + LATENCY == last_in + 1
    assert [n for n, *_ in seen] == [last_in + 1, last_in + 2, last_in + 3]
    # A one-beat frame is read in the cycle its beat is written (transparent read port).
    seen, _ = run(RxFrameBuffer(), [None] + frame_cycles(b"abc", 0, random.Random(0), 0))
    assert seen == [(1 + LATENCY, int.from_bytes(b"abc", "little"), 0b111, 1, 1)]


def test_a_frame_too_big_for_the_buffer_is_dropped_whole_as_overflow():
    rng = random.Random(4)
    big, fits, bad_big = bytes(range(136)), bytes(range(128)), rng.randbytes(140)
    cycles = (frame_cycles(big, 0, rng, 0) + frame_cycles(fits, 0, rng, 0)
              + frame_cycles(bad_big, 1, rng, 0) + frame_cycles(b"x" * 30, 0, rng, 0.3))
    seen, stats = run(RxFrameBuffer(depth=16), cycles)
    assert frames_out(seen) == [fits, b"x" * 30]
    assert stats == Counter(rx_good=2, rx_overflow=1, rx_crc=1)


def test_a_first_beat_inside_a_frame_discards_the_open_frame():
    rng = random.Random(5)
    cut = frame_cycles(bytes(range(40)), 0, rng, 0)[:3]
    cycles = cut + frame_cycles(b"kept frame!" * 3, 0, rng, 0)
    stray = [(Beat(7, 0xFF, False, False), 0)]
    seen, stats = run(RxFrameBuffer(), stray + cycles)
    assert frames_out(seen) == [b"kept frame!" * 3]
    assert stats == Counter(rx_good=1, rx_crc=1)


@pytest.mark.parametrize("depth", [0, 1, 3, 100, 2.0, True])
def test_depth_must_be_a_power_of_two(depth):
    with pytest.raises(ValueError, match=rf"depth must be a power of two >= 2, not {depth!r}"):
        RxFrameBuffer(depth=depth)


class BadFramesNeverLeave(wiring.Component):
    """The receive buffer's safety property, stated at its ports, for a formal check.

    The solver picks any 64-bit value, `marker`, and drives `i_beat` freely on every cycle
    (any beats, any gaps, frames cut by a new `first`, resets at any time after the first
    cycle's), under one assumption: a frame in which a beat carries `marker` ends with a
    non-zero verdict. Asserted: no beat carrying `marker` ever leaves on `o_frame`, so no beat
    of a bad frame reaches the fast path; and `o_frame` is well framed (a `first` only between
    frames, every other beat inside one). Covered: a good frame leaves whole, and a marked frame
    ends, and a good frame overflows the small ring (4 beats).
    """

    def __init__(self):
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = RxFrameBuffer(depth=4)
        marker = AnyConst(64)
        i, o = dut.i_beat, dut.o_frame
        m.d.comb += [i.valid.eq(AnySeq(1)), i.p.eq(AnySeq(len(i.p.as_value())))]
        with m.If(Initial()):
            m.d.comb += Assume(ResetSignal())

        in_frame = Signal()     # the input's frame as the buffer reads it
        tainted = Signal()      # a marked beat in the input frame so far
        starts = i.valid & i.p.beat.first
        inside = i.valid & (starts | in_frame)
        marked = Mux(starts, 0, tainted) | (inside & (i.p.beat.data == marker))
        with m.If(inside & i.p.beat.last):
            m.d.comb += Assume(~marked | (i.p.verdict.as_value() != 0))
            m.d.comb += Cover(marked)
        m.d.comb += Cover(dut.stats.rx_overflow)
        with m.If(inside):
            m.d.sync += [in_frame.eq(~i.p.beat.last), tainted.eq(marked & ~i.p.beat.last)]

        out_frame = Signal()
        with m.If(o.valid):
            m.d.comb += [
                Assert(o.p.data != marker, "a beat of a bad frame left the buffer"),
                Assert(o.p.first != out_frame, "o_frame is not well framed"),
                Cover(o.p.last & out_frame),     # a frame of several beats left whole
            ]
            m.d.sync += out_frame.eq(~o.p.last)
        return m


@pytest.mark.parametrize("bound", [BOUND, pytest.param(24, marks=pytest.mark.slow)])
def test_no_beat_of_a_bad_frame_leaves_for_any_input_within_the_bound(bound):
    """Bounded model check (SymbiYosys, smtbmc + Boolector): the assertions of
    `BadFramesNeverLeave` hold in every state reachable within `bound` cycles of reset, for any
    input on every cycle; the cover task reaches each cover. Bounded, not k-induction: beyond
    the bound it is the simulation tests above that check (24 cycles take about 7 minutes, so
    the default suite checks 16)."""
    from hw.tb.formal import prove

    for proof in prove(BadFramesNeverLeave(), f"rx_frame_buffer_{bound}", depth=bound,
                       cover_depth=16, mode="bmc"):
        assert proof.passed, f"{proof.task} failed:\n{proof.log[-3000:]}"
