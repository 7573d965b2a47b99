"""Network filter (sw.model.netfilter): Ethernet II / IPv4 / UDP to one destination ip:port.

Frames are built here byte by byte (header layouts from RFC 791 / RFC 768 / IEEE 802.3), with an
IPv4 header checksum computed by this file, so mutations can change exactly one thing.
"""

from __future__ import annotations

import random
import struct

import pytest

from sw.feed.net import UdpEndpoint, udp_frame
from sw.model.netfilter import DropReason, NetFilter

DST = UdpEndpoint("233.54.12.111", 26477)
DST_IP = bytes([233, 54, 12, 111])
SRC_IP = bytes([10, 10, 0, 1])
PAYLOAD = bytes(range(256)) * 2 + b"tail"   # 516 bytes, every offset distinguishable

ETH = 14    # Ethernet II header: dst MAC 6, src MAC 6, EtherType 2
# IPv4 header offsets within the frame
VER_IHL, TOTAL_LEN, FLAGS_FRAG, PROTO, CHECKSUM, SRC, DST_OFF = 14, 16, 20, 23, 24, 26, 30


def checksum(header: bytes) -> int:
    """RFC 1071 Internet checksum of a header whose checksum field is zero."""
    if len(header) % 2:
        header += b"\0"
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def header_sums_ok(frame: bytes) -> bool:
    """True when the IPv4 header (IHL from the frame) verifies: ones-complement sum 0xFFFF."""
    ihl = (frame[VER_IHL] & 0x0F) * 4
    header = frame[ETH:ETH + ihl]
    if len(header) < ihl or ihl < 20:
        return False
    total = sum(struct.unpack(f">{ihl // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def build(payload: bytes = PAYLOAD, *, dst_ip: bytes = DST_IP, dst_port: int = DST.port,
          options: bytes = b"", proto: int = 17, flags_frag: int = 0, version: int = 4,
          ihl_words: int | None = None, total_length: int | None = None,
          udp_length: int | None = None, ethertype: int = 0x0800, pad: bytes = b"",
          ip_extra: bytes = b"", ttl: int = 64, tos: int = 0) -> bytes:
    """Ethernet II + IPv4 (+ options) + UDP + payload; IPv4 checksum correct."""
    assert len(options) % 4 == 0
    ihl_words = 5 + len(options) // 4 if ihl_words is None else ihl_words
    ulen = 8 + len(payload) if udp_length is None else udp_length
    udp = struct.pack(">HHHH", 26400, dst_port, ulen, 0xDEAD) + payload   # UDP checksum unused
    tlen = 20 + len(options) + len(udp) + len(ip_extra) if total_length is None else total_length
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", version << 4 | ihl_words, tos, tlen, 0x1234,
                               flags_frag, ttl, proto, 0, SRC_IP, dst_ip) + options)
    ip[10:12] = checksum(bytes(ip)).to_bytes(2, "big")
    eth = b"\x01\x00\x5e\x36\x1c\x6f" + b"\x02\x00\x00\x00\xaa\x01" + ethertype.to_bytes(2, "big")
    return eth + bytes(ip) + udp + ip_extra + pad


def poke(frame: bytes, offset: int, value: bytes | int, *, fix: bool = True) -> bytes:
    """Overwrite bytes at `offset`; with fix, recompute the IPv4 header checksum afterwards."""
    out = bytearray(frame)
    value = bytes([value]) if isinstance(value, int) else value
    out[offset:offset + len(value)] = value
    if fix:
        ihl = (out[VER_IHL] & 0x0F) * 4
        out[CHECKSUM:CHECKSUM + 2] = b"\0\0"
        out[CHECKSUM:CHECKSUM + 2] = checksum(bytes(out[ETH:ETH + ihl])).to_bytes(2, "big")
    return bytes(out)


def run(frame: bytes, dst: UdpEndpoint = DST) -> tuple[NetFilter, bytes | None]:
    nf = NetFilter(dst)
    out = nf.filter(frame)
    return nf, None if out is None else bytes(out)


def assert_passes(frame: bytes, payload: bytes = PAYLOAD, *, truncated: bool = False,
                  dst: UdpEndpoint = DST) -> None:
    nf, out = run(frame, dst)
    assert out == payload
    assert nf.accepted == 1 and not nf.drops
    assert nf.truncated == int(truncated)


