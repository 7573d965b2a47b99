"""MoldUDP64 downstream packets: the UDP payload that carries sequenced ITCH messages.

Layout: session (10 bytes ASCII) | sequence number (8, of the first message) | message count (2)
| per message: length (2) + message bytes. Count 0 is a heartbeat (sequence = next expected),
0xFFFF is end of session. Where it sits: the toolkit; the generator packs with `encode`, tools and
tests unpack with `decode`. The golden model's own sequencing stage is `sw.model.sequencer`.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from sw.feed.itch import FeedFormatError

HEADER = struct.Struct(">10sQH")
HEADER_SIZE = HEADER.size  # 20
HEARTBEAT = 0
END_OF_SESSION = 0xFFFF


class MoldPacket(NamedTuple):
    session: bytes        # 10 bytes
    sequence: int         # sequence number of the first message (or next expected, heartbeat)
    count: int            # messages in the packet; 0 heartbeat, 0xFFFF end of session
    messages: tuple[bytes, ...]

    @property
    def is_heartbeat(self) -> bool:
        return self.count == HEARTBEAT

    @property
    def is_end_of_session(self) -> bool:
        return self.count == END_OF_SESSION


def _check_session(session: bytes) -> bytes:
    if len(session) != 10:
        raise ValueError(f"session must be exactly 10 bytes, not {session!r}")
    return session


def _check_sequence(sequence: int) -> int:
    if not 0 <= sequence < 1 << 64:
        raise ValueError(f"sequence must fit in 64 bits, not {sequence!r}")
    return sequence


def encode(session: bytes, sequence: int, messages: list[bytes] | tuple[bytes, ...]) -> bytes:
    """A data packet carrying `messages` (each an encoded ITCH message without length)."""
    if not messages:
        raise ValueError("a data packet needs at least one message; use heartbeat()")
    if len(messages) >= END_OF_SESSION:
        raise ValueError(f"at most {END_OF_SESSION - 1} messages per packet, not {len(messages)}")
    parts = [HEADER.pack(_check_session(session), _check_sequence(sequence), len(messages))]
    for body in messages:
        if not 0 < len(body) < 1 << 16:
            raise ValueError(f"message length must be 1..65535 bytes, not {len(body)}")
        parts.append(len(body).to_bytes(2, "big"))
        parts.append(body)
    return b"".join(parts)


def heartbeat(session: bytes, next_sequence: int) -> bytes:
    return HEADER.pack(_check_session(session), _check_sequence(next_sequence), HEARTBEAT)


def end_of_session(session: bytes, next_sequence: int) -> bytes:
    return HEADER.pack(_check_session(session), _check_sequence(next_sequence), END_OF_SESSION)


def decode(payload: bytes) -> MoldPacket:
    """Strictly decode one packet; raises FeedFormatError with the offending byte offset."""
    if len(payload) < HEADER_SIZE:
        raise FeedFormatError(0, f"MoldUDP64 header needs {HEADER_SIZE} bytes, got {len(payload)}")
    session, sequence, count = HEADER.unpack_from(payload, 0)
    messages: list[bytes] = []
    pos = HEADER_SIZE
    if count not in (HEARTBEAT, END_OF_SESSION):
        for _ in range(count):
            if pos + 2 > len(payload):
                raise FeedFormatError(pos, "message length prefix runs past the packet")
            length = int.from_bytes(payload[pos:pos + 2], "big")
            if length == 0 or pos + 2 + length > len(payload):
                raise FeedFormatError(pos, f"message of {length} bytes does not fit the packet")
            messages.append(bytes(payload[pos + 2:pos + 2 + length]))
            pos += 2 + length
    if pos != len(payload):
        raise FeedFormatError(pos, f"{len(payload) - pos} trailing bytes after {count} messages")
    return MoldPacket(session, sequence, count, tuple(messages))
