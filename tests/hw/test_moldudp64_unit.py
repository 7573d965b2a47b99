"""MoldUDP64 stage + ITCH decoder RTL, quick tier: Amaranth's simulator against the golden model.

The pair is driven with UDP payloads as the network filter delivers them, at every start lane
(the filter only produces lanes 2 and 6; the stage must not depend on that). Every event is
checked bit for bit with its message index and the stale flag the model has at that message;
every counter is checked at the end.
"""

import random

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hw.rtl import itch, moldudp64
from hw.rtl.csr import COUNTER_BITS
from hw.rtl.records import BookEvent, FeedEvent, PayloadBeat, pack, unpack
from hw.tb.feed import payload_beats, reference
from sw.feed import itch as codec
from sw.feed import mold
from sw.feed.generator import MarketConfig, MarketGenerator
from sw.model.sequencer import Sequencer

SESSION = b"NERVE00001"


class Pair(wiring.Component):
    """MoldUDP64 -> ItchDecoder, wired as in the ingress."""

    def __init__(self):
        self.mold = moldudp64.MoldUDP64()
        self.decoder = itch.ItchDecoder()
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mold = self.mold
        m.submodules.decoder = self.decoder
        wiring.connect(m, mold=self.mold.o_message, decoder=self.decoder.i_message)
        m.d.comb += self.mold.malformed.eq(self.decoder.malformed)
        return m


def simulate(items):
    """Drive payload beats (None: idle; "clear": host clears stale); return what came out."""
    dut = Pair()
    mold_in, events_out = dut.mold.i_payload, dut.decoder.o_event
    got = {"events": [], "counters": {}}

    async def bench(ctx):
        driven = {}
        for cycle, item in enumerate([*items, *[None] * 4], start=1):
            ctx.set(dut.mold.clear_stale, item == "clear")
            if item is None or item == "clear":
                ctx.set(mold_in.valid, 0)
            else:
                key, fields = item
                ctx.set(mold_in.valid, 1)
                ctx.set(mold_in.p.as_value(), pack(PayloadBeat, fields))
                driven[key] = cycle - 1
            ctx.set(dut.mold.ingress_cycle, cycle)
            await ctx.tick()
            if ctx.get(events_out.valid):
                word = ctx.get(events_out.p.as_value())
                fields = unpack(FeedEvent, word)
                got["events"].append((cycle, fields, ctx.get(dut.mold.stale)))
        got["driven"] = driven
        for name, _ in moldudp64.MoldCounters:
            got["counters"][name] = ctx.get(getattr(dut.mold.counters, name))
        for name, _ in itch.ItchCounters:
            got["counters"][name] = ctx.get(getattr(dut.decoder.counters, name))
        got["stale"] = ctx.get(dut.mold.stale)
        got["expected"] = ctx.get(dut.mold.status.expected)
        got["session"] = ctx.get(dut.mold.status.session)

    sim = Simulator(dut)
    sim.add_clock(6.4e-9)
    sim.add_testbench(bench)
    sim.run()
    return got


def drive(payloads, lanes, idle=0.0, seed=0, gap=1, clear_before=frozenset()):
    """Beats for `payloads`, payload n starting at lane lanes[n], `gap` idle cycles between
    packets and random idle cycles inside them."""
    rng = random.Random(seed)
    items = []
    for n, (payload, lane) in enumerate(zip(payloads, lanes, strict=True)):
        if n in clear_before:
            items.append("clear")
        for b, fields in enumerate(payload_beats(payload, lane)):
            while b and rng.random() < idle:
                items.append(None)
            items.append(((n, b), fields))
        items += [None] * gap
    return items


