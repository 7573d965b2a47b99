"""Start, drive and stop one venue process (`python -m sw.venue`) from the appliance's side.

Where it sits: used by the run (sw/run) and the tests to keep a venue in lock-step with the card
over the venue's control protocol (sw/venue/server.py). Each venue listens on its own loopback
port, picked free here.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sw.venue.matching import VenueSettings


class VenueProcessError(RuntimeError):
    """A venue that did not start, or answered a command with an error."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class VenueLaunch:
    """What a venue process is started with (its CompIDs: it is `comp_id`, we are `member`)."""

    settings: VenueSettings
    comp_id: str = "VENUE"
    member: str = "NERVE"
    queue_model: str = "risk_averse"
    wait_seconds: float = 10.0


class VenueProcess:
    def __init__(self, feed: Path, launch: VenueLaunch, store: Path) -> None:
        self.port = free_port()
        s = launch.settings
        self.name = s.name
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sw.venue", "--feed", str(feed), "--port", str(self.port),
             "--store", str(store), "--name", s.name, "--comp-id", launch.comp_id,
             "--member", launch.member, "--latency-in-ns", str(s.latency_in_ns),
             "--latency-out-ns", str(s.latency_out_ns), "--maker-fee", str(s.maker_fee),
             "--taker-fee", str(s.taker_fee), "--fill-probability", str(s.fill_probability),
             "--queue-model", launch.queue_model, "--seed", str(s.seed),
             "--wait-seconds", str(launch.wait_seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().split()
        if not first or first[0] != "ready":
            self.close()
            raise VenueProcessError(f"venue {s.name} did not start: {' '.join(first)!r}")

    def command(self, line: str) -> list[str]:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        if not answer:
            raise VenueProcessError(f"venue {self.name} ended (exit {self.proc.poll()})")
        if answer[0] == "error":
            raise VenueProcessError(f"venue {self.name}: {' '.join(answer[1:])}")
        return answer

    async def advance(self, ns: int, orders: int) -> int:
        """Replay the venue's market to feed time `ns` once `orders` requests have arrived;
        returns the reports it has sent in all."""
        answer = await asyncio.to_thread(self.command, f"advance {ns} {orders}")
        return int(answer[2])

    async def end(self, orders: int) -> int:
        answer = await asyncio.to_thread(self.command, f"end {orders}")
        return int(answer[1])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
