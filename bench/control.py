"""Control-plane benchmark: a limit change from HTTP to the card, register reads through the
Device, and the dashboard's update latency. Figures are printed, never asserted.

The app runs under uvicorn on a loopback port in this process, in front of the chosen card;
the client is the standard library's http.client on a kept-alive connection.

- limit change: PUT /api/v1/limits/symbols/<symbol> {"max_order_qty": q} until the card has
  taken the staged register `risk_limit_max_order_qty` = q (a tap on the card's transport
  notes when the batch writing it came back: acknowledged by the card on sim, uart and pcie;
  the register is read back after each change to check it), and until the response
  (committed, read back, checked, persisted and audited);
- register reads: `Device.read` of one register, and `Card.status()` snapshots (every status
  register in one batch, what the telemetry poller reads), per second;
- dashboard update: POST /api/v1/halt or /release until the event stream (SSE, what the
  dashboard listens to) carries the new halted state.

Usage: python bench/control.py [--backend model|sim|uart|pcie] [--device D] [--changes N]
       [--seconds S]   (sim without --device builds and starts a simulated card)
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drivers import BACKENDS, open_device  # noqa: E402
from drivers.card import Card  # noqa: E402
from drivers.device import Transport  # noqa: E402
from sw.control.auth import SYSTEM  # noqa: E402
from sw.control.main import create_app  # noqa: E402
from sw.control.server import serve_in_thread  # noqa: E402
from sw.control.settings import Settings  # noqa: E402
from sw.control.store import Store  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN"]
TIMEOUT_S = 10.0


class Tap(Transport):
    """The card's own transport, noting when a batch that wrote a watched word came back
    (the card has taken the write: on sim, uart and pcie, acknowledged over the wire)."""

    def __init__(self, inner: Transport, address: int) -> None:
        self.inner, self.address = inner, address
        self.kind = inner.kind
        self.writes: list[tuple[float, int]] = []      # (when, value written)

    def transact(self, accesses):
        result = self.inner.transact(accesses)
        for address, value in accesses:
            if address == self.address and value is not None:
                self.writes.append((time.perf_counter(), value))
        return result

    def read_word(self, address: int) -> int:
        return self.inner.read_word(address)

    def write_word(self, address: int, value: int) -> None:
        self.transact([(address, value)])

    def knows(self, name: str) -> bool:
        return self.inner.knows(name)

    def close(self) -> None:
        self.inner.close()


def reads_per_second(card: Card, seconds: float) -> tuple[float, float]:
    reads, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        card.device.read("risk_halt")
        reads += 1
    single = reads / (time.perf_counter() - started)
    snapshots, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        card.status()
        snapshots += 1
    return single, snapshots / (time.perf_counter() - started)


class Client:
    """One kept-alive HTTP/1.1 connection with a bearer token."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)
        self.conn.connect()
        # http.client may write a request's headers and body separately; Nagle's algorithm
        # would hold the body back for the server's delayed ACK (~40 ms on Linux).
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        self.conn.request(method, path, json.dumps(body) if body else None, self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data)


def limit_changes(url: str, token: str, card: Card, changes: int) -> tuple[list, list]:
    """(request -> staged register taken by the card, request -> response) per change."""
    client = Client(url, token)
    tap = Tap(card.device.transport, card.device.placed("risk_limit_max_order_qty").address)
    card.device.transport = tap
    visible, answered = [], []
    try:
        for n in range(changes):
            qty = 1_000 + n
            t0 = time.perf_counter()
            client.call("PUT", "/api/v1/limits/symbols/AAPL", {"max_order_qty": qty})
            answered.append(time.perf_counter() - t0)
            taken = [at for at, value in tap.writes if value == qty and at >= t0]
            if not taken or card.device.read("risk_limit_max_order_qty") != qty:
                raise RuntimeError(f"max_order_qty {qty} did not reach the register")
            visible.append(taken[0] - t0)
    finally:
        card.device.transport = tap.inner
    return visible, answered


def dashboard_updates(url: str, token: str, changes: int) -> list[float]:
    """POST halt / release -> the first SSE event that shows the new state, seconds."""
    parts = urlsplit(url)
    stream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)
    stream.request("GET", f"/api/v1/stream?token={token}")
    response = stream.getresponse()
    arrivals: queue.Queue = queue.Queue()

    def reader() -> None:
        try:
            for raw in response:
                if raw.startswith(b"data: "):
                    arrivals.put((time.perf_counter(), json.loads(raw[6:])["halted"]))
        except (OSError, ValueError, AttributeError):   # the stream closed under us
            pass

    threading.Thread(target=reader, daemon=True).start()
    client = Client(url, token)
    latencies = []
    for n in range(changes):
        halted = n % 2 == 1                                  # release first: it starts halted
        while not arrivals.empty():
            arrivals.get_nowait()
        t0 = time.perf_counter()
        client.call("POST", "/api/v1/halt" if halted else "/api/v1/release")
        while True:
            at, shown = arrivals.get(timeout=TIMEOUT_S)
            if shown == halted and at >= t0:
                latencies.append(at - t0)
                break
    stream.close()
    return latencies


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1e3
    return (f"p50 {np.median(ms):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms "
            f"({len(ms)} samples)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, default="model")
    parser.add_argument("--device", help="sim HOST:PORT, serial port or BAR resource file")
    parser.add_argument("--changes", type=int, default=200, help="limit changes to time")
    parser.add_argument("--seconds", type=float, default=2.0, help="per read-rate figure")
    args = parser.parse_args()

    card = Card(open_device(args.backend, args.device), SYMBOLS)
    try:
        registers = len(card.status().registers)
        single, snapshots = reads_per_second(card, args.seconds)
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "bench.db")
            token = store.add_token("bench", "risk", SYSTEM)
            app = create_app(card, store, Settings(poll_interval=0.2))
            with serve_in_thread(app) as url:
                visible, answered = limit_changes(url, token, card, args.changes)
                updates = dashboard_updates(url, token, max(10, args.changes // 4))
            store.close()
    finally:
        card.device.close()

    print(f"control plane: {args.backend} card, {len(SYMBOLS)} symbols, uvicorn on loopback, "
          "SQLite store (WAL) on the temp directory")
    print(f"  register reads through the Device: {single:,.0f} reads/s (one register); "
          f"{snapshots:,.0f} status snapshots/s ({registers} registers)")
    print(f"  limit change, HTTP PUT -> staged register visible: {percentiles(visible)}")
    print(f"  limit change, HTTP PUT -> response (committed, checked, persisted, audited): "
          f"{percentiles(answered)}")
    print(f"  dashboard update, POST halt/release -> SSE event shows it: {percentiles(updates)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
