"""Frames <-> 64-bit beats, and the reference for what the network filter must emit.

Traffic shape (which beats, idle gaps between them) is made here; checking is done against the
golden model (`sw.model.netfilter.NetFilter`) fed with the frames the beats describe, under the
MAC-interface rules the RTL documents: a `first` inside a frame cuts that frame where it stood,
and beats outside a frame are ignored.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sw.feed.net import UdpEndpoint
from sw.model.netfilter import NetFilter as ModelNetFilter


@dataclass(frozen=True)
class Beat:
    data: int      # lane i = bits 8i+7..8i = frame byte 8*beat+i
    keep: int
    first: bool
    last: bool


def beats_of(frame: bytes) -> list[Beat]:
    """The beats of one frame; every beat full except the last. An empty frame is one beat
    with keep 0."""
    if not frame:
        return [Beat(0, 0, True, True)]
    out = []
    for offset in range(0, len(frame), 8):
        chunk = frame[offset:offset + 8]
        out.append(Beat(int.from_bytes(chunk, "little"), (1 << len(chunk)) - 1,
                        offset == 0, offset + 8 >= len(frame)))
    return out


def frames_of(beats: Iterable[Beat]) -> tuple[list[bytes], int, int]:
    """The frames a beat sequence carries under the MAC-interface rules.

    Returns (frames, aborted, stray): a frame cut by a `first` ends with the full beats it had.
    """
    framed, aborted, stray = frames_with_starts(beats)
    return [frame for frame, _ in framed], aborted, stray


def frames_with_starts(beats: Iterable[Beat]) -> tuple[list[tuple[bytes, int]], int, int]:
    """As `frames_of`, each frame with the index of its first beat in the sequence."""
    framed: list[tuple[bytes, int]] = []
    current: bytearray | None = None
    start = 0
    aborted = stray = 0
    for i, b in enumerate(beats):
        if b.first:
            if current is not None:
                framed.append((bytes(current), start))
                aborted += 1
            current, start = bytearray(), i
        elif current is None:
            stray += 1
            continue
        n = 8 if not b.last else bin(b.keep).count("1")
        current += b.data.to_bytes(8, "little")[:n]
        if b.last:
            framed.append((bytes(current), start))
            current = None
    return framed, aborted, stray


@dataclass
class Expected:
    """What the RTL must produce for a beat sequence, from the golden model."""

    packets: list[tuple[bytes, bool]]   # (payload bytes, truncated)
    counters: dict[str, int]


def expected(beats: list[Beat], dst: UdpEndpoint) -> Expected:
    frames, aborted, stray = frames_of(beats)
    # A frame still open when the beats run out has not ended: the RTL has not judged it yet.
    model = ModelNetFilter(dst)
    packets = []
    for frame in frames:
        payload = model.filter(frame)
        if payload is not None:
            packets.append((bytes(payload), _claims_more(frame, len(payload))))
    counters = {"accepted": model.accepted, "truncated": model.truncated, "aborted": aborted,
                "stray_beats": stray}
    for reason, n in model.drops.items():
        counters[f"drop_{reason.lower()}"] = n
    return Expected(packets, counters)


def _claims_more(frame: bytes, got: int) -> bool:
    """True if the UDP header claims more payload than the frame holds (a truncated packet)."""
    ihl = (frame[14] & 0x0F) * 4
    udp_length = int.from_bytes(frame[14 + ihl + 4:14 + ihl + 6], "big")
    return got < udp_length - 8


def with_idle(beats: Iterable[Beat], rng: random.Random, idle: float) -> Iterator[Beat | None]:
    """Interleave idle cycles (None) with probability `idle` before each beat."""
    for b in beats:
        while rng.random() < idle:
            yield None
        yield b
