"""The QuickFIX-backed FIX 4.4 validator (sw/fix/dictionary.py) accepts good messages and can fail.

Corrupted messages are rebuilt with a correct BodyLength and CheckSum (except where those are the
corruption), so each rejection below is for exactly one defect.
"""

from __future__ import annotations

import sys

import pytest

from sw.fix import dictionary
from sw.fix.dictionary import FixValidationError, split_messages, validate
from sw.model.encoder import Encoder
from sw.model.orders import BUY, SELL

SOH = b"\x01"


def frame(fields: list[str], begin: str = "FIX.4.4") -> bytes:
    """A message from its body fields (35= onwards), with BodyLength and CheckSum correct."""
    body = b"".join(f.encode() + SOH for f in fields)
    head = f"8={begin}".encode() + SOH + b"9=" + str(len(body)).zfill(3).encode() + SOH
    return head + body + b"10=" + str(sum(head + body) % 256).zfill(3).encode() + SOH


def body_fields(raw: bytes) -> list[str]:
    """The fields of a message between 9= and 10=."""
    fields = [f.decode() for f in raw[:-1].split(SOH)]
    assert fields[0].startswith("8=") and fields[1].startswith("9=")
    assert fields[-1].startswith("10=")
    return fields[2:-1]


def without(fields: list[str], tag: str) -> list[str]:
    kept = [f for f in fields if not f.startswith(tag + "=")]
    assert len(kept) == len(fields) - 1
    return kept


def replaced(fields: list[str], tag: str, value: str) -> list[str]:
    out = [f"{tag}={value}" if f.startswith(tag + "=") else f for f in fields]
    assert out != fields
    return out


def encoded(msg_type: str, side: int = BUY) -> bytes:
    enc = Encoder(first_seq=17)
    orig = None if msg_type == "D" else 3
    raw, _ = enc.encode(msg_type, 4, orig, "AAPL", side, 1_234_500, 100, "0", 156_250 * 1234)
    return raw


def rejected(raw: bytes) -> str:
    with pytest.raises(FixValidationError) as info:
        validate(raw)
    assert isinstance(info.value, ValueError)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# Accepted


@pytest.mark.parametrize("msg_type", ["D", "G", "F"])
@pytest.mark.parametrize("side", [BUY, SELL])
def test_accepts_encoder_output(msg_type, side):
    raw = encoded(msg_type, side)
    msg = validate(raw)
    assert msg.getHeader().getField(35) == msg_type
    assert msg.getHeader().getField(34) == "00000017"
    assert msg.getField(54) == ("1" if side == BUY else "2")
    assert msg.getField(11) == "NRV00000004"
    if msg_type != "F":
        assert msg.getField(44) == "000123.4500"


def test_accepts_a_hand_built_order_without_padding():
    raw = frame(["35=D", "49=A", "56=B", "34=7", "52=20261120-09:30:00.123", "11=X1",
                 "55=AAPL", "54=2", "60=20261120-09:30:00.123", "38=100", "40=2",
                 "44=123.45", "59=3"])
    assert validate(raw).getField(44) == "123.45"
    assert validate(bytearray(raw)).getField(38) == "100"


def test_rebuilt_encoder_message_is_identical():
    # the test's own framing agrees with the encoder's, so the corruptions below are clean
    for msg_type in "DGF":
        raw = encoded(msg_type)
        assert frame(body_fields(raw)) == raw


# ---------------------------------------------------------------------------------------------
# Framing: CheckSum and BodyLength


@pytest.mark.parametrize("msg_type", ["D", "G", "F"])
def test_rejects_wrong_checksum(msg_type):
    raw = encoded(msg_type)
    good = int(raw[-4:-1])
    for bad in ((good + 1) % 256, (good + 255) % 256):
        corrupt = raw[:-4] + b"%03d" % bad + SOH
        assert "CheckSum" in rejected(corrupt)


def test_rejects_a_changed_byte_under_the_old_checksum():
    raw = encoded("D")
    corrupt = raw.replace(b"55=AAPL", b"55=AAPM")
    assert "CheckSum" in rejected(corrupt)


@pytest.mark.parametrize("msg_type", ["D", "G", "F"])
@pytest.mark.parametrize("delta", [1, -1])
def test_rejects_wrong_body_length(msg_type, delta):
    raw = encoded(msg_type)
    fields = body_fields(raw)
    length = len(b"".join(f.encode() + SOH for f in fields)) + delta
    head = b"8=FIX.4.4" + SOH + b"9=%03d" % length + SOH
    body = b"".join(f.encode() + SOH for f in fields)
    corrupt = head + body + b"10=%03d" % (sum(head + body) % 256) + SOH   # checksum right
    assert "BodyLength" in rejected(corrupt)


def test_rejects_bad_framing():
    raw = encoded("D")
    assert "8=FIX.4.4" in rejected(frame(body_fields(raw), begin="FIX.4.2"))
    assert "trailer" in rejected(raw[:-1])                       # no final SOH
    assert "trailer" in rejected(raw[:-8])                       # no trailer at all
    assert "trailer" in rejected(raw[:-4] + b"12" + SOH)         # two-digit checksum
    assert "more than one" in rejected(raw + raw)
    assert "non-ASCII" in rejected(raw.replace(b"AAPL", b"AAP\xc9"))
    with pytest.raises(TypeError):
        validate(raw.decode())


