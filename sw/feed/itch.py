"""NASDAQ TotalView-ITCH 5.0 codec and the NASDAQ file format.

Where it sits: the market-data toolkit. The synthetic generator encodes with it, tools and tests
decode with it. The golden model's decoder (`sw.model.decoder`) is a separate, bytes-to-book-event
path written like the hardware; this codec is the general-purpose, field-by-field one.

All integers are big-endian. Prices are uint32 in 1/10000 dollar, kept as integers. Alpha fields
are decoded as latin-1 so every byte round-trips; stock symbols lose their space padding on decode
and regain it on encode.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Iterator
from typing import NamedTuple

# Field kinds: u = unsigned int (struct code given), c = 1 char, a<N> = alpha of N bytes
# (right-padded with spaces), t = 48-bit timestamp.
_HEADER = (("locate", "H"), ("tracking", "H"), ("timestamp", "t"))


class FeedFormatError(ValueError):
    """Input that is not a well-formed feed; carries the byte offset where it went wrong."""

    def __init__(self, offset: int, message: str):
        super().__init__(f"at byte offset {offset}: {message}")
        self.offset = offset


class SystemEvent(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    event_code: str


class StockDirectory(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    stock: str
    market_category: str
    financial_status: str
    round_lot_size: int
    round_lots_only: str
    issue_classification: str
    issue_subtype: str
    authenticity: str
    short_sale_threshold: str
    ipo_flag: str
    luld_tier: str
    etp_flag: str
    etp_leverage: int
    inverse: str


class StockTradingAction(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    stock: str
    trading_state: str
    reserved: str
    reason: str


class AddOrder(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    ref: int
    side: str
    shares: int
    stock: str
    price: int


class AddOrderMPID(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    ref: int
    side: str
    shares: int
    stock: str
    price: int
    attribution: str


class OrderExecuted(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    ref: int
    shares: int
    match: int


class OrderExecutedWithPrice(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    ref: int
    shares: int
    match: int
    printable: str
    price: int


class OrderCancel(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    ref: int
    shares: int


class OrderDelete(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    ref: int


class OrderReplace(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    ref: int
    new_ref: int
    shares: int
    price: int


class Trade(NamedTuple):
    locate: int
    tracking: int
    timestamp: int
    ref: int
    side: str
    shares: int
    stock: str
    price: int
    match: int


class Unknown(NamedTuple):
    """A message of a type this codec does not model, passed through byte for byte."""

    type: str
    payload: bytes  # everything after the type byte


Message = (
    SystemEvent | StockDirectory | StockTradingAction | AddOrder | AddOrderMPID | OrderExecuted
    | OrderExecutedWithPrice | OrderCancel | OrderDelete | OrderReplace | Trade | Unknown
)

# type byte -> (class, body fields after the common header)
_LAYOUTS: dict[str, tuple[type, tuple[tuple[str, str], ...]]] = {
    "S": (SystemEvent, (("event_code", "c"),)),
    "R": (StockDirectory, (
        ("stock", "a8"), ("market_category", "c"), ("financial_status", "c"),
        ("round_lot_size", "I"), ("round_lots_only", "c"), ("issue_classification", "c"),
        ("issue_subtype", "a2"), ("authenticity", "c"), ("short_sale_threshold", "c"),
        ("ipo_flag", "c"), ("luld_tier", "c"), ("etp_flag", "c"), ("etp_leverage", "I"),
        ("inverse", "c"))),
    "H": (StockTradingAction, (
        ("stock", "a8"), ("trading_state", "c"), ("reserved", "c"), ("reason", "a4"))),
    "A": (AddOrder, (
        ("ref", "Q"), ("side", "c"), ("shares", "I"), ("stock", "a8"), ("price", "I"))),
    "F": (AddOrderMPID, (
        ("ref", "Q"), ("side", "c"), ("shares", "I"), ("stock", "a8"), ("price", "I"),
        ("attribution", "a4"))),
    "E": (OrderExecuted, (("ref", "Q"), ("shares", "I"), ("match", "Q"))),
    "C": (OrderExecutedWithPrice, (
        ("ref", "Q"), ("shares", "I"), ("match", "Q"), ("printable", "c"), ("price", "I"))),
    "X": (OrderCancel, (("ref", "Q"), ("shares", "I"))),
    "D": (OrderDelete, (("ref", "Q"),)),
    "U": (OrderReplace, (("ref", "Q"), ("new_ref", "Q"), ("shares", "I"), ("price", "I"))),
    "P": (Trade, (
        ("ref", "Q"), ("side", "c"), ("shares", "I"), ("stock", "a8"), ("price", "I"),
        ("match", "Q"))),
}


class _Codec:
    """Struct-driven encoder/decoder for one message type."""

    def __init__(self, type_char: str, cls: type, body: tuple[tuple[str, str], ...]):
        fmt = ">c"
        self.kinds: list[tuple[str, int]] = []  # per field: kind, width
        for name, kind in _HEADER + body:
            if kind == "t":
                fmt += "HI"
                self.kinds.append(("t", 6))
            elif kind == "c":
                fmt += "c"
                self.kinds.append(("c", 1))
            elif kind.startswith("a"):
                width = int(kind[1:])
                fmt += f"{width}s"
                self.kinds.append(("a", width))
            else:
                fmt += kind
                self.kinds.append(("u", struct.calcsize(">" + kind)))
            assert name in cls._fields
        self.type_char = type_char
        self.type_byte = type_char.encode()
        self.cls = cls
        self.struct = struct.Struct(fmt)
        self.size = self.struct.size

    def decode(self, buf: bytes | memoryview, offset: int = 0) -> Message:
        raw = self.struct.unpack_from(buf, offset)
        out = []
        i = 1
        for kind, width in self.kinds:
            if kind == "t":
                out.append(raw[i] << 32 | raw[i + 1])
                i += 2
                continue
            value = raw[i]
            if kind == "c":
                value = value.decode("latin-1")
            elif kind == "a":
                value = value.decode("latin-1").rstrip(" ") if width == 8 else value.decode(
                    "latin-1")
            out.append(value)
            i += 1
        return self.cls._make(out)

    def encode(self, msg: Message) -> bytes:
        values: list[object] = [self.type_byte]
        for (name, (kind, width)) in zip(self.cls._fields, self.kinds, strict=True):
            value = getattr(msg, name)
            if kind == "t":
                if not 0 <= value < 1 << 48:
                    raise ValueError(f"{name} must fit in 48 bits, not {value!r}")
                values += [value >> 32, value & 0xFFFFFFFF]
            elif kind in ("c", "a"):
                data = value.encode("latin-1")
                if len(data) > width or (kind == "c" and len(data) != 1):
                    raise ValueError(f"{name} must be {width} byte(s), not {value!r}")
                values.append(data.ljust(width, b" "))
            else:
                values.append(value)
        try:
            return self.struct.pack(*values)
        except struct.error as exc:
            raise ValueError(f"{self.cls.__name__}: {exc}") from None


_CODECS = {t: _Codec(t, cls, body) for t, (cls, body) in _LAYOUTS.items()}
_CODEC_BY_CLASS = {codec.cls: codec for codec in _CODECS.values()}

#: Length in bytes of each modelled message type, keyed by type character.
MESSAGE_LENGTHS: dict[str, int] = {t: c.size for t, c in _CODECS.items()}


def decode(data: bytes | memoryview, offset: int = 0, length: int | None = None) -> Message:
    """Decode one message occupying `length` bytes at `offset` (default: to the end)."""
    end = len(data) if length is None else offset + length
    if end <= offset:
        raise FeedFormatError(offset, "empty ITCH message")
    if end > len(data):
        raise FeedFormatError(offset, f"ITCH message of {end - offset} bytes runs past the buffer")
    type_char = chr(data[offset])
    codec = _CODECS.get(type_char)
    if codec is None:
        return Unknown(type_char, bytes(data[offset + 1:end]))
    if end - offset != codec.size:
        raise FeedFormatError(
            offset, f"ITCH '{type_char}' message is {end - offset} bytes, expected {codec.size}")
    return codec.decode(data, offset)


def encode(msg: Message) -> bytes:
    """Encode one message (without a length prefix)."""
    if isinstance(msg, Unknown):
        if len(msg.type) != 1:
            raise ValueError(f"Unknown.type must be one character, not {msg.type!r}")
        return msg.type.encode("latin-1") + msg.payload
    return _CODEC_BY_CLASS[type(msg)].encode(msg)


def message_type(msg: Message) -> str:
    """The one-character ITCH type of a decoded message."""
    if isinstance(msg, Unknown):
        return msg.type
    return _CODEC_BY_CLASS[type(msg)].type_char


# --- NASDAQ file format: each message preceded by a 2-byte big-endian length ------------------

def iter_framed(data: bytes | memoryview) -> Iterator[tuple[int, int]]:
    """Yield (offset, length) of each message body in a NASDAQ-format buffer.

    Raises FeedFormatError naming the byte offset of a truncated or zero-length record.
    """
    view = memoryview(data)
    size = len(view)
    pos = 0
    while pos < size:
        if pos + 2 > size:
            raise FeedFormatError(pos, "truncated length prefix at end of file")
        length = view[pos] << 8 | view[pos + 1]
        if length == 0:
            raise FeedFormatError(pos, "zero-length message")
        if pos + 2 + length > size:
            raise FeedFormatError(
                pos, f"message of {length} bytes runs past end of file ({size - pos - 2} left)")
        yield pos + 2, length
        pos += 2 + length


def frame_offsets(data: bytes) -> array:
    """Offsets of every message's length prefix in a NASDAQ-format buffer, validated.

    The fast walk used for whole files: one tight loop, then the checks. Raises FeedFormatError
    naming the byte offset of a zero-length, truncated or overrunning record.
    """
    offsets = array("q")
    append = offsets.append
    pos, size = 0, len(data)
    last = size - 1
    while pos < last:
        append(pos)
        pos += (data[pos] << 8 | data[pos + 1]) + 2
    errors = []  # (offset, message); the first in file order is reported
    if pos == last:
        errors.append((pos, "truncated length prefix at end of file"))
    elif pos > size:
        start = offsets[-1]
        errors.append((start, f"message of {pos - start - 2} bytes runs past end of file "
                              f"({size - start - 2} left)"))
    zero = _first_zero_length(data, offsets)
    if zero is not None:
        errors.append((zero, "zero-length message"))
    if errors:
        raise FeedFormatError(*min(errors))
    return offsets


def _first_zero_length(data: bytes, offsets: array) -> int | None:
    import numpy as np

    if not offsets:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    prefix = np.frombuffer(offsets, dtype=np.int64)
    zero = np.flatnonzero((buf[prefix] == 0) & (buf[prefix + 1] == 0))
    return int(prefix[zero[0]]) if len(zero) else None


def read_file(data: bytes | memoryview) -> Iterator[Message]:
    """Decode every message of a NASDAQ-format buffer, in order."""
    for offset, length in iter_framed(data):
        yield decode(data, offset, length)


def frame(body: bytes) -> bytes:
    """Prefix one encoded message with its 2-byte length."""
    if not 0 < len(body) < 1 << 16:
        raise ValueError(f"message length must be 1..65535 bytes, not {len(body)}")
    return len(body).to_bytes(2, "big") + body


def write_file(messages: Iterable[Message]) -> bytes:
    """Encode messages into one NASDAQ-format buffer."""
    return b"".join(frame(encode(m)) for m in messages)
