"""The `sim` transport: the Verilator-simulated card (hw/rtl/nic.py) over a loopback socket.

The simulated card listens on 127.0.0.1 and makes each request's word accesses through the
card's CSR port; this side sends a whole batch in one JSON line and waits for the values.
`SimServer` builds the card (once; hw/tb/sim.py caches the build) and serves it in the
background: at Verilator's speed in the C++ harness (hw/tb/harness.py `HarnessServer`), or,
with the pseudo-terminal that the `uart` transport talks to, under the cocotb bench
hw/tb/serve.py, which turns the pseudo-terminal's bytes into bits on the card's UART pins.
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from drivers.device import DriverError, Transport


class SimTransport(Transport):
    kind = "sim"

    def __init__(self, host: str, port: int, *, timeout: float = 60.0) -> None:
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise DriverError(f"cannot reach the simulated card at {host}:{port}: "
                              f"{exc.strerror or exc}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._stream = self._sock.makefile("rwb")
        self._lock = threading.Lock()
        self.server: SimServer | None = None     # a card this process started, stopped on close

    @classmethod
    def connect(cls, address: str) -> SimTransport:
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise DriverError(f"the sim backend's device is HOST:PORT, not {address!r}")
        return cls(host or "127.0.0.1", int(port))

    def request(self, message: dict) -> dict:
        with self._lock:
            try:
                self._stream.write(json.dumps(message).encode() + b"\n")
                self._stream.flush()
                line = self._stream.readline()
            except OSError as exc:
                raise DriverError(f"simulated card: {exc}") from None
        if not line:
            raise DriverError("the simulated card closed the connection")
        reply = json.loads(line)
        if "error" in reply:
            raise DriverError(f"simulated card: {reply['error']}")
        return reply

    def read_word(self, address: int) -> int:
        return self.transact([(address, None)])[0]

    def write_word(self, address: int, value: int) -> None:
        self.transact([(address, value)])

    def transact(self, accesses):
        if not accesses:
            return []
        return self.request({"ops": [[a, v] for a, v in accesses]})["values"]

    def frames(self, frames: list[bytes]) -> None:
        """Drive Ethernet frames into the card's MAC side, back to back; returns once the fast
        path is idle again."""
        self.request({"frames": [f.hex() for f in frames]})

    def egress(self) -> bytes:
        """The bytes the card's egress port sent (its FIX orders) since the last call."""
        return bytes.fromhex(self.request({"egress": True})["egress"])

    def stop_server(self) -> None:
        self.request({"stop": True})

    def close(self) -> None:
        self._stream.close()
        self._sock.close()
        if self.server is not None:
            self.server.stop()


class SimServer:
    """The simulated card in the background (a Verilator process under cocotb)."""

    def __init__(self, *, pty: bool = False, startup_timeout: float = 1800.0) -> None:
        self.pty_path: str | None = None
        self.port: int | None = None
        self._work = Path(tempfile.mkdtemp(prefix="nerve-sim-"))
        self._pty = pty
        self._timeout = startup_timeout
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._harness = None                  # the card at Verilator's speed (no pty)

    def start(self) -> SimServer:
        from hw.tb import card, harness

        print("sim: building the simulated card (cached after the first build, which takes "
              "a few minutes)...", file=sys.stderr, flush=True)
        build = card.build()
        if not self._pty:
            from hw.rtl.nic import REGMAP

            self._harness = harness.HarnessServer(harness.build(build), self._work / "out",
                                                  REGMAP)
            self.port = self._harness.port
            print(f"sim: card listening on 127.0.0.1:{self.port}", file=sys.stderr, flush=True)
            return self
        ready = self._work / "ready.json"
        env = {"NERVE_SIM_READY": str(ready), "NERVE_SIM_OUT": str(self._work / "out"),
               "NERVE_SIM_PTY": "1" if self._pty else "0"}

        def run():
            try:
                build.run("hw.tb.serve", testcase="serve", env=env)
            except BaseException as exc:   # reported by start() or stop()
                self._failure = exc

        self._thread = threading.Thread(target=run, name="nerve-sim", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not ready.exists():
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise DriverError(f"the simulated card did not start: {self._failure}")
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        self.port, self.pty_path = info["port"], info["pty"]
        print(f"sim: card listening on 127.0.0.1:{self.port}"
              + (f", UART on {self.pty_path}" if self.pty_path else ""), file=sys.stderr,
              flush=True)
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._harness is not None:
            self._harness.stop()
            return
        if self._thread is None or not self._thread.is_alive():
            return
        try:
            transport = SimTransport("127.0.0.1", self.port)
            transport.stop_server()
            transport.close()
        except DriverError:
            pass
        self._thread.join(timeout=60)
