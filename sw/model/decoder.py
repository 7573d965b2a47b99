"""Golden model of the ITCH 5.0 decoder: message bytes -> normalised BookEvent.

Data flow: Sequencer -> Decoder -> BookBuilder. The event record has the fields of the RTL's
`hw.rtl.records.BookEvent` (both take them from spec.itch.BOOK_EVENT_FIELDS). Messages that do
not change the book (P, and types this stage does not model) produce no event but still count in
the message index. A message of a modelled type whose length is wrong for the type, or whose side
byte is neither B nor S, is malformed: it produces no event and the caller raises the stale flag,
because the book may now be wrong.
"""

from __future__ import annotations

import struct
from array import array
from collections import namedtuple

import numpy as np

from spec.codes import BookEventKind, Side
from spec.itch import BOOK_EVENT_FIELDS
from sw.feed.itch import frame_offsets

Event = namedtuple("BookEvent", BOOK_EVENT_FIELDS)

# Offsets: type 0, locate 1-2, tracking 3-4, timestamp 5-10, body from 11.
_A = struct.Struct(">Q c I 8s I")            # ref, side, shares, stock, price  (A, F at 11)
_E = struct.Struct(">Q I")                   # ref, shares (E, C, X at 11)
_D = struct.Struct(">Q")                     # ref (D at 11)
_U = struct.Struct(">Q Q I I")               # ref, new ref, shares, price (U at 11)
_H = struct.Struct(">8s c")                  # stock, state (H at 11)
_R = struct.Struct(">8s")                    # stock (R at 11)

LENGTHS = {ord("S"): 12, ord("R"): 39, ord("H"): 25, ord("A"): 36, ord("F"): 40, ord("E"): 31,
           ord("C"): 36, ord("X"): 23, ord("D"): 19, ord("U"): 35, ord("P"): 44}

_BUY, _SELL = Side.BUY, Side.SELL
_K = BookEventKind

MALFORMED = object()  # sentinel: the message was malformed


def decode(msg: memoryview | bytes):
    """A BookEvent tuple, None (no book event), or MALFORMED."""
    size = len(msg)
    if size == 0:  # unreachable from the sequencer and file readers; kept total anyway
        return MALFORMED
    t = msg[0]
    expected = LENGTHS.get(t)
    if expected is None:
        return None
    if size != expected:
        return MALFORMED
    locate = msg[1] << 8 | msg[2]
    if t == 0x41 or t == 0x46:  # A, F
        ref, side, shares, stock, price = _A.unpack_from(msg, 11)
        if side == b"B":
            s = _BUY
        elif side == b"S":
            s = _SELL
        else:
            return MALFORMED
        return Event(_K.ADD, locate, ref, 0, s, shares, price, int.from_bytes(stock, "big"), 0)
    if t == 0x45 or t == 0x43:  # E, C
        ref, shares = _E.unpack_from(msg, 11)
        return Event(_K.EXECUTE, locate, ref, 0, _BUY, shares, 0, 0, 0)
    if t == 0x58:  # X
        ref, shares = _E.unpack_from(msg, 11)
        return Event(_K.CANCEL, locate, ref, 0, _BUY, shares, 0, 0, 0)
    if t == 0x44:  # D
        (ref,) = _D.unpack_from(msg, 11)
        return Event(_K.DELETE, locate, ref, 0, _BUY, 0, 0, 0, 0)
    if t == 0x55:  # U
        ref, new_ref, shares, price = _U.unpack_from(msg, 11)
        return Event(_K.REPLACE, locate, ref, new_ref, _BUY, shares, price, 0, 0)
    if t == 0x48:  # H
        stock, state = _H.unpack_from(msg, 11)
        return Event(_K.TRADING_STATE, locate, 0, 0, _BUY, 0, 0, int.from_bytes(stock, "big"),
                     state[0])
    if t == 0x52:  # R
        (stock,) = _R.unpack_from(msg, 11)
        return Event(_K.DIRECTORY, locate, 0, 0, _BUY, 0, 0, int.from_bytes(stock, "big"), 0)
    if t == 0x53:  # S
        return Event(_K.SYSTEM, locate, 0, 0, _BUY, 0, 0, 0, msg[11])
    return None  # P: a trade report, no change to the book


# --- batch decoding of a whole NASDAQ file ---------------------------------------------------
#
# The same mapping as `decode`, vectorised with numpy over every message of a file at once, for
# replay and benchmarks. Only the walk over the length prefixes (sw.feed.itch.frame_offsets) is
# a Python loop. It must agree
# with `decode` field for field (tests/sw/test_decoder_batch.py holds it to that).

NONE_KIND = 0        # kind column value for "no event" (P, unknown types)
MALFORMED_KIND = 15  # kind column value for malformed messages

_KIND_OF_TYPE = {ord("A"): _K.ADD, ord("F"): _K.ADD, ord("E"): _K.EXECUTE,
                 ord("C"): _K.EXECUTE, ord("X"): _K.CANCEL, ord("D"): _K.DELETE,
                 ord("U"): _K.REPLACE, ord("H"): _K.TRADING_STATE, ord("R"): _K.DIRECTORY,
                 ord("S"): _K.SYSTEM}