def check(payloads, lanes=None, idle=0.0, seed=0, gap=1, clear_before=frozenset()):
    lanes = lanes if lanes is not None else [2] * len(payloads)
    got = simulate(drive(payloads, lanes, idle, seed, gap, clear_before))
    want = reference(payloads, clear_before)
    events = [(f, stale) for _, f, stale in got["events"]]
    assert len(events) == len(want.events), (len(events), len(want.events))
    for n, ((f, stale), w) in enumerate(zip(events, want.events, strict=True)):
        assert f["event"] == w.bits, f"event {n} ({w.msg_type}): " \
            f"{unpack(BookEvent, f['event'])} != {unpack(BookEvent, w.bits)}"
        assert f["index"] == w.index, f"event {n}"
        assert stale == w.stale, f"event {n}: stale {stale} != {w.stale}"
    for name, value in got["counters"].items():
        # Counters are 48-bit registers: the model's unbounded count, modulo 2**48.
        assert value == want.counters.get(name, 0) % (1 << COUNTER_BITS), (
            name, got["counters"], dict(want.counters))
    assert got["stale"] == want.stale
    assert got["expected"] == want.expected
    assert got["session"] == int.from_bytes(want.session or b"", "big")
    # Latency: every event leaves 2 cycles after the beat that carried its message's last byte.
    for (cycle, _, _), w in zip(got["events"], want.events, strict=True):
        beat = (lanes[w.packet] + w.last_byte) // 8
        assert cycle - got["driven"][(w.packet, beat)] == 2
    return want


def messages(n, seed=1, symbols=4):
    return [codec.encode(msg) for msg in MarketGenerator(
        MarketConfig(symbols=symbols, messages=n, seed=seed))]


def packets(msgs, per_packet, first_seq=1, session=SESSION):
    out, seq = [], first_seq
    for i in range(0, len(msgs), per_packet):
        chunk = msgs[i:i + per_packet]
        out.append(mold.encode(session, seq, chunk))
        seq += len(chunk)
    return out


@pytest.mark.parametrize("lane", range(8))
def test_every_start_lane(lane):
    want = check(packets(messages(60, seed=lane), 7), lanes=[lane] * 9)
    assert len(want.events) > 40


def test_every_message_type_at_every_alignment():
    """A filler of 11..18 bytes shifts each message type through all 8 byte alignments."""
    generated = messages(400, seed=3, symbols=3)
    by_type = {}
    for m in generated:
        by_type.setdefault(chr(m[0]), m)
    assert set(by_type) >= set("SRHAFECXDUP")
    payloads = []
    for filler in range(11, 19):
        body = [b"Z" + bytes(filler - 1)] + [by_type[t] for t in "SRHAFECXDUP"]
        payloads.append(mold.encode(SESSION, 1 + len(payloads) * 12, body))
    want = check(payloads, lanes=[2, 6] * 4)
    assert {e.msg_type for e in want.events} == set("SRHAFECXDU")


def test_back_to_back_packets_with_idle_cycles():
    check(packets(messages(300, seed=5), 9), idle=0.3, seed=5, gap=0)


def test_gaps_duplicates_overlaps_heartbeats_end_of_session():
    msgs = messages(40, seed=7)
    p = [mold.encode(SESSION, 1, msgs[0:5]),          # learn at 1
         mold.encode(SESSION, 1, msgs[0:5]),          # duplicate packet
         mold.encode(SESSION, 4, msgs[3:9]),          # overlaps: 4, 5 skipped
         mold.heartbeat(SESSION, 10),                 # heartbeat, in order
         mold.encode(SESSION, 13, msgs[12:15]),       # gap: 10-12 missing
         mold.encode(b"OTHERSESS1", 16, msgs[15:17]),  # another session
         mold.heartbeat(SESSION, 20),                 # heartbeat with a gap
         mold.encode(SESSION, 20, msgs[19:22]),
         mold.end_of_session(SESSION, 23)]
    want = check(p, lanes=[6, 2, 6, 2, 6, 2, 6, 2, 6])
    assert want.counters["gaps"] == 2 and want.counters["duplicate_packets"] == 1
    assert want.counters["duplicate_messages"] == 2 and want.counters["wrong_session"] == 1


def test_stale_cleared_by_the_host_and_raised_again():
    msgs = messages(30, seed=8)
    p = [mold.encode(SESSION, 1, msgs[0:5]), mold.encode(SESSION, 9, msgs[8:12]),
         mold.encode(SESSION, 13, msgs[12:15]), mold.encode(SESSION, 20, msgs[19:22]),
         mold.encode(SESSION, 23, msgs[22:25])]
    want = check(p, clear_before={2, 4})
    assert not want.stale


BAD = {
    "length below the ITCH header": b"\x00\x0aZ123456789",
    "length zero": b"\x00\x00",
    "runs past the payload": b"\x00\x30" + bytes(20),
    "half a prefix": b"\x00",
}


