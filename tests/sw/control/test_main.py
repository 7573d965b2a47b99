"""The app's lifespan: start halted, load the persisted limits, and survive a restart."""

from __future__ import annotations

from fastapi.testclient import TestClient

from drivers.card import CardError
from sw.control.main import create_app
from sw.control.store import Store
from sw.model.config import SymbolLimits
from sw.model.risk import GateLimits

from .support import model_card, model_of


def test_the_card_is_halted_at_start_even_if_it_was_released(card, store, settings, auth):
    card.subscribe()
    card.release()
    assert card.device.read("risk_halt") == 0
    with TestClient(create_app(card, store, settings)) as client:
        assert card.device.read("risk_halt") == 1
        body = client.get("/api/v1/status", headers=auth("viewer")).json()
        assert body["halted"] and body["limits_loaded"] and body["strategy_loaded"]


def test_restart_loads_the_persisted_limits_into_a_fresh_card(db, store, settings, auth):
    first = model_card()
    with TestClient(create_app(first, store, settings)) as client:
        client.put("/api/v1/limits/defaults", headers=auth("risk"), json={"max_order_qty": 77})
        client.put("/api/v1/limits/symbols/NVDA", headers=auth("risk"), json={"enabled": False})
        client.put("/api/v1/strategy", headers=auth("trader"), json={"defaults": {"size": 33}})
        client.post("/api/v1/release", headers=auth("risk"))
    store.close()

    fresh = model_card()
    assert model_of(fresh).slot_limits[0].enabled is False        # reset: every slot disabled
    reopened = Store(db)
    with TestClient(create_app(fresh, reopened, settings)) as client:
        status = client.get("/api/v1/status", headers=auth("viewer")).json()
        assert status["halted"] is True and status["limits_loaded"] is True
        assert fresh.device.read("risk_halt") == 1
        gate = model_of(fresh).slot_limits
        assert [lim.max_order_qty for lim in gate[:4]] == [77] * 4
        assert [lim.enabled for lim in gate[:4]] == [True, True, False, True]
        assert [p.size for p in model_of(fresh).slot_params[:4]] == [33] * 4
    reopened.close()


def test_a_failed_load_still_starts_halted_and_says_why(card, store, settings, auth,
                                                        monkeypatch):
    def refuse(limits, positions=True):
        raise CardError("the card refused the limits of slot 0 (risk_commit_error)")

    monkeypatch.setattr(card, "load_limits", refuse)
    with TestClient(create_app(card, store, settings)) as client:
        status = client.get("/api/v1/status", headers=auth("viewer")).json()
        assert status["halted"] and not status["limits_loaded"]
        assert "refused the limits of slot 0" in status["load_error"]
        assert client.post("/api/v1/release", headers=auth("risk")).status_code == 409
        assert card.device.read("risk_halt") == 1

        monkeypatch.undo()                     # the card takes them now: load, then release
        assert client.post("/api/v1/limits/load", headers=auth("risk")).json()["limits_loaded"]
        assert client.post("/api/v1/release", headers=auth("risk")).json()["halted"] is False
        assert model_of(card).slot_limits[0] == GateLimits.of(SymbolLimits())


def test_an_unreadable_document_starts_halted(card, store, settings, auth):
    with store.transaction() as tx:
        tx.put_document("limits", {"defaults": {"max_order_qty": -1}})
    with TestClient(create_app(card, store, settings)) as client:
        status = client.get("/api/v1/status", headers=auth("viewer")).json()
        assert status["halted"] and not status["limits_loaded"]
        assert "max_order_qty" in status["load_error"]
