"""cocotb tests of the ingress RTL (run by tests/hw/test_ingress.py under Verilator).

The DUT is configured and its counters are read through the CSR bus, at the addresses of the
exported register map. Traffic: frames of a synthetic MoldUDP64 feed (with dropped and repeated
packets), foreign and malformed frames, mutated feed payloads, random beats, cuts and idle gaps.
Checks, bit for bit against the golden model: every book event with its message index, the stale
flag at that event and its ingress cycle (hw/tb/feed.ingress_reference); every payload byte and
truncation flag of the filter's monitor output (hw/tb/frames.expected); every counter. Every
event must leave `LATENCY` cycles after the beat that carried its message's last byte.
"""

import json
import os
import random
import time
from collections import defaultdict

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from hw.rtl import itch, moldudp64
from hw.rtl.csr import COUNTER_BITS
from hw.rtl.ingress import LATENCY, REGMAP
from hw.rtl.netfilter import NetFilterCounters
from hw.rtl.records import BookEvent, FeedEvent, FrameBeat, PayloadBeat, pack, unpack
from hw.tb.csr import CsrMaster
from hw.tb.feed import ingress_reference
from hw.tb.frames import Beat, beats_of, expected, with_idle
from hw.tb.netfilter import DST, PacketCollector, good, with_ip_header, with_options
from sw.feed import itch as itch_codec
from sw.feed import mold
from sw.feed.generator import MarketConfig, MarketGenerator, PcapOptions, pcap_frames
from sw.feed.net import udp_frame

SEED = int(os.environ.get("NERVE_SEED", "1"))
SCALE = float(os.environ.get("NERVE_SCALE", "1"))  # the benchmark runs longer campaigns


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.cycle = 0
        self.collector = PacketCollector()
        self.csr = CsrMaster(dut, REGMAP)
        self.filter_latencies: list[int] = []
        self.driven: list[int] = []        # cycle each beat was driven, over every send()
        self.events: list[tuple[int, dict, int]] = []   # (cycle, FeedEvent fields, stale)
        cocotb.start_soon(Clock(dut.clk, 6.4, unit="ns").start())
        cocotb.start_soon(self._count_edges())

    async def edge(self):
        await RisingEdge(self.dut.clk)

    async def _count_edges(self):
        """`cycle` counts every rising edge, whatever the testbench is doing (a CSR access
        that starts by waiting for a falling edge can let a whole cycle go by)."""
        while True:
            await RisingEdge(self.dut.clk)
            self.cycle += 1

    async def reset(self, dst=DST):
        self.dut.rst.value = 1
        self.dut.i_frame__valid.value = 0
        self.csr.idle()
        for _ in range(2):
            await self.edge()
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await self.csr.write("net_dst_ip", dst.ip_int)
        await self.csr.write("net_dst_port", dst.port)

    async def send(self, items):
        """Drive beats (None = idle cycle), one per clock; collect outputs as they come.

        `self.cycle` counts rising edges. A beat is recorded with the count before the edge that
        samples it, an output with the count after the edge that loaded it, so their difference
        is the latency as the RTL docstrings count it (a beat's own cycle included).
        """
        previous = None   # what was driven one iteration ago: the filter's latency is 2 cycles
        for item in [*items, *[None] * (LATENCY + 1)]:
            await FallingEdge(self.dut.clk)
            if item is None:
                self.dut.i_frame__valid.value = 0
            else:
                self.dut.i_frame__valid.value = 1
                self.dut.i_frame__payload.value = pack(
                    FrameBeat, (item.data, item.keep, int(item.first), int(item.last)))
                self.driven.append(self.cycle)
            await self.edge()
            await ReadOnly()
            if self.dut.o_payload__valid.value:
                p = unpack(PayloadBeat, self.dut.o_payload__payload.value.to_unsigned())
                self.collector.beat(p["data"], p["keep"], p["first"], p["last"],
                                    p["truncated"])
                if previous is not None and p["keep"]:
                    # the register loaded at this edge carries the beat sampled at the edge
                    # before: 2 cycles from the beat's edge in to its output being visible
                    self.filter_latencies.append(2 if p["data"] == previous.data else 0)
            if self.dut.o_event__valid.value:
                fields = unpack(FeedEvent, self.dut.o_event__payload.value.to_unsigned())
                self.events.append((self.cycle, fields, int(self.dut.stale.value)))
            previous = item

    async def counters(self) -> dict[str, int]:
        return {name: await self.csr.read(f"net_{name}") for name, _ in NetFilterCounters}


