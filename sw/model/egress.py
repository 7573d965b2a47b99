"""Golden model of the UDP egress (hw/rtl/udp_egress.py): one order's FIX bytes -> one frame.

Data flow: encoder (FIX bytes) -> order_datagram -> MAC (which pads and appends the FCS).
The frame is Ethernet II / IPv4 (no options, DF, TTL 64, header checksum) / UDP (checksum 0:
"no checksum", legal over IPv4, RFC 768), addressed by the card's `eth_*` registers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from spec.ethernet import ETHERTYPE_IPV4, IP_PROTO_UDP, IPV4_HEADER, UDP_HEADER

IP_TTL = 64
IP_FLAGS_DF = 0x4000


@dataclass(frozen=True)
class Endpoints:
    """The fields of records.UdpEndpoints as integers (MACs 48 bits, IPv4 addresses 32)."""

    src_mac: int
    src_ip: int
    src_port: int
    dst_mac: int
    dst_ip: int
    dst_port: int


def ip_checksum(header: bytes) -> int:
    """The ones'-complement checksum of an IPv4 header (its checksum field 0)."""
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def order_datagram(endpoints: Endpoints | dict, payload: bytes, ip_id: int) -> bytes:
    """The frame (no FCS) carrying `payload` from the card to the session host."""
    ep = endpoints if isinstance(endpoints, Endpoints) else Endpoints(**endpoints)
    udp_length = UDP_HEADER + len(payload)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, IPV4_HEADER + udp_length,
                               ip_id & 0xFFFF, IP_FLAGS_DF, IP_TTL, IP_PROTO_UDP, 0,
                               ep.src_ip.to_bytes(4, "big"), ep.dst_ip.to_bytes(4, "big")))
    ip[10:12] = ip_checksum(bytes(ip)).to_bytes(2, "big")
    eth = ep.dst_mac.to_bytes(6, "big") + ep.src_mac.to_bytes(6, "big") \
        + ETHERTYPE_IPV4.to_bytes(2, "big")
    udp = struct.pack("!HHHH", ep.src_port, ep.dst_port, udp_length, 0)
    return eth + bytes(ip) + udp + payload
