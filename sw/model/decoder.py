"""Golden model of the ITCH 5.0 decoder: message bytes -> normalised BookEvent.

Data flow: Sequencer -> Decoder -> BookBuilder. The event record is `hw.rtl.records.BookEvent`,
shared with the RTL. Messages that do not change the book (P, and types this stage does not
model) produce no event but still count in the message index. A message of a modelled type whose
length is wrong for the type, or whose side byte is neither B nor S, is malformed: it produces no
event and the caller raises the stale flag, because the book may now be wrong.
"""

from __future__ import annotations

import struct

from hw.rtl.records import BookEvent, BookEventKind, Side, as_tuple_type

Event = as_tuple_type(BookEvent)

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
