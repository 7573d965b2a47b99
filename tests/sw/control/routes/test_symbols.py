"""/api/v1/symbols: disable / enable and reduce-only, in the card's gate and in its behaviour."""

from __future__ import annotations

import pytest

from sw.control.desk import seed_documents
from sw.model.clock import CLOCK_HZ
from sw.model.config import Limits, SymbolLimits, SymbolLimitsUpdate

from ..support import feed, model_of

DEFAULT = SymbolLimits()


@pytest.fixture
def store(store):
    seed_documents(store, limits=Limits(
        positions={"AAPL": 300, "MSFT": -200},
        symbols={"AAPL": SymbolLimitsUpdate(max_long=1_500)}))
    return store


def test_symbols_lists_the_directory_with_effective_limits(client, auth):
    body = client.get("/api/v1/symbols", headers=auth("viewer")).json()
    assert [(s["symbol"], s["slot"]) for s in body] == [
        ("AAPL", 0), ("MSFT", 1), ("NVDA", 2), ("AMZN", 3)]
    assert body[0]["limits"]["max_long"] == 1_500 and body[0]["override"] == {"max_long": 1_500}


def test_disable_and_enable_reach_the_gate_and_the_audit(client, auth, card, store):
    body = client.post("/api/v1/symbols/MSFT/disable", headers=auth("trader")).json()
    assert body["limits"]["enabled"] is False
    assert model_of(card).slot_limits[1].enabled is False
    assert model_of(card).slot_limits[0].enabled is True
    (row,) = store.audit(1)
    assert (row.action, row.who, row.target) == ("symbol.disable", "trader-user",
                                                 "limits.symbols.MSFT")
    assert row.new["override"] == {"enabled": False}
    client.post("/api/v1/symbols/MSFT/enable", headers=auth("risk"))
    assert model_of(card).slot_limits[1].enabled is True
    assert store.audit(1)[0].action == "symbol.enable"


def test_reduce_only_bounds_the_symbol_to_its_confirmed_position(client, auth, card):
    long_ = client.post("/api/v1/symbols/AAPL/reduce-only", headers=auth("trader")).json()
    short = client.post("/api/v1/symbols/MSFT/reduce-only", headers=auth("trader")).json()
    gate = model_of(card).slot_limits
    assert (gate[0].max_long, gate[0].max_short) == (300, 0)      # long 300: may only sell
    assert (gate[1].max_long, gate[1].max_short) == (0, 200)      # short 200: may only buy
    assert long_["reduce_only"]["position"] == 300
    assert long_["reduce_only"]["previous"] == {"max_long": 1_500, "max_short": None}
    assert short["reduce_only"]["by"] == "trader-user"


def test_leaving_reduce_only_restores_the_previous_limits(client, auth, card, store):
    client.post("/api/v1/symbols/AAPL/reduce-only", headers=auth("trader"))
    client.post("/api/v1/symbols/AAPL/reduce-only", headers=auth("trader"))    # again: same
    body = client.delete("/api/v1/symbols/AAPL/reduce-only", headers=auth("risk")).json()
    assert body["override"] == {"max_long": 1_500} and body["reduce_only"] is None
    gate = model_of(card).slot_limits[0]
    assert (gate.max_long, gate.max_short) == (1_500, DEFAULT.max_short)
    assert store.document("reduce_only") == {}
    leave, *_ = store.audit(1)
    assert leave.action == "symbol.reduce_only.leave"
    assert leave.old["override"] == {"max_long": 300, "max_short": 0}
    assert leave.new == {"override": {"max_long": 1_500}, "reduce_only": None}
    again = client.delete("/api/v1/symbols/AAPL/reduce-only", headers=auth("risk"))
    assert again.status_code == 409


def test_position_limits_cannot_be_changed_while_reduce_only(client, auth, card):
    client.post("/api/v1/symbols/AAPL/reduce-only", headers=auth("trader"))
    response = client.put("/api/v1/limits/symbols/AAPL", headers=auth("risk"),
                          json={"max_long": 5_000})
    assert response.status_code == 409
    assert "reduce-only" in response.json()["detail"]
    assert model_of(card).slot_limits[0].max_long == 300
    other = client.put("/api/v1/limits/symbols/AAPL", headers=auth("risk"),
                       json={"collar_bps": 10})
    assert other.status_code == 200


def test_a_flat_symbol_in_reduce_only_sends_nothing(client, auth, card):
    """NVDA is flat: reduce-only makes every quote a POSITION_LIMIT reject, while the other
    symbols trade as before."""
    client.post("/api/v1/symbols/NVDA/reduce-only", headers=auth("trader"))
    client.post("/api/v1/release", headers=auth("risk"))
    feed(card)
    out = model_of(card).fast.out
    nvda_rejects = {r.reason for r in out.rejects if r.symbol == "NVDA"}
    assert nvda_rejects == {"POSITION_LIMIT"}
    assert not [o for o in out.orders if o.symbol == "NVDA"]
    assert [o for o in out.orders if o.symbol == "AMZN" and o.msg_type == "D"]


def test_reducing_a_position_sends_a_host_order_through_the_gate_and_audits_it(
        client, auth, card, store):
    """AAPL is long 300: selling 100 at the touch goes out by the host order port (an IOC D,
    cause host); the audit names who, the position and why. Beyond the position, or the wrong
    way, is a 409 and sends nothing."""
    client.post("/api/v1/release", headers=auth("risk"))
    feed(card)
    bid = [b for b in model_of(card).fast.out.bbo if b.symbol == "AAPL"][-1].bid_px
    sent = len(model_of(card).fast.out.orders)
    model_of(card).advance(CLOCK_HZ)     # a second on: the gate's order rate allows one more
    response = client.post("/api/v1/symbols/AAPL/reduce", headers=auth("trader"),
                           json={"side": "S", "qty": 100, "price": str(bid / 10_000),
                                 "why": "desk: cut AAPL"})
    assert response.status_code == 202
    (order,) = model_of(card).fast.out.orders[sent:]
    assert (order.msg_type, order.side, order.qty, order.price, order.tif, order.cause) == (
        "D", "S", 100, bid, "3", "host")
    (row,) = store.audit(1)
    assert (row.action, row.who, row.target) == ("position.reduce", "trader-user",
                                                 "position.AAPL")
    assert row.old == {"position": 300}
    assert row.new == {"side": "S", "qty": 100, "price": bid, "why": "desk: cut AAPL"}
    for body in ({"side": "S", "qty": 301, "price": "1"}, {"side": "B", "qty": 1, "price": "1"}):
        refused = client.post("/api/v1/symbols/AAPL/reduce", headers=auth("trader"), json=body)
        assert refused.status_code == 409 and "toward flat" in refused.json()["detail"]
    bad = client.post("/api/v1/symbols/AAPL/reduce", headers=auth("trader"),
                      json={"side": "S", "qty": 0, "price": "1"})
    assert bad.status_code == 422
    assert client.post("/api/v1/symbols/AAPL/reduce", headers=auth("viewer"),
                       json={"side": "S", "qty": 1, "price": "1"}).status_code == 403
    assert len(model_of(card).fast.out.orders) == sent + 1
