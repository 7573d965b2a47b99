"""The whole fast path placed and routed together on the LFE5UM5G-85F, per capacity, and its
tick-to-trade in nanoseconds at the clock it routes at.

For each capacity (hw/rtl/capacity.py): the FastPath of that capacity goes through the flow of
bitstreams/fmax.py (Amaranth -> yosys synth_ecp5 -> nextpnr-ecp5, router2, one placer seed, a
time limit), and the same capacity's card is simulated under Verilator for its tick-to-trade in
cycles (hw/tb/tick_to_trade.py). The routed clock times the cycles is the figure of merit.

Each run writes `bitstreams/reports/fastpath-<capacity>.json` (capacity, routed, fmax_mhz,
tick-to-trade cycles and ns, seed, minutes, utilisation, critical path) and beside it
`fastpath-<capacity>.log`, the nextpnr log's summary lines, so a reader can check the figures
without rerunning the flow. A run that does not finish routing in the time limit (or stops
after placement, `--place-only`) is reported with `routed: false` and the placer's estimate,
never as a routed figure, and never replaces a routed report.

    python bitstreams/fastpath.py [board|middle|default ...] [--seed N] [--minutes M]
                                  [--place-only] [--table]

`--table` prints the committed reports side by side (capacity x routed Fmax x cycles x ns).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bitstreams import fmax  # noqa: E402
from hw.rtl.capacity import CAPACITIES, Capacity, by_name  # noqa: E402

REPORTS = ROOT / "bitstreams" / "reports"
#: The issue's budget for routing the whole path on these 2-core machines.
ROUTE_MINUTES = 45
def route(capacity: Capacity, seed: int, minutes: float, place_only: bool) -> dict:
    """Synthesise and place (and route, unless `place_only`) the capacity's fast path."""
    from hw.rtl.fastpath import FastPath

    block = f"fastpath-{capacity.name}"
    started = time.perf_counter()
    print(f"[{block}] synthesis (yosys synth_ecp5; about 2-4 minutes)", flush=True)
    out = fmax.synthesise(block, FastPath(capacity=capacity))
    synth_s = time.perf_counter() - started
    print(f"[{block}] synthesis done in {synth_s:.0f} s; place"
          f"{'' if place_only else ' and route'} with nextpnr (seed {seed}, at most "
          f"{minutes:.0f} min; log in build/fmax/{block}/seed{seed}/nextpnr.log)", flush=True)
    report, fmax_mhz = None, None      # nextpnr's report and routed Fmax, if it finished
    try:
        result = fmax.place_and_route(out, seed, place_only=place_only,
                                      timeout_s=minutes * 60)
        report = result["report"]
        if not place_only:
            fmax_mhz = round(result["fmax"], 2)
    except subprocess.TimeoutExpired:
        print(f"[{block}] nextpnr did not finish in {minutes:.0f} min: stopped", flush=True)
    log = out / f"seed{seed}" / "nextpnr.log"
    return {"capacity": capacity.name, "slots": capacity.slots,
            "book_orders": capacity.book_orders, "levels": capacity.levels,
            "order_chains": capacity.orders, "routed": fmax_mhz is not None,
            "fmax_mhz": fmax_mhz,
            "placed_estimate_mhz": fmax.placed_estimate(log),
            "seed": seed, "synthesis_s": round(synth_s),
            "minutes": round((time.perf_counter() - started) / 60, 1),
            "utilisation": ({kind: report["utilization"][kind]["used"]
                             for kind in fmax.RESOURCES if kind in report["utilization"]}
                            if report else fmax.logged_utilisation(log)),
            "critical_path": fmax.critical_path(report) if report else None,
            "log": fmax.summary_lines(log)}


def tick_to_trade(capacity: Capacity) -> dict:
    from hw.tb.tick_to_trade import MESSAGES, measure, summary

    print(f"[fastpath-{capacity.name}] tick-to-trade in simulation ({MESSAGES:,} messages "
          f"through the card's Verilator build)", flush=True)
    cycles = measure(MESSAGES, capacity=capacity)
    return {"orders": int(cycles.size), **summary(cycles)}


