"""GET /api/v1/status."""

from __future__ import annotations

from drivers.card import STATUS_REGISTERS

from ..support import SYMBOLS


def test_status_reports_halt_backend_load_and_counters(client, auth):
    body = client.get("/api/v1/status", headers=auth("viewer")).json()
    assert body["halted"] is True
    assert body["halt_reasons"] == ["kill switch"]
    assert body["backend"] == "model"
    assert body["symbols"] == SYMBOLS
    assert (body["limits_loaded"], body["strategy_loaded"], body["load_error"]) == (
        True, True, None)
    assert set(body["counters"]) <= set(STATUS_REGISTERS)
    assert body["counters"]["risk_halt"] == 1


def test_registers_the_backend_does_not_model_are_null_not_zero(client, auth, card):
    counters = client.get("/api/v1/status", headers=auth("viewer")).json()["counters"]
    unmodelled = [name for name in counters if not card.device.knows(name)]
    assert "book_unreliable" in unmodelled            # the model has no book capacity flags
    assert all(counters[name] is None for name in unmodelled)
    assert all(counters[name] is not None for name in counters if name not in unmodelled)
