"""ITCH decoder (sw.model.decoder) and the shared BookEvent record (hw.rtl.records).

Expected fields are written out from the ITCH 5.0 layouts in docs/references.md; message
bytes come from the toolkit codec, and a few are built by hand with struct to be sure of offsets.
"""

from __future__ import annotations

import struct

import pytest

from hw.rtl.records import BookEvent, BookEventKind, Side, field_names, pack
from sw.feed import itch
from sw.model import decoder

K = BookEventKind
LOCATE = 0xBEEF
REF = 0x0102030405060708
NEW_REF = 0x1112131415161718
SHARES = 0xA1B2C3D4
PRICE = 0xF0C0FFEE      # top bit set: prices are unsigned 32-bit
# "AAPL" space padded, first character in the most significant byte.
AAPL = 0x41_41_50_4C_20_20_20_20
ABCDEFGH = 0x41_42_43_44_45_46_47_48

FIELDS = ("kind", "locate", "ref", "new_ref", "side", "shares", "price", "stock", "code")


def fields(ev) -> dict:
    assert ev is not None and ev is not decoder.MALFORMED
    return dict(zip(FIELDS, ev, strict=True))


def ev(kind, locate=LOCATE, ref=0, new_ref=0, side=Side.BUY, shares=0, price=0, stock=0,
       code=0) -> dict:
    return dict(kind=kind, locate=locate, ref=ref, new_ref=new_ref, side=side, shares=shares,
                price=price, stock=stock, code=code)


MODELLED = {
    "A": (itch.AddOrder(LOCATE, 7, 123, REF, "S", SHARES, "AAPL", PRICE),
          ev(K.ADD, ref=REF, side=Side.SELL, shares=SHARES, price=PRICE, stock=AAPL)),
    "F": (itch.AddOrderMPID(LOCATE, 7, 123, REF, "B", SHARES, "ABCDEFGH", PRICE, "NRVE"),
          ev(K.ADD, ref=REF, side=Side.BUY, shares=SHARES, price=PRICE, stock=ABCDEFGH)),
    "E": (itch.OrderExecuted(LOCATE, 7, 123, REF, SHARES, 0x5555),
          ev(K.EXECUTE, ref=REF, shares=SHARES)),
    "C": (itch.OrderExecutedWithPrice(LOCATE, 7, 123, REF, SHARES, 0x5555, "N", PRICE),
          ev(K.EXECUTE, ref=REF, shares=SHARES)),
    "X": (itch.OrderCancel(LOCATE, 7, 123, REF, SHARES),
          ev(K.CANCEL, ref=REF, shares=SHARES)),
    "D": (itch.OrderDelete(LOCATE, 7, 123, REF),
          ev(K.DELETE, ref=REF)),
    "U": (itch.OrderReplace(LOCATE, 7, 123, REF, NEW_REF, SHARES, PRICE),
          ev(K.REPLACE, ref=REF, new_ref=NEW_REF, shares=SHARES, price=PRICE)),
    "H": (itch.StockTradingAction(LOCATE, 7, 123, "AAPL", "Q", " ", "LUDP"),
          ev(K.TRADING_STATE, stock=AAPL, code=ord("Q"))),
    "R": (itch.StockDirectory(LOCATE, 7, 123, "ABCDEFGH", "Q", "N", 100, "N", "C", "Z", "P",
                              "N", "N", "1", "N", 0, "N"),
          ev(K.DIRECTORY, stock=ABCDEFGH)),
    "S": (itch.SystemEvent(LOCATE, 7, 123, "Q"),
          ev(K.SYSTEM, code=ord("Q"))),
}
LENGTHS = {"S": 12, "R": 39, "H": 25, "A": 36, "F": 40, "E": 31, "C": 36, "X": 23, "D": 19,
           "U": 35, "P": 44}


