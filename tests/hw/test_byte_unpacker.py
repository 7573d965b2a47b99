"""ByteUnpacker (hw/rtl/byte_unpacker.py), in the Amaranth simulator: random frames go out
byte for byte to a MAC that spaces frames and then takes a byte every cycle; an underrun
aborts the frame and discards its rest; the latency is pinned."""

import random

import pytest

from hw.rtl.byte_unpacker import LATENCY, ByteUnpacker
from hw.tb.frames import Beat, beats_of
from hw.tb.unit import simulate


def run(schedule, *, rng, gap=0, cycles=None):
    """Offer beats from `schedule` (a list of Beat, or None for a cycle with nothing to
    offer); the MAC model holds ready low for 0..`gap` cycles before each frame, then high
    through its last byte. Returns the bytes taken as (cycle, data, first, last, error), the
    cycles beats were taken and the underrun strobes."""
    dut = ByteUnpacker()
    taken, beats_taken, underruns = [], [], []
    queue = list(schedule)

    async def bench(ctx, dut):
        in_frame, wait, cycle, offered = False, rng.randint(0, gap), 0, None
        limit = cycles or 12 * len(schedule) + 60
        for cycle in range(limit):
            if offered is None and queue:
                offered = queue.pop(0)
            ctx.set(dut.i_beat.valid, offered is not None)
            if offered is not None:
                for field in ("data", "keep", "first", "last"):
                    ctx.set(getattr(dut.i_beat.p, field), getattr(offered, field))
            ready = in_frame or wait == 0
            ctx.set(dut.o_byte.ready, ready)
            if not in_frame and wait:
                wait -= 1
            if offered is not None and ctx.get(dut.i_beat.ready):
                beats_taken.append(cycle)
                offered = None
            if ctx.get(dut.o_byte.valid) and ready:
                p = dut.o_byte.p
                byte = (cycle, ctx.get(p.data), ctx.get(p.first), ctx.get(p.last),
                        ctx.get(p.error))
                taken.append(byte)
                in_frame = not byte[3]
                if byte[3]:
                    wait = rng.randint(0, gap)
            if ctx.get(dut.underrun):
                underruns.append(cycle)
            await ctx.tick()

    simulate(dut, bench)
    return taken, beats_taken, underruns


def frames_of(taken):
    """(bytes, errored) per frame; checks a frame's bytes come on consecutive cycles."""
    frames, current, prev = [], None, None
    for cycle, data, first, last, error in taken:
        assert bool(first) == (current is None)
        if current is None:
            current = bytearray()
        else:
            assert cycle == prev + 1, "the MAC must get a byte every cycle once a frame started"
        prev = cycle
        current.append(data)
        if last:
            frames.append((bytes(current), bool(error)))
            current = None
        else:
            assert not error
    return frames


@pytest.mark.parametrize("seed", range(3))
def test_random_frames_go_out_byte_for_byte(seed):
    rng = random.Random(seed)
    frames = [rng.randbytes(rng.randint(1, 120)) for _ in range(40)]
    schedule = []
    for frame in frames:
        beats = beats_of(frame)
        # Idle before a frame, then its first beat, then the rest with short gaps: the
        # producer keeps up (each beat within 7 cycles of the one before).
        schedule += [None] * rng.randint(0, 10) + beats[:1]
        for beat in beats[1:]:
            schedule += [None] * rng.randint(0, 2) + [beat]
    taken, _, underruns = run(schedule, rng=rng, gap=12 if seed else 0)
    assert frames_of(taken) == [(frame, False) for frame in frames]
    assert not underruns


def test_latency_and_back_to_back_frames():
    a, b = bytes(range(1, 17)), bytes(range(100, 103))
    schedule = [None, None, *beats_of(a), *beats_of(b)]
    taken, beats_taken, _ = run(schedule, rng=random.Random(0))
    assert beats_taken[0] == 2 and taken[0][0] == 2 + LATENCY == 3
    assert [t[1] for t in taken] == list(a + b)
    assert [t[0] for t in taken] == list(range(3, 3 + 19))     # no gap, even between frames
    assert beats_taken == [2, 10, 18]      # the next beat is taken with the last byte


def test_an_underrun_aborts_the_frame_and_discards_its_rest():
    rng = random.Random(1)
    cut, after = rng.randbytes(30), rng.randbytes(20)
    beats = beats_of(cut)
    # Beat 1 comes 12 cycles after beat 0: too late (lane 7 goes 8 cycles after beat 0).
    schedule = [beats[0], *[None] * 12, *beats[1:], None, *beats_of(after)]
    taken, _, underruns = run(schedule, rng=rng)
    assert frames_of(taken) == [(cut[:8], True), (after, False)]
    assert len(underruns) == 1
    assert underruns[0] == [c for c, *_ in taken][7] + 1


def test_a_last_beat_with_no_byte_aborts_the_frame():
    rng = random.Random(2)
    schedule = [Beat(int.from_bytes(b"abcdefgh", "little"), 0xFF, True, False),
                Beat(0, 0, False, True), *beats_of(b"next")]
    taken, _, underruns = run(schedule, rng=rng)
    # The abort byte is lane 0 of the empty beat; the MAC drops the frame for its `error`.
    assert frames_of(taken) == [(b"abcdefgh\x00", True), (b"next", False)]
    assert not underruns


def test_beats_before_a_first_are_dropped():
    stray = beats_of(b"0123456789abcdef")[1:]
    taken, _, _ = run([*stray, *beats_of(b"frame")], rng=random.Random(3))
    assert frames_of(taken) == [(b"frame", False)]
