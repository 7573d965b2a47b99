"""The reference for the MoldUDP64 stage and the ITCH decoder: what the golden model delivers.

`reference(payloads)` runs UDP payloads through the golden model's sequencer and decoder the way
the fast path does (a malformed message raises stale) and returns, per book event, its bit
pattern, message index, the stale flag as the model has it when that message is processed, and
where the message's last byte sits in its payload (for latency). Traffic shape (beats, lanes,
idle cycles) is made by `payload_beats` and the callers; checking is against this reference.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hw.rtl.records import BookEvent, pack
from hw.tb.frames import frames_with_starts
from sw.feed.mold import HEADER_SIZE
from sw.model import decoder
from sw.model.netfilter import NetFilter
from sw.model.sequencer import Sequencer


@dataclass(frozen=True)
class ExpectedEvent:
    bits: int            # BookEvent, packed
    index: int           # message index (every delivered message counts)
    stale: bool          # the stale flag as this message is processed
    packet: int          # which payload it came from
    last_byte: int       # offset of the message's last byte in that payload
    msg_type: str


@dataclass
class Reference:
    events: list[ExpectedEvent] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)   # the RTL's counter names
    stale: bool = False
    messages: int = 0
    session: bytes | None = None
    expected: int = 0
    ended: bool = False


def message_ends(payload: bytes) -> list[int]:
    """Offsets of the last byte of each length-prefixed message after the header."""
    ends, pos = [], HEADER_SIZE
    while pos + 2 <= len(payload):
        length = payload[pos] << 8 | payload[pos + 1]
        if length == 0:
            break
        ends.append(pos + 1 + length)
        pos += 2 + length
    return ends


def reference(payloads: list[bytes], clear_stale_before: set[int] = frozenset()) -> Reference:
    """The golden model's view of a sequence of UDP payloads (see the module docstring).

    `clear_stale_before`: packet numbers before which the host clears the stale flag.
    """
    ref = Reference()
    seq = Sequencer()
    for n, payload in enumerate(payloads):
        if n in clear_stale_before:
            seq.clear_stale()
        before = seq.counts["duplicate_messages"]
        ends = message_ends(payload)
        # Lazily: a bad length found later in the packet raises stale after these messages.
        for j, msg in enumerate(seq.packet(memoryview(payload))):
            skipped = seq.counts["duplicate_messages"] - before   # leading duplicates only
            index = ref.messages
            ref.messages += 1
            ev = decoder.decode(msg)
            if ev is decoder.MALFORMED:
                ref.counters["malformed"] += 1
                seq.raise_stale("malformed_message")
            elif ev is not None:
                ref.counters["events"] += 1
                ref.events.append(ExpectedEvent(pack(BookEvent, ev), index, seq.stale, n,
                                                ends[skipped + j], chr(msg[0])))
    ref.counters.update(seq.counts)
    ref.counters["messages"] = ref.messages
    ref.stale = seq.stale
    ref.session = seq.session
    ref.expected = seq.expected
    ref.ended = seq.ended
    return ref


def payload_beats(payload: bytes, first_lane: int, truncated: bool = False
                  ) -> list[tuple[int, int, int, int, int]]:
    """PayloadBeat fields (data, keep, first, last, truncated) of a payload that starts at
    `first_lane` of its first beat, the way the network filter delivers it."""
    padded = bytes(first_lane) + payload
    beats = []
    for offset in range(0, max(len(padded), 1), 8):
        chunk = padded[offset:offset + 8]
        lo = first_lane if offset == 0 else 0
        keep = ((1 << len(chunk)) - 1) & ~((1 << lo) - 1)
        last = offset + 8 >= len(padded)
        beats.append((int.from_bytes(chunk.ljust(8, b"\0"), "little"), keep, int(offset == 0),
                      int(last), int(last and truncated)))
    return beats


@dataclass(frozen=True)
class IngressEvent:
    expected: ExpectedEvent
    first_beat: int      # index, in the beat sequence, of its frame's first beat
    last_beat: int       # index of the beat that carried its message's last byte


def ingress_reference(beats, dst, clear_stale_at=frozenset()
                      ) -> tuple[Reference, list[IngressEvent]]:
    """The golden model's events for a beat sequence entering the whole ingress (filter
    included), each placed on the beats that carried it (MAC rules as in hw.tb.frames).

    `clear_stale_at`: beat indices before which the host cleared the stale flag."""
    framed, _, _ = frames_with_starts(beats)
    model = NetFilter(dst)
    payloads, payload_at, first_beat = [], [], []
    for frame, start in framed:
        payload = model.filter(frame)
        if payload is not None:
            payloads.append(bytes(payload))
            payload_at.append(14 + (frame[14] & 0x0F) * 4 + 8)
            first_beat.append(start)
    clear_before = {next((n for n, at in enumerate(first_beat) if at >= beat), len(payloads))
                    for beat in clear_stale_at}
    ref = reference(payloads, clear_before)
    placed = [IngressEvent(e, first_beat[e.packet],
                           first_beat[e.packet] + (payload_at[e.packet] + e.last_byte) // 8)
              for e in ref.events]
    return ref, placed

