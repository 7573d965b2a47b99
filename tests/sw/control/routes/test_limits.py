"""/api/v1/limits: updates reach the card's registers and its gate, are persisted and audited,
all or nothing, and concurrent updates are never lost."""

from __future__ import annotations

import threading

from drivers.card import CardError
from sw.control.auth import Role
from sw.model.config import Limits, SymbolLimits
from sw.model.risk import GateLimits

from ..support import SYMBOLS, model_of


def limits_in_store(store) -> Limits:
    return Limits.model_validate(store.document("limits"))


def test_get_limits_shows_the_document_and_every_symbol_s_effective_limits(client, auth):
    body = client.get("/api/v1/limits", headers=auth("viewer")).json()
    assert body["document"]["defaults"] == SymbolLimits().model_dump()
    assert list(body["effective"]) == SYMBOLS
    assert body["reduce_only"] == {}


def test_defaults_update_reaches_every_slot_and_is_persisted(client, auth, card, store):
    response = client.put("/api/v1/limits/defaults", headers=auth("risk"),
                          json={"max_order_qty": 123, "max_order_notional": 7500.5})
    assert response.status_code == 200
    assert response.json()["effective"]["NVDA"]["max_order_qty"] == 123
    # the staged registers hold the last slot's values, and every slot's gate took them
    assert card.device.read("risk_limit_max_order_qty") == 123
    assert card.device.read("risk_limit_max_notional") == 75_005_000
    for slot in range(len(SYMBOLS)):
        assert model_of(card).slot_limits[slot].max_order_qty == 123
        assert model_of(card).slot_limits[slot].max_notional == 75_005_000
    assert limits_in_store(store).defaults.max_order_qty == 123


def test_symbol_update_changes_only_that_slot(client, auth, card, store):
    response = client.put("/api/v1/limits/symbols/MSFT", headers=auth("risk"),
                          json={"collar_bps": 25, "enabled": False})
    assert response.status_code == 200
    gate = model_of(card).slot_limits
    assert (gate[1].collar_bps, gate[1].enabled) == (25, False)
    assert all(gate[slot] == GateLimits.of(SymbolLimits()) for slot in (0, 2, 3))
    assert limits_in_store(store).symbols["MSFT"].model_dump(exclude_none=True) == {
        "collar_bps": 25, "enabled": False}


def test_update_is_audited_old_to_new(client, auth, store):
    client.put("/api/v1/limits/symbols/AAPL", headers=auth("risk"), json={"max_long": 900})
    client.put("/api/v1/limits/symbols/AAPL", headers=auth("risk"), json={"max_long": 800})
    newest, older = store.audit(2)
    assert (newest.who, newest.role, newest.action) == ("risk-user", "risk", "limits.update")
    assert newest.target == "limits.symbols.AAPL"
    assert older.old == {"override": {}, "reduce_only": None}
    assert older.new == {"override": {"max_long": 900}, "reduce_only": None}
    assert newest.old == older.new
    assert newest.new == {"override": {"max_long": 800}, "reduce_only": None}


def test_an_update_that_changes_nothing_is_not_audited(client, auth, store):
    before = len(store.audit(1000))
    response = client.put("/api/v1/limits/defaults", headers=auth("risk"),
                          json={"max_order_qty": SymbolLimits().max_order_qty})
    assert response.status_code == 200
    assert len(store.audit(1000)) == before