async def check(tb: TB, beats: list[Beat], clear_stale_at: frozenset[int] = frozenset()):
    """The filter's payload and counters, then every event and the MoldUDP64/ITCH counters.

    `beats`: everything sent since reset; `clear_stale_at`: beat indices before which the
    host cleared the stale flag."""
    want = expected(beats, DST)
    assert tb.collector.errors == []
    got, exp = tb.collector.packets, want.packets
    assert len(got) == len(exp), f"{len(got)} packets, expected {len(exp)}"
    for n, (g, e) in enumerate(zip(got, exp, strict=True)):
        assert g == e, f"packet {n}: {g!r} != {e!r}"
    counters = await tb.counters()
    assert await tb.csr.read("csr_bad_writes") == 0
    for name, _ in NetFilterCounters:
        assert counters[name] == want.counters.get(name, 0), (name, counters, want.counters)
    latencies = await check_events(tb, beats, clear_stale_at)
    return want, latencies


async def check_events(tb: TB, beats: list[Beat], clear_stale_at=frozenset()):
    """Events, stale, ingress cycles, latencies and counters against the golden model."""
    ref, placed = ingress_reference(beats, DST, clear_stale_at)
    assert len(tb.events) == len(placed), f"{len(tb.events)} events, expected {len(placed)}"
    offset = None
    latencies = defaultdict(list)
    for n, ((cycle, got, stale), want) in enumerate(zip(tb.events, placed, strict=True)):
        exp = want.expected
        assert got["event"] == exp.bits, (f"event {n} ({exp.msg_type}): "
                                          f"{unpack(BookEvent, got['event'])} != "
                                          f"{unpack(BookEvent, exp.bits)}")
        assert got["index"] == exp.index, f"event {n}: index {got['index']} != {exp.index}"
        assert stale == exp.stale, f"event {n}: stale {stale} != {exp.stale}"
        # Stamped with the cycle its frame's first beat came in (the DUT's cycle counter and
        # the testbench's differ by a constant).
        delta = got["ingress_cycle"] - tb.driven[want.first_beat]
        offset = delta if offset is None else offset
        assert delta == offset, f"event {n}: ingress cycle off by {delta - offset}"
        latency = cycle - tb.driven[want.last_beat]
        assert latency == LATENCY, f"event {n} ({exp.msg_type}): latency {latency} cycles"
        latencies[exp.msg_type].append(latency)
    for name, _ in moldudp64.MoldCounters:
        want_value = ref.counters.get(name, 0) % (1 << COUNTER_BITS)
        assert await tb.csr.read(f"mold_{name}") == want_value, name
    for name, _ in itch.ItchCounters:
        assert await tb.csr.read(f"itch_{name}") == ref.counters.get(name, 0), name
    assert await tb.csr.read("mold_stale") == ref.stale
    assert await tb.csr.read("mold_expected") == ref.expected
    return latencies


def feed_frames(seed: int, messages: int, gaps: int = 0, duplicates: int = 0) -> list[bytes]:
    msgs = list(MarketGenerator(MarketConfig(symbols=10, messages=messages, seed=seed)))
    options = PcapOptions(dst=DST, gaps=gaps, duplicates=duplicates)
    return [frame for _, frame in pcap_frames(msgs, options, seed)]


