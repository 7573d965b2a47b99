"""RTL benchmarks: simulation speed of the Verilator harness and the ingress latency, printed.

Runs the ingress's back-to-back cocotb test on a larger synthetic feed (NERVE_SCALE) and reports
simulated cycles per wall-clock second (cocotb driving and checking every cycle from Python, so
this is the CI cost per cycle, not Verilator's raw speed) and the latency the test measured.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hw.rtl.ingress import Ingress  # noqa: E402
from hw.tb import sim  # noqa: E402


def main() -> int:
    scale = os.environ.get("NERVE_SCALE", "10")
    build = sim.build("ingress", Ingress)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        os.environ.update({"NERVE_SCALE": scale, "NERVE_BENCH_OUT": str(out)})
        build.run("tests.hw.cocotb_ingress", testcase="generated_feed_back_to_back")
        figures = json.loads(out.read_text())
    rate = figures["cycles"] / figures["seconds"]
    print(f"\ningress RTL under cocotb + Verilator (scale {scale}): {figures['cycles']:,} cycles, "
          f"{figures['frames']:,} frames back to back in {figures['seconds']:.1f} s "
          f"= {rate:,.0f} simulated cycles/s ({rate * 6.4e-9 * 1e6:.2f} us of 156.25 MHz "
          f"hardware per second)")
    print(f"  network filter latency: {figures['latency_cycles']} cycles from a payload byte in "
          f"to the same byte out (asserted on every beat); 1 beat accepted per cycle, no stall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
