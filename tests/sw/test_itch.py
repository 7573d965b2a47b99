"""ITCH 5.0 codec and NASDAQ file framing (sw.feed.itch), checked against the spec and itchfeed."""

import io
import struct

import pytest

from sw.feed import itch
from sw.feed.generator import MarketConfig, MarketGenerator
from sw.feed.itch import FeedFormatError

# Message lengths from the ITCH 5.0 specification (docs/references.md), not from the code.
SPEC_LENGTHS = {"S": 12, "R": 39, "H": 25, "A": 36, "F": 40, "E": 31, "C": 36, "X": 23,
                "D": 19, "U": 35, "P": 44}

# Body layout after the 11-byte header (type, locate, tracking, 6-byte timestamp), field by
# field in spec order, written independently of the codec: an alternative encoder.
SPEC_BODY = {
    "S": "c",
    "R": "8sccIcc2scccccIc",
    "H": "8scc4s",
    "A": "QcI8sI",
    "F": "QcI8sI4s",
    "E": "QIQ",
    "C": "QIQcI",
    "X": "QI",
    "D": "Q",
    "U": "QQII",
    "P": "QcI8sIQ",
}

TS_MAX = (1 << 48) - 1
U32 = (1 << 32) - 1
U64 = (1 << 64) - 1

# One sample per modelled type with distinctive, mostly non-zero field values.
SAMPLES = {
    "S": itch.SystemEvent(0, 7, 34_200_000_000_123, "Q"),
    "R": itch.StockDirectory(5, 1, 3_000_000_000, "AAPL", "Q", "N", 100, "N", "C", "Z ", "P",
                             "N", "N", "1", "N", 3, "Y"),
    "H": itch.StockTradingAction(6, 2, 3_100_000_000, "MSFT", "H", " ", "LUDP"),
    "A": itch.AddOrder(7, 3, 34_200_000_000_000, 123_456_789, "B", 300, "NVDA", 1_234_500),
    "F": itch.AddOrderMPID(8, 4, 34_200_000_000_001, 987_654_321, "S", 17, "GOOGL", 99_900,
                           "NRVE"),
    "E": itch.OrderExecuted(9, 5, 34_200_000_000_002, 123_456_789, 100, 555_666),
    "C": itch.OrderExecutedWithPrice(10, 6, 34_200_000_000_003, 42, 50, 777_888, "N", 1_000_100),
    "X": itch.OrderCancel(11, 7, 34_200_000_000_004, 43, 25),
    "D": itch.OrderDelete(12, 8, 34_200_000_000_005, 44),
    "U": itch.OrderReplace(13, 9, 34_200_000_000_006, 45, 46, 400, 2_000_000),
    "P": itch.Trade(14, 10, 34_200_000_000_007, 0, "S", 1_000, "TSLA", 2_500_000, 999_999),
}

# The same types at the top of every numeric range.
EXTREMES = {
    "S": itch.SystemEvent(0xFFFF, 0xFFFF, TS_MAX, "C"),
    "R": itch.StockDirectory(0xFFFF, 0xFFFF, TS_MAX, "ABCDEFGH", "G", "D", U32, "Y", "A", "AB",
                             "T", "Y", "Y", "2", "Y", U32, "N"),
    "H": itch.StockTradingAction(0xFFFF, 0xFFFF, TS_MAX, "ZZZZZZZZ", "T", " ", "    "),
    "A": itch.AddOrder(0xFFFF, 0xFFFF, TS_MAX, U64, "S", U32, "ABCDEFGH", U32),
    "F": itch.AddOrderMPID(0xFFFF, 0xFFFF, TS_MAX, U64, "B", U32, "A", U32, "WXYZ"),
    "E": itch.OrderExecuted(0xFFFF, 0xFFFF, TS_MAX, U64, U32, U64),
    "C": itch.OrderExecutedWithPrice(0xFFFF, 0xFFFF, TS_MAX, U64, U32, U64, "Y", U32),
    "X": itch.OrderCancel(0xFFFF, 0xFFFF, TS_MAX, U64, U32),
    "D": itch.OrderDelete(0xFFFF, 0xFFFF, TS_MAX, U64),
    "U": itch.OrderReplace(0xFFFF, 0xFFFF, TS_MAX, U64, U64 - 1, U32, U32),
    "P": itch.Trade(0xFFFF, 0xFFFF, TS_MAX, U64, "B", U32, "ABCDEFGH", U32, U64),
}


