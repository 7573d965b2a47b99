"""Testbench pieces for the network filter shared by the Amaranth-simulator and cocotb tiers:
frame makers for every drop reason, and packet reassembly from PayloadBeat outputs."""

from __future__ import annotations

import struct

from sw.feed.net import UdpEndpoint, udp_frame

DST = UdpEndpoint("233.54.12.111", 26477)


def ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _set_checksum(header: bytearray) -> None:
    header[10:12] = b"\x00\x00"
    header[10:12] = ipv4_checksum(bytes(header)).to_bytes(2, "big")


def with_ip_header(frame: bytes, mutate, fix_checksum: bool = True) -> bytes:
    """Apply `mutate(bytearray of the IPv4 header)` and recompute its checksum."""
    ihl = (frame[14] & 0x0F) * 4
    header = bytearray(frame[14:14 + ihl])
    mutate(header)
    if fix_checksum and len(header) >= 12:
        _set_checksum(header)
    return frame[:14] + bytes(header) + frame[14 + len(header):]


def with_options(frame: bytes, words: int) -> bytes:
    """The same datagram with `words` 32-bit words of IPv4 options (NOPs), lengths fixed up."""
    ihl = (frame[14] & 0x0F) * 4
    header = bytearray(frame[14:14 + ihl]) + b"\x01" * (4 * words)
    header[0] = 0x40 | (len(header) // 4)
    total = int.from_bytes(header[2:4], "big") + 4 * words
    header[2:4] = total.to_bytes(2, "big")
    _set_checksum(header)
    return frame[:14] + bytes(header) + frame[14 + ihl:]


def good(payload: bytes = b"0123456789abcdefghijKLMNOP") -> bytes:
    return udp_frame(payload, DST)


class PacketCollector:
    """Reassembles PayloadBeats into (payload bytes, truncated) packets."""

    def __init__(self) -> None:
        self.packets: list[tuple[bytes, bool]] = []
        self.current: bytearray | None = None
        self.errors: list[str] = []

    def beat(self, data: int, keep: int, first: bool, last: bool, truncated: bool) -> None:
        if first:
            if self.current is not None:
                self.errors.append("first inside a packet")
            self.current = bytearray()
        elif self.current is None:
            self.errors.append("beat outside a packet")
            return
        raw = data.to_bytes(8, "little")
        self.current += bytes(raw[i] for i in range(8) if keep >> i & 1)
        if last:
            self.packets.append((bytes(self.current), truncated))
            self.current = None
