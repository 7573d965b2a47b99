"""MoldUDP64 downstream packets (sw.feed.mold): spec layout, round trips, malformed input."""

import struct

import pytest

from sw.feed import itch, mold
from sw.feed.itch import FeedFormatError

SESSION = b"SESSION001"
ADD = itch.encode(itch.AddOrder(1, 0, 34_200_000_000_000, 5, "B", 100, "AAPL", 1_500_000))
DELETE = itch.encode(itch.OrderDelete(1, 0, 34_200_000_000_100, 5))


def test_header_layout_from_spec():
    """session(10) | sequence(8, BE) | count(2, BE) | per message: length(2, BE) + bytes."""
    data = mold.encode(SESSION, 0x0102030405060708, [ADD, DELETE])
    assert data[:10] == SESSION
    assert data[10:18] == bytes.fromhex("0102030405060708")
    assert data[18:20] == b"\x00\x02"
    assert data[20:22] == b"\x00\x24" and data[22:58] == ADD     # 36-byte Add Order
    assert data[58:60] == b"\x00\x13" and data[60:] == DELETE    # 19-byte Order Delete
    assert len(data) == 20 + 2 + 36 + 2 + 19
    assert mold.HEADER_SIZE == 20


def test_round_trip():
    """decode(encode(...)) gives back session, sequence, count and every message."""
    msgs = [ADD, DELETE, b"Z", b"x" * 1000]
    for seq in (1, 42, (1 << 64) - 1):
        pkt = mold.decode(mold.encode(SESSION, seq, msgs))
        assert pkt == mold.MoldPacket(SESSION, seq, 4, tuple(msgs))
        assert not pkt.is_heartbeat and not pkt.is_end_of_session


def test_decode_hand_built_packet():
    """A packet packed with struct from the spec decodes correctly."""
    data = struct.pack(">10sQH", b"ABCDEFGHIJ", 77, 1) + struct.pack(">H", len(ADD)) + ADD
    assert mold.decode(data) == mold.MoldPacket(b"ABCDEFGHIJ", 77, 1, (ADD,))


def test_heartbeat():
    """A heartbeat is a bare 20-byte header with count 0 and the next expected sequence."""
    data = mold.heartbeat(SESSION, 1234)
    assert data == SESSION + (1234).to_bytes(8, "big") + b"\x00\x00"
    pkt = mold.decode(data)
    assert pkt.is_heartbeat and not pkt.is_end_of_session
    assert (pkt.sequence, pkt.count, pkt.messages) == (1234, 0, ())


def test_end_of_session():
    """End of session is a bare header with count 0xFFFF."""
    data = mold.end_of_session(SESSION, 99)
    assert data == SESSION + (99).to_bytes(8, "big") + b"\xff\xff"
    pkt = mold.decode(data)
    assert pkt.is_end_of_session and not pkt.is_heartbeat
    assert (pkt.sequence, pkt.count, pkt.messages) == (99, 0xFFFF, ())


@pytest.mark.parametrize("session", [b"", b"SHORT", b"NINEBYTES", b"ELEVENBYTES"])
def test_session_must_be_ten_bytes(session):
    """encode, heartbeat and end_of_session refuse a session that is not exactly 10 bytes."""
    with pytest.raises(ValueError):
        mold.encode(session, 1, [ADD])
    with pytest.raises(ValueError):
        mold.heartbeat(session, 1)
    with pytest.raises(ValueError):
        mold.end_of_session(session, 1)


def test_encode_errors():
    """No messages, empty or over-long messages, too many messages, bad sequence: ValueError."""
    for bad in ([], [b""], [ADD, b""], [b"x" * 65536]):
        with pytest.raises(ValueError):
            mold.encode(SESSION, 1, bad)
    with pytest.raises(ValueError):
        mold.encode(SESSION, 1, [b"x"] * 0xFFFF)   # count 0xFFFF would read as end of session
    assert mold.decode(mold.encode(SESSION, 1, [b"x"] * 0xFFFE)).count == 0xFFFE
    for seq in (-1, 1 << 64):
        with pytest.raises(ValueError):
            mold.encode(SESSION, seq, [ADD])
        with pytest.raises(ValueError):
            mold.heartbeat(SESSION, seq)


@pytest.mark.parametrize("size", [0, 1, 10, 18, 19])
def test_short_header(size):
    """Fewer than 20 bytes is a FeedFormatError at offset 0."""
    with pytest.raises(FeedFormatError) as err:
        mold.decode(mold.encode(SESSION, 1, [ADD])[:size])
    assert err.value.offset == 0


def test_length_past_end():
    """A message running past the packet fails at the offset of its length prefix."""
    data = mold.encode(SESSION, 1, [ADD, DELETE])
    for cut in (59, len(data) - 1):          # inside the 2nd prefix, inside the 2nd message
        with pytest.raises(FeedFormatError) as err:
            mold.decode(data[:cut])
        assert err.value.offset == 58
    with pytest.raises(FeedFormatError) as err:
        mold.decode(data[:58])               # count says 2, only 1 present
    assert err.value.offset == 58
    with pytest.raises(FeedFormatError) as err:
        mold.decode(data[:21])               # first prefix cut
    assert err.value.offset == 20


def test_zero_length_message():
    """A zero-length message inside a packet is malformed, at its prefix's offset."""
    data = struct.pack(">10sQH", SESSION, 1, 2) + b"\x00\x01Z" + b"\x00\x00"
    with pytest.raises(FeedFormatError) as err:
        mold.decode(data)
    assert err.value.offset == 23


def test_trailing_bytes():
    """Bytes after the last counted message are refused, naming where they start."""
    data = mold.encode(SESSION, 1, [ADD, DELETE])
    with pytest.raises(FeedFormatError) as err:
        mold.decode(data + b"\x00")
    assert err.value.offset == len(data)
    for control in (mold.heartbeat(SESSION, 5), mold.end_of_session(SESSION, 5)):
        with pytest.raises(FeedFormatError) as err:
            mold.decode(control + b"\x00\x01Z")
        assert err.value.offset == 20
