"""The bus events (sw.bus.events): FIX names and values, strict integer fields, immutability."""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET

import pydantic
import pytest

from spec.codes import Reason
from sw.bus.events import (
    EVENT_TYPES,
    GATE_REJECT_REASON,
    NERVE_FIELDS,
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    ExecutionReport,
    LastLiquidityInd,
    MsgType,
    OrdRejReason,
    OrdStatus,
    OrdType,
    Quote,
    SecurityTradingStatus,
    Side,
    TimeInForce,
    Topic,
)
from sw.fix.dictionary import dictionary_path

from .samples import SAMPLES, T0, fill

#: Each FIX enumeration of the bus and the FIX field whose values it takes.
FIX_ENUMS = {Side: "Side", OrdStatus: "OrdStatus", ExecType: "ExecType", MsgType: "MsgType",
             OrdType: "OrdType", TimeInForce: "TimeInForce", OrdRejReason: "OrdRejReason",
             SecurityTradingStatus: "SecurityTradingStatus", LastLiquidityInd: "LastLiquidityInd",
             CxlRejReason: "CxlRejReason", CxlRejResponseTo: "CxlRejResponseTo"}


@pytest.fixture(scope="module")
def fix44() -> dict[str, tuple[str, set[str]]]:
    """QuickFIX's FIX 4.4 fields: name -> (type, enumeration values)."""
    root = ET.parse(dictionary_path()).getroot()
    return {f.get("name"): (f.get("type"), {v.get("enum") for v in f})
            for f in root.find("fields")}


def test_every_field_not_listed_as_nerve_is_a_fix_field(fix44):
    names = {name for cls in EVENT_TYPES.values() for name in cls.model_fields}
    assert names - NERVE_FIELDS <= fix44.keys(), sorted(names - NERVE_FIELDS - fix44.keys())
    assert not NERVE_FIELDS & fix44.keys(), "a Nerve field shadows a FIX field of that name"
    assert names >= NERVE_FIELDS, "NERVE_FIELDS lists a field no event has"


@pytest.mark.parametrize("enum_class", FIX_ENUMS, ids=lambda c: c.__name__)
def test_enumerations_carry_fix_values(fix44, enum_class):
    """Every value is one FIX 4.4 defines for the field; INT fields are integers."""
    fix_type, values = fix44[FIX_ENUMS[enum_class]]
    assert {str(member.value) for member in enum_class} <= values
    assert issubclass(enum_class, enum.IntEnum) == (fix_type == "INT")


def test_events_sample_covers_every_type():
    assert sorted(type(e).__name__ for e in SAMPLES) == sorted(EVENT_TYPES)
    assert all(e.type == type(e).__name__ for e in SAMPLES)
    assert {cls.topic for cls in EVENT_TYPES.values()} == set(Topic)


def test_gate_reasons_map_to_fix_reject_reasons():
    assert set(GATE_REJECT_REASON) == set(Reason)
    assert GATE_REJECT_REASON[Reason.QTY_EXCEEDS_MAX] is OrdRejReason.ORDER_EXCEEDS_LIMIT
    assert GATE_REJECT_REASON[Reason.SYMBOL_HALTED] is OrdRejReason.EXCHANGE_CLOSED
    assert GATE_REJECT_REASON[Reason.KILL_SWITCH] is OrdRejReason.OTHER


@pytest.mark.parametrize("field, value", [
    ("BidPx", 189.99),        # a decimal price: prices are integer price units
    ("BidPx", "1899900"),     # a string is not converted
    ("BidSize", True),        # nor is a bool
    ("BidPx", -1),            # no negative prices
    ("Symbol", "AAPL "),      # no padding
    ("Symbol", "TOOLONGSYM"),  # 8 characters at most
    ("Symbol", ""),
    ("Venue", "XNAS"),        # unknown field
])
def test_fields_are_strict(field, value):
    fields = dict(Symbol="AAPL", BidPx=1_899_900, BidSize=100, TransactTime=T0) | {field: value}
    with pytest.raises(pydantic.ValidationError, match=field):
        Quote(**fields)


def test_enumeration_fields_take_members_not_letters():
    """Built in Python, an enumeration field wants its member: "S" or "2" is refused (the wire
    decoder accepts FIX values, see test_wire)."""
    with pytest.raises(pydantic.ValidationError, match="Side"):
        ExecutionReport(**(fill(1).model_dump() | {"Side": "2"}))


def test_events_are_immutable():
    report = fill(1)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        report.LastQty = 0
    assert hash(report) == hash(fill(1))