def spec_encode(type_char, msg):
    """Encode with struct straight from the spec layout, padding alpha fields with spaces."""
    fmt = ">cHH6s" + SPEC_BODY[type_char]
    codes = [c for c in SPEC_BODY[type_char] if not c.isdigit()]
    widths = []
    digits = ""
    for c in SPEC_BODY[type_char]:
        if c.isdigit():
            digits += c
        else:
            widths.append(int(digits) if digits else 1)
            digits = ""
    body = []
    for code, width, value in zip(codes, widths, msg[3:], strict=True):
        if code in "cs":
            body.append(value.encode("latin-1").ljust(width, b" "))
        else:
            body.append(value)
    return struct.pack(fmt, type_char.encode(), msg.locate, msg.tracking,
                       msg.timestamp.to_bytes(6, "big"), *body)


def test_spec_layouts_add_up_to_spec_lengths():
    """The test's own spec layouts agree with the spec's length table (guards the oracle)."""
    for t, body in SPEC_BODY.items():
        assert 11 + struct.calcsize(">" + body) == SPEC_LENGTHS[t], t


@pytest.mark.parametrize("type_char", sorted(SPEC_LENGTHS))
@pytest.mark.parametrize("table", [SAMPLES, EXTREMES], ids=["typical", "extremes"])
def test_round_trip_and_exact_bytes(type_char, table):
    """Every type encodes to the spec's bytes and length, and decodes back to itself."""
    msg = table[type_char]
    data = itch.encode(msg)
    assert len(data) == SPEC_LENGTHS[type_char]
    assert data[:1] == type_char.encode()
    assert data == spec_encode(type_char, msg)
    assert itch.decode(data) == msg
    assert itch.message_type(msg) == type_char


def test_message_lengths_table_matches_spec():
    """The codec's published length table is the spec's, type for type."""
    assert itch.MESSAGE_LENGTHS == SPEC_LENGTHS


def test_decode_at_offset_inside_larger_buffer():
    """decode(data, offset, length) reads only its slice of a larger buffer."""
    a, d = itch.encode(SAMPLES["A"]), itch.encode(SAMPLES["D"])
    buf = b"\xee" * 5 + a + d + b"\xff" * 3
    assert itch.decode(buf, 5, 36) == SAMPLES["A"]
    assert itch.decode(memoryview(buf), 5 + 36, 19) == SAMPLES["D"]


def test_hand_built_add_order():
    """An Add Order packed byte by byte from the spec decodes to the right fields."""
    ts = 0x0123_4567_89AB
    raw = (b"A" + (0x0102).to_bytes(2, "big") + (0x0304).to_bytes(2, "big")
           + ts.to_bytes(6, "big") + (0x1122334455667788).to_bytes(8, "big") + b"S"
           + (250).to_bytes(4, "big") + b"AMD     " + (1_500_100).to_bytes(4, "big"))
    assert len(raw) == 36
    msg = itch.decode(raw)
    assert msg == itch.AddOrder(0x0102, 0x0304, ts, 0x1122334455667788, "S", 250, "AMD",
                                1_500_100)
    assert itch.encode(msg) == raw


def test_hand_built_replace_and_trade():
    """U and P packed with struct from the spec decode field for field."""
    raw_u = struct.pack(">cHH6sQQII", b"U", 3, 0, (10**12).to_bytes(6, "big"), 77, 78, 900,
                        4_321_000)
    assert itch.decode(raw_u) == itch.OrderReplace(3, 0, 10**12, 77, 78, 900, 4_321_000)
    raw_p = struct.pack(">cHH6sQcI8sIQ", b"P", 9, 1, (5).to_bytes(6, "big"), 0, b"B", 10,
                        b"QQQ     ", 3_000_000, 12_345)
    assert itch.decode(raw_p) == itch.Trade(9, 1, 5, 0, "B", 10, "QQQ", 3_000_000, 12_345)


def test_timestamp_is_48_bits_big_endian():
    """The timestamp occupies bytes 5..10, big-endian, its top bits included."""
    data = itch.encode(itch.OrderDelete(1, 2, 0xA1B2C3D4E5F6, 3))
    assert data[5:11] == bytes.fromhex("a1b2c3d4e5f6")
    assert itch.decode(data).timestamp == 0xA1B2C3D4E5F6


