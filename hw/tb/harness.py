"""The simulated card at Verilator's speed: a C++ harness (hw/tb/harness/replay.cpp) around the
card's Verilog, which `nerve replay --backend rtl` and the long campaigns drive in bulk.

cocotb hands every clock cycle to Python, so the whole card simulates at a few thousand cycles a
second under it. Here Python never handles a cycle: it sends the harness commands ("drive frames
A..B", "write this CSR word", "settle"), the harness clocks the card in C++ and appends what the
card emits (book updates, order events, egress bytes) to files, which Python decodes. The host's
decisions between packets (the symbol map, limits, order ends) stay in Python (hw/tb/replay.py),
word by word over the card's CSR port as a driver would, so only they cost a round trip.

The harness is built once per card Verilog (the cocotb build's `nic.v`, hw/tb/card.py), in
`<that build>/harness/`, and reused until the Verilog or the harness source changes. cocotb keeps
the tests that check cycle by cycle.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

from drivers.device import Device, Transport
from hw.rtl.csr import RegisterMap
from hw.tb import sim

SOURCE = Path(__file__).with_name("harness") / "replay.cpp"


class HarnessError(RuntimeError):
    """The harness refused a command or stopped; the text says which."""


def build(card: sim.SimBuild) -> Path:
    """The harness binary for `card`'s Verilog, built on first use (a few minutes: Verilator
    compiles the whole card to C++ and the C++ compiler optimises it)."""
    verilog = card.directory / f"{card.name}.v"
    digest = hashlib.sha256(verilog.read_bytes() + SOURCE.read_bytes()).hexdigest()[:16]
    directory = card.directory / "harness"
    binary = directory / "replay"
    stamp = directory / "built.ok"
    directory.mkdir(exist_ok=True)
    with open(directory / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text().strip() == digest and binary.exists():
            return binary
        sim._toolchain_env()
        log = directory / "build.log"
        with log.open("w") as out:
            done = subprocess.run(
                ["verilator", "--cc", "--exe", "--build", "-O3", "-Wno-fatal",
                 "--top-module", card.name, "-Mdir", str(directory / "obj"),
                 "-o", str(binary), "--build-jobs", str(os.cpu_count() or 1),
                 str(verilog), str(SOURCE)],
                stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode:
            raise HarnessError(f"the harness build failed: see {log}")
        stamp.write_text(digest + "\n")
    return binary


class Harness(Transport):
    """A running harness: one card, reset, fed the frames of `frames` (hw/tb/replay.py's
    frames.bin), writing its outputs into `out`. A driver transport of the card's CSR words:
    `drivers.device.Device(harness, REGMAP)` reads and writes its registers by name."""

    kind = "harness"

    def __init__(self, binary: Path, frames: Path, out: Path) -> None:
        self.out = out
        self.process = subprocess.Popen([str(binary), str(frames), str(out)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        self.cycles = 0

    def command(self, line: str) -> str:
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):     # ValueError: its pipe closed here
            raise HarnessError(f"the harness stopped (exit {self.process.wait()})") from None
        answer = self.process.stdout.readline().strip()
        if not answer or answer.startswith("error"):
            raise HarnessError(f"{line!r}: {answer or 'no answer: the harness stopped'}")
        if answer.startswith("ok "):
            self.cycles = int(answer[3:])
        return answer

    # --- the card's CSR port, a word at a time ------------------------------------------------

    def read_word(self, address: int) -> int:
        return int(self.command(f"read {address}"))

    def write_word(self, address: int, value: int) -> None:
        self.command(f"write {address} {value}")

    # --- driving ------------------------------------------------------------------------------

    def frames(self, first: int, end: int) -> None:
        if end > first:
            self.command(f"frames {first} {end}")

    def settle(self, quiet: int) -> None:
        self.command(f"settle {quiet}")

    def close(self) -> int:
        """Flush and stop the harness; its exit status."""
        if self.process.poll() is None and not self.process.stdin.closed:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        return self.process.wait()


class HarnessServer:
    """The served card on the harness: the `sim` transport's JSON lines over a loopback TCP
    socket (drivers/sim.py; the protocol of hw/tb/serve.py, which keeps the UART's pseudo-
    terminal), each request's word accesses made through the card's CSR port. The card's own
    PTP clock runs; while no host talks, the card runs `IDLE_CYCLES` every `IDLE_WAIT_S`."""

    IDLE_CYCLES = 64
    IDLE_WAIT_S = 0.005

    def __init__(self, binary: Path, work: Path, regmap: RegisterMap) -> None:
        work.mkdir(parents=True, exist_ok=True)
        (work / "frames.bin").write_bytes(b"")
        self.card = Harness(binary, work / "frames.bin", work)
        self.work = work
        self.card.command("time own")
        while Device(self.card, regmap).read("book_clearing"):   # the reset sweep ends first
            self.card.command("idle 1024")
        self._egress_read = 0
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._stopped = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, name="nerve-sim-accept", daemon=True).start()
        threading.Thread(target=self._tick, name="nerve-sim-clock", daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _tick(self) -> None:
        while not self._stopped.wait(self.IDLE_WAIT_S):
            with self._lock:
                if self._stopped.is_set():
                    return
                if time.monotonic() - self._last >= self.IDLE_WAIT_S:
                    self.card.command(f"idle {self.IDLE_CYCLES}")

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            for line in stream:
                try:
                    request = json.loads(line)
                    if request.get("stop"):
                        stream.write(b'{"ok": true}\n')
                        stream.flush()
                        self.stop()
                        return
                    reply = self._handle(request)
                except Exception as exc:     # the client gets the error; the card keeps serving
                    reply = {"error": f"{type(exc).__name__}: {exc}"}
                stream.write(json.dumps(reply).encode() + b"\n")
                stream.flush()

    def _handle(self, request: dict) -> dict:
        with self._lock:
            self._last = time.monotonic()
            if "ops" in request:
                return {"values": self.card.transact(
                    [(int(a), None if v is None else int(v)) for a, v in request["ops"]])}
            if "egress" in request:        # the FIX bytes the card sent since the last request
                data = (self.work / "egress.bin").read_bytes()
                sent, self._egress_read = data[self._egress_read:], len(data)
                return {"egress": sent.hex()}
            if "frames" in request:
                for frame in request["frames"]:
                    self.card.command(f"frame {bytes.fromhex(frame).hex()}")
                self.card.settle(16)
                return {"ok": True}
        raise ValueError(f"unknown request {sorted(request)}")

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        with self._lock:
            self.card.close()
        self.sock.close()
