"""Subjects and the wire encoding (sw.bus.wire)."""

from __future__ import annotations

import json

import pytest

from sw.bus.events import RiskDecision, Topic
from sw.bus.wire import (
    WIRE_VERSION,
    WireError,
    decode,
    encode,
    subject_filter,
    subject_matches,
    subject_of,
    symbol_token,
)

from .samples import SAMPLES, fill, quote


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_round_trip(event):
    payload = encode(event)
    assert decode(payload, subject_of(event)) == event
    doc = json.loads(payload)
    assert doc["v"] == WIRE_VERSION and doc["e"]["type"] == event.type


def test_encoding_is_compact_json_with_fix_names_and_values():
    """None fields are left out; enumerations are FIX values; prices stay integers."""
    doc = json.loads(encode(fill(7)))
    assert doc == {"v": 1, "e": {
        "type": "ExecutionReport", "ExecID": "X-7", "OrderID": "V-7", "ClOrdID": "NRV00000007",
        "ExecType": "F", "OrdStatus": "2", "Symbol": "AAPL", "Side": "2", "OrderQty": 100,
        "Price": 1_000_000, "LastQty": 100, "LastPx": 1_000_000, "CumQty": 100, "LeavesQty": 0,
        "Commission": 0, "TransactTime": fill(7).TransactTime}}
    assert len(encode(fill(7))) < 300


@pytest.mark.parametrize("payload, message", [
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"e": {}}', "wire version None is not supported"),
    (b'{"v": 2, "e": {"type": "RiskDecision", "RiskAction": "HALT", "TransactTime": 1}}',
     "wire version 2 is not supported \\(this build reads version 1\\)"),
    (b'{"v": "1", "e": {}}', "wire version '1' is not supported"),
    (b'{"v": 1, "e": {"type": "Gossip"}}', "unknown event type: .*'Gossip'"),
    (b'{"v": 1, "e": {"RiskAction": "HALT"}}', "no 'type' field"),
    (b'{"v": 1, "e": {"type": "RiskDecision", "RiskAction": "PANIC", "TransactTime": 1}}',
     "RiskAction"),
    (b'{"v": 1, "e": {"type": "RiskDecision", "RiskAction": "HALT"}}', "TransactTime"),
    (b'{"v": 1, "e": {"type": "RiskDecision", "RiskAction": "HALT", "TransactTime": 1.5}}',
     "TransactTime"),
    (b'{"v": 1, "e": {"type": "RiskDecision", "RiskAction": "HALT", "TransactTime": 1, '
     b'"Venue": "X"}}', "Venue: Extra inputs are not permitted"),
    (b'{"v": 1, "x": 0, "e": {"type": "RiskDecision", "RiskAction": "HALT", "TransactTime": 1}}',
     "x: Extra inputs are not permitted"),
])
def test_malformed_payloads_say_what_is_wrong(payload, message):
    with pytest.raises(WireError, match=message):
        decode(payload)


def test_event_on_the_wrong_subject_is_refused():
    with pytest.raises(WireError, match="for subject 'nerve.market.AAPL' arrived on "
                                        "'nerve.market.MSFT'"):
        decode(encode(quote(1)), "nerve.market.MSFT")


@pytest.mark.parametrize("symbol, token", [
    ("AAPL", "AAPL"), ("BRK.A", "BRK%2EA"), ("A*B>C", "A%2AB%3EC"), ("X_Y", "X%5FY"),
    ("50%", "50%25"), ("BF-B", "BF-B"), (None, "_"),
])
def test_symbol_tokens_are_escaped_subject_tokens(symbol, token):
    assert symbol_token(symbol) == token


def test_subjects():
    assert subject_of(quote(1, "BRK.A")) == "nerve.market.BRK%2EA"
    risk = next(e for e in SAMPLES if isinstance(e, RiskDecision))
    assert subject_of(risk.model_copy(update={"Symbol": None})) == "nerve.risk._"
    assert subject_filter() == "nerve.>"
    assert subject_filter(Topic.EXECUTIONS) == "nerve.executions.*"
    assert subject_filter(Topic.MARKET, "MSFT") == "nerve.market.MSFT"
    with pytest.raises(ValueError, match="a symbol filter needs a topic"):
        subject_filter(None, "MSFT")


@pytest.mark.parametrize("pattern, subject, matches", [
    ("nerve.>", "nerve.market.AAPL", True),
    ("nerve.>", "nerve", False),
    ("nerve.market.*", "nerve.market.AAPL", True),
    ("nerve.market.*", "nerve.orders.AAPL", False),
    ("nerve.market.*", "nerve.market.AAPL.x", False),
    ("nerve.market.AAPL", "nerve.market.AAPL", True),
    ("nerve.market.AAPL", "nerve.market.AAP", False),
])
def test_subject_matching_follows_nats(pattern, subject, matches):
    assert subject_matches(pattern, subject) is matches