def assert_dropped(frame: bytes, reason: DropReason, dst: UdpEndpoint = DST) -> None:
    nf, out = run(frame, dst)
    assert out is None
    assert dict(nf.drops) == {reason.value: 1}
    assert nf.accepted == 0 and nf.truncated == 0


# --- the good frame ----------------------------------------------------------------------------

def test_good_frame_passes():
    frame = build()
    assert len(frame) == 14 + 20 + 8 + len(PAYLOAD)
    assert_passes(frame)


def test_toolkit_frame_passes():
    assert_passes(udp_frame(PAYLOAD, DST))
    assert_passes(udp_frame(b"x" * 1400, DST, ip_id=0xFFFF, src_port=1), b"x" * 1400)


def test_counters_accumulate():
    nf = NetFilter(DST)
    frames = [build(), build(proto=6), build(), build(dst_port=1), build(proto=6), b""]
    got = [nf.filter(f) for f in frames]
    assert [g is not None for g in got] == [True, False, True, False, False, False]
    assert nf.accepted == 2
    assert dict(nf.drops) == {"NOT_UDP": 2, "WRONG_DST_PORT": 1, "RUNT": 1}


def test_other_destination_configured():
    dst = UdpEndpoint("10.1.2.3", 5000)
    frame = build(dst_ip=bytes([10, 1, 2, 3]), dst_port=5000)
    assert_passes(frame, dst=dst)
    assert_dropped(frame, DropReason.WRONG_DST_IP)
    assert_dropped(build(dst_port=5000), DropReason.WRONG_DST_IP, dst=dst)
    assert_dropped(build(dst_ip=bytes([10, 1, 2, 3])), DropReason.WRONG_DST_PORT, dst=dst)


# --- each drop reason ---------------------------------------------------------------------------

GOOD = build()
IHL15 = build(options=bytes(40))

