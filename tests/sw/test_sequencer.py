"""MoldUDP64 stage (sw.model.sequencer): session, sequence, gaps, duplicates, message split.

Packets are built with the toolkit (sw.feed.mold) or by hand; messages are opaque byte strings
(the sequencer does not parse ITCH), each naming its own sequence number so order is visible.
"""

from __future__ import annotations

import random
import struct
import time

import pytest

from sw.feed import mold
from sw.model.sequencer import Sequencer

SESSION = b"NERVE00001"
OTHER = b"NERVE00002"


def msg(seq: int, size: int = 12) -> bytes:
    """An opaque message that carries its sequence number (size >= 11, the ITCH header)."""
    return b"M" + seq.to_bytes(8, "big") + bytes(size - 9)


def packet(first: int, count: int, session: bytes = SESSION, size: int = 12) -> bytes:
    return mold.encode(session, first, [msg(first + i, size) for i in range(count)])


def header(session: bytes, sequence: int, count: int) -> bytes:
    return session + struct.pack(">QH", sequence, count)


class Probe:
    """A sequencer with its on_stale calls recorded."""

    def __init__(self) -> None:
        self.stale_calls: list[str] = []
        self.seq = Sequencer(on_stale=self.stale_calls.append)

    def feed(self, payload: bytes) -> list[bytes]:
        return [bytes(m) for m in self.seq.packet(memoryview(payload))]

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.seq.counts.items() if v}


def seqs(messages: list[bytes]) -> list[int]:
    return [int.from_bytes(m[1:9], "big") for m in messages]


# --- learning and the normal path -----------------------------------------------------------

def test_first_packet_learns_session_and_sequence():
    p = Probe()
    assert p.seq.session is None
    assert seqs(p.feed(packet(1000, 3))) == [1000, 1001, 1002]
    assert p.seq.session == SESSION
    assert p.seq.expected == 1003
    assert not p.seq.stale and p.stale_calls == []
    assert p.counts() == {}


def test_first_packet_heartbeat_learns():
    p = Probe()
    assert p.feed(mold.heartbeat(SESSION, 50)) == []
    assert p.seq.session == SESSION and p.seq.expected == 50
    assert seqs(p.feed(packet(50, 2))) == [50, 51]
    assert not p.seq.stale
    assert p.counts() == {"heartbeats": 1}


def test_contiguous_packets_deliver_everything_in_order():
    p = Probe()
    rng = random.Random(4)
    nxt, want = 1, []
    for _ in range(200):
        count = rng.randrange(1, 40)
        size = rng.randrange(11, 60)
        got = p.feed(packet(nxt, count, size=size))
        assert all(len(m) == size for m in got)
        want += range(nxt, nxt + count)
        nxt += count
        assert seqs(got) == list(range(nxt - count, nxt))
        assert p.seq.expected == nxt
    assert len(want) > 3_000
    assert not p.seq.stale and p.counts() == {}


def test_message_bytes_exact():
    bodies = [b"A" * 36, b"D" * 19, b"\x00" * 11, bytes(range(256)) * 10]
    p = Probe()
    got = p.feed(mold.encode(SESSION, 1, bodies))
    assert got == bodies
    assert p.seq.expected == 5


def test_heartbeat_in_sequence_is_not_a_gap():
    p = Probe()
    p.feed(packet(1, 5))
    for _ in range(3):
        assert p.feed(mold.heartbeat(SESSION, 6)) == []
    assert p.seq.expected == 6 and not p.seq.stale
    assert p.counts() == {"heartbeats": 3}
    assert seqs(p.feed(packet(6, 1))) == [6]


# --- gaps -----------------------------------------------------------------------------------

def test_data_gap_raises_stale_once_and_counts():
    p = Probe()
    p.feed(packet(1, 5))                                    # 1..5
    assert seqs(p.feed(packet(9, 2))) == [9, 10]            # 6, 7, 8 missing
    assert p.seq.stale and p.stale_calls == ["gap"]
    assert p.seq.expected == 11
    assert p.counts() == {"gaps": 1, "missing_messages": 3}
    assert seqs(p.feed(packet(11, 1))) == [11]              # no new gap
    assert seqs(p.feed(packet(20, 1))) == [20]              # 12..19 missing
    assert p.stale_calls == ["gap"]                         # stale is sticky: notified once
    assert p.counts() == {"gaps": 2, "missing_messages": 11}
    # Late arrival of a missing range: already passed, dropped as a duplicate.
    assert p.feed(packet(6, 3)) == []
    assert p.counts()["duplicate_packets"] == 1


