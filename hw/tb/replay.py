"""`nerve replay --backend rtl`: a feed file through the simulated market-data RTL.

Where it sits: the RTL twin of sw/model/replay.py. The feed's frames (a pcap's frames as they
are; a NASDAQ file's messages each in its own MoldUDP64 packet, sequenced from 1, which is how
the model replays such a file) are driven into `hw.rtl.marketdata.MarketData` under Verilator,
back to back, after the filter's destination is written through the CSR bus. Every BBO update
becomes a row of DIR/bbo.csv, in the model's format; with the same feed the file must equal the
model's byte for byte (within the book's capacity: the summary says when a symbol left it).

The cocotb side (`replay_feed`) runs in the simulator process: it reads the frames from a file
and writes the updates as JSON lines, and the book's counters at the end.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from hw.rtl import book
from hw.rtl.marketdata import BOOK, LATENCY, REGMAP, MarketData
from hw.rtl.records import BookUpdate, FrameBeat, pack, unpack
from hw.tb import sim
from hw.tb.csr import CsrMaster
from hw.tb.frames import beats_of
from sw.feed import itch, mold
from sw.feed.generator import SESSION
from sw.feed.net import UdpEndpoint, read_pcap, udp_frame
from sw.model.fastpath import BboRow

_FRAME = struct.Struct("<I")
IDLE_BETWEEN_FRAMES = 2      # cycles: the MAC's inter-frame gap, roughly


def feed_frames(data: bytes, kind: str, dst: UdpEndpoint) -> list[bytes]:
    if kind == "pcap":
        return [frame for _, frame in read_pcap(data)]
    frames = []
    for sequence, (start, length) in enumerate(itch.iter_framed(data), 1):
        payload = mold.encode(SESSION, sequence, [bytes(data[start:start + length])])
        frames.append(udp_frame(payload, dst, ip_id=sequence & 0xFFFF))
    return frames


def symbol_text(update: dict) -> str:
    """The model's symbol column: the R message's 8 bytes, trailing spaces removed."""
    if not update["named"]:
        return ""
    return update["stock"].to_bytes(8, "big").decode("latin-1").rstrip(" ")


def replay_rtl(feed_path: Path, out_dir: Path, *, dst: UdpEndpoint = UdpEndpoint(),
               progress=None) -> dict:
    """Replay `feed_path` through the RTL; writes out_dir/bbo.csv and summary.json."""
    from sw.model.replay import Feed, write_csv

    feed = Feed.open(feed_path)
    frames = feed_frames(feed.data, feed.kind, dst)
    work = out_dir / "rtl"
    work.mkdir(parents=True, exist_ok=True)
    with (work / "frames.bin").open("wb") as f:
        for frame in frames:
            f.write(_FRAME.pack(len(frame)) + frame)
    started = time.perf_counter()
    build = sim.build("marketdata", MarketData)
    built = time.perf_counter()
    build.run("hw.tb.replay", env={
        "NERVE_REPLAY_FRAMES": str(work / "frames.bin"),
        "NERVE_REPLAY_UPDATES": str(work / "updates.jsonl"),
        "NERVE_REPLAY_DST": f"{dst.ip}:{dst.port}",
    })
    lines = (work / "updates.jsonl").read_text().splitlines()
    counters = json.loads(lines[-1])
    updates = [json.loads(line) for line in lines[:-1]]
    rows = [BboRow(u["index"], u["locate"], symbol_text(u), u["bid_price"], u["bid_shares"],
                   u["ask_price"], u["ask_shares"]) for u in updates if u["bbo_changed"]]
    write_csv(out_dir / "bbo.csv", BboRow._fields, rows)
    summary = {
        "backend": "rtl",
        "frames": len(frames),
        "messages": counters["mold_messages"],
        "bbo_updates": len(rows),
        "state_updates": sum(u["state_changed"] for u in updates),
        "cycles": counters["cycles"],
        "build_s": round(built - started, 1),
        "simulate_s": round(time.perf_counter() - built, 1),
        "unreliable_slots": [s for s in range(BOOK["slots"])
                             if counters["book_unreliable"] >> s & 1],
        "registers": {k: v for k, v in counters.items() if k != "cycles"},
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


# --- the simulator side -------------------------------------------------------------------

@cocotb.test()
async def replay_feed(dut):
    """Drive every frame, collect every update, then read the counters."""
    frames_path = Path(os.environ["NERVE_REPLAY_FRAMES"])
    out_path = Path(os.environ["NERVE_REPLAY_UPDATES"])
    dst = UdpEndpoint.parse(os.environ["NERVE_REPLAY_DST"])
    data = frames_path.read_bytes()
    frames, at = [], 0
    while at < len(data):
        (size,) = _FRAME.unpack_from(data, at)
        frames.append(data[at + 4:at + 4 + size])
        at += 4 + size
    csr = CsrMaster(dut, REGMAP)
    cocotb.start_soon(Clock(dut.clk, 6.4, unit="ns").start())
    dut.rst.value = 1
    dut.i_frame__valid.value = 0
    csr.idle()
    for _ in range(2):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    await csr.write("net_dst_ip", dst.ip_int)
    await csr.write("net_dst_port", dst.port)

    out = out_path.open("w")
    fields = [name for name, _ in BookUpdate.as_shape()]
    cycles = 0

    async def collect():
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            if dut.o_update__valid.value:
                update = unpack(BookUpdate, dut.o_update__payload.value.to_unsigned())
                out.write(json.dumps({name: update[name] for name in fields}) + "\n")

    collector = cocotb.start_soon(collect())
    started = time.perf_counter()
    for n, frame in enumerate(frames, 1):
        for beat in beats_of(frame):
            await FallingEdge(dut.clk)
            dut.i_frame__valid.value = 1
            dut.i_frame__payload.value = pack(
                FrameBeat, (beat.data, beat.keep, int(beat.first), int(beat.last)))
            cycles += 1
        for _ in range(IDLE_BETWEEN_FRAMES):
            await FallingEdge(dut.clk)
            dut.i_frame__valid.value = 0
            cycles += 1
        if n % 2000 == 0:
            rate = cycles / (time.perf_counter() - started)
            print(f"  rtl: {n:,}/{len(frames):,} frames, {cycles:,} cycles "
                  f"({rate:,.0f} cycles/s)", file=sys.stderr, flush=True)
    await FallingEdge(dut.clk)
    dut.i_frame__valid.value = 0
    for _ in range(LATENCY + 8):
        await RisingEdge(dut.clk)
    collector.cancel()
    counters = {"cycles": cycles}
    for name in ["mold_messages", "mold_gaps", "mold_stale", "itch_malformed",
                 "book_unreliable", "book_slots_used",
                 *(f"book_{name}" for name in book.COUNTERS)]:
        counters[name] = await csr.read(name)
    out.write(json.dumps(counters) + "\n")
    out.close()