MUTANTS = [
    # RUNT: shorter than the headers it claims
    ("RUNT", b""),
    ("RUNT", GOOD[:13]),
    ("RUNT", GOOD[:14]),                                  # EtherType IPv4, no IP header
    ("RUNT", GOOD[:33]),                                  # IP header cut
    ("RUNT", GOOD[:41]),                                  # UDP header cut
    ("RUNT", IHL15[:14 + 60 + 7]),                        # options complete, UDP header cut
    ("RUNT", IHL15[:14 + 40]),                            # options cut
    # NOT_IPV4
    ("NOT_IPV4", poke(GOOD, 12, b"\x86\xdd", fix=False)),  # IPv6
    ("NOT_IPV4", poke(GOOD, 12, b"\x81\x00", fix=False)),  # VLAN tag: not supported
    ("NOT_IPV4", poke(GOOD, 12, b"\x08\x06", fix=False)),  # ARP
    ("NOT_IPV4", poke(GOOD, 12, b"\x00\x08", fix=False)),  # byte order
    ("NOT_IPV4", poke(GOOD, 12, b"\x08\x06", fix=False)[:20]),  # short, but not IPv4 anyway
    # BAD_IP_HEADER: version, IHL, total length
    ("BAD_IP_HEADER", poke(GOOD, VER_IHL, 0x65)),
    ("BAD_IP_HEADER", poke(GOOD, VER_IHL, 0x05)),
    ("BAD_IP_HEADER", poke(GOOD, VER_IHL, 0x44)),         # IHL 4 = 16 bytes
    ("BAD_IP_HEADER", poke(GOOD, VER_IHL, 0x40)),
    ("BAD_IP_HEADER", poke(GOOD, TOTAL_LEN, (27).to_bytes(2, "big"))),   # < IHL + 8
    ("BAD_IP_HEADER", poke(GOOD, TOTAL_LEN, (0).to_bytes(2, "big"))),
    ("BAD_IP_HEADER", poke(IHL15, TOTAL_LEN, (67).to_bytes(2, "big"))),  # 60 + 7
    # BAD_IP_CHECKSUM: any header byte changed without the checksum following
    ("BAD_IP_CHECKSUM", poke(GOOD, CHECKSUM, GOOD[CHECKSUM] ^ 0x01, fix=False)),
    ("BAD_IP_CHECKSUM", poke(GOOD, CHECKSUM + 1, GOOD[CHECKSUM + 1] ^ 0x80, fix=False)),
    ("BAD_IP_CHECKSUM", poke(GOOD, 22, 63, fix=False)),   # TTL
    ("BAD_IP_CHECKSUM", poke(GOOD, SRC, b"\x0a\x0a\x00\x02", fix=False)),
    ("BAD_IP_CHECKSUM", poke(IHL15, 14 + 59, 0x01, fix=False)),  # last option byte
    # IP_FRAGMENT: MF set or fragment offset non-zero
    ("IP_FRAGMENT", poke(GOOD, FLAGS_FRAG, b"\x20\x00")),  # MF, first fragment
    ("IP_FRAGMENT", poke(GOOD, FLAGS_FRAG, b"\x00\x01")),  # offset 8 bytes, last fragment
    ("IP_FRAGMENT", poke(GOOD, FLAGS_FRAG, b"\x00\x80")),
    ("IP_FRAGMENT", poke(GOOD, FLAGS_FRAG, b"\x01\x00")),
    ("IP_FRAGMENT", poke(GOOD, FLAGS_FRAG, b"\x10\x00")),  # highest offset bit
    ("IP_FRAGMENT", poke(GOOD, FLAGS_FRAG, b"\x60\x00")),  # DF and MF
    # NOT_UDP
    ("NOT_UDP", poke(GOOD, PROTO, 6)),
    ("NOT_UDP", poke(GOOD, PROTO, 1)),
    ("NOT_UDP", poke(GOOD, PROTO, 0x91)),
    ("NOT_UDP", poke(GOOD, PROTO, 136)),                  # UDP-Lite
    # WRONG_DST_IP / WRONG_DST_PORT
    ("WRONG_DST_IP", poke(GOOD, DST_OFF + 3, 112)),
    ("WRONG_DST_IP", poke(GOOD, DST_OFF, 234)),
    ("WRONG_DST_IP", poke(GOOD, DST_OFF, SRC_IP)),
    ("WRONG_DST_IP", poke(build(options=bytes(4)), DST_OFF, SRC_IP)),  # after options
    ("WRONG_DST_PORT", build(dst_port=DST.port + 1)),
    ("WRONG_DST_PORT", build(dst_port=DST.port - 256)),
    ("WRONG_DST_PORT", build(dst_port=0)),
    ("WRONG_DST_PORT", build(dst_port=26400)),            # the source port
    ("WRONG_DST_PORT", build(dst_port=DST.port + 1, options=bytes(8))),
    # BAD_UDP_LENGTH: < 8 or beyond the IPv4 payload
    ("BAD_UDP_LENGTH", build(udp_length=7)),
    ("BAD_UDP_LENGTH", build(udp_length=0)),
    ("BAD_UDP_LENGTH", build(udp_length=8 + len(PAYLOAD) + 1)),
    ("BAD_UDP_LENGTH", build(udp_length=0xFFFF)),
    ("BAD_UDP_LENGTH", build(udp_length=8 + len(PAYLOAD) + 1, options=bytes(12))),
    ("BAD_UDP_LENGTH", build(total_length=20 + 8 + 10)),  # IP says 10 bytes of UDP payload
]


def test_every_reason_is_exercised():
    assert {r for r, _ in MUTANTS} == {r.value for r in DropReason}


@pytest.mark.parametrize(("reason", "frame"), MUTANTS,
                         ids=[f"{r}-{i}" for i, (r, _) in enumerate(MUTANTS)])
def test_drop_reason(reason, frame):
    assert_dropped(frame, DropReason(reason))


@pytest.mark.parametrize(("label", "frame"), [
    ("df", poke(GOOD, FLAGS_FRAG, b"\x40\x00")),          # Don't Fragment is fine
    ("ttl", poke(GOOD, 22, 1)),
    ("tos", poke(GOOD, 15, 0xB8)),
    ("ip-id", poke(GOOD, 18, b"\xff\xff")),
    ("src-ip", poke(GOOD, SRC, b"\xc0\xa8\x01\x01")),
    ("src-port", poke(GOOD, 34, b"\x00\x01")),
    ("udp-checksum", poke(GOOD, 40, b"\x00\x00")),         # not checked
    ("udp-checksum-bad", poke(GOOD, 40, b"\x12\x34")),
    ("mac", poke(GOOD, 0, b"\xff" * 12, fix=False)),
])
def test_unfiltered_fields_pass(label, frame):
    assert_passes(frame)