def test_clear_stale_rearms_the_notification():
    p = Probe()
    p.feed(packet(1, 1))
    p.feed(packet(3, 1))
    p.seq.clear_stale()
    assert not p.seq.stale
    p.feed(packet(4, 1))
    assert not p.seq.stale and p.stale_calls == ["gap"]
    p.feed(packet(6, 1))
    assert p.seq.stale and p.stale_calls == ["gap", "gap"]


def test_stale_without_callback():
    seq = Sequencer()
    list(seq.packet(memoryview(packet(1, 1))))
    list(seq.packet(memoryview(packet(5, 1))))
    assert seq.stale and seq.counts["missing_messages"] == 3


def test_heartbeat_reveals_gap():
    p = Probe()
    p.feed(packet(1, 5))
    assert p.feed(mold.heartbeat(SESSION, 8)) == []         # 6, 7 were sent and lost
    assert p.seq.stale and p.stale_calls == ["gap"]
    assert p.seq.expected == 8
    assert p.counts() == {"heartbeats": 1, "gaps": 1, "missing_messages": 2}
    assert seqs(p.feed(packet(8, 1))) == [8]


def test_end_of_session_reveals_gap():
    p = Probe()
    p.feed(packet(1, 5))
    assert not p.seq.ended
    assert p.feed(mold.end_of_session(SESSION, 10)) == []
    assert p.seq.ended
    assert p.seq.stale and p.stale_calls == ["gap"]
    assert p.counts() == {"end_of_session": 1, "gaps": 1, "missing_messages": 4}


def test_end_of_session_in_sequence():
    p = Probe()
    p.feed(packet(1, 5))
    p.feed(mold.end_of_session(SESSION, 6))
    assert p.seq.ended and not p.seq.stale
    assert p.counts() == {"end_of_session": 1}


def test_heartbeat_behind_is_harmless():
    p = Probe()
    p.feed(packet(1, 5))
    p.feed(mold.heartbeat(SESSION, 3))
    assert p.seq.expected == 6 and not p.seq.stale
    assert p.counts() == {"heartbeats": 1}


def test_header_is_processed_before_messages_are_read():
    p = Probe()
    p.feed(packet(1, 1))
    it = p.seq.packet(memoryview(packet(10, 2)))            # not consumed yet
    assert p.seq.stale and p.counts() == {"gaps": 1, "missing_messages": 8}
    assert seqs([bytes(m) for m in it]) == [10, 11]
    assert p.seq.expected == 12


# --- duplicates -----------------------------------------------------------------------------

def test_duplicate_packet_dropped():
    p = Probe()
    p.feed(packet(1, 5))
    assert p.feed(packet(1, 5)) == []
    assert p.feed(packet(3, 3)) == []                       # 3..5, wholly seen
    assert p.feed(packet(5, 1)) == []
    assert p.seq.expected == 6 and not p.seq.stale
    assert p.counts() == {"duplicate_packets": 3}


@pytest.mark.parametrize(("first", "count", "want"), [
    (1, 7, [6, 7]),
    (5, 3, [6, 7]),
    (3, 4, [6]),
])
def test_partial_overlap_skips_only_seen_messages(first, count, want):
    p = Probe()
    p.feed(packet(1, 5))                                    # 1..5 seen
    assert seqs(p.feed(packet(first, count))) == want
    assert p.seq.expected == 6 + len(want)
    assert not p.seq.stale
    assert p.counts() == {"duplicate_messages": 6 - first}


def test_partial_overlap_keeps_message_boundaries():
    # Skipped messages of varied lengths: the split must still land on the right bytes.
    p = Probe()
    p.feed(mold.encode(SESSION, 1, [msg(1, 11), msg(2, 40)]))
    got = p.feed(mold.encode(SESSION, 1, [msg(1, 11), msg(2, 40), msg(3, 100), msg(4, 12)]))
    assert got == [msg(3, 100), msg(4, 12)]