@pytest.mark.parametrize("tail", sorted(BAD))
@pytest.mark.parametrize("lane", [2, 5, 6])
def test_bad_lengths_end_the_packet_and_the_next_decodes(tail, lane):
    msgs = messages(20, seed=9)
    good = mold.encode(SESSION, 1, msgs[0:4])
    bad = mold.encode(SESSION, 5, msgs[4:7])
    bad = mold.HEADER.pack(SESSION, 5, 5) + bad[mold.HEADER_SIZE:] + BAD[tail]
    after = mold.encode(SESSION, 10, msgs[9:13])
    want = check([good, bad, after], lanes=[lane] * 3)
    assert want.counters["bad_message_length"] == 1 and want.counters["gaps"] == 1


def test_short_packets_trailing_bytes_and_counts_beyond_the_payload():
    msgs = messages(30, seed=10)
    p = [b"", b"NERVE", mold.encode(SESSION, 1, msgs[0:3])[:19],   # truncated headers
         mold.encode(SESSION, 1, msgs[0:3]) + b"\x00\x0bjunkjunkjun",  # trailing message
         mold.encode(SESSION, 4, msgs[3:6]) + b"\x00",               # trailing byte
         mold.HEADER.pack(SESSION, 7, 5) + mold.encode(SESSION, 7, msgs[6:8])[20:],  # short
         mold.encode(SESSION, 12, msgs[11:14])]
    want = check(p, lanes=[2, 6, 2, 6, 2, 6, 2])
    assert want.counters["truncated_header"] == 3 and want.counters["trailing_bytes"] == 2


def test_malformed_messages_raise_stale_and_make_no_event():
    msgs = messages(30, seed=11)
    adds = [m for m in msgs if m[:1] == b"A"]
    bad_side = adds[0][:19] + b"X" + adds[0][20:]
    long_delete = b"D" + bytes(19)
    p = [mold.encode(SESSION, 1, msgs[0:4]),
         mold.encode(SESSION, 5, [msgs[4], bad_side, msgs[6]]),
         mold.encode(SESSION, 8, [long_delete, msgs[8]])]
    want = check(p, clear_before={2})
    assert want.counters["malformed"] == 2


def test_random_payloads_never_hang_and_match_the_model():
    """Random, mutated and plausible payloads around the expected sequence, at random lanes."""
    rng = random.Random(12)
    msgs = messages(400, seed=12)
    model = Sequencer()                 # follows the feed, so most packets are near `expected`
    payloads, lanes = [], []
    for n in range(150):
        roll = rng.random()
        count = rng.randrange(1, 8)
        first = max(0, model.expected + rng.choice((0, 0, 0, -2, 1, 3))) if n else 1
        start = rng.randrange(len(msgs) - count)
        payload = bytearray(mold.encode(SESSION, first, msgs[start:start + count]))
        if n and roll < 0.15:
            payload = bytearray(rng.randbytes(rng.randrange(0, 80)))
        elif n and roll < 0.4:             # corrupt the messages, rarely the header
            for _ in range(rng.randrange(1, 3)):
                payload[rng.randrange(rng.choice((0, 20)), len(payload))] = rng.randrange(256)
        elif n and roll < 0.5:
            payload = payload[:rng.randrange(len(payload) + 1)]
        payloads.append(bytes(payload))
        lanes.append(rng.randrange(8))
        list(model.packet(memoryview(payload)))
    want = check(payloads, lanes=lanes, idle=0.1, seed=12, clear_before=set(range(0, 150, 10)))
    assert len(want.events) > 300
    assert want.counters["gaps"] > 5 and want.counters["bad_message_length"] > 5


def test_packets_far_behind_are_duplicates():
    """More than 2**16 messages behind: the skip count saturates and the packet is dropped."""
    msgs = messages(20, seed=13)
    far = 200_000
    p = [mold.encode(SESSION, far, msgs[0:3]),
         mold.encode(SESSION, far - 70_000, msgs[3:6]),        # 70,000 behind
         mold.encode(SESSION, far - 65_536, msgs[6:9]),        # exactly 2**16 behind
         mold.encode(SESSION, far + 1, msgs[9:12])]            # overlaps: 2 already seen
    want = check(p, lanes=[2, 6, 2, 6])
    assert want.counters["duplicate_packets"] == 2 and want.counters["duplicate_messages"] == 2
