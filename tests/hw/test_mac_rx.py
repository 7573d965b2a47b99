"""MacRx (hw/rtl/mac_rx.py) in the Amaranth simulator: GMII cycles in, frame bytes and verdicts
out, against a reference parser built on zlib. Good frames back to back at the minimum gap, FCS
errors, runts, giants, cut frames, RX_ER, missing SFD, garbage between frames; every byte's
latency is checked too."""

import random
import zlib

import pytest

from hw.rtl.mac_rx import LATENCY, MacRx
from hw.tb.unit import simulate
from spec.ethernet import CRC_RESIDUE, IFG_BYTES, MAX_FRAME, MIN_FRAME, PREAMBLE, SFD

HEAD = PREAMBLE + bytes([SFD])
IDLE = (0, 0, 0)


def wire(body: bytes, *, head: bytes = HEAD, er_at=()) -> list[tuple[int, int, int]]:
    """GMII cycles (data, dv, er) of one burst: `head`, then `body` (FCS included)."""
    raw = head + body
    return [(b, 1, int(n - len(head) in er_at)) for n, b in enumerate(raw)]


def good(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "little")


def gap(n: int = IFG_BYTES) -> list[tuple[int, int, int]]:
    return [IDLE] * n


def reference(cycles):
    """(bytes, verdict, cycle of each byte) per frame MacRx must emit, and the fragment count.

    Independent of the RTL's structure: split the cycles into rx_dv bursts, keep those made of
    0x55s, then SFD, with no RX_ER before it; judge the bytes after the SFD with zlib."""
    frames, fragments = [], 0
    bursts, current = [], []
    for n, (d, dv, er) in enumerate([*cycles, IDLE]):
        if dv:
            current.append((n, d, er))
        elif current:
            bursts.append(current)
            current = []
    for burst in bursts:
        data = [d for _, d, _ in burst]
        try:
            sfd = data.index(SFD)
        except ValueError:
            continue
        if sfd == 0 or any(d != 0x55 for d in data[:sfd]) or any(e for *_, e in burst[:sfd + 1]):
            continue
        body = burst[sfd + 1:]
        if len(body) > MAX_FRAME:
            kept = body[:MAX_FRAME - 4]
            verdict = {"crc": 0, "runt": 0, "giant": 1,
                       "phy": int(any(e for *_, e in body[:MAX_FRAME + 1]))}
        elif len(body) <= 4:
            fragments += 1
            continue
        else:
            kept = body[:-4]
            raw = bytes(d for _, d, _ in body)
            residue = zlib.crc32(raw) ^ 0xFFFFFFFF
            verdict = {"crc": int(residue != CRC_RESIDUE), "runt": int(len(body) < MIN_FRAME),
                       "giant": 0, "phy": int(any(e for *_, e in body))}
        frames.append((bytes(d for _, d, _ in kept), verdict, [n for n, _, _ in kept]))
    return frames, fragments


def run(cycles):
    """Drive `cycles` into a fresh MacRx; the frames it emitted, as the reference lists them,
    plus the number of o_fragment pulses and protocol errors seen on the outputs."""
    dut = MacRx()
    frames, errors = [], []
    state = {"bytes": None, "fragments": 0}

    async def bench(ctx, dut):
        for n, (d, dv, er) in enumerate([*cycles, *gap(LATENCY + 2)]):
            ctx.set(dut.rx_data, d)
            ctx.set(dut.rx_dv, dv)
            ctx.set(dut.rx_er, er)
            state["fragments"] += ctx.get(dut.o_fragment)
            verdict = ctx.get(dut.o_verdict)
            if ctx.get(dut.o_byte.valid):
                p = ctx.get(dut.o_byte.p)
                if p.first:
                    if state["bytes"] is not None:
                        errors.append(f"cycle {n}: first inside a frame")
                    state["bytes"] = ([], [])
                if state["bytes"] is None:
                    errors.append(f"cycle {n}: byte outside a frame")
                    state["bytes"] = ([], [])
                state["bytes"][0].append(p.data)
                state["bytes"][1].append(n - LATENCY)
                v = {"crc": verdict.crc, "runt": verdict.runt, "giant": verdict.giant,
                     "phy": verdict.phy}
                if p.last:
                    if p.error != any(v.values()):
                        errors.append(f"cycle {n}: error {p.error} with verdict {v}")
                    data, at = state["bytes"]
                    frames.append((bytes(data), v, at))
                    state["bytes"] = None
                elif any(v.values()) or p.error:
                    errors.append(f"cycle {n}: verdict {v} before last")
            elif ctx.get(dut.o_verdict.as_value()):
                errors.append(f"cycle {n}: verdict without a byte")
            await ctx.tick()

    simulate(dut, bench)
    return frames, state["fragments"], errors


def check(cycles):
    """`cycles` after 2 idle cycles (MacRx ignores a burst under way at reset) against the
    reference."""
    cycles = [*gap(2), *cycles]
    got, fragments, errors = run(cycles)
    want, want_fragments = reference(cycles)
    assert errors == []
    assert len(got) == len(want), f"{len(got)} frames, expected {len(want)}"
    for n, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g[0] == w[0], f"frame {n}: bytes differ"
        assert g[1] == w[1], f"frame {n}: verdict {g[1]} != {w[1]}"
        assert g[2] == w[2], f"frame {n}: a byte's latency is not {LATENCY} cycles"
    assert fragments == want_fragments
    return got


