"""Driver benchmark: register reads per second and a limit commit's latency, per transport.

Transports: model (golden model in process), pcie (a file-backed BAR: the mmap path, without a
PCIe link), sim (the Verilator card over a loopback socket) and uart (the same simulated card
through a pseudo-terminal and the RTL's UART bridge; the simulated line runs at 8 cycles per
bit, so this measures the host, pty and simulator, not a 115,200-baud wire, whose figure is
printed beside it from the frame sizes).

A limit commit is `Card.commit_limits`: stage nine limits, read them back, commit, read the
sticky error: what the control plane does for one symbol.

Usage: python bench/drivers.py [--transports model,pcie,sim,uart] [--seconds S]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drivers.card import Card  # noqa: E402
from drivers.device import Device  # noqa: E402
from hw.rtl import risk  # noqa: E402
from hw.rtl import uart as bridge  # noqa: E402
from hw.rtl.nic import REGMAP  # noqa: E402
from sw.model.config import SymbolLimits  # noqa: E402


def reads_per_second(device: Device, seconds: float) -> float:
    reads, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        device.read("risk_limit_max_order_qty")
        reads += 1
    return reads / (time.perf_counter() - started)


def measure(device: Device, seconds: float) -> dict:
    read_rate = reads_per_second(device, seconds)
    card = Card(device, ["AAPL"])
    latencies = []
    started = time.perf_counter()
    qty = 100
    while time.perf_counter() - started < seconds or len(latencies) < 5:
        qty = qty % 10_000 + 1
        t0 = time.perf_counter()
        card.commit_limits(0, SymbolLimits(max_order_qty=qty))
        latencies.append(time.perf_counter() - t0)
    ms = np.array(latencies) * 1e3
    return {"reads_per_s": read_rate, "commit_p50_ms": float(np.median(ms)),
            "commit_p99_ms": float(np.percentile(ms, 99)), "commits": len(ms)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transports", default="model,pcie,sim,uart")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    kinds = args.transports.split(",")
    server = None
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            if kind == "model":
                from drivers.model import ModelTransport
                transport = ModelTransport()
            elif kind == "pcie":
                from drivers.pcie import PcieTransport, create_bar_file
                bar = create_bar_file(Path(tmp) / "resource0", REGMAP)
                transport = PcieTransport(bar, words=REGMAP.words)
            else:
                from drivers.sim import SimServer, SimTransport
                from drivers.uart import UartTransport
                server = server or SimServer(pty=True).start()
                transport = (SimTransport.connect(server.address) if kind == "sim"
                             else UartTransport(server.pty_path, timeout=30.0))
            device = Device(transport, REGMAP)
            if kind == "pcie":
                # Plain memory behind the BAR: nothing commits, so time the accesses only.
                results[kind] = {"reads_per_s": reads_per_second(device, args.seconds)}
            else:
                results[kind] = measure(device, args.seconds)
            device.close()
            print(f"  {kind}: done", file=sys.stderr, flush=True)
    if server is not None:
        server.stop()

    print("\ndriver transports: register reads and one symbol's limit commit "
          "(stage 9 + read back 9 + commit + check)")
    print(f"  {'transport':<10} {'reads/s':>12} {'commit p50':>12} {'commit p99':>12}")
    for kind, r in results.items():
        p50 = f"{r['commit_p50_ms']:.3f} ms" if "commit_p50_ms" in r else "n/a"
        p99 = f"{r['commit_p99_ms']:.3f} ms" if "commit_p99_ms" in r else "n/a"
        print(f"  {kind:<10} {r['reads_per_s']:>12,.0f} {p50:>12} {p99:>12}")
    wire_s = (bridge.REQUEST_BYTES + bridge.RESPONSE_BYTES) * 10 / 115_200
    words = sum(REGMAP[f"risk_limit_{lim.name}"].register.words for lim in risk.LIMITS)
    print(f"  a real 115,200-baud UART: {1 / wire_s:,.0f} word accesses/s on the wire alone; "
          f"a commit ({2 * words + 3} accesses) >= {(2 * words + 3) * wire_s * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
