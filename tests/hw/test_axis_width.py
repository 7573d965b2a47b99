# amaranth: UnusedElaboratable=no
# (the constructor tests make blocks only to see their arguments refused)

"""AxisNarrow and AxisWiden (hw/rtl/axis_narrow.py, axis_widen.py) in the Amaranth simulator:
random frames, keep patterns, tuser_err, random backpressure, gaps; frames are never cut or
mixed; whole-frame drops when the frame FIFO is full; the CMAC's no-gap rule on transmit."""

import random

import pytest

from hw.rtl.axis_narrow import MAX_FRAME_WORDS, AxisNarrow
from hw.rtl.axis_widen import AxisWiden
from hw.tb.unit import simulate


def words_of(frame: bytes):
    """(data, keep, last) per 512-bit word of a frame."""
    out = []
    for start in range(0, len(frame), 64):
        chunk = frame[start:start + 64]
        last = start + 64 >= len(frame)
        out.append((int.from_bytes(chunk, "little"), (1 << len(chunk)) - 1, int(last)))
    return out


def random_frame(rng, longest=300):
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, longest)))


def run_narrow(dut, frames, *, errs=None, gap=0.3, ready=0.7, seed=1, tail=40):
    """Send `frames` (with their tuser_err); collect the output frames as (bytes, verdict
    crc, giant), the cycles of first words in and first beats out, and the drop count."""
    rng = random.Random(seed)
    errs = errs or [0] * len(frames)
    items = []
    for frame, err in zip(frames, errs, strict=True):
        ws = words_of(frame)
        for i, (data, keep, last) in enumerate(ws):
            while rng.random() < gap:
                items.append(None)
            items.append((data, keep, last, err if last else 0, i == 0))
    got, cur, result = [], bytearray(), {"dropped": 0, "in": [], "out": [], "bad": []}
    # Long enough for every beat to leave at the reader's rate.
    tail += int(sum(len(f) + 8 for f in frames) / 8 / ready * 1.3)

    async def bench(ctx, dut):
        for n, item in enumerate([*items, *[None] * tail]):
            ctx.set(dut.i_axis.valid, item is not None)
            if item is not None:
                data, keep, last, err, first = item
                ctx.set(dut.i_axis.p.data, data)
                ctx.set(dut.i_axis.p.keep, keep)
                ctx.set(dut.i_axis.p.last, last)
                ctx.set(dut.i_axis.p.user_err, err)
                if first:
                    result["in"].append(n)
            take = rng.random() < ready
            ctx.set(dut.o_beat.ready, take)
            result["dropped"] += ctx.get(dut.dropped)
            if ctx.get(dut.o_beat.valid) and take:
                p = dut.o_beat.p
                beat = p.beat
                keep = ctx.get(beat.keep)
                if ctx.get(beat.first):
                    if cur:
                        result["bad"].append(("first inside a frame", n))
                    cur.clear()
                    result["out"].append(n)
                if ctx.get(beat.last):
                    assert keep in [(1 << k) - 1 for k in range(9)], keep
                    cur.extend(ctx.get(beat.data).to_bytes(8, "little")[:bin(keep).count("1")])
                    got.append((bytes(cur), ctx.get(p.verdict.crc), ctx.get(p.verdict.giant)))
                    cur.clear()
                else:
                    assert keep == 0xFF
                    assert ctx.get(p.verdict.as_value()) == 0
                    cur.extend(ctx.get(beat.data).to_bytes(8, "little"))
            await ctx.tick()

    simulate(dut, bench)
    assert not result["bad"], result["bad"]
    return got, result


def test_random_frames_pass_whole_with_their_tuser_err():
    rng = random.Random(7)
    frames = [random_frame(rng) for _ in range(40)]
    errs = [int(rng.random() < 0.25) for _ in frames]
    got, result = run_narrow(AxisNarrow(depth=256), frames, errs=errs)
    assert result["dropped"] == 0
    assert got == [(f, e, 0) for f, e in zip(frames, errs, strict=True)]


@pytest.mark.parametrize("length", [1, 7, 8, 9, 63, 64, 65, 120, 128, 129])
def test_keep_patterns_at_word_and_beat_edges(length):
    frame = bytes(range(256))[:length] if length <= 256 else None
    got, _ = run_narrow(AxisNarrow(), [frame, frame[::-1]], gap=0, ready=1, tail=40)
    assert got == [(frame, 0, 0), (frame[::-1], 0, 0)]


def test_latency_first_word_to_first_beat():
    _, result = run_narrow(AxisNarrow(), [bytes(100)], gap=0, ready=1, tail=20)
    assert result["out"][0] - result["in"][0] == AxisNarrow.LATENCY


def test_a_full_fifo_drops_whole_frames_and_counts_them():
    rng = random.Random(3)
    # Back to back, read at 1 beat in 5: far faster in than out.
    frames = [random_frame(rng, longest=1400) for _ in range(30)]
    got, result = run_narrow(AxisNarrow(depth=MAX_FRAME_WORDS * 2), frames, gap=0, ready=0.2)
    assert result["dropped"] > 0
    assert len(got) + result["dropped"] == len(frames)
    # What comes out is a subsequence of what went in, each frame whole.
    it = iter(frames)
    assert all(any(f == g for g in it) for f, _, _ in got)
    assert all(crc == 0 and giant == 0 for _, crc, giant in got)