@pytest.mark.parametrize("type_char", sorted(MODELLED))
def test_modelled_type_maps_to_book_event(type_char):
    msg, want = MODELLED[type_char]
    raw = itch.encode(msg)
    assert len(raw) == LENGTHS[type_char]
    assert fields(decoder.decode(raw)) == want
    assert fields(decoder.decode(memoryview(raw))) == want
    # Embedded in a larger buffer, as the sequencer hands it over.
    buf = b"\xAA" * 5 + raw + b"\x55" * 3
    assert fields(decoder.decode(memoryview(buf)[5:5 + len(raw)])) == want


def test_kinds_and_sides_are_the_record_enums():
    got = decoder.decode(itch.encode(MODELLED["A"][0]))
    assert got.kind is K.ADD and got.side is Side.SELL
    assert got._fields == field_names(BookEvent) == FIELDS


def test_add_decoded_from_hand_built_bytes():
    # type, locate, tracking, timestamp (6), ref, side, shares, stock, price
    raw = (b"A" + struct.pack(">HH", 0x0102, 0x0304) + (0x0A0B0C0D0E0F).to_bytes(6, "big")
           + struct.pack(">Q", 2**64 - 1) + b"B" + struct.pack(">I", 1) + b"Z       "
           + struct.pack(">I", 2**32 - 1))
    assert len(raw) == 36
    assert fields(decoder.decode(raw)) == ev(
        K.ADD, locate=0x0102, ref=2**64 - 1, side=Side.BUY, shares=1, price=2**32 - 1,
        stock=0x5A20202020202020)


@pytest.mark.parametrize("side", ["B", "S"])
@pytest.mark.parametrize("type_char", ["A", "F"])
def test_sides(type_char, side):
    msg = MODELLED[type_char][0]._replace(side=side)
    got = decoder.decode(itch.encode(msg))
    assert got.side is (Side.BUY if side == "B" else Side.SELL)


@pytest.mark.parametrize("bad", [b"b", b"s", b"X", b"\x00", b" ", b"\xC2", b"1"])
@pytest.mark.parametrize("type_char", ["A", "F"])
def test_bad_side_byte_is_malformed(type_char, bad):
    raw = bytearray(itch.encode(MODELLED[type_char][0]))
    assert raw[19] == ord(MODELLED[type_char][0].side)     # side sits after the 8-byte ref
    raw[19] = bad[0]
    assert decoder.decode(bytes(raw)) is decoder.MALFORMED


@pytest.mark.parametrize("delta", [-1, 1, -5, 8])
@pytest.mark.parametrize("type_char", sorted(MODELLED))
def test_wrong_length_is_malformed(type_char, delta):
    raw = itch.encode(MODELLED[type_char][0])
    bad = raw[:delta] if delta < 0 else raw + bytes(delta)
    assert decoder.decode(bad) is decoder.MALFORMED


@pytest.mark.parametrize("type_char", sorted(MODELLED))
def test_type_byte_alone_is_malformed(type_char):
    assert decoder.decode(type_char.encode()) is decoder.MALFORMED


def test_trade_is_no_event():
    raw = itch.encode(itch.Trade(LOCATE, 7, 123, REF, "B", SHARES, "AAPL", PRICE, 9))
    assert len(raw) == 44
    assert decoder.decode(raw) is None
    # P's side is not a book side: even an odd byte there makes no event.
    odd = bytearray(raw)
    odd[19] = ord("?")
    assert decoder.decode(bytes(odd)) is None


@pytest.mark.parametrize("delta", [-1, 1])
def test_trade_of_wrong_length_is_malformed(delta):
    # P has a known length (44, docs/golden-model.md): a P of another length is corrupt input.
    raw = itch.encode(itch.Trade(LOCATE, 7, 123, REF, "B", SHARES, "AAPL", PRICE, 9))
    bad = raw[:delta] if delta < 0 else raw + bytes(delta)
    assert decoder.decode(bad) is decoder.MALFORMED


@pytest.mark.parametrize("type_char", list("LIYQNKJVWhjO\x00\xFF") + ["a", "e"])
@pytest.mark.parametrize("size", [1, 12, 19, 36, 50])
def test_unknown_types_are_no_event(type_char, size):
    raw = type_char.encode("latin-1") + bytes(size - 1)
    assert decoder.decode(raw) is None


# --- the shared record layout ---------------------------------------------------------------------