def test_symbol_padding():
    """Short symbols are right-padded with spaces on the wire and unpadded on decode."""
    data = itch.encode(itch.AddOrder(1, 0, 1, 1, "B", 1, "A", 100))
    assert data[24:32] == b"A       "
    assert itch.decode(data).stock == "A"
    data = itch.encode(itch.Trade(1, 0, 1, 1, "B", 1, "BRK.B", 100, 1))
    assert data[24:32] == b"BRK.B   "
    assert itch.decode(data).stock == "BRK.B"
    data = itch.encode(itch.StockDirectory(1, 0, 1, "", "Q", "N", 1, "N", "C", "Z ", "P", "N",
                                           "N", "1", "N", 0, "N"))
    assert data[11:19] == b" " * 8
    assert itch.decode(data).stock == ""


def test_non_ascii_alpha_round_trips():
    """Alpha bytes above 0x7F survive a round trip (latin-1)."""
    raw = bytearray(itch.encode(SAMPLES["A"]))
    raw[24:32] = b"\xe9\xff" + b" " * 6
    msg = itch.decode(bytes(raw))
    assert msg.stock == "\xe9\xff"
    assert itch.encode(msg) == bytes(raw)


@pytest.mark.parametrize("bad", [
    SAMPLES["A"]._replace(timestamp=1 << 48),
    SAMPLES["A"]._replace(timestamp=-1),
    SAMPLES["A"]._replace(price=1 << 32),
    SAMPLES["A"]._replace(price=-1),
    SAMPLES["A"]._replace(shares=1 << 32),
    SAMPLES["A"]._replace(ref=1 << 64),
    SAMPLES["A"]._replace(locate=1 << 16),
    SAMPLES["A"]._replace(tracking=-1),
    SAMPLES["U"]._replace(new_ref=-1),
    SAMPLES["E"]._replace(match=1 << 64),
    SAMPLES["R"]._replace(round_lot_size=1 << 32),
    SAMPLES["A"]._replace(stock="ABCDEFGHI"),
    SAMPLES["P"]._replace(stock="TOOLONGSYM"),
    SAMPLES["H"]._replace(stock="ABCDEFGHI"),
    SAMPLES["A"]._replace(side=""),
    SAMPLES["A"]._replace(side="BS"),
    SAMPLES["F"]._replace(attribution="NERVE"),
    SAMPLES["R"]._replace(issue_subtype="ABC"),
    SAMPLES["H"]._replace(reason="LUDPX"),
    SAMPLES["S"]._replace(event_code="OK"),
    SAMPLES["A"]._replace(stock="\u20ac"),
], ids=lambda m: type(m).__name__)
def test_encode_errors_are_value_errors(bad):
    """Out-of-range numbers and over-long alpha fields are refused with ValueError."""
    with pytest.raises(ValueError):
        itch.encode(bad)


def test_unknown_types_pass_through():
    """Types the codec does not model keep their bytes exactly, alone and inside a file."""
    payload = bytes(range(1, 30))
    msg = itch.Unknown("Q", payload)
    assert itch.encode(msg) == b"Q" + payload
    assert itch.decode(b"Q" + payload) == msg
    assert itch.message_type(msg) == "Q"
    single = itch.Unknown("h", b"")
    assert itch.decode(b"h") == single
    msgs = [SAMPLES["A"], msg, single, SAMPLES["D"]]
    assert list(itch.read_file(itch.write_file(msgs))) == msgs
    with pytest.raises(ValueError):
        itch.encode(itch.Unknown("QQ", b""))


@pytest.mark.parametrize("type_char", sorted(SPEC_LENGTHS))
def test_decode_wrong_length_is_feed_format_error(type_char):
    """A modelled type one byte short or long is a FeedFormatError at the message's offset."""
    data = b"\x00\x00\x00" + itch.encode(SAMPLES[type_char]) + b"\x00"
    n = SPEC_LENGTHS[type_char]
    for length in (n - 1, n + 1):
        with pytest.raises(FeedFormatError) as err:
            itch.decode(data, 3, length)
        assert err.value.offset == 3


def test_decode_empty_and_past_end():
    """Empty input, or a length running past the buffer, is a FeedFormatError."""
    with pytest.raises(FeedFormatError) as err:
        itch.decode(b"")
    assert err.value.offset == 0
    with pytest.raises(FeedFormatError):
        itch.decode(b"A" * 10, 4, 0)
    data = itch.encode(SAMPLES["D"])
    with pytest.raises(FeedFormatError) as err:
        itch.decode(data[:10], 0, 19)
    assert err.value.offset == 0
    with pytest.raises(FeedFormatError):
        itch.decode(b"Qabc", 0, 10)   # unknown type, declared longer than the buffer


# --- NASDAQ file framing ------------------------------------------------------------------

