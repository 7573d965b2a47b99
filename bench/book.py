"""Book builder benchmark: sustained events per clock and latency, under cocotb + Verilator.

Runs tests/hw/cocotb_book.py's generated-market test at NERVE_SCALE (default 4: 48,000 messages,
which the default capacity holds) and prints the
events per clock it sustained (every event scoreboarded against the golden model), the latency
from an event into the book to its BBO update per event kind, and the simulation speed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hw.rtl.book import LATENCY, BookBuilder  # noqa: E402
from hw.tb import sim  # noqa: E402

LINE_RATE_MSGS = {"one Add Order per packet": 10e6, "Add Orders packed": 31e6,
                  "Order Deletes packed": 56e6}   # docs/references.md, "Line rate at 10 Gb/s"


def main() -> int:
    scale = os.environ.get("NERVE_SCALE", "4")
    build = sim.build("book", BookBuilder)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        os.environ.update({"NERVE_SCALE": scale, "NERVE_BENCH_OUT": str(out),
                           "NERVE_BOOK_PARAMS": "{}"})
        build.run("tests.hw.cocotb_book", testcase="generated_market_back_to_back")
        f = json.loads(out.read_text())
    per_clock = f["events"] / f["cycles"]
    print(f"\nbook builder RTL under cocotb + Verilator (scale {scale}): {f['events']:,} events "
          f"({f['replaces']:,} U) in {f['cycles']:,} cycles = {per_clock:.3f} events per clock "
          f"(target 1.0); one micro-op per clock, a U is two and the test idles a cycle after "
          f"each, as the wire does")
    print(f"  {f['bbo_updates']:,} BBO updates, {f['live_orders']:,} live orders at the end, "
          f"every update equal to the golden model's; {f['cycles'] / f['seconds']:,.0f} "
          f"simulated cycles/s")
    print(f"  at 156.25 MHz that is {per_clock * 156.25:.0f} M events/s; line-rate message "
          "rates (docs/references.md): " + ", ".join(f"{k} {v / 1e6:.0f} M/s"
                                            for k, v in LINE_RATE_MSGS.items()))
    print(f"  latency, event into the book -> BBO update (target 3; pipeline {LATENCY}):")
    for kind, (low, high, n) in sorted(f["latency"].items()):
        print(f"    {kind:<14} min {low} max {high} cycles over {n:,} updates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
