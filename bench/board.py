"""The board's design, wire to wire: each strategy order's time from the last bit of the
packet that caused it at the RGMII receive pins to the first bit of its datagram at the RGMII
transmit pins, in the simulated board design (hw/tb/ethernet_card.py: the ECPIX-5 build's card
and Ethernet port at 39.0625 MHz, under Verilator), beside the board build's committed report
(bitstreams/reports/<board>.json: routed Fmax per clock, timing met).

    python bench/board.py [--messages N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hw.tb import ethernet_card  # noqa: E402

REPORTS = ROOT / "bitstreams" / "reports"
CASE = "a_feed_in_at_the_pins_gives_the_models_orders_at_the_pins"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"board design: {args.messages:,} messages, the golden model's orders, the "
              "simulated board (Verilator build cached after the first)", flush=True)
        ethernet_card.prepare_run(root, messages=args.messages)
        ethernet_card.run(ethernet_card.build(), root, CASE)
        result = json.loads((root / "wire_to_wire.json").read_text())
    ns = np.array(result["ns"])
    cycle_ns = 1e9 / result["fast_hz"]
    print(f"\nwire to wire, last bit in -> first bit out (preamble), {ns.size:,} strategy "
          f"orders, fast path at {result['fast_hz'] / 1e6:.4f} MHz ({cycle_ns:.1f} ns a "
          "cycle):")
    for name, value in (("min", ns.min()), ("median", np.median(ns)),
                        ("p99", np.percentile(ns, 99)), ("max", ns.max())):
        print(f"  {name:>6}: {value:8.1f} ns = {value / cycle_ns:5.1f} fast cycles")
    for path in sorted(REPORTS.glob("*.json")):
        report = json.loads(path.read_text())
        if "board" not in report:
            continue
        print(f"\nboard build {report['board']} (capacity {report['capacity']}): timing "
              f"{'met' if report['timing_met'] else 'NOT met'}")
        for domain, clock in report["clocks"].items():
            print(f"  {domain:28} {clock['fmax_mhz']:7.2f} MHz routed, constraint "
                  f"{clock['constraint_mhz']:7.2f} MHz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