def write_report(result: dict, cycles: dict) -> Path:
    mhz = result["fmax_mhz"]
    report = {key: value for key, value in result.items() if key != "log"}
    report["tick_to_trade_cycles"] = cycles
    report["tick_to_trade_median_cycles"] = cycles["median"]
    for stat in ("median", "p99", "max"):      # ns only at a routed clock
        report[f"tick_to_trade_{stat}_ns"] = round(cycles[stat] * 1e3 / mhz, 1) if mhz else None
    REPORTS.mkdir(exist_ok=True)
    path = REPORTS / f"fastpath-{result['capacity']}.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    (REPORTS / f"fastpath-{result['capacity']}.log").write_text("\n".join(result["log"]) + "\n")
    return path


def table() -> int:
    """The committed reports side by side."""
    rows = [json.loads(path.read_text()) for path in sorted(REPORTS.glob("fastpath-*.json"))]
    if not rows:
        print("no whole-path reports yet: run python bitstreams/fastpath.py board", file=sys.stderr)
        return 1
    print(f"{'capacity':<9}{'symbols':>8}{'orders':>8}{'levels':>7}{'routed MHz':>11}"
          f"{'placed MHz':>11}{'cycles':>7}{'median ns':>10}{'p99 ns':>8}{'ns placed':>10}"
          f"{'LUT4':>8}{'BRAM':>6}{'minutes':>8}")
    for row in sorted(rows, key=lambda r: r["slots"]):
        routed = f"{row['fmax_mhz']:.1f}" if row["routed"] else "no"
        placed = row["placed_estimate_mhz"] or row["fmax_mhz"]
        median_ns = row["tick_to_trade_median_ns"]
        p99_ns = row["tick_to_trade_p99_ns"]
        print(f"{row['capacity']:<9}{row['slots']:>8}{row['book_orders']:>8,}{row['levels']:>7}"
              f"{routed:>11}{placed:>11.1f}"
              f"{row['tick_to_trade_median_cycles']:>7.0f}"
              f"{median_ns if median_ns is not None else '-':>10}"
              f"{p99_ns if p99_ns is not None else '-':>8}"
              f"{row['tick_to_trade_median_cycles'] * 1e3 / placed:>10.0f}"
              f"{row['utilisation'].get('TRELLIS_COMB', 0):>8,}"
              f"{row['utilisation'].get('DP16KD', 0):>6}{row['minutes']:>8}")
    print("median ns = cycles x the routed clock's period (none where routing did not finish); "
          "ns placed = the median at the placer's\nestimate, which routing only lowers: a floor "
          "under what that capacity would give")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capacities", nargs="*", default=["board"],
                        help=f"capacities to build ({', '.join(CAPACITIES)}; default board)")
    parser.add_argument("--seed", type=int, default=1, help="placer seed (default 1)")
    parser.add_argument("--minutes", type=float, default=ROUTE_MINUTES,
                        help=f"time limit for nextpnr (default {ROUTE_MINUTES})")
    parser.add_argument("--place-only", action="store_true",
                        help="stop after placement: a report of the placer's estimate (not "
                        "routed, no ns), unless a routed report is already committed")
    parser.add_argument("--table", action="store_true", help="print the committed reports")
    args = parser.parse_args()
    if args.table:
        return table()
    try:
        capacities = [by_name(name) for name in args.capacities]
    except ValueError as error:
        parser.error(str(error))
    if args.minutes <= 0:
        parser.error(f"--minutes must be positive, not {args.minutes}")
    if not fmax.tools_installed():
        return 2
    for capacity in capacities:
        result = route(capacity, args.seed, args.minutes, args.place_only)
        fmax.print_critical_path(result["critical_path"])
        committed = REPORTS / f"fastpath-{capacity.name}.json"
        if (not result["routed"] and committed.exists()
                and json.loads(committed.read_text())["routed"]):
            print(f"fastpath-{capacity.name}: not routed (placed estimate "
                  f"{result['placed_estimate_mhz']} MHz); the routed report is kept")
            continue
        path = write_report(result, tick_to_trade(capacity))
        print(f"fastpath-{capacity.name}: routed {result['routed']}, Fmax "
              f"{result['fmax_mhz']} MHz (placed estimate {result['placed_estimate_mhz']} MHz); "
              f"report {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