def random_body(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


NO_FAULT = {"crc": 0, "runt": 0, "giant": 0, "phy": 0}


def test_good_frames_back_to_back_at_the_minimum_gap():
    rng = random.Random(1)
    sizes = [60, 1518, 61, *(rng.randrange(60, 300) for _ in range(8))]
    bodies = [random_body(rng, n) for n in sizes]
    cycles = [c for b in bodies for c in [*wire(good(b)), *gap()]]
    got = check(cycles)
    assert [g[0] for g in got] == bodies
    assert all(g[1] == NO_FAULT for g in got)


def test_a_short_preamble_is_enough_but_an_sfd_is_needed():
    rng = random.Random(2)
    body = random_body(rng, 70)
    cycles = [*wire(good(body), head=bytes([0x55, SFD])), *gap(),
              *wire(good(body), head=bytes([SFD])), *gap(),                 # no preamble
              *wire(good(body), head=PREAMBLE), *gap(),                     # no SFD
              *wire(good(body), head=PREAMBLE[:3] + b"\x54" + bytes([SFD])), *gap(),
              *wire(good(body))]
    got = check(cycles)
    assert [g[0] for g in got] == [body, body]


def test_fcs_errors_are_flagged_for_any_flipped_bit():
    rng = random.Random(3)
    cycles, bodies = [], []
    for _ in range(12):
        body = random_body(rng, rng.randrange(60, 200))
        raw = bytearray(good(body))
        bit = rng.randrange(8 * len(raw))
        raw[bit // 8] ^= 1 << bit % 8
        cycles += [*wire(bytes(raw)), *gap()]
        bodies.append(bytes(raw[:-4]))
    got = check(cycles)
    assert [g[0] for g in got] == bodies
    assert all(g[1] == {**NO_FAULT, "crc": 1} for g in got)


def test_runts_and_fragments():
    rng = random.Random(4)
    cycles = []
    for n in [1, 2, 4, 5, 20, 59]:       # bytes before the FCS
        cycles += [*wire(good(random_body(rng, n))), *gap()]
    cycles += [*wire(b""), *gap(), *wire(b"\x01\x02\x03"), *gap()]
    got = check(cycles)
    assert [len(g[0]) for g in got] == [1, 2, 4, 5, 20, 59]
    assert [g[1]["runt"] for g in got] == [1] * 6
    assert all(g[1]["crc"] == 0 for g in got)
    _, fragments, _ = run([*gap(2), *cycles])
    assert fragments == 2


def test_giants_end_at_the_limit_and_the_rest_is_ignored():
    rng = random.Random(5)
    largest = random_body(rng, MAX_FRAME - 4)
    cycles = [*wire(good(largest)), *gap(),
              *wire(good(random_body(rng, MAX_FRAME - 3))), *gap(),
              *wire(random_body(rng, MAX_FRAME + 60), er_at={MAX_FRAME + 10}), *gap(),
              *wire(good(random_body(rng, 64)))]
    got = check(cycles)
    assert got[0][0] == largest and got[0][1] == NO_FAULT
    assert [g[1]["giant"] for g in got] == [0, 1, 1, 0]
    assert [len(g[0]) for g in got[1:3]] == [MAX_FRAME - 4] * 2
    assert got[2][1]["phy"] == 0        # the error came after the limit: not looked at


def test_cut_frames_rx_er_and_garbage_between_frames():
    rng = random.Random(6)
    cycles = []
    for _ in range(6):
        raw = good(random_body(rng, rng.randrange(60, 200)))
        cycles += [*wire(raw[:rng.randrange(5, len(raw) - 1)]), *gap()]
    body = random_body(rng, 100)
    cycles += [*wire(good(body), er_at={50}), *gap()]
    cycles += [*wire(good(body), head=PREAMBLE[:4]), (0x55, 1, 1), (SFD, 1, 0),
               *[(d, 1, 0) for d in good(body)], *gap()]               # RX_ER in the preamble
    cycles += [(rng.getrandbits(8), 0, rng.getrandbits(1)) for _ in range(30)]  # no rx_dv
    for _ in range(10):
        cycles += [*[(rng.getrandbits(8), 1, 0) for _ in range(rng.randrange(1, 40))], *gap(3)]
    cycles += [*wire(good(body)), *gap()]
    got = check(cycles)
    assert all(g[1]["crc"] for g in got[:6])
    assert got[6][1] == {**NO_FAULT, "phy": 1}
    assert got[-1] == (body, NO_FAULT, got[-1][2])


def test_a_frame_under_way_at_reset_is_ignored():
    rng = random.Random(7)
    body = random_body(rng, 80)
    tail = good(random_body(rng, 80))[30:]
    cycles = [*[(d, 1, 0) for d in tail], *gap(), *wire(good(body))]
    got, _, errors = run(cycles)
    assert errors == [] and [g[0] for g in got] == [body]


@pytest.mark.parametrize("seed", range(3))
def test_random_mix_against_the_reference(seed):
    rng = random.Random(100 + seed)
    cycles = []
    for _ in range(25):
        body = random_body(rng, rng.choice([rng.randrange(0, 80), rng.randrange(60, 400)]))
        raw = bytearray(good(body))
        kind = rng.randrange(6)
        if kind == 1 and raw:
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        if kind == 2:
            raw = raw[:rng.randrange(len(raw) + 1)]
        er_at = {rng.randrange(len(raw) + 1)} if kind == 3 else set()
        head = HEAD[rng.randrange(len(HEAD) - 1):] if kind != 4 else PREAMBLE
        cycles += [*wire(bytes(raw), head=head, er_at=er_at), *gap(rng.randrange(1, 20))]
    check(cycles)
