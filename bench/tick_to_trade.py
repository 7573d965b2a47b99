"""Tick-to-trade benchmark: cycles from a feed message's last byte in to its order's first byte
out, through the whole fast path RTL under Verilator (hw/tb/tick_to_trade.py says how).

Prints min/median/p99/max in cycles and in ns at the design clock (and at each clock given by
`--clock-mhz`, such as the whole path's routed figure in bitstreams/reports/), with the published
figures of docs/references.md beside them. `--capacity` simulates another build of the card
(hw/rtl/capacity.py; a Verilator build of its own, about 3 minutes the first time).

    python bench/tick_to_trade.py [--clock-mhz MHZ ...] [--capacity board|middle|default]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hw.rtl.capacity import CAPACITIES, by_name  # noqa: E402
from hw.tb.tick_to_trade import MESSAGES, measure, summary  # noqa: E402
from sw.model.clock import CLOCK_HZ  # noqa: E402

PUBLISHED_NS = {"STAC-T0 record (AMD UL3524 + Exegy), last bit in to first bit out": 13.9,
                "Exegy nxAccess with feed handler + book, SOP to SOP": 624.0,
                "FPGA pre-trade risk gateway, 20+ checks (Fixnetix)": 740.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clock-mhz", type=float, action="append", default=[],
                        help="also give the latencies in ns at this clock (repeatable)")
    parser.add_argument("--capacity", default="default", choices=list(CAPACITIES),
                        help="the card build to simulate (default: default)")
    args = parser.parse_args()
    if any(mhz <= 0 for mhz in args.clock_mhz):
        parser.error(f"--clock-mhz must be positive, not {args.clock_mhz}")
    messages = int(os.environ.get("NERVE_T2T_MESSAGES", MESSAGES))
    capacity = by_name(args.capacity)
    cycles = measure(messages, capacity=capacity)
    if cycles.size == 0:
        print("tick-to-trade: no strategy orders in the run", file=sys.stderr)
        return 1
    ns_per_cycle = 1e9 / CLOCK_HZ
    stats = summary(cycles)
    print(f"\ntick-to-trade, whole fast path RTL (Verilator, capacity {capacity.describe()}), "
          f"{cycles.size:,} orders from {messages:,} messages; ITCH last byte in -> FIX first "
          "byte out:")
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
