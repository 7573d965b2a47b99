"""Subjects and the wire encoding of bus events: what goes over NATS (and into the drop copy).

Where it sits: between `sw.bus.events` (typed events) and a transport. The NATS transport encodes
every event it publishes and decodes every message it receives; the in-process transport passes
events as objects and decodes only raw payloads (`Bus.publish_raw`, e.g. from a bridge).

Subjects are ``nerve.<topic>.<symbol>``: no order ids in subjects, so a subscription per symbol or
per topic is a plain NATS subject with a ``*`` wildcard. A symbol's token is the symbol with every
character other than A-Z, a-z, 0-9 and '-' escaped as %XX (so "BRK.A" is "BRK%2EA": '.', '*' and
'>' are NATS's separators and wildcards); events about no single symbol use the token "_", which no
escaped symbol can be.

Encoding: one JSON object, ``{"v":1,"e":{<the event's fields>}}``. JSON because every service and
every tool on the desk (the NATS CLI, a log, jq, a non-Python consumer) reads it without a schema
compiler, because the events are already pydantic models (pydantic's Rust core encodes and
validates JSON in microseconds), and because integers stay exact. It is compact enough: fields
left at None are not sent, and an ExecutionReport is about 300 bytes. "v" is the wire version:
a decoder refuses any other with an error naming both. The event's "type" field names its class.

Decoding validates strictly (JSON types, FIX enumeration values, no unknown fields) and raises
`WireError` (a ValueError) saying what is wrong; the transports count such a message as malformed
and drop it, and the subscriber carries on.
"""

from __future__ import annotations

import json
import string

from pydantic import BaseModel, ConfigDict, ValidationError

from sw.bus.events import AnyEvent, Event, Topic

#: Version of the wire format written by `encode` and the only one `decode` accepts.
WIRE_VERSION = 1
#: First token of every subject.
PREFIX = "nerve"
#: Symbol token of events that name no symbol.
NO_SYMBOL = "_"
_PLAIN = frozenset(string.ascii_letters + string.digits + "-")
_HEAD = b'{"v":%d,"e":' % WIRE_VERSION


class WireError(ValueError):
    """A payload that is not a valid bus message; the text says why."""


class _Wire(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    v: int
    e: AnyEvent


def symbol_token(symbol: str | None) -> str:
    """The subject token of a symbol (None: no symbol)."""
    if symbol is None:
        return NO_SYMBOL
    return "".join(c if c in _PLAIN else "%%%02X" % ord(c) for c in symbol)


def subject_of(event: Event) -> str:
    """Where an event is published: ``nerve.<topic>.<symbol token>``."""
    return f"{PREFIX}.{event.topic}.{symbol_token(getattr(event, 'Symbol', None))}"


def subject_filter(topic: Topic | None = None, symbol: str | None = None) -> str:
    """The subject a subscription listens on: one topic or all (None), one symbol or all."""
    if topic is None:
        if symbol is not None:
            raise ValueError("a symbol filter needs a topic")
        return f"{PREFIX}.>"
    return f"{PREFIX}.{Topic(topic)}.{'*' if symbol is None else symbol_token(symbol)}"


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: '*' matches one token, a final '>' one or more."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def encode(event: Event) -> bytes:
    """The wire form of an event."""
    return _HEAD + event.model_dump_json(exclude_none=True).encode() + b"}"


def decode(payload: bytes, subject: str | None = None) -> Event:
    """The event in a payload; with `subject`, also checks the event belongs on that subject.

    Raises `WireError` for anything else: not JSON, another wire version, an unknown event type,
    a missing, extra or ill-typed field, an enumeration value FIX does not define, an event
    published on another event's subject.
    """
    try:
        wire = _Wire.model_validate_json(payload)
    except ValidationError as exc:
        raise WireError(_explain(exc, payload)) from None
    if wire.v != WIRE_VERSION:
        raise WireError(f"wire version {wire.v!r} is not supported (this build reads version "
                        f"{WIRE_VERSION})")
    if subject is not None and subject_of(wire.e) != subject:
        raise WireError(f"a {wire.e.type} for subject {subject_of(wire.e)!r} arrived on "
                        f"{subject!r}")
    return wire.e


def _explain(exc: ValidationError, payload: bytes) -> str:
    # The error path only: parse again to report the envelope's faults before the event's.
    try:
        doc = json.loads(payload)
    except ValueError as err:
        return f"not JSON ({err}): {payload[:60]!r}"
    if not isinstance(doc, dict):
        return f"not a JSON object: {payload[:60]!r}"
    if doc.get("v") != WIRE_VERSION or type(doc.get("v")) is not int:
        return (f"wire version {doc.get('v')!r} is not supported (this build reads version "
                f"{WIRE_VERSION})")
    errors = exc.errors(include_url=False, include_input=False)
    for error in errors:
        if error["type"] == "union_tag_invalid":
            return f"unknown event type: {error['msg']}"
        if error["type"] == "union_tag_not_found":
            return "the event has no 'type' field"
    details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}"
                        for e in errors[:4])
    return f"invalid bus message ({details})"