# Widths as declared in hw/rtl/records.py (BookEventKind shape=4, Side shape=1).
WIDTHS = {"kind": 4, "locate": 16, "ref": 64, "new_ref": 64, "side": 1, "shares": 32,
          "price": 32, "stock": 64, "code": 8}


def expected_offsets() -> dict[str, int]:
    """Struct members packed in declaration order from bit 0, each after the previous one."""
    offsets, at = {}, 0
    for name in FIELDS:
        offsets[name] = at
        at += WIDTHS[name]
    return offsets


def test_layout_offsets():
    layout = BookEvent.as_shape()
    got = {name: (field.offset, field.width) for name, field in layout}
    want = {name: (off, WIDTHS[name]) for name, off in expected_offsets().items()}
    assert got == want
    assert layout.size == sum(WIDTHS.values()) == 285


SAMPLE = (K.REPLACE, 0xBEEF, REF, NEW_REF, Side.SELL, SHARES, PRICE, AAPL, 0x5A)


def test_pack_puts_each_field_at_its_offset():
    word = pack(BookEvent, SAMPLE)
    offsets = expected_offsets()
    raw = dict(zip(FIELDS, SAMPLE, strict=True))
    raw["kind"], raw["side"] = 5, 1
    for name in FIELDS:
        assert (word >> offsets[name]) & ((1 << WIDTHS[name]) - 1) == raw[name], name
    assert word >> 285 == 0
    # Amaranth's own constant of the layout has the same bits.
    const = BookEvent.as_shape().const(dict(zip(FIELDS, SAMPLE, strict=True)))
    assert const.as_bits() == word


@pytest.mark.parametrize("name", FIELDS)
def test_pack_fields_do_not_overlap(name):
    values = {n: 0 for n in FIELDS}
    values["kind"], values["side"] = K.ADD, Side.BUY
    top = (1 << WIDTHS[name]) - 1
    if name == "kind":
        values[name] = K.SYSTEM                             # 8, the top bit of the 4
    elif name == "side":
        values[name] = Side.SELL
    else:
        values[name] = top
    word = pack(BookEvent, tuple(values[n] for n in FIELDS))
    own = (8 if name == "kind" else 1 if name == "side" else top) << expected_offsets()[name]
    rest = 1 if name != "kind" else 0                       # K.ADD = 1 in the kind field
    assert word == own | rest


def test_pack_of_a_decoded_event():
    got = decoder.decode(itch.encode(MODELLED["A"][0]))
    word = pack(BookEvent, got)
    offsets = expected_offsets()
    assert (word >> offsets["price"]) & 0xFFFFFFFF == PRICE
    assert (word >> offsets["side"]) & 1 == 1
    assert (word >> offsets["stock"]) & (2**64 - 1) == AAPL
    view_bits = BookEvent.as_shape().const(got._asdict()).as_bits()
    assert view_bits == word


@pytest.mark.parametrize(("name", "value"), [
    ("locate", 1 << 16), ("locate", -1), ("ref", 1 << 64), ("new_ref", -1),
    ("shares", 1 << 32), ("price", 1 << 32), ("stock", 1 << 64), ("code", 256), ("code", -1),
    ("kind", 16), ("side", 2),
])
def test_pack_rejects_values_that_do_not_fit(name, value):
    values = dict(zip(FIELDS, SAMPLE, strict=True))
    values[name] = value
    with pytest.raises(ValueError, match=name):
        pack(BookEvent, tuple(values[n] for n in FIELDS))


def test_pack_accepts_the_extremes():
    values = tuple((1 << WIDTHS[n]) - 1 if n not in ("kind", "side") else v
                   for n, v in zip(FIELDS, SAMPLE, strict=True))
    word = pack(BookEvent, values)
    assert (word >> expected_offsets()["code"]) == 0xFF


def test_pack_rejects_wrong_field_count():
    with pytest.raises(ValueError):
        pack(BookEvent, SAMPLE[:-1])


def test_empty_message_is_malformed_not_an_exception():
    assert decoder.decode(b"") is decoder.MALFORMED
