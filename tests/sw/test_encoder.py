"""FIX 4.4 order encoder (sw/model/encoder.py): exact bytes, counters, clock, QuickFIX validity.

Expected messages are assembled here field by field from the layout in the encoder's docstring,
and BodyLength / CheckSum are recomputed from their definitions in docs/references.md ("BodyLength
counts the bytes from after the 9= field to just before 10=; CheckSum is the byte sum of
everything before 10= modulo 256, three digits").
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from sw.model.clock import CLOCK_HZ
from sw.model.encoder import Encoder, price_text
from sw.model.orders import BUY, SELL

SOH = b"\x01"
DATE = dt.date(2026, 11, 20)
MS = 156_250                          # cycles per millisecond at 156.25 MHz
DAY = 86_400_000 * MS                 # cycles per day


def frame(fields: list[str]) -> bytes:
    """A FIX 4.4 message from its body fields (35= onwards), per docs/references.md, FIX 4.4."""
    body = b"".join(f.encode() + SOH for f in fields)
    head = b"8=FIX.4.4" + SOH + b"9=" + str(len(body)).zfill(3).encode() + SOH
    return head + body + b"10=" + str(sum(head + body) % 256).zfill(3).encode() + SOH


def parse(raw: bytes) -> list[tuple[str, str]]:
    assert raw.endswith(SOH)
    return [tuple(f.decode().split("=", 1)) for f in raw[:-1].split(SOH)]


def check_frame(raw: bytes) -> None:
    """BodyLength and CheckSum of `raw` recomputed from the byte positions."""
    first = raw.index(SOH) + 1                         # after 8=FIX.4.4|
    assert raw[first:first + 2] == b"9="
    body_start = raw.index(SOH, first) + 1             # after 9=...|
    trailer = raw.rindex(SOH + b"10=") + 1             # the 1 of 10=
    assert int(raw[first + 2:body_start - 1]) == trailer - body_start
    assert raw[trailer:] == b"10=%03d" % (sum(raw[:trailer]) % 256) + SOH
    assert len(raw[trailer + 3:-1]) == 3


def stamp(date: dt.date, cycle: int) -> str:
    """SendingTime from first principles: whole milliseconds of 6.4 ns cycles after midnight."""
    ms = cycle * 32 // 5_000_000                        # 6.4 ns = 32/5 ns per cycle
    t = dt.datetime.combine(date, dt.time()) + dt.timedelta(milliseconds=ms)
    return t.strftime("%Y%m%d-%H:%M:%S") + ".%03d" % (t.microsecond // 1000)


def expected(msg_type, seq, clordid, orig, symbol, side, price, qty, tif, time,
             sender="NERVE", target="VENUE", prefix="NRV") -> bytes:
    fields = [f"35={msg_type}", f"49={sender}", f"56={target}", f"34={seq:08d}",
              f"52={time}", f"11={prefix}{clordid:08d}"]
    if orig is not None:
        fields.append(f"41={prefix}{orig:08d}")
    fields += [f"55={symbol}", f"54={'1' if side == BUY else '2'}", f"60={time}",
               f"38={qty:08d}"]
    if msg_type != "F":
        fields += ["40=2", f"44={price // 10_000:06d}.{price % 10_000:04d}", f"59={tif}"]
    return frame(fields)


# ---------------------------------------------------------------------------------------------
# Exact layout per message type


def test_new_order_single_exact_bytes():
    enc = Encoder()
    clordid = enc.take_clordid()
    raw, seq = enc.encode("D", clordid, None, "AAPL", BUY, 1_234_500, 100, "0", MS)
    assert (clordid, seq) == (1, 1)
    body = ("35=D|49=NERVE|56=VENUE|34=00000001|52=20261120-00:00:00.001|11=NRV00000001|"
            "55=AAPL|54=1|60=20261120-00:00:00.001|38=00000100|40=2|44=000123.4500|59=0|")
    head = "8=FIX.4.4|9=%03d|" % len(body)
    text = head + body
    text += "10=%03d|" % (sum(text.replace("|", "\x01").encode()) % 256)
    assert raw == text.replace("|", "\x01").encode()
    check_frame(raw)


@pytest.mark.parametrize("side", [BUY, SELL])
@pytest.mark.parametrize("tif", ["0", "3"])
def test_replace_exact_bytes(side, tif):
    enc = Encoder(sender="NRVGW", target="XNAS", clordid_prefix="Q7", first_seq=500)
    raw, seq = enc.encode("G", 12, 9, "MSFT", side, 4_109_900, 250, tif, 2 * MS + 7)
    assert seq == 500
    assert raw == expected("G", 500, 12, 9, "MSFT", side, 4_109_900, 250, tif,
                           "20261120-00:00:00.002", "NRVGW", "XNAS", "Q7")
    tags = [t for t, _ in parse(raw)]
    assert tags == ["8", "9", "35", "49", "56", "34", "52", "11", "41", "55", "54", "60",
                    "38", "40", "44", "59", "10"]
    check_frame(raw)


@pytest.mark.parametrize("side", [BUY, SELL])
def test_cancel_exact_bytes(side):
    enc = Encoder()
    raw, _ = enc.encode("F", 31, 30, "BRK.A", side, 5_000_000, 75, "0", 0)
    assert raw == expected("F", 1, 31, 30, "BRK.A", side, 0, 75, "0", "20261120-00:00:00.000")
    tags = [t for t, _ in parse(raw)]
    assert tags == ["8", "9", "35", "49", "56", "34", "52", "11", "41", "55", "54", "60",
                    "38", "10"]
    for absent in ("40", "44", "59"):
        assert absent not in tags
    check_frame(raw)


def test_new_order_has_no_orig_clordid():
    raw, _ = Encoder().encode("D", 5, None, "IBM", SELL, 1, 1, "3", 0)
    tags = [t for t, _ in parse(raw)]
    assert "41" not in tags
    assert tags == ["8", "9", "35", "49", "56", "34", "52", "11", "55", "54", "60", "38", "40",
                    "44", "59", "10"]
    assert dict(parse(raw))["54"] == "2" and dict(parse(raw))["59"] == "3"


def test_fixed_widths_random():
    rng = random.Random(7)
    enc = Encoder(clordid_prefix="ABCDEFGH")
    lengths = set()
    for _ in range(300):
        msg_type = rng.choice("DGF")
        symbol = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
        clordid = enc.take_clordid()
        raw, seq = enc.encode(msg_type, clordid, None if msg_type == "D" else clordid - 1,
                              symbol, rng.choice([BUY, SELL]), rng.randint(0, (1 << 32) - 1),
                              rng.randint(1, 99_999_999), rng.choice("03"),
                              rng.randint(0, 2 * DAY))
        check_frame(raw)
        fields = dict(parse(raw))
        assert len(fields["9"]) == 3 and len(fields["10"]) == 3
        assert len(fields["34"]) == 8 and int(fields["34"]) == seq
        assert len(fields["11"]) == 16 and fields["11"] == f"ABCDEFGH{clordid:08d}"
        assert len(fields["38"]) == 8
        assert len(fields["52"]) == 21 and fields["52"] == fields["60"]
        if msg_type != "F":
            assert len(fields["44"]) == 11 and fields["44"][6] == "."
        lengths.add((msg_type, len(raw)))
    # with a 4-letter symbol, a message type always has the same length: a template
    assert len(lengths) == 3


# ---------------------------------------------------------------------------------------------
# Counters


def test_msg_seq_num_one_counter_across_types():
    enc = Encoder(first_seq=41)
    seqs = []
    for msg_type, orig in (("D", None), ("G", 1), ("F", 2), ("D", None)):
        raw, seq = enc.encode(msg_type, enc.take_clordid(), orig, "AAPL", BUY, 10_000, 1, "0", 0)
        assert dict(parse(raw))["34"] == f"{seq:08d}"
        seqs.append(seq)
    assert seqs == [41, 42, 43, 44]
    assert enc.next_seq == 45


def test_clordid_counter_and_text():
    enc = Encoder()
    assert [enc.take_clordid() for _ in range(3)] == [1, 2, 3]
    assert enc.clordid_text(42) == b"NRV00000042"
    assert enc.clordid_text(99_999_999) == b"NRV99999999"
    assert Encoder(clordid_prefix="X1").clordid_text(7) == b"X100000007"
    # taking a ClOrdID does not touch MsgSeqNum, and encoding does not take a ClOrdID
    assert enc.next_seq == 1
    enc.encode("D", 3, None, "AAPL", BUY, 1, 1, "0", 0)
    assert enc.take_clordid() == 4


def test_msg_seq_num_exhaustion():
    enc = Encoder(first_seq=99_999_999)
    raw, seq = enc.encode("D", 1, None, "AAPL", BUY, 1, 1, "0", 0)
    assert seq == 99_999_999 and dict(parse(raw))["34"] == "99999999"
    with pytest.raises(OverflowError):
        enc.encode("D", 2, None, "AAPL", BUY, 1, 1, "0", 0)
    with pytest.raises(OverflowError):                   # stays exhausted
        enc.encode("F", 3, 1, "AAPL", BUY, 1, 1, "0", 0)


# ---------------------------------------------------------------------------------------------
# Prices


@pytest.mark.parametrize("units, text", [
    (1_234_500, b"000123.4500"),
    (0, b"000000.0000"),
    (1, b"000000.0001"),
    (9_999, b"000000.9999"),
    (10_000, b"000001.0000"),
    (1_000_100, b"000100.0100"),
    (4_294_967_295, b"429496.7295"),              # the largest ITCH price
    (9_999_999_999, b"999999.9999"),
])
def test_price_text(units, text):
    assert price_text(units) == text
    raw, _ = Encoder().encode("D", 1, None, "AAPL", BUY, units, 1, "0", 0)
    assert dict(parse(raw))["44"] == text.decode()


def test_quantity_text():
    for qty, text in ((1, "00000001"), (100, "00000100"), (99_999_999, "99999999")):
        raw, _ = Encoder().encode("G", 2, 1, "AAPL", SELL, 1, qty, "0", 0)
        assert dict(parse(raw))["38"] == text


# ---------------------------------------------------------------------------------------------
# SendingTime / TransactTime from the cycle counter


@pytest.mark.parametrize("date, cycle, text", [
    (DATE, 0, "20261120-00:00:00.000"),
    (DATE, MS - 1, "20261120-00:00:00.000"),
    (DATE, MS, "20261120-00:00:00.001"),           # 156250 cycles = 1 ms
    (DATE, 999 * MS + MS - 1, "20261120-00:00:00.999"),
    (DATE, CLOCK_HZ, "20261120-00:00:01.000"),
    (DATE, (3661 * 1000 + 123) * MS, "20261120-01:01:01.123"),
    (DATE, DAY - 1, "20261120-23:59:59.999"),
    (DATE, DAY, "20261121-00:00:00.000"),          # past midnight: the date rolls
    (DATE, DAY + (13 * 3600 + 30 * 60) * CLOCK_HZ, "20261121-13:30:00.000"),
    (dt.date(2026, 12, 31), DAY + 5 * MS, "20270101-00:00:00.005"),
    (dt.date(2028, 2, 28), DAY, "20280229-00:00:00.000"),
])
def test_sending_time_from_cycles(date, cycle, text):
    enc = Encoder(trade_date=date)
    raw, _ = enc.encode("D", 1, None, "AAPL", BUY, 10_000, 1, "0", cycle)
    fields = dict(parse(raw))
    assert fields["52"] == text and fields["60"] == text
    assert stamp(date, cycle) == text


def test_sending_time_random_cycles():
    rng = random.Random(11)
    enc = Encoder()
    for _ in range(500):
        cycle = rng.randint(0, 3 * DAY)
        raw, _ = enc.encode("F", 2, 1, "AAPL", BUY, 1, 1, "0", cycle)
        assert dict(parse(raw))["52"] == stamp(DATE, cycle)


# ---------------------------------------------------------------------------------------------
# Constructor


@pytest.mark.parametrize("kwargs", [
    {"sender": ""}, {"sender": "NER\x01VE"}, {"sender": "NÉRVE"}, {"sender": "NER|VE"},
    {"sender": "NER\nVE"}, {"target": ""}, {"target": "VEN\x01UE"}, {"target": "VENUÉ"},
    {"clordid_prefix": "NR-V"}, {"clordid_prefix": "ABCDEFGHI"}, {"clordid_prefix": "NR V"},
    {"clordid_prefix": "ÄB"}, {"clordid_prefix": "١٢"}, {"clordid_prefix": "N\x01"},
])
def test_constructor_refuses_bad_ids(kwargs):
    with pytest.raises(ValueError):
        Encoder(**kwargs)


def test_constructor_accepts_edge_ids():
    enc = Encoder(sender="S", target="T", clordid_prefix="ABCDEFGH")
    raw, _ = enc.encode("D", 1, None, "AAPL", BUY, 1, 1, "0", 0)
    fields = dict(parse(raw))
    assert (fields["49"], fields["56"], fields["11"]) == ("S", "T", "ABCDEFGH00000001")
    assert Encoder(clordid_prefix="1").clordid_text(1) == b"100000001"
    assert Encoder(clordid_prefix="").clordid_text(7) == b"00000007"   # "up to 8": none too


# ---------------------------------------------------------------------------------------------
# Every message accepted by QuickFIX's FIX 4.4 data dictionary


def test_every_message_passes_quickfix():
    from sw.fix import dictionary
    rng = random.Random(2026)
    enc = Encoder(first_seq=rng.randint(1, 1000))
    live: list[int] = []
    stream = b""
    for _ in range(400):
        msg_type = rng.choice("DGF") if live else "D"
        clordid = enc.take_clordid()
        orig = None if msg_type == "D" else rng.choice(live)
        symbol = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ.")
                         for _ in range(rng.randint(1, 8)))
        side, price = rng.choice([BUY, SELL]), rng.randint(1, (1 << 32) - 1)
        qty, tif = rng.randint(1, 99_999_999), rng.choice("03")
        cycle = rng.randint(0, 2 * DAY)
        raw, seq = enc.encode(msg_type, clordid, orig, symbol, side, price, qty, tif, cycle)
        msg = dictionary.validate(raw)
        header = msg.getHeader()
        assert header.getField(35) == msg_type and int(header.getField(34)) == seq
        assert header.getField(52) == stamp(DATE, cycle)
        assert msg.getField(55) == symbol
        assert msg.getField(54) == ("1" if side == BUY else "2")
        assert int(msg.getField(38)) == qty
        if msg_type != "F":
            assert msg.getField(44) == f"{price // 10_000:06d}.{price % 10_000:04d}"
            assert msg.getField(40) == "2" and msg.getField(59) == tif
        if orig is not None:
            assert msg.getField(41) == f"NRV{orig:08d}"
        if msg_type == "D":
            live.append(clordid)
        stream += raw
    assert dictionary.split_messages(stream)[-1] == raw
    assert len(dictionary.split_messages(stream)) == 400