@cocotb.test()
async def generated_feed_back_to_back(dut):
    """A synthetic feed at line rate, with dropped and repeated packets: every event, in
    LATENCY cycles; the filter's payload 2 cycles after it came."""
    tb = TB(dut)
    await tb.reset()
    beats = [b for f in feed_frames(SEED, int(3_000 * SCALE), gaps=3, duplicates=3)
             for b in beats_of(f)]
    started, first_cycle = time.perf_counter(), tb.cycle
    await tb.send(beats)
    elapsed = time.perf_counter() - started
    cycles = tb.cycle - first_cycle
    want, latencies = await check(tb, beats)
    assert want.counters["accepted"] > 100
    assert set(latencies) == set("SRHAFECXDU"), sorted(latencies)
    assert tb.filter_latencies and all(tb.filter_latencies), "filter latency must be 2 cycles"
    if "NERVE_BENCH_OUT" in os.environ:  # the benchmark's figures (bench/rtl.py)
        with open(os.environ["NERVE_BENCH_OUT"], "w") as f:
            json.dump({"cycles": cycles, "seconds": elapsed, "beats": len(beats),
                       "frames": want.counters["accepted"],
                       "events": sum(len(v) for v in latencies.values()),
                       "latency_by_type": {t: [min(v), max(v), len(v)]
                                           for t, v in sorted(latencies.items())}}, f)


@cocotb.test()
async def generated_feed_with_idle_gaps(dut):
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 1)
    beats = [b for f in feed_frames(SEED + 1, int(2_000 * SCALE)) for b in beats_of(f)]
    await tb.send(list(with_idle(beats, rng, 0.3)))
    _, latencies = await check(tb, beats)
    assert len(latencies) == 10


def mutated(rng: random.Random, frame: bytes) -> bytes:
    """One random fault: a flipped header byte, a cut, junk, options, or a foreign frame."""
    r = rng.random()
    if r < 0.25:                                        # (payload faults: mutated_feed)
        i = rng.randrange(min(len(frame), 42))
        return frame[:i] + bytes([frame[i] ^ (1 << rng.randrange(8))]) + frame[i + 1:]
    if r < 0.40:
        return frame[:rng.randrange(len(frame) + 1)]
    if r < 0.50:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
    if r < 0.60:
        return with_options(frame, rng.randrange(1, 11))
    if r < 0.70:
        return with_ip_header(frame, lambda h: h.__setitem__(rng.randrange(20),
                                                            rng.randrange(256)))
    if r < 0.80:
        length = rng.randrange(0, 2 * len(frame))
        return frame[:38] + length.to_bytes(2, "big") + frame[40:]
    return frame + bytes(rng.randrange(20))  # Ethernet padding


def random_beat(rng: random.Random) -> Beat:
    return Beat(rng.getrandbits(64), rng.choice([0xFF, (1 << rng.randrange(9)) - 1]),
                rng.random() < 0.3, rng.random() < 0.3)


def mutated_feed(rng: random.Random, frame: bytes) -> bytes:
    """A frame that passes the filter with its MoldUDP64/ITCH payload damaged."""
    start = 42                                          # Ethernet 14 + IPv4 20 + UDP 8
    payload = bytearray(frame[start:])
    r = rng.random()
    if r < 0.15:                                        # first message: another type's name
        payload[22] = rng.choice(b"AFECXDUHRSP")
    elif r < 0.5:     # flip bytes anywhere but the sequence number (its own case below: a
        for _ in range(rng.randrange(1, 4)):          # far jump would make the rest duplicates)
            i = rng.choice((rng.randrange(10), rng.randrange(18, len(payload))))
            payload[i] ^= 1 << rng.randrange(8)
    elif r < 0.7:                                       # a bad message length
        i = rng.randrange(20, max(21, len(payload) - 1))
        payload[i:i + 2] = rng.choice((0, 1, 10, 11, 0xFFFF, rng.randrange(65536))).to_bytes(
            2, "big")
    elif r < 0.85:                                      # a count that disagrees
        payload[18:20] = rng.randrange(65536).to_bytes(2, "big")
    else:                                               # the sequence number
        payload[10:18] = (int.from_bytes(payload[10:18], "big")
                          + rng.choice((-5, -1, 1, 7))).to_bytes(8, "big")
    return udp_frame(bytes(payload), DST)