# Each modelled type as a packed big-endian numpy record (the spec's byte layout).
_HEADER = [("type", "u1"), ("locate", ">u2"), ("tracking", ">u2"), ("ts_hi", ">u2"),
           ("ts_lo", ">u4")]
_ADD_BODY = [("ref", ">u8"), ("side", "u1"), ("shares", ">u4"), ("stock", ">u8"),
             ("price", ">u4")]
_RECORDS = {t: np.dtype(_HEADER + body) for t, body in {
    ord("A"): _ADD_BODY,
    ord("F"): _ADD_BODY + [("attribution", "V4")],
    ord("E"): [("ref", ">u8"), ("shares", ">u4"), ("match", ">u8")],
    ord("C"): [("ref", ">u8"), ("shares", ">u4"), ("match", ">u8"), ("printable", "u1"),
               ("exec_price", ">u4")],
    ord("X"): [("ref", ">u8"), ("shares", ">u4")],
    ord("D"): [("ref", ">u8")],
    ord("U"): [("ref", ">u8"), ("new_ref", ">u8"), ("shares", ">u4"), ("price", ">u4")],
    ord("H"): [("stock", ">u8"), ("code", "u1"), ("reserved", "u1"), ("reason", "V4")],
    ord("R"): [("stock", ">u8"), ("rest", "V20")],
    ord("S"): [("code", "u1")],
}.items()}
_HEADER_RECORD = np.dtype(_HEADER)
assert all(_RECORDS[t].itemsize == LENGTHS[t] for t in _RECORDS)
# The BookEvent columns each type fills from its record (E/C/X carry no price to the book).
_COLUMNS = {t: [n for n in ("ref", "new_ref", "shares", "price", "stock", "code")
                if n in dtype.names] for t, dtype in _RECORDS.items()}


def _records(buf, starts, dtype: np.dtype):
    """The messages at `starts` as records: one row copy each through a zero-copy window."""
    if not len(starts):  # no such message; the file may be shorter than one record of this type
        return np.zeros(0, dtype)
    windows = np.lib.stride_tricks.sliding_window_view(buf, dtype.itemsize)
    return windows[starts].view(dtype).reshape(-1)


def decode_batch(data: bytes, offsets: array | None = None) -> dict:
    """Decode every message of a NASDAQ-format buffer into BookEvent columns (numpy arrays).

    Columns: the BookEvent fields (`kind` as int: 0 none, 15 malformed, else BookEventKind),
    plus `timestamp` (ITCH ns). Row i is message i of the file.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    if offsets is None:
        offsets = frame_offsets(data)
    prefix = np.frombuffer(offsets, dtype=np.int64)
    starts = prefix + 2
    n = len(starts)
    lengths = (buf[prefix].astype(np.int64) << 8) | buf[prefix + 1]
    types = buf[starts]
    cols = {name: np.zeros(n, dtype=np.uint64) for name in
            ("locate", "ref", "new_ref", "side", "shares", "price", "stock", "code", "timestamp")}
    kind = np.zeros(n, dtype=np.uint8)
    rows = np.flatnonzero(lengths >= 11)
    header = _records(buf, starts[rows], _HEADER_RECORD)
    cols["locate"][rows] = header["locate"]
    cols["timestamp"][rows] = (header["ts_hi"].astype(np.uint64) << np.uint64(32)) | header["ts_lo"]
    for t, expected in LENGTHS.items():
        of_type = types == t
        bad = of_type & (lengths != expected)
        kind[bad] = MALFORMED_KIND
        if t not in _KIND_OF_TYPE:
            continue  # P: counted, no event
        sel = np.flatnonzero(of_type & ~bad)
        kind[sel] = _KIND_OF_TYPE[t]
        rec = _records(buf, starts[sel], _RECORDS[t])
        for name in _COLUMNS[t]:
            cols[name][sel] = rec[name]
        if t in (0x41, 0x46):  # A, F: the side byte
            side = rec["side"]
            cols["side"][sel] = side == ord("S")
            kind[sel[(side != ord("B")) & (side != ord("S"))]] = MALFORMED_KIND
    cols["kind"] = kind
    return cols


FIELDS = tuple(Event._fields)


def rows_from_batch(cols: dict):
    """Per message, a plain tuple of ints in BookEvent field order (kind 0 none, 15 malformed).

    The fast way to walk a batch: no per-row object is built beyond the tuple itself.
    """
    return zip(*(cols[name].tolist() for name in FIELDS), strict=True)


NONE_ROW = (NONE_KIND,) + (0,) * (len(FIELDS) - 1)
MALFORMED_ROW = (MALFORMED_KIND,) + (0,) * (len(FIELDS) - 1)


def as_row(ev) -> tuple:
    """The row form of what `decode` returned (an Event, None or MALFORMED)."""
    if ev is None:
        return NONE_ROW
    if ev is MALFORMED:
        return MALFORMED_ROW
    return ev


def events_from_batch(cols: dict):
    """Yield, per message, a BookEvent tuple, None or MALFORMED (exactly what `decode` gives)."""
    by_value = {NONE_KIND: None, MALFORMED_KIND: MALFORMED}
    sides = (_BUY, _SELL)
    for row in rows_from_batch(cols):
        kind = row[0]
        if kind in by_value:
            yield by_value[kind]
        else:
            yield Event(BookEventKind(kind), row[1], row[2], row[3], sides[row[4]], *row[5:])
