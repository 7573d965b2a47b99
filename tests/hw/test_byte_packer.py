"""BytePacker (hw/rtl/byte_packer.py), in the Amaranth simulator: random frames and verdicts
with idle gaps come out as beats with the right lanes, flags and verdicts; cut frames end
errored; the latency is pinned."""

import random

import pytest

from hw.rtl.byte_packer import BytePacker
from hw.tb.unit import simulate

CRC = 1     # RxVerdict.crc is bit 0; runt 1, giant 2, phy 3


def run(dut, cycles):
    """Drive `cycles` (each None or a dict of i_byte fields plus "verdict") and return the
    beats seen, as (cycle, data, keep, first, last, verdict)."""
    seen = []

    async def bench(ctx, dut):
        for n, byte in enumerate([*cycles, None, None]):
            ctx.set(dut.i_byte.valid, byte is not None)
            byte = byte or {}
            for field in ("data", "first", "last", "error"):
                ctx.set(getattr(dut.i_byte.p, field), byte.get(field, 0))
            ctx.set(dut.i_verdict.as_value(), byte.get("verdict", 0))
            if ctx.get(dut.o_beat.valid):
                beat = dut.o_beat.p.beat
                seen.append((n, ctx.get(beat.data), ctx.get(beat.keep), ctx.get(beat.first),
                             ctx.get(beat.last), ctx.get(dut.o_beat.p.verdict.as_value())))
            await ctx.tick()

    simulate(dut, bench)
    return seen


def frames_of(beats):
    """(bytes, verdict) per frame, checking `first` only on a frame's first beat."""
    frames, current = [], None
    for _, data, keep, first, last, verdict in beats:
        assert bool(first) == (current is None)
        current = current if current is not None else bytearray()
        n = bin(keep).count("1") if last else 8
        assert last or keep == 0xFF
        assert last or verdict == 0
        current += data.to_bytes(8, "little")[:n]
        if last:
            frames.append((bytes(current), verdict))
            current = None
    return frames


def byte_cycles(frame, verdict, rng, idle, error=0):
    out = []
    for i, value in enumerate(frame):
        while rng.random() < idle:
            out.append(None)
        last = i == len(frame) - 1
        out.append({"data": value, "first": i == 0, "last": last,
                    "verdict": verdict if last else 0, "error": error if last else 0})
    return out


@pytest.mark.parametrize("seed", range(3))
def test_random_frames_verdicts_and_gaps(seed):
    rng = random.Random(seed)
    cycles, expected = [], []
    for _ in range(60):
        frame = rng.randbytes(rng.randint(1, 90))
        verdict = rng.choice([0, 0, 0, 1, 2, 4, 8, 9])
        cycles += byte_cycles(frame, verdict, rng, idle=0.3 if seed else 0.0)
        expected.append((frame, verdict))
        cycles += [None] * rng.randint(0, 3 if seed else 0)
    assert frames_of(run(BytePacker(), cycles)) == expected


def test_a_beat_comes_out_the_cycle_after_its_eighth_or_last_byte():
    frame = bytes(range(1, 12))
    beats = run(BytePacker(), byte_cycles(frame, 0, random.Random(0), idle=0))
    assert [(n, keep, first, last) for n, _, keep, first, last, _ in beats] == [
        (8, 0xFF, 1, 0), (11, 0x07, 0, 1)]
    assert beats[0][1] == int.from_bytes(frame[:8], "little")
    assert beats[1][1] == int.from_bytes(frame[8:], "little")


def test_a_first_byte_inside_a_frame_ends_it_errored():
    rng = random.Random(1)
    cut = byte_cycles(bytes(range(10)), 0, rng, idle=0)[:5]       # no last byte
    whole = byte_cycles(b"\xaa" * 9, 0, rng, idle=0)
    cut_on_beat = byte_cycles(bytes(range(20, 40)), 0, rng, idle=0)[:16]
    after = byte_cycles(b"\x55" * 3, 0, rng, idle=0)
    frames = frames_of(run(BytePacker(), cut + whole + cut_on_beat + after))
    assert frames == [(bytes(range(5)), CRC), (b"\xaa" * 9, 0),
                      (bytes(range(20, 36)), CRC), (b"\x55" * 3, 0)]


def test_a_one_byte_frame_that_cuts_a_frame_is_dropped():
    rng = random.Random(2)
    cycles = (byte_cycles(b"abc", 0, rng, idle=0)[:2] + byte_cycles(b"z", 0, rng, idle=0)
              + byte_cycles(b"0123456789", 0, rng, idle=0))
    assert frames_of(run(BytePacker(), cycles)) == [(b"ab", CRC), (b"0123456789", 0)]


def test_stray_bytes_are_dropped_and_error_alone_sets_crc():
    stray = [{"data": 0x11}, {"data": 0x22, "last": 1}]
    rng = random.Random(3)
    cycles = stray + byte_cycles(b"hello", 0, rng, idle=0, error=1) \
        + byte_cycles(b"world!", 8, rng, idle=0, error=1)
    assert frames_of(run(BytePacker(), cycles)) == [(b"hello", CRC), (b"world!", 8)]
