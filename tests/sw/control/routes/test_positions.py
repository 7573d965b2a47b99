"""GET /api/v1/positions: the OMS's positions and P&L when a trading loop runs; without one,
the confirmed positions of the limits document and P&L unknown, never zero."""

from __future__ import annotations

import pytest

from sw.control.desk import seed_documents
from sw.model.config import Limits

from ..support import Booked


@pytest.fixture
def store(store):
    seed_documents(store, limits=Limits(positions={"MSFT": -300, "TSLA": 5}))
    return store


def test_without_a_trading_loop_positions_are_confirmed_ones_and_pnl_is_unknown(client, auth):
    body = client.get("/api/v1/positions", headers=auth("viewer")).json()
    assert [(p["symbol"], p["slot"], p["position"]) for p in body["positions"]] == [
        ("AAPL", 0, 0), ("MSFT", 1, -300), ("NVDA", 2, 0), ("AMZN", 3, 0)]
    assert all(p["realised_pnl"] is None and p["unrealised_pnl"] is None
               for p in body["positions"])
    assert body["totals"] is None
    assert "OMS" in body["note"] and "not zero" in body["note"]


def test_with_a_trading_loop_positions_and_pnl_are_the_oms(booked, auth):
    client = booked
    body = client.get("/api/v1/positions", headers=auth("viewer")).json()
    rows = {p["symbol"]: p for p in body["positions"]}
    assert (rows["AAPL"]["position"], rows["AAPL"]["avg_px"], rows["AAPL"]["realised_pnl"],
            rows["AAPL"]["unrealised_pnl"]) == (100, 150.25, 12.5, None)
    assert (rows["MSFT"]["position"], rows["MSFT"]["realised_pnl"]) == (0, 0.0)
    assert body["totals"] == Booked.TOTALS