def test_checksum_verified_not_recomputed():
    # A header whose checksum field is 0xFFFF instead of the equivalent 0x0000 form: the sum of
    # the header is still 0xFFFF (ones-complement has two zeros), so it must pass.
    for ttl in range(256):
        for tos in range(256):
            frame = build(ttl=ttl, tos=tos)
            if frame[CHECKSUM:CHECKSUM + 2] == b"\x00\x00":
                assert_passes(frame)
                assert_passes(poke(frame, CHECKSUM, b"\xff\xff", fix=False))
                return
    pytest.fail("no TTL/TOS gave a zero checksum")  # pragma: no cover


# --- options, padding, truncation, exact payloads -------------------------------------------------

@pytest.mark.parametrize("ihl", range(6, 16))
def test_ipv4_options_tolerated(ihl):
    rng = random.Random(ihl)
    options = bytes(rng.randrange(256) for _ in range((ihl - 5) * 4))
    frame = build(options=options)
    assert frame[VER_IHL] == 0x40 | ihl
    assert header_sums_ok(frame)
    assert_passes(frame)
    # The checksum covers the options too.
    where = ETH + 20 + rng.randrange(len(options))
    assert_dropped(poke(frame, where, frame[where] ^ rng.randrange(1, 256), fix=False),
                   DropReason.BAD_IP_CHECKSUM)
    # Options of NOPs and End of Options List, and a short payload.
    assert_passes(build(b"hi", options=b"\x01" * ((ihl - 5) * 4 - 1) + b"\x00"), b"hi")


@pytest.mark.parametrize("size", [0, 1, 5, 17, 18, 19])
@pytest.mark.parametrize("fill", [b"\x00", b"\xff", b"\x45"])
def test_ethernet_padding_ignored(size, fill):
    payload = bytes(range(100, 100 + size))
    frame = build(payload)
    padded = frame + fill * max(0, 60 - len(frame))
    assert len(padded) >= 60
    assert_passes(padded, payload)


def test_trailing_bytes_after_the_datagram_ignored():
    assert_passes(build(pad=b"\xde\xad\xbe\xef"))                     # e.g. an FCS left on
    assert_passes(build(pad=bytes(1000)))


def test_ip_payload_longer_than_udp_datagram():
    # Total length counts bytes after the UDP datagram; the UDP length decides the payload.
    frame = build(ip_extra=b"EXTRA" * 3)
    assert_passes(frame)
    assert_passes(build(b"abc", udp_length=8 + 2, pad=b"zz"), b"ab")


@pytest.mark.parametrize("keep", [0, 1, 2, 7, 8, 100, 515])
def test_truncated_frame_passed_truncated(keep):
    frame = build()
    cut = frame[:14 + 20 + 8 + keep]
    assert_passes(cut, PAYLOAD[:keep], truncated=True)


def test_truncated_with_options():
    frame = build(options=bytes(24))
    assert_passes(frame[:14 + 44 + 8 + 33], PAYLOAD[:33], truncated=True)


def test_frame_longer_than_udp_but_shorter_than_ip_total_is_not_truncated():
    frame = build(ip_extra=bytes(50))
    assert_passes(frame[:len(frame) - 30])


@pytest.mark.parametrize("size", [0, 1, 8, 63, 64, 1472, 8000])
def test_payload_bytes_exact(size):
    rng = random.Random(size)
    payload = bytes(rng.randrange(256) for _ in range(size))
    nf = NetFilter(DST)
    out = nf.filter(build(payload))
    assert out is not None and bytes(out) == payload and len(out) == size


def test_counts_over_a_stream():
    nf = NetFilter(DST)
    frames = [build(b"x" * i) for i in range(50)] + [f for _, f in MUTANTS]
    frames.append(build()[:60])
    results = [nf.filter(f) for f in frames]
    assert sum(r is not None for r in results) == nf.accepted == 51
    assert nf.truncated == 1
    assert sum(nf.drops.values()) == len(MUTANTS)
    for reason in DropReason:
        assert nf.drops[reason.value] == sum(r == reason.value for r, _ in MUTANTS)