@cocotb.test()
async def fuzz_malformed_frames_and_beats(dut):
    """Mutated frames and feed payloads, junk, cuts and stray beats: nothing hangs, no event
    the model does not make, every counter right, and a good packet after them decodes."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 2)
    frames = feed_frames(SEED + 2, int(1_500 * SCALE))
    beats: list[Beat] = []
    for frame in frames[:-1]:
        r = rng.random()
        if r < 0.3:
            beats += beats_of(mutated(rng, frame))
        elif r < 0.55:
            beats += beats_of(mutated_feed(rng, frame))
        elif r < 0.6:
            beats += beats_of(frame)[:rng.randrange(1, 12)]        # cut by the next frame
        elif r < 0.65:
            beats += [random_beat(rng) for _ in range(rng.randrange(1, 6))]
        beats += beats_of(frame)
    # Recovery: one more packet, in sequence, with one add order in it.
    ref, _ = ingress_reference(beats, DST)
    add = itch_codec.encode(itch_codec.AddOrder(7, 0, 1, 99, "B", 100, "LAST", 1_000_000))
    beats += beats_of(udp_frame(mold.encode(ref.session, ref.expected, [add]), DST))
    await tb.send(list(with_idle(beats, rng, 0.1)))
    want, _ = await check(tb, beats)
    last = unpack(BookEvent, tb.events[-1][1]["event"])
    assert (last["ref"], last["locate"], last["shares"]) == (99, 7, 100)
    drops = sum(v for k, v in want.counters.items() if k.startswith("drop_"))
    assert drops > 50 and want.counters["truncated"] > 5 and want.counters["aborted"] > 5
    assert await tb.csr.read("mold_bad_message_length") > 5
    assert await tb.csr.read("itch_malformed") > 0


@cocotb.test()
async def stale_is_cleared_through_its_register(dut):
    """A gap raises stale on the events after it; writing 1 to `mold_stale` clears it."""
    tb = TB(dut)
    await tb.reset()
    frames = feed_frames(SEED + 3, 600, gaps=1)
    half = len(frames) // 2
    first = [b for f in frames[:half] for b in beats_of(f)]
    await tb.send(first)
    stale_after_first = await tb.csr.read("mold_stale")
    await tb.csr.write("mold_stale", 1)
    assert await tb.csr.read("mold_stale") == 0
    second = [b for f in frames[half:] for b in beats_of(f)]
    await tb.send(second)
    await check(tb, first + second, clear_stale_at=frozenset({len(first)}))
    assert stale_after_first or await tb.csr.read("mold_stale")   # the gap fell in one half
    assert await tb.csr.read("mold_gaps") == 1


@cocotb.test()
async def nothing_passes_until_the_destination_is_configured(dut):
    """Fail closed: out of reset the filter accepts nothing; after the CSR writes, it does."""
    tb = TB(dut)
    dut.rst.value = 1
    dut.i_frame__valid.value = 0
    tb.csr.idle()
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    frame = good(b"before configuration")
    await tb.send(beats_of(frame))
    assert tb.collector.packets == []
    assert await tb.csr.read("net_drop_wrong_dst_ip") == 1
    await tb.csr.write("net_dst_ip", DST.ip_int)
    await tb.csr.write("net_dst_port", DST.port)
    assert await tb.csr.read("net_dst_port") == DST.port
    await tb.send(beats_of(good(b"after")))
    assert tb.collector.packets == [(b"after", False)]
    await tb.csr.write("net_accepted", 5)       # read-only, 2 words: both ignored and counted
    assert await tb.csr.read("net_accepted") == 1
    assert await tb.csr.read("csr_bad_writes") == 2