def test_file_framing_round_trip():
    """write_file prefixes each message with its 2-byte big-endian length; read_file inverts it."""
    msgs = [SAMPLES[t] for t in "SRHAFECXDUP"] + [itch.Unknown("Y", b"\x01\x02")]
    data = itch.write_file(msgs)
    expected = b"".join(len(itch.encode(m)).to_bytes(2, "big") + itch.encode(m) for m in msgs)
    assert data == expected
    assert len(data) == sum(SPEC_LENGTHS.values()) + 3 + 2 * len(msgs)
    assert list(itch.read_file(data)) == msgs
    offsets, pos = [], 0
    for m in msgs:
        offsets.append((pos + 2, len(itch.encode(m))))
        pos += 2 + len(itch.encode(m))
    assert list(itch.iter_framed(data)) == offsets
    assert list(itch.read_file(b"")) == []


def test_frame_length_limits():
    """frame() takes 1..65535 bytes and writes the length big-endian."""
    assert itch.frame(b"x" * 0x1234)[:2] == b"\x12\x34"
    assert len(itch.frame(b"x" * 65535)) == 65537
    for bad in (b"", b"x" * 65536):
        with pytest.raises(ValueError):
            itch.frame(bad)


def _two_message_file():
    a, d = itch.encode(SAMPLES["A"]), itch.encode(SAMPLES["D"])
    return b"\x00\x24" + a + b"\x00\x13" + d   # 36 = 0x24, 19 = 0x13; second record at 38


def _read_until_error(data):
    got = []
    with pytest.raises(FeedFormatError) as err:
        for m in itch.read_file(data):
            got.append(m)
    return got, err.value.offset


@pytest.mark.parametrize("cut", [39, 40, 41, 38 + 2 + 18])
def test_truncated_file_names_offset_of_incomplete_record(cut):
    """A file ending inside a record's prefix or body names the record's own offset (38)."""
    data = _two_message_file()
    assert len(data) == 38 + 21
    got, offset = _read_until_error(data[:cut])
    assert offset == 38
    assert got == [SAMPLES["A"]]


def test_truncated_first_record():
    """A file cut inside its first record fails at offset 0 and yields nothing."""
    data = _two_message_file()
    for cut in (1, 2, 20, 37):
        got, offset = _read_until_error(data[:cut])
        assert (got, offset) == ([], 0)


def test_zero_length_record():
    """A zero length prefix is refused at its own offset."""
    data = _two_message_file()
    got, offset = _read_until_error(data[:38] + b"\x00\x00" + data[38:])
    assert offset == 38
    assert got == [SAMPLES["A"]]


def test_frame_offsets_agrees_with_iter_framed():
    """The fast prefix walk finds the same records, and the same error offsets, as iter_framed."""
    msgs = [SAMPLES[t] for t in "SRHAFECXDUP"] + [itch.Unknown("Y", b"\x01")]
    data = itch.write_file(msgs)
    assert list(itch.frame_offsets(data)) == [o - 2 for o, _ in itch.iter_framed(data)]
    assert list(itch.frame_offsets(b"")) == []
    two = _two_message_file()
    for bad in (two[:1], two[:37], two[:39], two[:41], two[:-1], two[:38] + b"\x00\x00" + two[38:]):
        with pytest.raises(FeedFormatError) as fast:
            itch.frame_offsets(bad)
        _, offset = _read_until_error(bad)
        assert fast.value.offset == offset


def test_declared_length_disagrees_with_type():
    """A framed 'A' declared 35 bytes long is a FeedFormatError at the body's offset."""
    a = itch.encode(SAMPLES["A"])
    data = b"\x00\x23" + a[:35]
    with pytest.raises(FeedFormatError) as err:
        list(itch.read_file(data))
    assert err.value.offset == 2


# --- cross-check against the third-party reader itchfeed ----------------------------------


@pytest.fixture
def itchfeed():
    """The itchfeed package (import name `itch`), a dev dependency."""
    pytest.importorskip("itch.parser")
    import itch.messages
    import itch.parser

    return itch


