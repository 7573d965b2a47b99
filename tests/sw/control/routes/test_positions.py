"""GET /api/v1/positions: confirmed positions; P&L unknown, never zero."""

from __future__ import annotations

import pytest

from sw.control.desk import seed_documents
from sw.model.config import Limits


@pytest.fixture
def store(store):
    seed_documents(store, limits=Limits(positions={"MSFT": -300, "TSLA": 5}))
    return store


def test_positions_are_confirmed_ones_and_pnl_is_unknown(client, auth):
    body = client.get("/api/v1/positions", headers=auth("viewer")).json()
    assert [(p["symbol"], p["slot"], p["position"]) for p in body["positions"]] == [
        ("AAPL", 0, 0), ("MSFT", 1, -300), ("NVDA", 2, 0), ("AMZN", 3, 0)]
    assert all(p["pnl"] is None for p in body["positions"])
    assert "OMS" in body["note"] and "not zero" in body["note"]
