"""MacTx (hw/rtl/mac_tx.py) in the Amaranth simulator: the byte-exact wire image (preamble, SFD,
pad, FCS from zlib), the gap between back-to-back frames, latency, and the aborts (underrun,
error byte) with TX_ER, a wrong FCS and the rest of the frame thrown away."""

import random
import zlib

from hw.rtl.mac_tx import FIRST_TAKEN, LATENCY, START_LATENCY, MacTx
from hw.tb.unit import simulate
from spec.ethernet import IFG_BYTES, MIN_FRAME, PREAMBLE, SFD

HEAD = PREAMBLE + bytes([SFD])


def image(body: bytes) -> bytes:
    padded = body + bytes(max(0, MIN_FRAME - 4 - len(body)))
    return HEAD + padded + zlib.crc32(padded).to_bytes(4, "little")


def run(frames, *, holes=None, errors=None, cycles_after=40):
    """Offer `frames` back to back on i_byte (a stream producer: a byte stays until taken).

    `holes`: {(frame, byte index)} where the producer offers nothing for one cycle before that
    byte (an underrun); `errors`: {(frame, byte index)} sent with `error`. Returns the bursts
    on the GMII outputs [(start cycle, [(data, er)])], the idle cycles before each burst, the
    cycles each byte was taken and seen on tx_data, and the underrun pulses."""
    holes, errors = holes or set(), errors or set()
    dut = MacTx()
    queue = [(f, i, b, i == 0, i == len(body) - 1) for f, body in enumerate(frames)
             for i, b in enumerate(body)]
    out = {"bursts": [], "gaps": [], "taken": [], "underruns": [], "first_valid": None}

    async def bench(ctx, dut):
        pos, cycle, idle, burst, hole_done = 0, 0, 0, None, set()
        while pos < len(queue) or cycle < out.get("end", 1 << 30):
            if pos < len(queue):
                f, i, b, first, last = queue[pos]
                hole = (f, i) in holes and (f, i) not in hole_done
                ctx.set(dut.i_byte.valid, not hole)
                ctx.set(dut.i_byte.p, {"data": b, "first": first, "last": last,
                                       "error": (f, i) in errors})
                if out["first_valid"] is None:
                    out["first_valid"] = cycle
            else:
                hole = False
                ctx.set(dut.i_byte.valid, 0)
                out.setdefault("end", cycle + cycles_after)
            if ctx.get(dut.tx_en):
                if burst is None:
                    burst = (cycle, [])
                    out["bursts"].append(burst)
                    out["gaps"].append(idle)
                burst[1].append((ctx.get(dut.tx_data), ctx.get(dut.tx_er)))
                idle = 0
            else:
                burst, idle = None, idle + 1
                assert not ctx.get(dut.tx_er), "tx_er without tx_en"
            if ctx.get(dut.underrun):
                out["underruns"].append(cycle)
            if pos < len(queue):
                if hole:
                    # The hole lasts while the MAC wants a byte: one cycle of a frame under way.
                    if ctx.get(dut.i_byte.ready):
                        hole_done.add((f, i))
                elif ctx.get(dut.i_byte.ready):
                    out["taken"].append((cycle, f, i))
                    pos += 1
            await ctx.tick()
            cycle += 1

    simulate(dut, bench)
    return out


def test_wire_image_pad_fcs_and_minimum_gap_back_to_back():
    rng = random.Random(1)
    frames = [bytes(rng.getrandbits(8) for _ in range(n))
              for n in [1, 59, 60, 61, 14, 200, 1514, 3, 100]]
    out = run(frames)
    wires = [bytes(d for d, _ in burst) for _, burst in out["bursts"]]
    assert wires == [image(f) for f in frames]
    assert not any(er for _, burst in out["bursts"] for _, er in burst)
    # Back to back: exactly the minimum gap between frames (the first is after reset).
    assert out["gaps"][1:] == [IFG_BYTES] * (len(frames) - 1)
    assert out["underruns"] == []


def test_latency_from_valid_to_preamble_and_from_byte_to_wire():
    rng = random.Random(2)
    frames = [bytes(rng.getrandbits(8) for _ in range(70)) for _ in range(3)]
    out = run(frames)
    assert out["bursts"][0][0] - out["first_valid"] == START_LATENCY
    first_taken = out["taken"][0][0]
    assert first_taken - out["first_valid"] == FIRST_TAKEN
    # Byte i of a frame is wire byte len(HEAD) + i of its burst.
    for cycle, f, i in out["taken"]:
        start, _ = out["bursts"][f]
        assert start + len(HEAD) + i - cycle == LATENCY


def aborted(burst, at):
    """Checks of an aborted burst: clean up to wire byte `at`, tx_er from there to the end,
    and the last 4 bytes are not the FCS of what came before them."""
    data = bytes(d for d, _ in burst)
    ers = [er for _, er in burst]
    assert data[:len(HEAD)] == HEAD
    assert ers == [0] * at + [1] * (len(burst) - at)
    assert zlib.crc32(data[len(HEAD):-4]).to_bytes(4, "little") != data[-4:]


def test_underrun_aborts_with_tx_er_and_discards_the_rest_of_the_frame():
    rng = random.Random(3)
    frames = [bytes(rng.getrandbits(8) for _ in range(n)) for n in [80, 90, 30, 70]]
    out = run(frames, holes={(1, 40), (2, 29)})
    bursts = [b for _, b in out["bursts"]]
    assert len(bursts) == 4
    assert bytes(d for d, _ in bursts[0]) == image(frames[0])
    aborted(bursts[1], len(HEAD) + 40)
    aborted(bursts[2], len(HEAD) + 29)      # the hole before its last byte
    assert bytes(d for d, _ in bursts[3]) == image(frames[3])
    assert len(bursts[1]) == len(HEAD) + 41 + 4     # no pad, no more bytes after the abort
    assert len(out["underruns"]) == 2
    # The pulse comes with the first tx_er byte.
    assert out["underruns"][0] == out["bursts"][1][0] + len(HEAD) + 40
    assert all(g >= IFG_BYTES for g in out["gaps"][1:])
    # Every byte of the aborted frames was taken (thrown away), none sent twice.
    assert len(out["taken"]) == sum(len(f) for f in frames)


def test_error_byte_aborts_and_the_next_frame_goes_out_intact():
    rng = random.Random(4)
    frames = [bytes(rng.getrandbits(8) for _ in range(n)) for n in [70, 40, 65, 64]]
    out = run(frames, errors={(0, 10), (2, 64)})
    bursts = [b for _, b in out["bursts"]]
    assert len(bursts) == 4
    aborted(bursts[0], len(HEAD) + 10)
    assert bytes(d for d, _ in bursts[1]) == image(frames[1])
    aborted(bursts[2], len(HEAD) + 64)      # error on the last byte: nothing to discard
    assert bytes(d for d, _ in bursts[3]) == image(frames[3])
    assert out["underruns"] == []
    # After frame 0 the gap lasts while its other 59 bytes are thrown away (4 of them during
    # the FCS).
    assert out["gaps"][1:] == [59 - 4, IFG_BYTES, IFG_BYTES]