def test_strings_are_not_quantities_and_unknown_keys_are_refused(client, auth):
    for body, field in (({"max_order_qty": "500"}, "max_order_qty"),
                        ({"enabled": 1}, "enabled"),
                        ({"max_order_qty": 1.5}, "max_order_qty"),
                        ({"max_qty": 5}, "max_qty")):
        response = client.put("/api/v1/limits/defaults", headers=auth("risk"), json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"] == ["body", field]


def test_a_symbol_outside_the_directory_is_404(client, auth, store):
    response = client.put("/api/v1/limits/symbols/TSLA", headers=auth("risk"),
                          json={"max_long": 1})
    assert response.status_code == 404
    assert "TSLA" in response.json()["detail"]
    assert "TSLA" not in limits_in_store(store).symbols


def test_refused_commit_is_502_and_changes_nothing(client, auth, card, store, monkeypatch):
    before, audited = store.document("limits"), len(store.audit(1000))

    def refuse(slot, limits, position=None):
        raise CardError(f"the card refused the limits of slot {slot} (risk_commit_error)")

    monkeypatch.setattr(card, "commit_limits", refuse)
    response = client.put("/api/v1/limits/defaults", headers=auth("risk"),
                          json={"max_order_qty": 42})
    assert response.status_code == 502
    assert "refused the limits of slot 0" in response.json()["detail"]
    assert store.document("limits") == before
    assert len(store.audit(1000)) == audited
    assert all(lim == GateLimits.of(SymbolLimits())
               for lim in model_of(card).slot_limits[:len(SYMBOLS)])


def test_refusal_half_way_puts_the_committed_slots_back(client, auth, card, store,
                                                        monkeypatch):
    """The hardware refuses slot 2 after slots 0 and 1 took the new limits: they are
    committed back, so the card holds what it held before, and nothing is persisted."""
    model = model_of(card)
    original = model._risk_commit

    def refuse_slot_2(slot, limits, position):
        if slot == 2 and model.values["risk_limit_max_order_qty"] == 42:
            model.values["risk_commit_error"] = 1
            return
        original(slot, limits, position)

    monkeypatch.setattr(model, "_risk_commit", refuse_slot_2)
    assert client.post("/api/v1/release", headers=auth("risk")).status_code == 200
    response = client.put("/api/v1/limits/defaults", headers=auth("risk"),
                          json={"max_order_qty": 42})
    assert response.status_code == 502
    assert "slot 2" in response.json()["detail"]
    assert [lim.max_order_qty for lim in model.slot_limits[:4]] == [500] * 4
    assert limits_in_store(store).defaults.max_order_qty == 500
    # put back cleanly: no reason to halt (tests/sw/control/test_desk.py: when it cannot)
    assert not client.get("/api/v1/status", headers=auth("viewer")).json()["halted"]


def test_reload_commits_the_persisted_limits_again(client, auth, card):
    model_of(card).slot_limits[0] = GateLimits.of(SymbolLimits(max_order_qty=1))   # drifted
    response = client.post("/api/v1/limits/load", headers=auth("risk"))
    assert response.status_code == 200
    assert response.json()["limits_loaded"]
    assert model_of(card).slot_limits[0] == GateLimits.of(SymbolLimits())


KEYS = {  # key: value of the j-th update (distinct, in range)
    "max_order_qty": lambda j: 1_000 + j,
    "max_order_notional": lambda j: 10_000.0 + j,
    "collar_bps": lambda j: 200 + j,
    "max_long": lambda j: 5_000 + j,
    "max_short": lambda j: 6_000 + j,
    "max_open_orders": lambda j: 100 + j,
    "max_orders_per_sec": lambda j: 2_000 + j,
    "rate_burst": lambda j: 300 + j,
}


def test_concurrent_updates_lose_nothing_and_chain_in_the_audit(client, auth, card, store):
    """8 clients x 25 updates of different keys at once: every update lands, in the document,
    in the card and in the audit, whose rows form one unbroken old -> new chain."""
    rounds, failures = 25, []
    start = threading.Barrier(len(KEYS))

    def risk_officer(key: str) -> None:
        start.wait()
        for j in range(rounds):
            response = client.put("/api/v1/limits/defaults", headers=auth(Role.RISK),
                                  json={key: KEYS[key](j)})
            if response.status_code != 200:
                failures.append(response.text)

    threads = [threading.Thread(target=risk_officer, args=(key,)) for key in KEYS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    final = {key: value(rounds - 1) for key, value in KEYS.items()}
    defaults = limits_in_store(store).defaults.model_dump()
    assert {key: defaults[key] for key in KEYS} == final
    for slot in range(len(SYMBOLS)):
        assert model_of(card).slot_limits[slot] == GateLimits.of(
            limits_in_store(store).defaults)

    rows = [e for e in reversed(store.audit(10_000)) if e.target == "limits.defaults"]
    assert len(rows) == len(KEYS) * rounds
    assert rows[0].old == SymbolLimits().model_dump()
    for earlier, later in zip(rows, rows[1:], strict=False):
        assert later.old == earlier.new                 # nothing interleaved or lost
    for key, value in KEYS.items():
        changes = [row.new[key] for row in rows if row.old[key] != row.new[key]]
        assert changes == [value(j) for j in range(rounds)]   # each client's order kept
    assert all(sum(row.old[k] != row.new[k] for k in row.old) == 1 for row in rows)


def test_a_notional_under_one_itch_unit_is_422_before_the_card(client, auth, card, store):
    """$0.00001 is above 0 but under one ITCH unit: 0 units, which the card's gate refuses (its
    least notional is 1). The API refuses it first, naming the key, and nothing changes; the
    least the card takes, $0.0001, goes through."""
    gate_before = list(model_of(card).slot_limits)
    for path in ("/api/v1/limits/defaults", "/api/v1/limits/symbols/AAPL"):
        response = client.put(path, headers=auth("risk"), json={"max_order_notional": 0.00001})
        assert response.status_code == 422, response.json()
        detail = response.json()["detail"][0]
        assert detail["loc"] == ["body", "max_order_notional"]
        assert "greater than or equal to 0.0001" in detail["msg"]
    assert model_of(card).slot_limits == gate_before
    assert limits_in_store(store) == Limits()
    response = client.put("/api/v1/limits/symbols/AAPL", headers=auth("risk"),
                          json={"max_order_notional": 0.0001})
    assert response.status_code == 200
    assert model_of(card).slot_limits[0].max_notional == 1
