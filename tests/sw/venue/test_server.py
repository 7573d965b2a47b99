"""The venue process (sw/venue/server.py, `python -m sw.venue`) over a real FIX session.

The member's side here is a bare FIX 4.4 client on a socket (framing by hand, as the card's
encoder does), and every message the venue sends back is checked against QuickFIX's FIX 4.4
data dictionary (sw/fix/dictionary.py) before its fields are read."""

from __future__ import annotations

import datetime as dt
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sw.feed import itch
from sw.fix.dictionary import validate
from sw.venue.process import free_port

SOH = "\x01"
DATE = dt.date(2026, 11, 20)
T0 = 34_200 * 10**9                          # 09:30:00 in ns since midnight
_MESSAGE = re.compile(rb"8=FIX\.4\.4\x019=\d+\x01.*?\x0110=\d{3}\x01", re.S)


def stamp(ns: int) -> str:
    seconds, frac = divmod(ns, 10**9)
    return (f"{DATE:%Y%m%d}-{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            f".{frac // 10**6:03d}")


class Member:
    """A minimal FIX initiator: frames, sequence numbers, reading whole messages."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.seq = 0
        self.buffer = b""

    def send(self, msg_type: str, fields: list[tuple[int, object]], sending_ns: int) -> None:
        self.seq += 1
        body = SOH.join(f"{t}={v}" for t, v in [(35, msg_type), (49, "NERVE"), (56, "VENUE"),
                                                 (34, self.seq), (52, stamp(sending_ns)),
                                                 *fields]) + SOH
        head = f"8=FIX.4.4{SOH}9={len(body)}{SOH}"
        checksum = sum((head + body).encode()) % 256
        self.sock.sendall(f"{head}{body}10={checksum:03d}{SOH}".encode())

    def receive(self) -> dict[int, str]:
        while True:
            match = _MESSAGE.search(self.buffer)
            if match:
                raw, self.buffer = match.group(0), self.buffer[match.end():]
                validate(raw)                       # QuickFIX's FIX 4.4 dictionary
                return {int(k): v for k, v in (f.split("=", 1) for f in
                                                raw.decode().split(SOH)[:-1])}
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the venue closed the connection")
            self.buffer += chunk

    def receive_app(self, count: int) -> list[dict[int, str]]:
        """The next `count` application messages (heartbeats and other admin skipped)."""
        got = []
        while len(got) < count:
            msg = self.receive()
            if msg[35] in ("8", "9"):
                got.append(msg)
        return got


def feed_file(path: Path) -> Path:
    messages = [
        itch.StockDirectory(1, 0, T0, "AAPL", "Q", "N", 100, "N", "C", "Z ", "P", "N", "N", "1",
                            "N", 0, "N"),
        itch.StockTradingAction(1, 0, T0, "AAPL", "T", " ", "    "),
        itch.AddOrder(1, 0, T0 + 1_000, 1, "S", 200, "AAPL", 1_501_000),     # 150.10 x 200
        itch.AddOrder(1, 0, T0 + 2_000, 2, "B", 300, "AAPL", 1_500_000),     # 150.00 x 300
        # 5 ms later the bid at 150.00 trades 350: through the queue of 300 ahead of us.
        itch.OrderExecuted(1, 0, T0 + 5_000_000, 2, 300, 11),
        itch.Trade(1, 0, T0 + 5_000_001, 0, "B", 50, "AAPL", 1_500_000, 12),
    ]
    path.write_bytes(itch.write_file(messages))
    return path


@pytest.fixture
def venue(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sw.venue", "--feed", str(feed_file(tmp_path / "feed.itch")),
         "--port", str(port), "--store", str(tmp_path / "venue"), "--latency-in-ns", "0",
         "--latency-out-ns", "0", "--wait-seconds", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().split()[0] == "ready"
    member = Member(port)
    member.send("A", [(98, 0), (108, 30)], T0)
    assert member.receive()[35] == "A"
    yield proc, member
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


def command(proc, line: str) -> list[str]:
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().split()


def order(clordid: str, side: int, qty: int, price: str, tif: str, sent_ns: int):
    return [(11, clordid), (55, "AAPL"), (54, side), (60, stamp(sent_ns)), (38, qty), (40, 2),
            (44, price), (59, tif)]


def test_a_taking_order_and_a_resting_one_are_filled_over_fix_in_feed_time(venue):
    proc, member = venue
    t = T0 + 3_000_000
    member.send("D", order("NRV1", 1, 100, "150.10", 3, t), t)      # IOC, takes 100 at 150.10
    member.send("D", order("NRV2", 1, 100, "150.00", 0, t), t)      # Day, rests behind 300
    assert command(proc, f"advance {t} 2") == ["at", str(t), "3"]
    new1, fill1, new2 = member.receive_app(3)
    assert (new1[11], new1[150], new1[39]) == ("NRV1", "0", "0")
    assert (fill1[150], fill1[39], fill1[32], fill1[31], fill1[851]) == (
        "F", "2", "100", "150.1", "2")
    assert fill1[12] == "0.3" and fill1[13] == "3"                  # 100 x $0.0030, taker
    assert (new2[11], new2[39], new2[151]) == ("NRV2", "0", "100")
    # Nothing happens until the feed says so: then 300 trade ahead of us, 50 more fill us.
    assert command(proc, "end 2") == ["done", "4"]
    (fill2,) = member.receive_app(1)
    assert (fill2[11], fill2[150], fill2[39], fill2[32], fill2[31], fill2[851]) == (
        "NRV2", "F", "1", "50", "150", "1")
    assert fill2[60] == f"{DATE:%Y%m%d}-09:30:00.005000"            # the trade's feed time
    assert fill2[12] == "-0.1"                                      # 50 x -$0.0020, a rebate
    assert member.receive()[35] == "5"                              # then it logs out
    assert proc.wait(10) == 0


def test_cancel_replace_and_refusals_come_back_as_fix(venue):
    proc, member = venue
    t = T0 + 3_000_000
    member.send("D", order("NRV1", 2, 100, "151.00", 0, t), t)
    member.send("G", [(41, "NRV1"), *order("NRV2", 2, 80, "151.20", 0, t)], t)
    member.send("F", [(41, "NRV2"), (11, "NRV3"), (55, "AAPL"), (54, 2), (60, stamp(t)),
                      (38, 80)], t)
    member.send("F", [(41, "NOPE"), (11, "NRV4"), (55, "AAPL"), (54, 2), (60, stamp(t)),
                      (38, 80)], t)
    member.send("D", order("NRV5", 1, 10, "150.00001", 0, t), t)   # a fifth decimal
    assert command(proc, f"advance {t} 5")[0] == "at"
    got = member.receive_app(5)
    by_id = {m[11]: m for m in got}
    assert by_id["NRV1"][150] == "0"
    assert (by_id["NRV2"][150], by_id["NRV2"][41], by_id["NRV2"][38], by_id["NRV2"][44]) == (
        "5", "NRV1", "80", "151.2")
    assert (by_id["NRV3"][150], by_id["NRV3"][39]) == ("4", "4")
    assert (by_id["NRV4"][35], by_id["NRV4"][102], by_id["NRV4"][434]) == ("9", "1", "1")
    assert (by_id["NRV5"][150], by_id["NRV5"][103]) == ("8", "99")
    assert "4 decimals" in by_id["NRV5"][58]
    status = command(proc, "status")
    assert status[0] == "status" and '"refused": 1' in " ".join(status)


def test_a_command_the_venue_does_not_know_is_answered_not_fatal(venue):
    proc, member = venue
    assert command(proc, "jump 5")[0] == "error"
    started = time.monotonic()
    reply = command(proc, f"advance {T0} 1")           # an order that never comes
    assert reply[0] == "error" and "1 orders expected, 0 arrived" in " ".join(reply)
    assert time.monotonic() - started >= 1
    assert command(proc, "status")[0] == "status"
