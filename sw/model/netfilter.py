"""Golden model of the network filter: Ethernet II / IPv4 / UDP to one destination ip:port.

Data flow: raw frames (after the MAC, no FCS) -> NetFilter -> UDP payload -> Sequencer.
Everything that is not an intact IPv4/UDP datagram to the configured destination is dropped and
counted by reason. The IPv4 header checksum is checked; options are tolerated (IHL > 5); the UDP
checksum is not checked (it is optional in IPv4 and a cut-through filter cannot hold the datagram
back for it). Ethernet padding beyond the IPv4 total length is ignored.

A frame shorter than its UDP length claims is passed on truncated and flagged: the sequencer
delivers the messages that are whole and stops at the first that is not (cut-through semantics,
see docs/golden-model.md).
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum

from sw.feed.net import UdpEndpoint


class DropReason(StrEnum):
    RUNT = "RUNT"                       # shorter than the headers it claims
    NOT_IPV4 = "NOT_IPV4"               # EtherType is not 0x0800 (VLAN tags are not supported)
    BAD_IP_HEADER = "BAD_IP_HEADER"     # version != 4, IHL < 5, total length too small
    BAD_IP_CHECKSUM = "BAD_IP_CHECKSUM"
    IP_FRAGMENT = "IP_FRAGMENT"         # MF set or fragment offset != 0
    NOT_UDP = "NOT_UDP"
    WRONG_DST_IP = "WRONG_DST_IP"
    WRONG_DST_PORT = "WRONG_DST_PORT"
    BAD_UDP_LENGTH = "BAD_UDP_LENGTH"   # < 8 or beyond the IPv4 payload


def ipv4_header_ok(header: bytes | memoryview) -> bool:
    """True when the ones-complement sum of the header's 16-bit words is 0xFFFF."""
    total = 0
    for i in range(0, len(header), 2):
        total += header[i] << 8 | header[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


class NetFilter:
    def __init__(self, dst: UdpEndpoint = UdpEndpoint()):
        self.dst_ip = dst.ip_int.to_bytes(4, "big")
        self.dst_port = dst.port
        self.drops: Counter[str] = Counter()
        self.accepted = 0
        self.truncated = 0  # accepted frames shorter than their UDP length

    def _drop(self, reason: DropReason) -> None:
        self.drops[reason.value] += 1

    def filter(self, frame: bytes) -> memoryview | None:
        """The UDP payload of an accepted frame (possibly truncated), or None if dropped."""
        size = len(frame)
        if size < 14 + 20:
            self._drop(DropReason.RUNT if size < 14 or frame[12:14] == b"\x08\x00"
                       else DropReason.NOT_IPV4)
            return None
        if frame[12] != 0x08 or frame[13] != 0x00:
            self._drop(DropReason.NOT_IPV4)
            return None
        version_ihl = frame[14]
        ihl = (version_ihl & 0x0F) * 4
        if version_ihl >> 4 != 4 or ihl < 20:
            self._drop(DropReason.BAD_IP_HEADER)
            return None
        if size < 14 + ihl + 8:
            self._drop(DropReason.RUNT)
            return None
        if not ipv4_header_ok(memoryview(frame)[14:14 + ihl]):
            self._drop(DropReason.BAD_IP_CHECKSUM)
            return None
        total_length = frame[16] << 8 | frame[17]
        if total_length < ihl + 8:
            self._drop(DropReason.BAD_IP_HEADER)
            return None
        if frame[20] & 0x20 or (frame[20] & 0x1F) or frame[21]:
            self._drop(DropReason.IP_FRAGMENT)
            return None
        if frame[23] != 17:
            self._drop(DropReason.NOT_UDP)
            return None
        if frame[30:34] != self.dst_ip:
            self._drop(DropReason.WRONG_DST_IP)
            return None
        udp = 14 + ihl
        if (frame[udp + 2] << 8 | frame[udp + 3]) != self.dst_port:
            self._drop(DropReason.WRONG_DST_PORT)
            return None
        udp_length = frame[udp + 4] << 8 | frame[udp + 5]
        if udp_length < 8 or udp_length > total_length - ihl:
            self._drop(DropReason.BAD_UDP_LENGTH)
            return None
        self.accepted += 1
        end = udp + udp_length
        if end > size:
            self.truncated += 1
        return memoryview(frame)[udp + 8:min(end, size)]