# --- sessions and malformed packets -----------------------------------------------------------

def test_wrong_session_dropped():
    p = Probe()
    p.feed(packet(1, 5))
    assert p.feed(packet(6, 2, session=OTHER)) == []
    assert p.feed(mold.heartbeat(OTHER, 100)) == []
    assert p.feed(mold.end_of_session(OTHER, 100)) == []
    assert p.seq.expected == 6 and not p.seq.stale and not p.seq.ended
    assert p.seq.session == SESSION
    assert p.counts() == {"wrong_session": 3}
    assert seqs(p.feed(packet(6, 1))) == [6]


@pytest.mark.parametrize("size", [0, 1, 10, 19])
def test_short_header_counted(size):
    p = Probe()
    assert p.feed(packet(1, 1)[:size]) == []
    assert p.counts() == {"truncated_header": 1}
    assert p.seq.session is None                            # nothing learned
    assert seqs(p.feed(packet(7, 1))) == [7]


BAD_TAILS = {
    "zero length": b"\x00\x00" + msg(0),
    "shorter than the ITCH header": b"\x00\x0a" + msg(0)[:10],
    "runs past the end": b"\x00\x20" + msg(0),              # claims 32, has 12
    "one byte of prefix": b"\x00",
    "no prefix": b"",
}


@pytest.mark.parametrize("tail", sorted(BAD_TAILS))
def test_bad_length_mid_packet(tail):
    p = Probe()
    p.feed(packet(1, 2))                                    # 1, 2
    good = packet(3, 2)[mold.HEADER_SIZE:]                  # 3, 4 framed
    payload = header(SESSION, 3, 5) + good + BAD_TAILS[tail]
    assert seqs(p.feed(payload)) == [3, 4]                  # earlier messages stand
    assert p.seq.stale and p.stale_calls == ["bad_message_length"]
    assert p.counts() == {"bad_message_length": 1}
    assert p.seq.expected == 5
    # The next packet is at 8: the three messages the bad packet lost show up as a gap.
    assert seqs(p.feed(packet(8, 1))) == [8]
    assert p.counts() == {"bad_message_length": 1, "gaps": 1, "missing_messages": 3}
    assert p.stale_calls == ["bad_message_length"]


def test_bad_length_first_message():
    p = Probe()
    assert p.feed(header(SESSION, 1, 1) + b"\x00\x05abc") == []
    assert p.seq.stale and p.counts() == {"bad_message_length": 1}
    assert p.seq.expected == 1


@pytest.mark.parametrize("length", [10, 11])
def test_minimum_message_length_is_the_itch_header(length):
    p = Probe()
    body = bytes([ord("Z")]) + bytes(length - 1)
    got = p.feed(mold.encode(SESSION, 1, [body]))
    assert got == ([body] if length == 11 else [])
    assert p.counts() == ({} if length == 11 else {"bad_message_length": 1})


def test_count_larger_than_the_messages_present():
    p = Probe()
    body = packet(1, 3)[mold.HEADER_SIZE:]
    assert seqs(p.feed(header(SESSION, 1, 10) + body)) == [1, 2, 3]
    assert p.counts() == {"bad_message_length": 1}
    assert p.seq.stale and p.seq.expected == 4


def test_trailing_bytes_counted():
    p = Probe()
    assert seqs(p.feed(packet(1, 3) + b"\x00\x05hello")) == [1, 2, 3]   # count says 3
    assert p.counts() == {"trailing_bytes": 1}
    assert not p.seq.stale and p.seq.expected == 4
    assert seqs(p.feed(packet(4, 1) + b"\x00")) == [4]
    assert p.counts() == {"trailing_bytes": 2}


def test_trailing_bytes_not_counted_for_a_duplicate_packet():
    p = Probe()
    p.feed(packet(1, 3))
    assert p.feed(packet(1, 3) + b"junk") == []
    assert p.counts() == {"duplicate_packets": 1}


# --- fuzz -----------------------------------------------------------------------------------

