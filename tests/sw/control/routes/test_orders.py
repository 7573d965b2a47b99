"""GET /api/v1/orders, /orders/{clordid}, /fills and /tca: what a running trading loop's OMS and
TCA say, read through the control plane's TradingView; 404 when no loop runs."""

from __future__ import annotations

from ..support import FILL, ORDER, Booked


def test_without_a_trading_loop_the_routes_say_none_runs(client, auth):
    for path in ("/api/v1/orders", "/api/v1/orders/NRV00000001", "/api/v1/fills",
                 "/api/v1/tca"):
        answer = client.get(path, headers=auth("viewer"))
        assert answer.status_code == 404 and "nerve run --api" in answer.json()["detail"]


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