# ---------------------------------------------------------------------------------------------
# The dictionary: required tags, enums, types, structure


@pytest.mark.parametrize("msg_type, tag", [
    ("D", "11"), ("D", "54"), ("D", "60"), ("D", "40"),
    ("G", "11"), ("G", "41"), ("G", "54"), ("G", "60"), ("G", "40"),
    ("F", "11"), ("F", "41"), ("F", "54"), ("F", "60"),
    ("D", "49"), ("D", "56"), ("D", "34"), ("D", "52"),           # required header fields
])
def test_rejects_missing_tag_required_by_quickfix(msg_type, tag):
    message = rejected(frame(without(body_fields(encoded(msg_type)), tag)))
    assert "Required tag missing" in message and tag in message
    assert "Nerve rule" not in message


@pytest.mark.parametrize("msg_type, tag", [
    ("D", "55"), ("G", "55"), ("F", "55"), ("D", "38"), ("G", "38"), ("F", "38"),
    ("D", "44"), ("G", "44"),
])
def test_rejects_missing_tag_required_by_nerve(msg_type, tag):
    # QuickFIX's FIX44.xml makes Symbol/OrderQty optional (Instrument / OrderQtyData
    # components) and Price conditional; the validator's own rule catches them.
    message = rejected(frame(without(body_fields(encoded(msg_type)), tag)))
    assert "Nerve rule" in message and f"missing: {tag}" in message


@pytest.mark.parametrize("msg_type", ["D", "G", "F"])
@pytest.mark.parametrize("side", ["0", "Z", "b"])
def test_rejects_invalid_side(msg_type, side):
    message = rejected(frame(replaced(body_fields(encoded(msg_type)), "54", side)))
    assert "incorrect" in message and "54" in message


@pytest.mark.parametrize("tag, value", [("40", "Z"), ("40", "0"), ("59", "9")])
def test_rejects_invalid_enum_values(tag, value):
    message = rejected(frame(replaced(body_fields(encoded("D")), tag, value)))
    assert "incorrect" in message and tag in message


def test_rejects_unknown_message_type():
    assert rejected(frame(replaced(body_fields(encoded("D")), "35", "ZZ")))


@pytest.mark.parametrize("tag, value", [
    ("38", "1O0"),                            # letter O in a quantity
    ("44", "12.3.4"),
    ("44", "abc"),
    ("34", "x1"),
    ("54", "12"),                             # a char field with two characters
    ("60", "20261120-24:00:00.000"),          # hour 24
    ("52", "20261320-09:30:00.000"),          # month 13
    ("60", "2026-11-20T09:30:00"),
])
def test_rejects_bad_types(tag, value):
    message = rejected(frame(replaced(body_fields(encoded("D")), tag, value)))
    assert "format" in message and tag in message


def test_rejects_tag_not_defined_for_message():
    fields = body_fields(encoded("F"))
    message = rejected(frame(fields[:-1] + ["44=000123.4500", fields[-1]]))   # no Price on F
    assert "44" in message
    message = rejected(frame(body_fields(encoded("D")) + ["31=000123.4500"]))  # LastPx on D
    assert "31" in message


def test_rejects_header_field_after_body():
    fields = body_fields(encoded("D"))
    sender = fields.pop(1)
    assert sender.startswith("49=")
    message = rejected(frame(fields + [sender]))
    assert "order" in message.lower()


def test_rejects_empty_value_and_repeated_tag():
    fields = body_fields(encoded("D"))
    assert "without a value: 55" in rejected(frame(replaced(fields, "55", "")))
    assert "Repeated tag" in rejected(frame(fields + ["59=0"]))


# ---------------------------------------------------------------------------------------------
# Splitting an orders.fix stream


def test_split_messages_roundtrip():
    messages = [encoded("D"), encoded("G", SELL), encoded("F")]
    hand = frame(["35=D", "49=A", "56=B", "34=1", "52=20261120-00:00:00.000", "11=10=123",
                  "55=X", "54=1", "60=20261120-00:00:00.000", "38=1", "40=2", "44=1", "59=0"])
    messages.append(hand)                     # "10=123" inside a value: not a trailer
    assert split_messages(b"".join(messages)) == messages
    assert split_messages(b"") == []
    for m in split_messages(b"".join(messages)):
        validate(m)


def test_split_messages_refuses_truncation_and_junk():
    stream = encoded("D") + encoded("G")
    with pytest.raises(FixValidationError, match="offset %d" % len(encoded("D"))):
        split_messages(stream[:-3])
    with pytest.raises(FixValidationError, match="offset 0"):
        split_messages(b"junk" + stream)


# ---------------------------------------------------------------------------------------------
# Locating the dictionary


def test_dictionary_is_quickfix_fix44():
    path = dictionary.dictionary_path()
    assert path == type(path)(sys.prefix) / "share" / "quickfix" / "FIX44.xml"
    head = path.read_bytes()[:200].replace(b'"', b"'")
    assert b"<fix " in head and b"major='4'" in head and b"minor='4'" in head


def test_missing_dictionary_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        dictionary.dictionary_path()
    assert str(tmp_path / "share" / "quickfix" / "FIX44.xml") in str(info.value)
