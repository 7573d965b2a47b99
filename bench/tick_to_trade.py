"""Tick-to-trade benchmark: cycles from a feed message's last byte in to its order's first byte
out, through the whole fast path RTL under cocotb + Verilator.

A synthetic NASDAQ session (one ITCH message per MoldUDP64 packet, frames back to back, the
PTP clock free-running) is replayed with permissive limits so that the strategy's orders pass
the gate. For every order the strategy causes, the latency is the cycle its first egress beat
left (`egress_cycle`, stamped by the encoder) minus the cycle of the beat that carried the last
byte of the ITCH message that caused it (`index`), as the issue defines tick-to-trade.
Prints min/median/p99/max in cycles and in ns at the design clock (and at each clock given by
`--clock-mhz`, such as the whole path's place-and-route figure), with the published figures of
docs/references.md beside them.

    python bench/tick_to_trade.py [--clock-mhz MHZ ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hw.tb.replay import prepare, read_beats, read_events, simulate  # noqa: E402
from sw.feed.generator import MarketConfig, generate  # noqa: E402
from sw.model.clock import CLOCK_HZ  # noqa: E402
from sw.model.config import load_limits, load_strategy  # noqa: E402

#: Bytes before an ITCH message in its frame: Ethernet 14, IPv4 20, UDP 8, MoldUDP64 20, length 2.
MESSAGE_OFFSET = 64
PERMISSIVE = {"max_order_qty": 1_000_000, "max_order_notional": 1e9, "collar_bps": 10_000,
              "max_long": 10_000_000, "max_short": 10_000_000, "max_open_orders": 255,
              "max_orders_per_sec": 1_000_000, "rate_burst": 65_535}
PUBLISHED_NS = {"STAC-T0 record (AMD UL3524 + Exegy), last bit in to first bit out": 13.9,
                "Exegy nxAccess with feed handler + book, SOP to SOP": 624.0,
                "FPGA pre-trade risk gateway, 20+ checks (Fixnetix)": 740.0}


def measure(messages: int, symbols: int, seed: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        feed = work / "feed.itch"
        generate(MarketConfig(symbols=symbols, messages=messages, seed=seed), feed)
        host = prepare(feed, work / "rtl", limits=load_limits({"defaults": PERMISSIVE}),
                       strategy_config=load_strategy({}))
        simulate(work / "rtl", free_time=True)
        beats = read_beats(work / "rtl")
        latencies = []
        for event in read_events(work / "rtl"):
            order = event["order"]
            if order["rejected"] or order["cause"] != 0:   # strategy orders only
                continue
            frame = host.frames[order["index"]][1]   # one message per frame, none lost
            length = int.from_bytes(frame[MESSAGE_OFFSET - 2:MESSAGE_OFFSET], "big")
            last_beat = (MESSAGE_OFFSET + length - 1) // 8
            latencies.append(event["egress_cycle"] - beats[order["index"]][last_beat])
    return np.array(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clock-mhz", type=float, action="append", default=[],
                        help="also give the latencies in ns at this clock (repeatable)")
    args = parser.parse_args()
    if any(mhz <= 0 for mhz in args.clock_mhz):
        parser.error(f"--clock-mhz must be positive, not {args.clock_mhz}")
    messages = int(os.environ.get("NERVE_T2T_MESSAGES", "3000"))
    cycles = measure(messages, symbols=8, seed=3)
    if cycles.size == 0:
        print("tick-to-trade: no strategy orders in the run", file=sys.stderr)
        return 1
    ns_per_cycle = 1e9 / CLOCK_HZ
    stats = {"min": cycles.min(), "median": np.median(cycles),
             "p99": np.percentile(cycles, 99), "max": cycles.max()}
    print(f"\ntick-to-trade, whole fast path RTL (Verilator), {cycles.size:,} orders from "
          f"{messages:,} messages; ITCH last byte in -> FIX first byte out:")
    for name, value in stats.items():
        at_clocks = "".join(f", {value * 1e3 / mhz:6.1f} ns at {mhz:.1f} MHz"
                            for mhz in args.clock_mhz)
        print(f"  {name:>6}: {value:6.1f} cycles = {value * ns_per_cycle:6.1f} ns at "
              f"{CLOCK_HZ / 1e6:.2f} MHz{at_clocks}")
    print("  target: median <= 8 cycles and < 100 ns; "
          f"median is {stats['median'] / 8:.1f}x the cycle target")
    print("  the first ns are at the design clock, which no block reaches yet; the whole path's "
          "place-and-route figures are in docs/development.md, Fmax")
    print("  published (docs/references.md), ratio = this median / published:")
    for name, ns in PUBLISHED_NS.items():
        print(f"    {ns:7.1f} ns  {name}: {stats['median'] * ns_per_cycle / ns:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
