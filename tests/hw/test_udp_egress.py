"""UdpEgress (hw/rtl/udp_egress.py), in the Amaranth simulator: every FIX message becomes the
golden model's frame (sw/model/egress.py) byte for byte, under random input gaps and random
backpressure; latencies, the length check and the `sent` strobe are pinned."""

import random

import dpkt
import pytest

from hw.rtl.udp_egress import FIRST_LATENCY, UdpEgress
from hw.tb.frames import beats_of
from hw.tb.unit import simulate
from sw.model.egress import Endpoints, order_datagram

ENDPOINTS = Endpoints(src_mac=0x02_00_00_AB_CD_EF, src_ip=0x0A_00_00_02, src_port=40001,
                      dst_mac=0x3C_FD_FE_12_34_56, dst_ip=0xC0_A8_01_64, dst_port=9878)


def fix_message(rng, body_len, claimed=None):
    head = b"8=FIX.4.4\x019=%03d\x01" % (body_len if claimed is None else claimed)
    body = bytes(rng.choice(b"0123456789=ABCDEFGHIJ\x01") for _ in range(body_len))
    return head + body + b"10=000\x01"


def run(messages, *, rng, gap=0.0, stall=0.0, endpoints=ENDPOINTS, stray=()):
    """Feed `messages`; return frames (bytes), per-frame info and the strobes seen."""
    dut = UdpEgress()
    frames, events = [], {"sent": [], "length_error": [], "first_in": [], "last_in": [],
                          "first_out": [], "last_out": []}
    beats = [(beat, -1) for beat in stray]
    beats += [(beat, k) for k, msg in enumerate(messages) for beat in beats_of(msg)]

    async def bench(ctx, dut):
        for name in ("src_mac", "src_ip", "src_port", "dst_mac", "dst_ip", "dst_port"):
            ctx.set(getattr(dut.endpoints, name), getattr(endpoints, name))
        current, offered, cycle, idle_after = bytearray(), None, 0, 0
        while beats or offered or idle_after < 30:
            if offered is None and beats and rng.random() >= gap:
                offered = beats.pop(0)
            ctx.set(dut.i_msg.valid, offered is not None)
            if offered:
                beat = offered[0]
                for field in ("data", "keep", "first", "last"):
                    ctx.set(getattr(dut.i_msg.p, field), getattr(beat, field))
            ctx.set(dut.o_frame.ready, rng.random() >= stall)
            if offered and ctx.get(dut.i_msg.ready):
                if offered[0].first:
                    events["first_in"].append(cycle)
                if offered[0].last:
                    events["last_in"].append(cycle)
                offered = None
            o = dut.o_frame.p
            if ctx.get(dut.o_frame.valid):
                if ctx.get(o.first) and (not events["first_out"]
                                         or events["first_out"][-1][1] != "pending"):
                    events["first_out"].append((cycle, "pending"))
                if ctx.get(o.last) and (not events["last_out"]
                                        or events["last_out"][-1][1] != "pending"):
                    events["last_out"].append((cycle, "pending"))
            if ctx.get(dut.o_frame.valid) and ctx.get(dut.o_frame.ready):
                assert bool(ctx.get(o.first)) == (not current)
                keep = ctx.get(o.keep)
                n = bin(keep).count("1") if ctx.get(o.last) else 8
                current += ctx.get(o.data).to_bytes(8, "little")[:n]
                if ctx.get(o.first):
                    events["first_out"][-1] = (events["first_out"][-1][0], "done")
                if ctx.get(o.last):
                    events["last_out"][-1] = (events["last_out"][-1][0], "done")
                    frames.append(bytes(current))
                    current = bytearray()
            for name in ("sent", "length_error"):
                if ctx.get(getattr(dut, name)):
                    events[name].append(cycle)
            idle_after = 0 if (beats or offered) else idle_after + 1
            cycle += 1
            await ctx.tick()
        assert not current

    simulate(dut, bench)
    events["first_out"] = [n for n, _ in events["first_out"]]
    events["last_out"] = [n for n, _ in events["last_out"]]
    return frames, events


