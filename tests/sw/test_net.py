"""Ethernet/IPv4/UDP framing and pcap files (sw.feed.net), checked with dpkt and by hand."""

import io
import ipaddress
import struct
from decimal import Decimal

import dpkt
import pytest

from sw.feed import itch, net
from sw.feed.itch import FeedFormatError
from sw.feed.net import UdpEndpoint


def ones_complement_sum(data):
    """16-bit ones' complement sum (RFC 1071), odd length padded with a zero byte."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ipv4_header_ok(ip_header):
    return ones_complement_sum(ip_header) == 0xFFFF


def udp_checksum_ok(src, dst, segment):
    pseudo = src + dst + struct.pack(">BBH", 0, 17, len(segment))
    return ones_complement_sum(pseudo + segment) == 0xFFFF


@pytest.mark.parametrize("size", [0, 1, 37, 1400])
def test_udp_frame_layout_and_checksums(size):
    """Default frame: right lengths, addresses, ports, TTL, and valid IP and UDP checksums."""
    payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
    frame = net.udp_frame(payload, ip_id=0x1234)
    assert len(frame) == 14 + 20 + 8 + size
    # by hand, from the header layouts
    assert frame[12:14] == b"\x08\x00"
    ip_header = frame[14:34]
    assert ip_header[0] == 0x45
    assert int.from_bytes(ip_header[2:4], "big") == 20 + 8 + size
    assert int.from_bytes(ip_header[4:6], "big") == 0x1234
    assert ip_header[8] == 64 and ip_header[9] == 17
    assert int.from_bytes(ip_header[6:8], "big") & 0x3FFF == 0   # not a fragment
    assert ipv4_header_ok(ip_header)
    udp = frame[34:]
    assert int.from_bytes(udp[4:6], "big") == 8 + size
    assert udp_checksum_ok(ip_header[12:16], ip_header[16:20], udp)
    assert udp[8:] == payload
    # and parsed back by dpkt
    eth = dpkt.ethernet.Ethernet(frame)
    assert eth.type == dpkt.ethernet.ETH_TYPE_IP
    assert eth.src == bytes.fromhex("02000000aa01")
    ip = eth.data
    assert isinstance(ip, dpkt.ip.IP) and ip.p == dpkt.ip.IP_PROTO_UDP
    assert ipaddress.IPv4Address(ip.src) == ipaddress.IPv4Address("10.10.0.1")
    assert ipaddress.IPv4Address(ip.dst) == ipaddress.IPv4Address("233.54.12.111")
    assert ip.len == 28 + size and ip.id == 0x1234
    u = ip.data
    assert (u.sport, u.dport, u.ulen) == (26400, 26477, 8 + size)
    assert u.data == payload


def test_checksum_oracle_detects_corruption():
    """The test's checksum check is live: one flipped payload bit makes the UDP checksum fail."""
    frame = bytearray(net.udp_frame(b"hello world"))
    frame[-1] ^= 0x01
    assert not udp_checksum_ok(bytes(frame[26:30]), bytes(frame[30:34]), bytes(frame[34:]))
    frame[22] ^= 0x01   # TTL
    assert not ipv4_header_ok(bytes(frame[14:34]))


def test_udp_frame_custom_endpoint():
    """Destination, source address and source port are honoured; checksums stay valid."""
    dst = UdpEndpoint("239.129.2.3", 5000)
    frame = net.udp_frame(b"abc", dst, src_ip="192.168.7.9", src_port=1234, ip_id=7)
    ip = dpkt.ethernet.Ethernet(frame).data
    assert ip.dst == bytes([239, 129, 2, 3]) and ip.src == bytes([192, 168, 7, 9])
    assert (ip.data.sport, ip.data.dport) == (1234, 5000)
    assert ipv4_header_ok(frame[14:34])
    assert udp_checksum_ok(frame[26:30], frame[30:34], frame[34:])


def test_multicast_destination_mac():
    """A multicast group's frame goes to 01:00:5e + the group's low 23 bits (RFC 1112)."""
    assert net.udp_frame(b"x")[:6] == bytes.fromhex("01005e360c6f")   # 233.54.12.111
    frame = net.udp_frame(b"x", UdpEndpoint("239.129.2.3", 5000))
    assert frame[:6] == bytes.fromhex("01005e010203")                 # top bit of .129 dropped


@pytest.mark.parametrize("text,ip,port", [
    ("233.54.12.111:26477", "233.54.12.111", 26477),
    ("10.0.0.1:1", "10.0.0.1", 1),
    ("1.2.3.4:65535", "1.2.3.4", 65535),
])
def test_endpoint_parse_good(text, ip, port):
    """'a.b.c.d:port' parses to its address and port."""
    ep = UdpEndpoint.parse(text)
    assert (ep.ip, ep.port) == (ip, port)
    assert ep.ip_int == int(ipaddress.IPv4Address(ip))


@pytest.mark.parametrize("text", [
    "", "233.54.12.111", "233.54.12.111:", ":26477", "233.54.12.111:0", "233.54.12.111:65536",
    "233.54.12.111:-1", "233.54.12.111:port", "256.1.1.1:80", "1.2.3:80", "host:80",
    "::1:80", "[::1]:80", "1.2.3.4:80:90",
])
def test_endpoint_parse_bad(text):
    """Anything but an IPv4 address and a port in 1..65535 is a ValueError."""
    with pytest.raises(ValueError):
        UdpEndpoint.parse(text)


# --- pcap ---------------------------------------------------------------------------------

STAMPS = [1763600000123456789, 1763600000123456790, 1763600000999999999, 1763600001000000000,
          1, 0]
FRAMES = [net.udp_frame(bytes([i]) * (10 + 50 * i), ip_id=i) for i in range(len(STAMPS))]


