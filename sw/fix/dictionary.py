"""Validate raw FIX 4.4 messages against QuickFIX's own FIX 4.4 data dictionary.

This is the independent referee for the golden-model encoder (and, later, for the RTL's egress
bytes): nothing here shares code with sw/model/encoder.py.

`validate(raw)` checks, in this order:

1. framing (ours, textual): ASCII only, starts with ``8=FIX.4.4<SOH>9=``, ends with exactly one
   ``<SOH>10=nnn<SOH>`` trailer;
2. BodyLength and CheckSum, by QuickFIX's parser: ``quickfix.Message(text, dd, True)`` (the
   third argument turns on ``Message::validate``, which compares both against the bytes);
3. the data dictionary: ``dd.validate(message)`` (QuickFIX's ``DataDictionary::validate`` with
   this dictionary as both session and application dictionary): required header, body and
   trailer tags, tags defined for the message type, enum values (Side 54, OrdType 40, ...),
   field formats (int, qty, price, UTCTimestamp), field order;
4. tags the project requires beyond the dictionary. QuickFIX's FIX44.xml marks the Instrument
   and OrderQtyData components' fields optional (a security may be named by SecurityID, a size
   by CashOrderQty), so a D without Symbol 55 passes step 3. Nerve always names the symbol and
   the share quantity, and FIX requires Price 44 when OrdType 40 is 2 (limit); step 4 enforces
   55 and 38 on D/G/F and 44 on limit D/G.

Every failure raises `FixValidationError` (a ValueError) carrying QuickFIX's reason text.

QuickFIX's Python package installs its dictionaries as data files at
``<sys.prefix>/share/quickfix/FIX44.xml``; `dictionary_path()` finds it there.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

import quickfix

SOH = b"\x01"
#: Trailer: SOH, tag 10, three-digit checksum, SOH.
_TRAILER = re.compile(rb"\x0110=[0-9]{3}\x01")
_HEAD = b"8=FIX.4.4" + SOH + b"9="
#: Tags Nerve requires per message type on top of QuickFIX's FIX44.xml (see step 4 above).
EXTRA_REQUIRED = {"D": (55, 38), "G": (55, 38), "F": (55, 38)}
_LIMIT_NEEDS_PRICE = ("D", "G")


class FixValidationError(ValueError):
    """A raw message QuickFIX (or the framing/extra checks) refuses; the text says why."""


def dictionary_path() -> Path:
    """QuickFIX's FIX44.xml, as installed by the `quickfix` package under sys.prefix."""
    path = Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml"
    if not path.is_file():
        raise FileNotFoundError(
            f"QuickFIX FIX 4.4 data dictionary not found at {path} (installed by the quickfix "
            f"package as <sys.prefix>/share/quickfix/FIX44.xml; is quickfix installed in this "
            f"environment?)")
    return path


@functools.cache
def data_dictionary() -> quickfix.DataDictionary:
    """The loaded dictionary (parsed once per process)."""
    return quickfix.DataDictionary(str(dictionary_path()))


def _fail(what: str, exc: BaseException | None = None) -> FixValidationError:
    if exc is None:
        return FixValidationError(what)
    return FixValidationError(f"{what}: {type(exc).__name__}: {exc}")


def validate(raw: bytes) -> quickfix.Message:
    """Parse and validate one complete FIX 4.4 message; return QuickFIX's parsed Message."""
    if not isinstance(raw, bytes | bytearray):
        raise TypeError(f"raw FIX must be bytes, not {type(raw).__name__}")
    raw = bytes(raw)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise _fail(f"non-ASCII byte at offset {exc.start}") from None
    if not raw.startswith(_HEAD):
        raise _fail("does not start with 8=FIX.4.4<SOH>9=")
    trailers = list(_TRAILER.finditer(raw))
    if not trailers or trailers[-1].end() != len(raw):
        raise _fail("does not end with a <SOH>10=nnn<SOH> trailer")
    if len(trailers) > 1:
        raise _fail(f"more than one message (a trailer at offset {trailers[0].start() + 1})")
    dd = data_dictionary()
    try:
        message = quickfix.Message(text, dd, True)
    except quickfix.FIXException as exc:
        raise _fail("QuickFIX parse", exc) from None
    try:
        dd.validate(message)
    except quickfix.FIXException as exc:
        raise _fail("QuickFIX FIX44 dictionary", exc) from None
    _check_extra(message)
    return message


def _get(fields: quickfix.FieldMap, tag: int) -> str | None:
    if not fields.isSetField(tag):
        return None
    return fields.getField(tag)


def _check_extra(message: quickfix.Message) -> None:
    msg_type = message.getHeader().getField(35)
    for tag in EXTRA_REQUIRED.get(msg_type, ()):
        if _get(message, tag) is None:
            raise _fail(f"Nerve rule: required tag missing: {tag} (35={msg_type})")
    if msg_type in _LIMIT_NEEDS_PRICE and _get(message, 40) == "2" and _get(message, 44) is None:
        raise _fail(f"Nerve rule: required tag missing: 44 (35={msg_type} with 40=2)")


def split_messages(stream: bytes) -> list[bytes]:
    """Split a concatenation of FIX messages (e.g. orders.fix) after each 10=nnn trailer.

    Raises FixValidationError if a piece does not start with 8= or bytes follow the last
    trailer (a truncated stream); offsets are byte offsets into `stream`.
    """
    messages, start = [], 0
    for match in _TRAILER.finditer(stream):
        piece = stream[start:match.end()]
        if not piece.startswith(b"8="):
            raise _fail(f"message at offset {start} does not start with 8=")
        messages.append(piece)
        start = match.end()
    if start != len(stream):
        raise _fail(f"{len(stream) - start} bytes after the last trailer, at offset {start}")
    return messages
