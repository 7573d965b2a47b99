"""Golden model of the MoldUDP64 stage: session, sequence, gaps, duplicates, message split.

Data flow: UDP payload -> Sequencer -> ITCH message bytes (in sequence order) -> Decoder.

Rules (the RTL copies them; docs/golden-model.md has the full table):
- The first packet after reset teaches the session and the expected sequence number.
- A packet of another session is dropped and counted.
- Sequence above expected (data, heartbeat or end of session): a gap. The stale flag is raised
  (the caller cancels live orders and blocks trading until the host clears it), the gap and the
  number of missing messages are counted, and expected jumps forward.
- A data packet wholly below expected is a duplicate and dropped; one that overlaps expected has
  its already-seen leading messages skipped.
- Messages are cut through one at a time: each is delivered if its length prefix and bytes lie
  inside the payload and it is at least as long as the ITCH common header (11 bytes). The first
  one that is not ends the packet (counted, stale raised, since messages were lost); messages
  before it stand. The minimum length is what lets a 64-bit datapath finish at most one message
  per beat (2 prefix + 11 bytes > 8), so the RTL copies it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from spec.itch import ITCH_HEADER_BYTES
from sw.feed.mold import END_OF_SESSION, HEADER, HEADER_SIZE, HEARTBEAT

#: The ITCH 5.0 common header (type, locate, tracking number, timestamp): no message is shorter.
MIN_MESSAGE_LENGTH = ITCH_HEADER_BYTES


class Sequencer:
    def __init__(self, on_stale: Callable[[str], None] | None = None) -> None:
        self.session: bytes | None = None
        self.expected = 0
        self.ended = False
        self.stale = False          # sticky until the host clears it
        self.on_stale = on_stale    # called once when stale goes from clear to raised
        self.counts: Counter[str] = Counter()

    def raise_stale(self, why: str) -> None:
        """Mark the feed stale (the book may be wrong); the first raise notifies the owner."""
        if not self.stale:
            self.stale = True
            if self.on_stale is not None:
                self.on_stale(why)

    def clear_stale(self) -> None:
        self.stale = False

    def _gap(self, sequence: int) -> None:
        if sequence > self.expected:
            self.counts["gaps"] += 1
            self.counts["missing_messages"] += sequence - self.expected
            self.expected = sequence
            self.raise_stale("gap")

    def packet(self, payload: memoryview) -> Iterator[memoryview]:
        """Process one packet header now; return an iterator over the messages to deliver.

        The iterator must be consumed before the next packet; it stops early on a bad length.
        """
        if len(payload) < HEADER_SIZE:
            self.counts["truncated_header"] += 1
            return iter(())
        session, sequence, count = HEADER.unpack_from(payload, 0)
        if self.session is None:
            self.session = session
            self.expected = sequence
        elif session != self.session:
            self.counts["wrong_session"] += 1
            return iter(())
        if count in (HEARTBEAT, END_OF_SESSION):
            if count == END_OF_SESSION:
                self.counts["end_of_session"] += 1
                self.ended = True
            else:
                self.counts["heartbeats"] += 1
            self._gap(sequence)
            return iter(())
        if sequence + count <= self.expected:
            self.counts["duplicate_packets"] += 1
            return iter(())
        self._gap(sequence)
        return self._messages(payload, sequence, count)

    def _messages(self, payload: memoryview, sequence: int, count: int) -> Iterator[memoryview]:
        size = len(payload)
        pos = HEADER_SIZE
        skip = self.expected - sequence
        for i in range(count):
            if pos + 2 > size:
                self._bad_length()
                return
            length = payload[pos] << 8 | payload[pos + 1]
            end = pos + 2 + length
            if length < MIN_MESSAGE_LENGTH or end > size:
                self._bad_length()
                return
            if i < skip:
                self.counts["duplicate_messages"] += 1
            else:
                self.expected += 1
                yield payload[pos + 2:end]
            pos = end
        if pos != size:
            self.counts["trailing_bytes"] += 1

    def _bad_length(self) -> None:
        self.counts["bad_message_length"] += 1
        self.raise_stale("bad_message_length")
