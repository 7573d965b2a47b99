"""POST /api/v1/halt and /release: the card's kill switch, audited."""

from __future__ import annotations

import sqlite3

from ..support import model_of


def test_release_then_halt_changes_status_and_the_register(client, auth, card):
    assert card.device.read("risk_halt") == 1                        # started halted
    released = client.post("/api/v1/release", headers=auth("risk")).json()
    assert (released["halted"], released["halt_reasons"]) == (False, [])
    assert card.device.read("risk_halt") == 0
    assert not model_of(card).fast.gate.halted
    halted = client.post("/api/v1/halt", headers=auth("trader")).json()
    assert (halted["halted"], halted["halt_reasons"]) == (True, ["kill switch"])
    assert card.device.read("risk_halt") == 1
    assert model_of(card).fast.gate.halted
    assert client.get("/api/v1/status", headers=auth("viewer")).json()["halted"]


def test_halt_and_release_are_audited_with_who_and_old_state(client, auth, store):
    client.post("/api/v1/release", headers=auth("risk"))
    client.post("/api/v1/halt", headers=auth("trader"))
    halt, release = store.audit(2)
    assert (release.action, release.who, release.old, release.new) == (
        "release", "risk-user", {"halted": True}, {"halted": False})
    assert (halt.action, halt.who, halt.role, halt.old, halt.new) == (
        "halt", "trader-user", "trader", {"halted": False}, {"halted": True})


def test_release_is_refused_until_the_limits_are_loaded(client, auth, app, card):
    app.state.desk.load_state.limits_loaded = False
    response = client.post("/api/v1/release", headers=auth("risk"))
    assert response.status_code == 409
    assert "not loaded" in response.json()["detail"]
    assert card.device.read("risk_halt") == 1


def test_halt_acts_even_when_the_store_fails(client, auth, app, card, monkeypatch):
    client.post("/api/v1/release", headers=auth("risk"))

    def broken():
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(app.state.store, "transaction", broken)
    response = client.post("/api/v1/halt", headers=auth("trader"))
    assert response.status_code == 503
    assert "the card is halted" in response.json()["detail"]
    assert card.device.read("risk_halt") == 1


def test_release_is_not_made_when_it_cannot_be_audited(client, auth, app, card, monkeypatch):
    def broken():
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(app.state.store, "transaction", broken)
    response = client.post("/api/v1/release", headers=auth("risk"))
    assert response.status_code == 503
    assert response.json()["detail"] == "the store failed: database is locked"
    assert card.device.read("risk_halt") == 1
