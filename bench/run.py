"""Benchmarks: figures printed, never asserted. Run with `make bench`.

Golden-model throughput on a 1M-message synthetic feed (NASDAQ file, 20 symbols), stage by stage:

  framing     walk the 2-byte length prefixes only (the floor for any decoder)
  codec       sw.feed.itch: full field-by-field decode into named tuples
  decode/1    sw.model.decoder.decode, one message at a time (the spec; used for pcap packets)
  decode      sw.model.decoder.decode_batch: the whole file, vectorised with numpy, into
              BookEvent columns (one array per field; rows_from_batch walks them)
  decode+book batch decode + BookBuilder (order table, levels, BBO change detection)
  full        the whole fast path (strategy, risk gate, FIX encoder), outputs kept in memory

Each figure is the best of `--repeat` runs (default 3), in messages per second.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sw.feed import itch  # noqa: E402
from sw.feed.generator import MarketConfig, generate  # noqa: E402
from sw.model import decoder  # noqa: E402
from sw.model.book import BookBuilder  # noqa: E402
from sw.model.config import load_limits, load_strategy  # noqa: E402
from sw.model.fastpath import FastPath  # noqa: E402
from sw.model.replay import _itch_units  # noqa: E402

TARGETS = {"decode": 2_000_000, "decode+book": 500_000}


def feed(messages: int, symbols: int) -> bytes:
    path = ROOT / "build" / "bench" / f"feed-{messages}-{symbols}.itch"
    if not path.exists():
        print(f"generating {messages:,} messages, {symbols} symbols -> {path} ...", flush=True)
        start = time.perf_counter()
        generate(MarketConfig(symbols=symbols, messages=messages, seed=2026), path)
        print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)
    return path.read_bytes()


def stage_framing(data: bytes) -> int:
    n = 0
    for _ in itch.iter_framed(data):
        n += 1
    return n


def stage_codec(data: bytes) -> int:
    n = 0
    for _ in itch.read_file(data):
        n += 1
    return n


def _messages(data: bytes) -> list[memoryview]:
    view = memoryview(data)
    return [view[o:o + n] for o, n in itch.iter_framed(view)]


def stage_decode_scalar(msgs: list[memoryview]) -> int:
    decode = decoder.decode
    for m in msgs:
        decode(m)
    return len(msgs)


def stage_decode(data: bytes) -> int:
    return len(decoder.decode_batch(data)["kind"])


def stage_decode_book(data: bytes) -> int:
    apply = BookBuilder().apply_fields
    n = 0
    for row in decoder.rows_from_batch(decoder.decode_batch(data)):
        n += 1
        if 0 < row[0] < decoder.MALFORMED_KIND:
            apply(*row)
    return n


def stage_full(data: bytes) -> int:
    fast = FastPath(load_limits({}), load_strategy({}))
    row = fast.row
    for cycle, r in _itch_units(data):
        row(r, cycle)
    return fast.msg_index


def best_rate(fn, arg, repeat: int) -> tuple[float, int]:
    best = float("inf")
    n = 0
    for _ in range(repeat):
        start = time.perf_counter()
        n = fn(arg)
        best = min(best, time.perf_counter() - start)
    return n / best, n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = feed(args.messages, args.symbols)
    msgs = _messages(data)
    print(f"\ngolden-model throughput, {len(msgs):,} messages, {len(data) / 1e6:.1f} MB, "
          f"best of {args.repeat} (python {sys.version.split()[0]})")
    print(f"{'stage':<13}{'msg/s':>14}{'ns/msg':>10}{'target':>12}{'vs target':>11}")
    stages = [("framing", stage_framing, data), ("codec", stage_codec, data),
              ("decode/1", stage_decode_scalar, msgs), ("decode", stage_decode, data),
              ("decode+book", stage_decode_book, data), ("full", stage_full, data)]
    for name, fn, arg in stages:
        rate, _ = best_rate(fn, arg, args.repeat)
        target = TARGETS.get(name)
        vs = f"{rate / target:.2f}x" if target else "-"
        shown = f"{target:,}" if target else "-"
        print(f"{name:<13}{rate:>14,.0f}{1e9 / rate:>10,.0f}{shown:>12}{vs:>11}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