# our field -> itchfeed attribute, per type; common header fields first
COMMON = {"locate": "stock_locate", "tracking": "tracking_number", "timestamp": "timestamp"}
THEIRS = {
    "S": {"event_code": "event_code"},
    "R": {"stock": "stock", "market_category": "market_category",
          "financial_status": "financial_status_indicator", "round_lot_size": "round_lot_size",
          "round_lots_only": "round_lots_only", "issue_classification": "issue_classification",
          "issue_subtype": "issue_sub_type", "authenticity": "authenticity",
          "short_sale_threshold": "short_sale_threshold_indicator", "ipo_flag": "ipo_flag",
          "luld_tier": "luld_ref", "etp_flag": "etp_flag", "etp_leverage": "etp_leverage_factor",
          "inverse": "inverse_indicator"},
    "H": {"stock": "stock", "trading_state": "trading_state", "reserved": "reserved",
          "reason": "reason"},
    "A": {"ref": "order_reference_number", "side": "buy_sell_indicator", "shares": "shares",
          "stock": "stock", "price": "price"},
    "F": {"ref": "order_reference_number", "side": "buy_sell_indicator", "shares": "shares",
          "stock": "stock", "price": "price", "attribution": "attribution"},
    "E": {"ref": "order_reference_number", "shares": "executed_shares",
          "match": "match_number"},
    "C": {"ref": "order_reference_number", "shares": "executed_shares", "match": "match_number",
          "printable": "printable", "price": "execution_price"},
    "X": {"ref": "order_reference_number", "shares": "cancelled_shares"},
    "D": {"ref": "order_reference_number"},
    "U": {"ref": "order_reference_number", "new_ref": "new_order_reference_number",
          "shares": "shares", "price": "price"},
    "P": {"ref": "order_reference_number", "side": "buy_sell_indicator", "shares": "shares",
          "stock": "stock", "price": "price", "match": "match_number"},
}


def assert_same_as_itchfeed(ours, theirs):
    t = itch.message_type(ours)
    assert theirs.message_type == t.encode()
    mapping = {**COMMON, **THEIRS[t]}
    assert set(mapping) == set(ours._fields), t  # every field of ours is compared
    for field, attr in mapping.items():
        mine, other = getattr(ours, field), getattr(theirs, attr)
        if isinstance(other, bytes):
            other = other.decode("latin-1")
            if field == "stock":
                other = other.rstrip(" ")
        assert mine == other, (t, field, mine, other)


def cross_check_corpus():
    msgs = list(SAMPLES.values()) + list(EXTREMES.values())
    for seed, symbols in ((1, 3), (7, 12), (2024, 40)):
        msgs += list(MarketGenerator(MarketConfig(symbols=symbols, messages=1_500, seed=seed)))
    return msgs


def test_itchfeed_agrees_on_lengths(itchfeed):
    """itchfeed's message sizes equal the spec's for every modelled type."""
    for t, n in SPEC_LENGTHS.items():
        assert itchfeed.messages.messages[t.encode()].message_size == n


def test_cross_check_every_field_with_itchfeed(itchfeed):
    """itchfeed decodes our encoded bytes to the same value in every field of every type."""
    msgs = cross_check_corpus()
    seen = set()
    parser = itchfeed.parser.MessageParser()
    for ours in msgs:
        data = itch.encode(ours)
        theirs = parser.get_message_type(data)
        assert_same_as_itchfeed(ours, theirs)
        assert_same_as_itchfeed(itch.decode(data), theirs)
        seen.add(itch.message_type(ours))
    assert seen == set(SPEC_LENGTHS)


def test_itchfeed_reads_our_nasdaq_file(itchfeed):
    """itchfeed's own file parser walks our NASDAQ framing message for message."""
    msgs = list(MarketGenerator(MarketConfig(symbols=5, messages=2_000, seed=11)))
    parsed = list(itchfeed.parser.MessageParser().parse_file(io.BytesIO(itch.write_file(msgs))))
    assert len(parsed) == len(msgs)
    for ours, theirs in zip(msgs, parsed, strict=True):
        assert_same_as_itchfeed(ours, theirs)


def test_decode_bytes_packed_by_itchfeed(itchfeed):
    """Bytes packed by itchfeed's own encoder decode to the same fields with our codec."""
    for t in SPEC_LENGTHS:
        theirs = itchfeed.messages.messages[t.encode()](itch.encode(EXTREMES[t]))
        data = theirs.to_bytes()
        assert len(data) == SPEC_LENGTHS[t]
        assert_same_as_itchfeed(itch.decode(data), theirs)


def test_frame_offsets_reports_the_first_error_in_file_order():
    """A zero-length record before a truncated one is the error named (as iter_framed does)."""
    good = itch.frame(itch.encode(itch.OrderDelete(1, 0, 0, 7)))
    data = good + b"\x00\x00" + good + b"\x00\x30D"
    with pytest.raises(itch.FeedFormatError) as framed:
        list(itch.iter_framed(data))
    with pytest.raises(itch.FeedFormatError) as fast:
        itch.frame_offsets(data)
    assert fast.value.offset == framed.value.offset == len(good)
