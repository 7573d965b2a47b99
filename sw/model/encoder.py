"""Golden model of the FIX 4.4 order encoder: fixed-width tag=value, BodyLength and CheckSum.

Data flow: RiskGate (accepted) -> Encoder -> egress byte stream. Numeric fields are fixed width
with leading zeros (legal FIX), so the RTL fills a template; only the symbol varies in length.

    8=FIX.4.4|9=LLL|35=D|49=<sender>|56=<target>|34=SSSSSSSS|52=YYYYMMDD-HH:MM:SS.sss|
    11=<prefix>CCCCCCCC|[41=<prefix>CCCCCCCC|]55=<symbol>|54=1|60=<as 52>|38=QQQQQQQQ|
    [40=2|44=PPPPPP.PPPP|59=T|]10=KKK|
(| is SOH; 41 on G and F only; 40/44/59 on D and G only.)
"""

from __future__ import annotations

import datetime as dt

from spec.fix import MAX_CLORDID, MAX_QTY, MAX_SEQ  # the fixed-width fields: 8 digits each
from sw.model.clock import utc_timestamp

SOH = b"\x01"
FIX_SIDE = (b"1", b"2")  # BUY, SELL


def checksum(data: bytes) -> bytes:
    return b"%03d" % (sum(data) & 0xFF)


def price_text(price: int) -> bytes:
    """ITCH price units (1/10000 $) as fixed-width FIX text: 6 integer digits, 4 decimals."""
    dollars, frac = divmod(price, 10_000)
    return b"%06d.%04d" % (dollars, frac)


class Encoder:
    def __init__(self, *, sender: str = "NERVE", target: str = "VENUE", clordid_prefix: str = "NRV",
                 trade_date: dt.date = dt.date(2026, 11, 20), first_seq: int = 1) -> None:
        for name, value in (("sender", sender), ("target", target)):
            if not value or not value.isascii() or not value.isprintable() or "|" in value:
                raise ValueError(f"{name} comp id must be printable ASCII, not {value!r}")
        if not clordid_prefix.isascii() or len(clordid_prefix) > 8 or (
                clordid_prefix and not clordid_prefix.isalnum()):
            raise ValueError(f"clordid prefix must be up to 8 ASCII letters/digits, "
                             f"not {clordid_prefix!r}")
        self.header_ids = b"49=" + sender.encode() + SOH + b"56=" + target.encode() + SOH
        self.prefix = clordid_prefix.encode()
        self.trade_date = trade_date
        if not 1 <= first_seq <= MAX_SEQ:
            raise ValueError(f"first_seq must be 1..{MAX_SEQ}, not {first_seq!r}")
        self.next_seq = first_seq        # MsgSeqNum: shared with host-injected session messages
        self.next_clordid = 1

    def take_clordid(self) -> int:
        n = self.next_clordid
        if n > MAX_CLORDID:
            raise OverflowError("ClOrdID counter exhausted for the day")
        self.next_clordid += 1
        return n

    def clordid_text(self, n: int) -> bytes:
        return self.prefix + b"%08d" % n

    def encode(self, msg_type: str, clordid: int, orig_clordid: int | None, symbol: str,
               side: int, price: int, qty: int, tif: str, cycle: int) -> tuple[bytes, int]:
        """One order message and the MsgSeqNum it used."""
        if not 0 < qty <= MAX_QTY:
            raise ValueError(f"OrderQty must be 1..{MAX_QTY} for the 8-digit field, not {qty}")
        seq = self.next_seq
        if seq > MAX_SEQ:
            raise OverflowError("MsgSeqNum exhausted for the day")
        self.next_seq += 1
        now = utc_timestamp(self.trade_date, cycle)
        body = [b"35=", msg_type.encode(), SOH, self.header_ids, b"34=%08d" % seq, SOH,
                b"52=", now, SOH, b"11=", self.clordid_text(clordid), SOH]
        if orig_clordid is not None:
            body += [b"41=", self.clordid_text(orig_clordid), SOH]
        body += [b"55=", symbol.encode(), SOH, b"54=", FIX_SIDE[side], SOH, b"60=", now, SOH,
                 b"38=%08d" % qty, SOH]
        if msg_type != "F":
            body += [b"40=2", SOH, b"44=", price_text(price), SOH, b"59=", tif.encode(), SOH]
        payload = b"".join(body)
        head = b"8=FIX.4.4" + SOH + b"9=%03d" % len(payload) + SOH
        message = head + payload
        return message + b"10=" + checksum(message) + SOH, seq
