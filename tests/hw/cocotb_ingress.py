"""cocotb tests of the ingress RTL (run by tests/hw/test_ingress.py under Verilator).

The DUT is configured and its counters are read through the CSR bus, at the addresses of the
exported register map. Traffic: frames of a synthetic MoldUDP64 feed, foreign and malformed
frames, random beats, cuts and idle gaps. Check: every payload byte, every truncation flag and
every counter equal the golden model's (hw/tb/frames.expected), bit for bit.
"""

import json
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from hw.rtl.ingress import REGMAP
from hw.rtl.netfilter import NetFilterCounters
from hw.rtl.records import FrameBeat, PayloadBeat, pack, unpack
from hw.tb.frames import Beat, beats_of, expected, with_idle
from hw.tb.netfilter import DST, PacketCollector, good, with_ip_header, with_options
from sw.feed.generator import MarketConfig, MarketGenerator, PcapOptions, pcap_frames

SEED = int(os.environ.get("NERVE_SEED", "1"))
SCALE = float(os.environ.get("NERVE_SCALE", "1"))  # the benchmark runs longer campaigns


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.cycle = 0
        self.collector = PacketCollector()
        self.latencies: list[int] = []
        self._payload_in: list[int] = []   # cycles of accepted-looking input beats
        cocotb.start_soon(Clock(dut.clk, 6.4, unit="ns").start())

    async def reset(self, dst=DST):
        self.dut.rst.value = 1
        self.dut.i_frame__valid.value = 0
        self.dut.csr__w_stb.value = 0
        self.dut.csr__r_stb.value = 0
        for _ in range(2):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await self.write("net_dst_ip", dst.ip_int)
        await self.write("net_dst_port", dst.port)

    async def write(self, name: str, value: int):
        """Write a register through the CSR bus, word by word (least significant first)."""
        placed = REGMAP[name]
        for word in range(placed.register.words):
            await FallingEdge(self.dut.clk)
            self.dut.csr__addr.value = placed.address + word
            self.dut.csr__w_data.value = (value >> (32 * word)) & 0xFFFFFFFF
            self.dut.csr__w_stb.value = 1
            await RisingEdge(self.dut.clk)
            await FallingEdge(self.dut.clk)
            self.dut.csr__w_stb.value = 0
            for _ in range(2):                # applied three cycles after the strobe
                await RisingEdge(self.dut.clk)
                await FallingEdge(self.dut.clk)

    async def read(self, name: str) -> int:
        """Read a register through the CSR bus (word 0 first: snapshot of wide counters)."""
        placed = REGMAP[name]
        value = 0
        for word in range(placed.register.words):
            await FallingEdge(self.dut.clk)
            self.dut.csr__addr.value = placed.address + word
            self.dut.csr__r_stb.value = 1
            await RisingEdge(self.dut.clk)
            await FallingEdge(self.dut.clk)
            self.dut.csr__r_stb.value = 0
            for _ in range(2):                # read latency: 3 cycles
                await RisingEdge(self.dut.clk)
                await FallingEdge(self.dut.clk)
            value |= self.dut.csr__r_data.value.to_unsigned() << (32 * word)
        return value

    async def send(self, items):
        """Drive beats (None = idle cycle), one per clock; collect outputs as they come."""
        previous = None   # what was driven one iteration ago: the filter's latency is 2 cycles
        for item in [*items, None, None, None]:
            await FallingEdge(self.dut.clk)
            if item is None:
                self.dut.i_frame__valid.value = 0
            else:
                self.dut.i_frame__valid.value = 1
                self.dut.i_frame__payload.value = pack(
                    FrameBeat, (item.data, item.keep, int(item.first), int(item.last)))
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            self.cycle += 1
            assert self.dut.i_frame__ready.value == 1, "the filter must never push back"
            if self.dut.o_payload__valid.value:
                p = unpack(PayloadBeat, self.dut.o_payload__payload.value.to_unsigned())
                self.collector.beat(p["data"], p["keep"], p["first"], p["last"],
                                    p["truncated"])
                if previous is not None and p["keep"]:
                    # the register loaded at this edge carries the beat sampled at the edge
                    # before: 2 cycles from the beat's edge in to its output being visible
                    self.latencies.append(2 if p["data"] == previous.data else 0)
            previous = item

    async def counters(self) -> dict[str, int]:
        return {name: await self.read(f"net_{name}") for name, _ in NetFilterCounters}