# --- fuzz -------------------------------------------------------------------------------------

def reference(frame: bytes, dst_ip: bytes = DST_IP, dst_port: int = DST.port):
    """(payload, truncated) if the frame should be accepted, else None: written from the RFCs."""
    n = len(frame)
    if n < ETH + 20 or frame[12:14] != b"\x08\x00":
        return None
    if frame[VER_IHL] >> 4 != 4:
        return None
    ihl = (frame[VER_IHL] & 0x0F) * 4
    if ihl < 20 or n < ETH + ihl + 8 or not header_sums_ok(frame):
        return None
    total = int.from_bytes(frame[TOTAL_LEN:TOTAL_LEN + 2], "big")
    flags_frag = int.from_bytes(frame[FLAGS_FRAG:FLAGS_FRAG + 2], "big")
    if total < ihl + 8 or flags_frag & 0x3FFF or frame[PROTO] != 17:
        return None
    if frame[DST_OFF:DST_OFF + 4] != dst_ip:
        return None
    udp = ETH + ihl
    port, ulen = struct.unpack_from(">HH", frame, udp + 2)
    if port != dst_port or ulen < 8 or ulen > total - ihl:
        return None
    return frame[udp + 8:udp + ulen], udp + ulen > n


def random_frame(rng: random.Random) -> bytes:
    size = rng.choice((rng.randrange(0, 80), rng.randrange(0, 1600)))
    frame = bytearray(rng.randbytes(size))
    if size >= 15 and rng.random() < 0.7:
        frame[12:15] = b"\x08\x00" + bytes([0x40 | rng.choice((5, 5, 5, rng.randrange(16)))])
    return bytes(frame)


def mutated_frame(rng: random.Random, bases: list[bytes]) -> bytes:
    frame = bytearray(rng.choice(bases))
    for _ in range(rng.randrange(1, 4)):
        where = rng.randrange(min(len(frame), 14 + 60 + 8))
        frame[where] = rng.randrange(256) if rng.random() < 0.5 else frame[where] ^ (
            1 << rng.randrange(8))
    if rng.random() < 0.3:
        frame = frame[:rng.randrange(len(frame) + 1)]
    elif rng.random() < 0.2:
        frame += rng.randbytes(rng.randrange(1, 40))
    out = bytes(frame)
    if rng.random() < 0.5 and len(out) >= ETH + 20:     # reach past the checksum check
        ihl = (out[VER_IHL] & 0x0F) * 4
        if ihl >= 20 and len(out) >= ETH + ihl:
            out = poke(out, CHECKSUM, out[CHECKSUM:CHECKSUM + 2])
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_fuzz_never_raises_and_matches_reference(seed):
    rng = random.Random(seed)
    bases = [build(rng.randbytes(rng.randrange(0, 300)), options=bytes(4 * rng.randrange(11)))
             for _ in range(20)]
    nf = NetFilter(DST)
    frames = [random_frame(rng) for _ in range(2_500)]
    frames += [mutated_frame(rng, bases) for _ in range(2_500)]
    accepted = truncated = bad_sum_seen = 0
    for i, frame in enumerate(frames):
        out = nf.filter(frame)
        want = reference(frame)
        if len(frame) >= ETH + 20 and frame[12:14] == b"\x08\x00" and not header_sums_ok(frame):
            bad_sum_seen += 1
            assert out is None, f"frame {i}: payload from a header with a bad checksum"
        if want is None:
            assert out is None, f"frame {i}"
            continue
        assert out is not None and bytes(out) == want[0], f"frame {i}"
        accepted += 1
        truncated += want[1]
    assert nf.accepted == accepted
    assert nf.truncated == truncated
    assert nf.accepted + sum(nf.drops.values()) == len(frames)
    # The fuzz reached every outcome.
    assert accepted > 300 and truncated > 20 and bad_sum_seen > 1_000
    assert set(nf.drops) == {r.value for r in DropReason}


def test_fuzz_accepts_memoryview_input():
    rng = random.Random(3)
    nf = NetFilter(DST)
    for _ in range(300):
        frame = mutated_frame(rng, [build()])
        out = nf.filter(memoryview(frame))
        want = reference(frame)
        assert (out is None) == (want is None)
        if out is not None:
            assert bytes(out) == want[0]
