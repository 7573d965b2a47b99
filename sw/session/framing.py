"""FIX 4.4 framing on a byte stream: cutting messages out, and building the session's own.

Where it sits: under the session manager (sw/session/session.py), between the TCP socket and
QuickFIX's parser. It does only what must be done before a message can be parsed at all: find
the next `8=FIX.4.4<SOH>9=`, read BodyLength, and check that the CheckSum field sits where
BodyLength says and carries the right sum (docs/references.md, FIX 4.4). A message that fails
is garbled: the session logs, counts and drops it, and its sequence number does not advance.
Everything else (fields, the data dictionary) is QuickFIX's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SOH = b"\x01"
BEGIN = b"8=FIX.4.4\x019="
_LENGTH = re.compile(rb"8=FIX\.4\.4\x019=(\d{1,7})\x01")
_SEQ = re.compile(rb"\x0134=(\d+)\x01")


@dataclass(frozen=True)
class Garbled:
    """Bytes that looked like a message and are not one; `why` says what was wrong."""

    data: bytes
    why: str


class FrameReader:
    """Feed bytes as they arrive; take whole messages (bytes) and Garbled pieces out."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes | Garbled]:
        self._buffer += data
        out: list[bytes | Garbled] = []
        while True:
            start = self._buffer.find(BEGIN)
            if start < 0:
                # Keep a tail that may be the start of the next header.
                self._buffer = self._buffer[-(len(BEGIN) - 1):]
                return out
            if start:
                out.append(Garbled(self._buffer[:start], "bytes before a message header"))
                self._buffer = self._buffer[start:]
            match = _LENGTH.match(self._buffer)
            if match is None:
                if len(self._buffer) > len(BEGIN) + 9:
                    out.append(Garbled(self._buffer[:len(BEGIN)], "BodyLength is not a number"))
                    self._buffer = self._buffer[len(BEGIN):]
                    continue
                return out
            body_end = match.end() + int(match.group(1))
            end = body_end + 7                        # 10=nnn<SOH>
            if len(self._buffer) < end:
                return out
            trailer = self._buffer[body_end:end]
            if not (trailer.startswith(b"10=") and trailer.endswith(SOH)
                    and trailer[3:6].isdigit()):
                out.append(self._skip(match.end(), "CheckSum is not where BodyLength says"))
                continue
            message = self._buffer[:end]
            total = sum(self._buffer[:body_end]) % 256
            if int(trailer[3:6]) != total:
                out.append(Garbled(message, f"CheckSum {trailer[3:6].decode()} is wrong "
                                            f"(the bytes sum to {total:03d})"))
                self._buffer = self._buffer[end:]
                continue
            out.append(message)
            self._buffer = self._buffer[end:]

    def _skip(self, past: int, why: str) -> Garbled:
        """Drop a bad message up to the next header after its own."""
        following = self._buffer.find(BEGIN, past)
        cut = following if following >= 0 else len(self._buffer)
        piece, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return Garbled(piece, why)


def seq_of(message: bytes) -> int:
    """MsgSeqNum (34) of a framed message."""
    match = _SEQ.search(message)
    if match is None:
        raise ValueError("message has no MsgSeqNum (34)")
    return int(match.group(1))


def build(msg_type: str, sender: str, target: str, seq: int, sending_time: str,
          fields: list[tuple[int, object]]) -> bytes:
    """A whole FIX 4.4 message: header, `fields` in order, BodyLength and CheckSum."""
    body = b"".join(b"%d=%s\x01" % (tag, str(value).encode()) for tag, value in [
        (35, msg_type), (49, sender), (56, target), (34, seq), (52, sending_time), *fields])
    head = BEGIN + str(len(body)).encode() + SOH
    checksum = sum(head + body) % 256
    return head + body + b"10=%03d\x01" % checksum