async def check(tb: TB, beats: list[Beat]):
    want = expected(beats, DST)
    assert tb.collector.errors == []
    got, exp = tb.collector.packets, want.packets
    assert len(got) == len(exp), f"{len(got)} packets, expected {len(exp)}"
    for n, (g, e) in enumerate(zip(got, exp, strict=True)):
        assert g == e, f"packet {n}: {g!r} != {e!r}"
    counters = await tb.counters()
    assert await tb.read("csr_bad_writes") == 0
    for name, _ in NetFilterCounters:
        assert counters[name] == want.counters.get(name, 0), (name, counters, want.counters)
    return want


def feed_frames(seed: int, messages: int) -> list[bytes]:
    msgs = list(MarketGenerator(MarketConfig(symbols=10, messages=messages, seed=seed)))
    return [frame for _, frame in pcap_frames(msgs, PcapOptions(dst=DST), seed)]


@cocotb.test()
async def generated_feed_back_to_back(dut):
    """A synthetic feed at line rate: every payload byte through, one cycle after it came."""
    tb = TB(dut)
    await tb.reset()
    beats = [b for f in feed_frames(SEED, int(3_000 * SCALE)) for b in beats_of(f)]
    started, first_cycle = time.perf_counter(), tb.cycle
    await tb.send(beats)
    elapsed = time.perf_counter() - started
    want = await check(tb, beats)
    assert want.counters["accepted"] > 100
    assert tb.latencies and all(tb.latencies), "payload must leave exactly 2 cycles later"
    if "NERVE_BENCH_OUT" in os.environ:  # the benchmark's figures (bench/rtl.py)
        with open(os.environ["NERVE_BENCH_OUT"], "w") as f:
            json.dump({"cycles": tb.cycle - first_cycle, "seconds": elapsed,
                       "beats": len(beats), "frames": want.counters["accepted"],
                       "latency_cycles": 2}, f)


@cocotb.test()
async def generated_feed_with_idle_gaps(dut):
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 1)
    beats = [b for f in feed_frames(SEED + 1, int(2_000 * SCALE)) for b in beats_of(f)]
    await tb.send(list(with_idle(beats, rng, 0.3)))
    await check(tb, beats)


def mutated(rng: random.Random, frame: bytes) -> bytes:
    """One random fault: a flipped header byte, a cut, junk, options, or a foreign frame."""
    r = rng.random()
    if r < 0.25:
        i = rng.randrange(min(len(frame), 64))
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


@cocotb.test()
async def fuzz_malformed_frames_and_beats(dut):
    """Mutated frames, junk, cuts and stray beats: nothing hangs, nothing spurious, every
    counter right, and the good frames after each fault come through intact."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 2)
    frames = feed_frames(SEED + 2, int(1_500 * SCALE))
    beats: list[Beat] = []
    for frame in frames:
        r = rng.random()
        if r < 0.45:
            beats += beats_of(mutated(rng, frame))
        elif r < 0.50:
            beats += beats_of(frame)[:rng.randrange(1, 12)]        # cut by the next frame
        elif r < 0.55:
            beats += [random_beat(rng) for _ in range(rng.randrange(1, 6))]
        beats += beats_of(frame)
    beats += beats_of(good(b"the last word"))
    await tb.send(list(with_idle(beats, rng, 0.1)))
    want = await check(tb, beats)
    assert want.packets[-1] == (b"the last word", False)
    drops = sum(v for k, v in want.counters.items() if k.startswith("drop_"))
    assert drops > 50 and want.counters["truncated"] > 5 and want.counters["aborted"] > 5


@cocotb.test()
async def nothing_passes_until_the_destination_is_configured(dut):
    """Fail closed: out of reset the filter accepts nothing; after the CSR writes, it does."""
    tb = TB(dut)
    dut.rst.value = 1
    dut.i_frame__valid.value = 0
    dut.csr__w_stb.value = 0
    dut.csr__r_stb.value = 0
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    frame = good(b"before configuration")
    await tb.send(beats_of(frame))
    assert tb.collector.packets == []
    assert await tb.read("net_drop_wrong_dst_ip") == 1
    await tb.write("net_dst_ip", DST.ip_int)
    await tb.write("net_dst_port", DST.port)
    assert await tb.read("net_dst_port") == DST.port
    await tb.send(beats_of(good(b"after")))
    assert tb.collector.packets == [(b"after", False)]
    await tb.write("net_accepted", 5)       # read-only, 2 words: both ignored and counted
    assert await tb.read("net_accepted") == 1
    assert await tb.read("csr_bad_writes") == 2
