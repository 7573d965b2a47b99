"""RTL benchmarks: simulation speed of the Verilator harness, ingress latency, a long fuzz run.

Runs the ingress's cocotb tests on larger inputs (NERVE_SCALE, default 10) and prints:
- simulated cycles per wall-clock second of the back-to-back feed test (cocotb drives and checks
  every cycle from Python, so this is the CI cost per cycle, not Verilator's raw speed);
- latency in cycles per ITCH message type, from the beat that carried the message's last byte
  into the ingress to its book event (every event is measured and checked by the test);
- the long fuzz campaign (mutated frames and feed payloads, cuts, junk beats), scoreboarded.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hw.rtl.ingress import LATENCY, Ingress  # noqa: E402
from hw.tb import sim  # noqa: E402

NAMES = {"S": "system event", "R": "stock directory", "H": "trading action", "A": "add",
         "F": "add (MPID)", "E": "executed", "C": "executed w/ price", "X": "cancel",
         "D": "delete", "U": "replace"}


def main() -> int:
    scale = os.environ.get("NERVE_SCALE", "10")
    build = sim.build("ingress", Ingress)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        os.environ.update({"NERVE_SCALE": scale, "NERVE_BENCH_OUT": str(out)})
        build.run("tests.hw.cocotb_ingress", testcase="generated_feed_back_to_back")
        figures = json.loads(out.read_text())
        del os.environ["NERVE_BENCH_OUT"]
        started = time.perf_counter()
        build.run("tests.hw.cocotb_ingress", testcase="fuzz_malformed_frames_and_beats")
        fuzz_s = time.perf_counter() - started
    rate = figures["cycles"] / figures["seconds"]
    print(f"\ningress RTL under cocotb + Verilator (scale {scale}): {figures['cycles']:,} cycles, "
          f"{figures['frames']:,} frames, {figures['events']:,} book events back to back in "
          f"{figures['seconds']:.1f} s = {rate:,.0f} simulated cycles/s "
          f"({rate * 6.4e-9 * 1e6:.2f} us of 156.25 MHz hardware per second)")
    print("  1 beat accepted per cycle, no stall (ready asserted on every cycle of the run)")
    print(f"  latency, beat carrying a message's last byte in -> book event out "
          f"(target 2; filter 2 + MoldUDP64 1 + decoder 1 = {LATENCY}):")
    for t, (low, high, n) in figures["latency_by_type"].items():
        print(f"    {t} {NAMES.get(t, ''):<18} min {low} max {high} cycles "
              f"({low * 6.4:.1f} ns at 156.25 MHz) over {n:,} events")
    print(f"  fuzz campaign (scale {scale}): every event, counter and payload byte matched the "
          f"golden model, good packet decoded after it; {fuzz_s:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