@pytest.mark.parametrize("seed,gap,stall", [(0, 0.0, 0.0), (1, 0.3, 0.0), (2, 0.0, 0.4),
                                            (3, 0.3, 0.3), (4, 0.6, 0.6)])
def test_frames_match_the_golden_model_under_gaps_and_backpressure(seed, gap, stall):
    rng = random.Random(seed)
    lengths = [rng.randint(10, 999) for _ in range(12)] + [10, 999, 11, 12, 13, 14, 15, 16, 17]
    messages = [fix_message(rng, n) for n in lengths]
    frames, events = run(messages, rng=rng, gap=gap, stall=stall)
    expected = [order_datagram(ENDPOINTS, msg, ip_id) for ip_id, msg in enumerate(messages)]
    assert frames == expected
    assert len(events["sent"]) == len(messages) and not events["length_error"]
    # An independent parser agrees on the headers (dpkt checks nothing for us: compare fields).
    ip = dpkt.ethernet.Ethernet(frames[0]).data
    assert isinstance(ip.data, dpkt.udp.UDP) and ip.ttl == 64 and ip.df == 1
    assert ip.data.data == messages[0] and ip.data.sum == 0


def test_the_ip_checksum_verifies_and_the_identification_counts():
    rng = random.Random(7)
    messages = [fix_message(rng, rng.randint(10, 200)) for _ in range(5)]
    frames, _ = run(messages, rng=rng)
    for ip_id, frame in enumerate(frames):
        header = frame[14:34]
        total = sum(int.from_bytes(header[i:i + 2], "big") for i in range(0, 20, 2))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        assert total == 0xFFFF
        assert int.from_bytes(frame[18:20], "big") == ip_id


@pytest.mark.parametrize("body_len,last_latency", [(100, 1), (103, 1), (104, 2), (105, 2)])
def test_latency_first_beat_and_last_beat(body_len, last_latency):
    # Message lengths 123, 126, 127, 128: last beat with 3, 6, 7 and 8 bytes.
    rng = random.Random(body_len)
    frames, events = run([fix_message(rng, body_len)], rng=rng)
    assert events["first_out"][0] - events["first_in"][0] == FIRST_LATENCY == 1
    assert events["last_out"][0] - events["last_in"][0] == last_latency
    assert events["sent"] == events["last_out"]
    # The output never idles inside the frame when the input never does.
    beats = -(-len(frames[0]) // 8)
    assert events["last_out"][0] - events["first_out"][0] == beats - 1


@pytest.mark.parametrize("payload", [
    b"8=FIX.4.4\x019=050\x01" + b"x" * 40 + b"10=000\x01",    # shorter than it claims
    b"8=FIX.4.4\x019=010\x01" + b"x" * 40 + b"10=000\x01",    # longer than it claims
    b"8=FIX.4.4\x019=0A0\x01" + b"x" * 10 + b"10=000\x01",    # BodyLength not digits
    b"8=FIX",                                                 # one beat
    b"8=FIX.4.4\x019=",                                       # two beats
])
def test_a_message_of_the_wrong_length_still_ends_the_frame_and_is_flagged(payload):
    rng = random.Random(9)
    good = fix_message(rng, 30)
    frames, events = run([payload, good], rng=rng, stall=0.3)
    assert frames[0][42:] == payload and len(frames[0]) == 42 + len(payload)
    assert frames[0][:14] == order_datagram(ENDPOINTS, payload, 0)[:14]
    assert frames[1] == order_datagram(ENDPOINTS, good, 1)
    assert len(events["sent"]) == 2 and events["length_error"] == events["sent"][:1]


def test_beats_before_a_first_are_dropped():
    rng = random.Random(11)
    msg = fix_message(rng, 20)
    frames, events = run([msg], rng=rng, stray=beats_of(b"stray!!!" * 3)[1:])
    assert frames == [order_datagram(ENDPOINTS, msg, 0)] and len(events["sent"]) == 1