def test_a_giant_is_cut_at_the_limit_and_marked():
    giant = bytes(i & 0xFF for i in range(64 * (MAX_FRAME_WORDS + 5) - 3))
    after = bytes(80)
    got, result = run_narrow(AxisNarrow(), [giant, after], gap=0, ready=1)
    assert got[0] == (giant[:64 * MAX_FRAME_WORDS], 0, 1)
    assert got[1] == (after, 0, 0)


def test_narrow_depth_is_validated():
    with pytest.raises(ValueError, match="depth must be an int of at least"):
        AxisNarrow(depth=MAX_FRAME_WORDS - 1)


# --- AxisWiden ---------------------------------------------------------------------------

def beats_of(frame: bytes):
    out = []
    for start in range(0, len(frame), 8):
        chunk = frame[start:start + 8]
        out.append((int.from_bytes(chunk, "little"), (1 << len(chunk)) - 1, start == 0,
                    start + 8 >= len(frame)))
    return out


def run_widen(dut, frames, *, gap=0.3, ready=0.6, seed=2, tail=300, gaps_allowed=False,
              timing=None):
    """Send `frames` as beats; return the frames gathered from `o_axis`. `timing`, if a
    list, gets the cycles of each frame's last beat in and of each first word offered."""
    rng = random.Random(seed)
    beats = [b for f in frames for b in beats_of(f)]
    got, cur, problems = [], bytearray(), []
    timing = [] if timing is None else timing

    async def bench(ctx, dut):
        i = 0
        offered = None        # the word offered and not taken (must be held)
        in_frame = False
        for n in range(len(beats) * 4 + tail):
            present = i < len(beats) and rng.random() >= gap
            ctx.set(dut.i_beat.valid, present)
            if present:
                data, keep, first, last = beats[i]
                # Keep on a non-last beat is not read: make it garbage to prove it.
                ctx.set(dut.i_beat.p.data, data)
                ctx.set(dut.i_beat.p.keep, keep if last else rng.randrange(256))
                ctx.set(dut.i_beat.p.first, first)
                ctx.set(dut.i_beat.p.last, last)
            take = rng.random() < ready
            ctx.set(dut.o_axis.ready, take)
            valid = ctx.get(dut.o_axis.valid)
            word = (ctx.get(dut.o_axis.p.data), ctx.get(dut.o_axis.p.keep),
                    ctx.get(dut.o_axis.p.last), ctx.get(dut.o_axis.p.user_err))
            if offered is not None and (not valid or word != offered):
                problems.append(("word withdrawn or changed", n))
            if in_frame and not valid and not gaps_allowed:
                problems.append(("tvalid fell inside a frame", n))
            if present and ctx.get(dut.i_beat.ready):
                if beats[i][3]:
                    timing.append(("last in", n))
                i += 1
            if valid and not in_frame and offered is None:
                timing.append(("first out", n))
            offered = None
            if valid:
                in_frame = True
                if take:
                    data, keep, last, err = word
                    n_bytes = bin(keep).count("1")
                    if keep != (1 << n_bytes) - 1 or (not last and n_bytes != 64) or err:
                        problems.append(("bad keep/err", n, hex(keep)))
                    cur.extend(data.to_bytes(64, "little")[:n_bytes])
                    if last:
                        got.append(bytes(cur))
                        cur.clear()
                        in_frame = False
                else:
                    offered = word
            await ctx.tick()

    simulate(dut, bench)
    assert not problems, problems[:5]
    return got


def test_widen_random_frames_and_backpressure():
    rng = random.Random(11)
    frames = [random_frame(rng, longest=700) for _ in range(30)]
    assert run_widen(AxisWiden(), frames) == frames


@pytest.mark.parametrize("length", [1, 8, 9, 56, 64, 65, 72, 128, 129])
def test_widen_keep_patterns(length):
    frame = bytes(i * 7 & 0xFF for i in range(length))
    assert run_widen(AxisWiden(), [frame, frame], gap=0, ready=1, tail=60) == [frame, frame]


@pytest.mark.parametrize("length, latency", [(100, AxisWiden.LATENCY),
                                             (64, AxisWiden.ONE_WORD_LATENCY)])
def test_widen_latency_last_beat_to_first_word(length, latency):
    timing = []
    run_widen(AxisWiden(), [bytes(length)], gap=0, ready=1, tail=20, timing=timing)
    assert [kind for kind, _ in timing] == ["last in", "first out"]
    assert timing[1][1] - timing[0][1] == latency


def test_widen_a_frame_longer_than_the_fifo_does_not_hang():
    frame = bytes(i & 0xFF for i in range(64 * 6 + 5))
    # Released when full, so it may reach the CMAC with gaps (documented), but whole.
    got = run_widen(AxisWiden(depth=4), [frame, bytes(70)], gap=0, ready=1, tail=100,
                    gaps_allowed=True)
    assert got == [frame, bytes(70)]


def test_widen_depth_is_validated():
    with pytest.raises(ValueError, match="depth must be an int of at least 2"):
        AxisWiden(depth=1)
