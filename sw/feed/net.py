"""Ethernet II / IPv4 / UDP framing and pcap files, through dpkt.

Where it sits: the toolkit. The generator wraps MoldUDP64 payloads into frames and writes pcaps;
replay reads pcaps back into raw frames for the golden model's network filter (which parses the
headers itself, as the hardware does). Capture timestamps are integer nanoseconds.
"""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO

import dpkt

from sw.feed.itch import FeedFormatError

# NASDAQ-like defaults for the synthetic feed; the replay's network filter uses the same ones.
DEFAULT_SRC_MAC = bytes.fromhex("02000000aa01")
DEFAULT_DST_MAC = bytes.fromhex("01005e360c6f")  # IPv4 multicast MAC of 233.54.12.111
DEFAULT_SRC_IP = "10.10.0.1"
DEFAULT_DST_IP = "233.54.12.111"
DEFAULT_DST_PORT = 26477
DEFAULT_SRC_PORT = 26400


@dataclass(frozen=True)
class UdpEndpoint:
    """Destination a feed is sent to (and the network filter accepts)."""

    ip: str = DEFAULT_DST_IP
    port: int = DEFAULT_DST_PORT

    @classmethod
    def parse(cls, text: str) -> UdpEndpoint:
        """Parse 'a.b.c.d:port'."""
        host, sep, port = text.rpartition(":")
        try:
            ipaddress.IPv4Address(host)
            number = int(port)
        except ValueError:
            number = -1
        if not sep or not 0 < number < 1 << 16:
            raise ValueError(f"destination must look like 233.54.12.111:26477, not {text!r}")
        return cls(host, number)

    @property
    def ip_int(self) -> int:
        return int(ipaddress.IPv4Address(self.ip))

    @property
    def mac(self) -> bytes:
        """Destination MAC: a multicast group's own (RFC 1112), else DEFAULT_DST_MAC."""
        if not ipaddress.IPv4Address(self.ip).is_multicast:
            return DEFAULT_DST_MAC
        return b"\x01\x00\x5e" + (self.ip_int & 0x7FFFFF).to_bytes(3, "big")


def udp_frame(payload: bytes, dst: UdpEndpoint = UdpEndpoint(), *, src_ip: str = DEFAULT_SRC_IP,
              src_port: int = DEFAULT_SRC_PORT, ip_id: int = 0) -> bytes:
    """An Ethernet II frame (no FCS) carrying `payload` in IPv4/UDP, checksums filled in."""
    udp = dpkt.udp.UDP(sport=src_port, dport=dst.port, data=payload)
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(src=ipaddress.IPv4Address(src_ip).packed,
                    dst=ipaddress.IPv4Address(dst.ip).packed,
                    p=dpkt.ip.IP_PROTO_UDP, ttl=64, id=ip_id, data=udp)
    ip.len = len(ip)
    eth = dpkt.ethernet.Ethernet(src=DEFAULT_SRC_MAC, dst=dst.mac,
                                 type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
    return bytes(eth)


def write_pcap(out: BinaryIO, frames: Iterable[tuple[int, bytes]]) -> int:
    """Write (timestamp_ns, frame) pairs as a nanosecond-resolution pcap; returns the count."""
    writer = dpkt.pcap.Writer(out, snaplen=65535, nano=True, linktype=dpkt.pcap.DLT_EN10MB)
    n = 0
    for ts_ns, frame in frames:
        # A Decimal keeps the nanoseconds exact where a float of seconds would round them.
        writer.writepkt_time(frame, Decimal(ts_ns) / _NS_PER_S)
        n += 1
    return n


#: The first four bytes of a pcap file: micro- or nanosecond resolution, either byte order.
PCAP_MAGICS = frozenset(bytes.fromhex(m) for m in ("a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1"))


def is_pcap(data: bytes) -> bool:
    """Whether a feed file image is a pcap capture (else a NASDAQ ITCH file)."""
    return data[:4] in PCAP_MAGICS


def capture_date(data: bytes) -> dt.date | None:
    """The UTC date of a pcap's first frame (None: not a pcap, or no frame): the trade date a
    captured feed carries; a NASDAQ ITCH file carries none."""
    if is_pcap(data):
        for ts_ns, _ in read_pcap(data):
            return dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, dt.UTC).date()
    return None


def read_pcap(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (timestamp_ns, frame) from a pcap file image (micro- or nanosecond resolution).

    A truncated file raises FeedFormatError with the offset of the incomplete record, before
    that record is yielded: a partial frame never reaches the caller.
    """
    if len(data) < 24:
        raise FeedFormatError(0, f"not a pcap file: {len(data)} bytes is shorter than its header")
    try:
        reader = dpkt.pcap.Reader(io.BytesIO(data))
    except (ValueError, dpkt.UnpackError) as exc:
        raise FeedFormatError(0, f"not a pcap file ({exc})") from None
    if reader.datalink() != dpkt.pcap.DLT_EN10MB:
        raise FeedFormatError(20, f"pcap link type {reader.datalink()} is not Ethernet")
    nano = data[:4] in _NANO_MAGICS
    order = "big" if data[:4] in _BIG_ENDIAN_MAGICS else "little"
    records = iter(reader)
    offset = 24
    while True:
        try:
            ts, frame = next(records)
        except StopIteration:
            return
        except dpkt.UnpackError:
            raise FeedFormatError(offset, "truncated pcap record header") from None
        caplen = int.from_bytes(data[offset + 8:offset + 12], order)
        if len(frame) != caplen:  # dpkt hands back a short read as a short frame
            raise FeedFormatError(offset, "truncated pcap record (file ends inside a frame)")
        yield (int(ts * _NS_PER_S) if nano else round(ts * 1e6) * 1000), frame
        offset += 16 + len(frame)


_NS_PER_S = 1_000_000_000
_NANO_MAGICS = (dpkt.pcap.TCPDUMP_MAGIC_NANO.to_bytes(4, "big"),
                dpkt.pcap.TCPDUMP_MAGIC_NANO.to_bytes(4, "little"))
_BIG_ENDIAN_MAGICS = (dpkt.pcap.TCPDUMP_MAGIC.to_bytes(4, "big"),
                      dpkt.pcap.TCPDUMP_MAGIC_NANO.to_bytes(4, "big"))