def write(pairs):
    buf = io.BytesIO()
    assert net.write_pcap(buf, pairs) == len(pairs)
    return buf.getvalue()


def test_pcap_round_trip_exact_nanoseconds():
    """Nanosecond timestamps and frame bytes survive write/read exactly."""
    pairs = list(zip(STAMPS, FRAMES, strict=True))
    assert list(net.read_pcap(write(pairs))) == pairs


def test_pcap_file_format_by_hand():
    """The file is a nanosecond pcap, Ethernet link type, records laid out per libpcap."""
    data = write([(STAMPS[0], FRAMES[0])])
    order = "<" if data[:4] == bytes.fromhex("4d3cb2a1") else ">"
    magic, major, minor, _, _, snaplen, linktype = struct.unpack(order + "IHHiIII", data[:24])
    assert magic == 0xA1B23C4D and (major, minor) == (2, 4)
    assert linktype == 1 and snaplen >= 1514
    sec, frac, caplen, length = struct.unpack(order + "IIII", data[24:40])
    assert (sec, frac) == (1763600000, 123456789)
    assert caplen == length == len(FRAMES[0])
    assert data[40:] == FRAMES[0]


def test_pcap_readable_by_dpkt():
    """dpkt's own reader sees the same frames and nanosecond times."""
    pairs = list(zip(STAMPS, FRAMES, strict=True))
    reader = dpkt.pcap.Reader(io.BytesIO(write(pairs)))
    got = [(int(ts * 1_000_000_000), bytes(buf)) for ts, buf in reader]
    assert got == pairs


def test_read_microsecond_pcap_from_dpkt_writer():
    """A microsecond pcap written by dpkt reads back with times in whole microseconds as ns."""
    buf = io.BytesIO()
    writer = dpkt.pcap.Writer(buf, nano=False)
    times = [Decimal("1763600000.123456"), Decimal("1763600000.999999"), Decimal("5.000001")]
    for ts, frame in zip(times, FRAMES, strict=False):
        writer.writepkt_time(frame, ts)
    got = list(net.read_pcap(buf.getvalue()))
    assert got == [(1763600000123456000, FRAMES[0]), (1763600000999999000, FRAMES[1]),
                   (5000001000, FRAMES[2])]


def hand_pcap(order, nano, records):
    """A pcap image built with struct in the given byte order (independent of dpkt)."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    for sec, frac, frame in records:
        out += struct.pack(order + "IIII", sec, frac, len(frame), len(frame)) + frame
    return out


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_read_hand_built_pcap_either_byte_order(order, nano):
    """Little- and big-endian, micro- and nanosecond files all read correctly."""
    records = [(1763600000, 654321, FRAMES[0]), (1763600001, 7, FRAMES[1])]
    got = list(net.read_pcap(hand_pcap(order, nano, records)))
    scale = 1 if nano else 1000
    assert got == [(1763600000_000000000 + 654321 * scale, FRAMES[0]),
                   (1763600001_000000000 + 7 * scale, FRAMES[1])]


def read_until_error(data):
    got = []
    with pytest.raises(FeedFormatError) as err:
        for item in net.read_pcap(data):
            got.append(item)
    return got, err.value.offset


def record_offsets(frames):
    offsets, pos = [], 24
    for f in frames:
        offsets.append(pos)
        pos += 16 + len(f)
    return offsets, pos


@pytest.mark.parametrize("where", ["header", "frame"])
@pytest.mark.parametrize("record", [0, 1, 3, 5])
def test_truncated_pcap(where, record):
    """A cut inside a record names that record's offset; only whole frames came out before."""
    pairs = list(zip(STAMPS, FRAMES, strict=True))
    data = write(pairs)
    offsets, end = record_offsets(FRAMES)
    assert end == len(data)
    start = offsets[record]
    for cut in ((start + 1, start + 8, start + 15) if where == "header"
                else (start + 16, start + 17, start + 16 + len(FRAMES[record]) - 1)):
        got, offset = read_until_error(data[:cut])
        assert offset == start, cut
        assert got == pairs[:len(got)]           # a prefix of whole records, none partial
        assert len(got) <= record


@pytest.mark.parametrize("order", ["<", ">"])
def test_truncated_hand_built_pcap(order):
    """Truncation inside the last frame is caught whatever the file's byte order."""
    data = hand_pcap(order, True, [(1, 2, FRAMES[0]), (3, 4, FRAMES[2])])
    got, offset = read_until_error(data[:-1])
    assert offset == 24 + 16 + len(FRAMES[0])
    assert got in ([], [(1_000_000_002, FRAMES[0])])


def test_empty_pcap_has_no_frames():
    """A pcap with a header and no records yields nothing."""
    assert list(net.read_pcap(write([]))) == []


@pytest.mark.parametrize("data", [
    b"",
    b"hello",
    b"\x00" * 100,
    bytes.fromhex("0a0d0d0a") + b"\x00" * 60,          # pcapng section header block
    itch.write_file([itch.OrderDelete(1, 0, 1, 2)] * 5),  # a NASDAQ ITCH file
])
def test_non_pcap_rejected(data):
    """Anything without a pcap magic is a FeedFormatError at offset 0."""
    with pytest.raises(FeedFormatError) as err:
        list(net.read_pcap(data))
    assert err.value.offset == 0


def test_non_ethernet_link_type_rejected():
    """A pcap of another link type (raw IP) is refused."""
    buf = io.BytesIO()
    dpkt.pcap.Writer(buf, linktype=dpkt.pcap.DLT_RAW).writepkt(b"\x45" + b"\x00" * 19, ts=1.0)
    with pytest.raises(FeedFormatError) as err:
        list(net.read_pcap(buf.getvalue()))
    assert err.value.offset == 20   # the link type field of the file header
