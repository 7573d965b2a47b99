"""GET /api/v1/orders, /orders/{clordid}, /fills and /tca: what a running trading loop's OMS and
TCA say, read through the control plane's TradingView; 404 when no loop runs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sw.control.main import create_app

ORDER = {"clordid": "NRV00000002", "first_clordid": "NRV00000001", "order_id": "SIM-1",
         "symbol": "AAPL", "side": "buy", "qty": 100, "price": 150.25,
         "status": "partially_filled", "cum_qty": 40, "leaves_qty": 60, "avg_px": 150.25,
         "venue": "SIM", "flags": [], "sent_ns": 1, "ended_ns": None}
FILL = {"exec_id": "SIM-E1", "clordid": "NRV00000002", "venue": "SIM", "symbol": "AAPL",
        "side": "buy", "qty": 40, "price": 150.25, "fee": 0.12, "transact_ns": 2}


class Booked:
    """A trading view with one order chain and one fill."""

    TOTALS = {"realised_pnl": 12.5, "unrealised_pnl": None, "fees": 0.12, "net_pnl": None}

    def positions(self):
        return {"AAPL": {"qty": 100, "avg_px": 150.25, "realised_pnl": 12.5,
                         "unrealised_pnl": None, "fees": 0.12}}

    def totals(self):
        return self.TOTALS

    def exposure(self):
        return {"AAPL": {"open_orders": 1, "open_buy": 100, "open_sell": 0}}

    def orders(self, *, open_only, limit):
        return [ORDER][:limit]

    def order(self, clordid):
        return ORDER if clordid in ("NRV00000001", "NRV00000002") else None

    def fills(self, limit):
        return [FILL][:limit]

    def tca(self):
        return {"fills": 1, "all": {"markout_bps": {1_000_000_000: None}}}


def test_without_a_trading_loop_the_routes_say_none_runs(client, auth):
    for path in ("/api/v1/orders", "/api/v1/orders/NRV00000001", "/api/v1/fills",
                 "/api/v1/tca"):
        answer = client.get(path, headers=auth("viewer"))
        assert answer.status_code == 404 and "nerve run --api" in answer.json()["detail"]


@pytest.fixture
def booked(card, store, settings, tokens):
    """The app with a trading loop attached, under TestClient."""
    with TestClient(create_app(card, store, settings, trading=Booked())) as client:
        yield client


def test_orders_fills_and_tca_come_from_the_loop(booked, auth):
    client = booked
    viewer = auth("viewer")
    assert client.get("/api/v1/orders?open=true", headers=viewer).json() == [ORDER]
    assert client.get("/api/v1/orders/NRV00000001", headers=viewer).json() == ORDER
    missing = client.get("/api/v1/orders/NRV99999999", headers=viewer)
    assert missing.status_code == 404 and "NRV99999999" in missing.json()["detail"]
    assert client.get("/api/v1/fills?limit=5", headers=viewer).json() == [FILL]
    assert client.get("/api/v1/tca", headers=viewer).json() == {
        "fills": 1, "all": {"markout_bps": {"1000000000": None}}}
    assert client.get("/api/v1/fills").status_code == 401


def test_the_dashboard_snapshot_takes_positions_and_live_orders_from_the_loop(booked, auth):
    """The telemetry's symbol rows use the OMS's position and live orders when a loop runs."""
    telemetry = booked.app.state.telemetry
    rows = {row["symbol"]: row for row in telemetry.poll()["symbols"]}
    assert rows["AAPL"]["position"] == 100
    assert rows["AAPL"]["open_orders"]["used"] == 1
    assert rows["AAPL"]["long"]["used"] == 100 + 100 and rows["AAPL"]["short"]["used"] == -100
    assert rows["MSFT"]["open_orders"]["used"] == 0
    trading = telemetry.poll()["trading"]
    assert trading["totals"] == Booked.TOTALS and trading["fills"] == [FILL]
