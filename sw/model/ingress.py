"""A feed file as the card receives it, and what the host learns from it before the open.

Where it sits: the host side of a replay or a run (hw/tb/replay.py, sw/run). `feed_frames` turns
a pcap or a NASDAQ ITCH file into (ingress cycle, Ethernet frame) pairs, stamped as the golden
model stamps its ingress units; `directory` reads the feed's stock directory (R messages) the way
the card's own ingress would deliver it (network filter, MoldUDP64 sequencer), so the host can
subscribe every symbol's locate before its R arrives: the card names a slot only from an R it
sees after the subscription.
"""

from __future__ import annotations

from dataclasses import dataclass

from spec.codes import BookEventKind
from spec.itch import stock_text
from sw.feed import itch, mold
from sw.feed.generator import SESSION
from sw.feed.net import UdpEndpoint, read_pcap, udp_frame
from sw.model import decoder
from sw.model.clock import NS_PER_DAY, ns_to_cycles
from sw.model.netfilter import NetFilter
from sw.model.sequencer import Sequencer

DIRECTORY = int(BookEventKind.DIRECTORY)


def feed_frames(data: bytes, kind: str, dst: UdpEndpoint) -> list[tuple[int, bytes]]:
    """(ingress cycle, frame) per frame, stamped as the model stamps its ingress units."""
    if kind == "pcap":
        return [(ns_to_cycles(ts % NS_PER_DAY), frame) for ts, frame in read_pcap(data)]
    frames = []
    cols = decoder.decode_batch(data, itch.frame_offsets(data))
    stamps = ns_to_cycles(cols["timestamp"]).tolist()
    for sequence, ((start, length), stamp) in enumerate(
            zip(itch.iter_framed(data), stamps, strict=True), 1):
        payload = mold.encode(SESSION, sequence, [bytes(data[start:start + length])])
        frames.append((stamp, udp_frame(payload, dst, ip_id=sequence & 0xFFFF)))
    return frames


@dataclass
class Directory:
    """What the feed file tells the host: the locate of each symbol its R messages name (the
    first R of a locate), the frames after which the card's map is checked (an R delivered,
    or a sequence gap), and the number of messages delivered before each frame (where host
    actions go)."""

    locates: dict[str, int]
    check_after: set[int]
    before: list[int]


def directory(frames: list[tuple[int, bytes]], dst: UdpEndpoint) -> Directory:
    net, sequencer = NetFilter(dst), Sequencer()
    locates: dict[str, int] = {}
    check_after: set[int] = set()
    before, delivered = [], 0
    for n, (_, frame) in enumerate(frames):
        before.append(delivered)
        payload = net.filter(frame)
        if payload is None:
            continue
        gaps = sequencer.counts["gaps"]
        for msg in sequencer.packet(payload):
            delivered += 1
            row = decoder.as_row(decoder.decode(msg))
            if row[0] == DIRECTORY:
                symbol = stock_text(row[7])
                if row[1] not in locates.values() and symbol not in locates:
                    locates[symbol] = row[1]
                check_after.add(n)
        if sequencer.counts["gaps"] != gaps:
            check_after.add(n)
    return Directory(locates, check_after, before)