class Reference:
    """The sequencer's rules from its docstring, written out plainly (messages as bytes)."""

    def __init__(self) -> None:
        self.session = None
        self.expected = 0
        self.stale = False
        self.counts: dict[str, int] = {}

    def bump(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def packet(self, p: bytes) -> list[bytes]:
        if len(p) < 20:
            self.bump("truncated_header")
            return []
        session, sequence = p[:10], int.from_bytes(p[10:18], "big")
        count = int.from_bytes(p[18:20], "big")
        if self.session is None:
            self.session, self.expected = session, sequence
        if session != self.session:
            self.bump("wrong_session")
            return []
        data = count not in (0, 0xFFFF)
        if data and sequence + count <= self.expected:
            self.bump("duplicate_packets")
            return []
        if sequence > self.expected:
            self.bump("gaps")
            self.bump("missing_messages", sequence - self.expected)
            self.expected = sequence
            self.stale = True
        if not data:
            self.bump("heartbeats" if count == 0 else "end_of_session")
            return []
        out, pos = [], 20
        for i in range(count):
            length = int.from_bytes(p[pos:pos + 2], "big") if pos + 2 <= len(p) else 0
            if length < 11 or pos + 2 + length > len(p):
                self.bump("bad_message_length")
                self.stale = True
                return out
            if sequence + i >= self.expected:
                out.append(p[pos + 2:pos + 2 + length])
                self.expected = sequence + i + 1
            else:
                self.bump("duplicate_messages")
            pos += 2 + length
        if pos != len(p):
            self.bump("trailing_bytes")
        return out


def fuzz_payload(rng: random.Random, nxt: int) -> bytes:
    """A random, a mutated, or a plausible MoldUDP64 payload around sequence `nxt`."""
    roll = rng.random()
    session = SESSION if rng.random() < 0.9 else rng.randbytes(10)
    if roll < 0.15:
        return rng.randbytes(rng.randrange(0, 60))
    first = max(0, nxt + rng.choice((0, 0, 0, -3, -1, 1, 2, rng.randrange(-50, 50))))
    if roll < 0.25:
        return header(session, first, rng.choice((0, 0xFFFF)))
    bodies = [rng.randbytes(rng.randrange(1, 50)) for _ in range(rng.randrange(1, 12))]
    payload = bytearray(mold.encode(session, first, bodies))
    if roll < 0.6:
        for _ in range(rng.randrange(1, 4)):               # corrupt a byte anywhere
            where = rng.randrange(len(payload))
            payload[where] = rng.randrange(256)
    if rng.random() < 0.2:
        payload = payload[:rng.randrange(len(payload) + 1)]
    elif rng.random() < 0.1:
        payload += rng.randbytes(rng.randrange(1, 5))
    return bytes(payload)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzz_never_raises_never_hangs_and_matches_reference(seed):
    rng = random.Random(seed)
    p, ref = Probe(), Reference()
    start = time.monotonic()
    delivered = 0
    for i in range(3_000):
        payload = fuzz_payload(rng, ref.expected) if i else packet(1, 3)   # learn SESSION first
        expected_before = p.seq.expected
        got = p.feed(payload)
        want = ref.packet(payload)
        assert got == want, f"packet {i}"
        assert p.seq.expected == ref.expected >= expected_before or p.seq.session is None
        assert p.seq.stale == ref.stale, f"packet {i}"
        assert p.counts() == ref.counts, f"packet {i}"
        if p.seq.stale:
            assert len(p.stale_calls) == 1
            p.seq.clear_stale()
            ref.stale = False
            p.stale_calls.clear()
        delivered += len(got)
    assert time.monotonic() - start < 10
    assert delivered > 3_000
    assert set(ref.counts) >= {"gaps", "duplicate_packets", "duplicate_messages", "wrong_session",
                               "bad_message_length", "trailing_bytes", "truncated_header",
                               "heartbeats", "end_of_session", "missing_messages"}


def test_fuzz_huge_count_is_bounded():
    # A count of 65534 in a tiny packet must stop at the first missing prefix.
    p = Probe()
    start = time.monotonic()
    assert p.feed(header(SESSION, 1, 0xFFFE) + b"\x00\x0bZ" + bytes(10)) == [b"Z" + bytes(10)]
    assert p.counts() == {"bad_message_length": 1}
    big = mold.encode(SESSION, 2, [b"Q" * 11] * 20_000)
    assert len(p.feed(big)) == 20_000
    assert time.monotonic() - start < 2
