"""Authentication and roles on every route: 401 without or with an unknown token (with
WWW-Authenticate: Bearer), 403 for a role too low, 200 for a role high enough, 422 naming the
field for a bad value."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from sw.control.auth import Role


class Route(NamedTuple):
    method: str
    path: str
    role: Role                      # the lowest role allowed
    body: dict | None = None
    bad: tuple[str, dict | None, str] | None = None   # (path, body, offending field)
    before: tuple[str, str] | None = None             # (method, path) a risk officer does first


ROUTES = (
    Route("GET", "/api/v1/status", Role.VIEWER),
    Route("POST", "/api/v1/halt", Role.TRADER),
    Route("POST", "/api/v1/release", Role.RISK),
    Route("GET", "/api/v1/limits", Role.VIEWER),
    Route("PUT", "/api/v1/limits/defaults", Role.RISK, {"max_order_qty": 300},
          bad=("/api/v1/limits/defaults", {"max_order_qty": 0}, "max_order_qty")),
    Route("PUT", "/api/v1/limits/symbols/AAPL", Role.RISK, {"collar_bps": 50},
          bad=("/api/v1/limits/symbols/AAPL", {"collar_bps": 10_001}, "collar_bps")),
    Route("POST", "/api/v1/limits/load", Role.RISK),
    Route("GET", "/api/v1/symbols", Role.VIEWER),
    Route("POST", "/api/v1/symbols/AAPL/disable", Role.TRADER,
          bad=("/api/v1/symbols/NOT_A_SYMBOL/disable", None, "symbol")),
    Route("POST", "/api/v1/symbols/AAPL/enable", Role.RISK,
          bad=("/api/v1/symbols/A%20B/enable", None, "symbol")),
    Route("POST", "/api/v1/symbols/AAPL/reduce-only", Role.TRADER),
    Route("DELETE", "/api/v1/symbols/AAPL/reduce-only", Role.RISK,
          before=("POST", "/api/v1/symbols/AAPL/reduce-only")),
    Route("GET", "/api/v1/strategy", Role.VIEWER),
    Route("PUT", "/api/v1/strategy", Role.TRADER, {"defaults": {"size": 50}},
          bad=("/api/v1/strategy", {"defaults": {"mode": "yolo"}}, "mode")),
    Route("GET", "/api/v1/positions", Role.VIEWER),
    Route("GET", "/api/v1/audit", Role.VIEWER,
          bad=("/api/v1/audit?limit=0", None, "limit")),
    Route("GET", "/api/v1/stream", Role.VIEWER),
)
IDS = [f"{r.method} {r.path}" for r in ROUTES]


def call(client, method: str, path: str, headers: dict, body: dict | None = None) -> tuple:
    """(status, headers, JSON body or None); the event stream is opened and closed."""
    with client.stream(method, path, headers=headers, json=body) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, response.headers, None
        response.read()
        return response.status_code, response.headers, response.json()


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_unauthenticated_is_401_with_bearer_challenge(client, route):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        status, answer_headers, body = call(client, route.method, route.path, headers,
                                            route.body)
        assert status == 401, headers
        assert answer_headers["www-authenticate"] == "Bearer"
        assert "token" in body["detail"]


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_each_role_is_refused_below_and_served_from_the_route_s_role(client, auth, route):
    for role in Role:
        if route.before:
            assert call(client, *route.before, auth(Role.RISK))[0] == 200
        status, _, body = call(client, route.method, route.path, auth(role), route.body)
        if role.may(route.role):
            assert status == 200, (role, body)
        else:
            assert status == 403, role
            assert f"needs the {route.role} role" in body["detail"]


@pytest.mark.parametrize("route", [r for r in ROUTES if r.bad], ids=[i for r, i in
                                                                      zip(ROUTES, IDS,
                                                                          strict=True) if r.bad])
def test_bad_value_is_422_naming_the_field(client, auth, route):
    path, body, field = route.bad
    status, _, answer = call(client, route.method, path, auth(Role.RISK), body)
    assert status == 422
    assert any(err["loc"][-1] == field for err in answer["detail"]), answer


def test_authentication_comes_before_validation(client):
    """A stranger learns nothing about the body's schema: 401 before any 422."""
    status, _, _ = call(client, "PUT", "/api/v1/limits/defaults", {}, {"max_order_qty": 0})
    assert status == 401


def test_basic_auth_scheme_is_not_a_token(client, tokens):
    headers = {"Authorization": f"Basic {tokens[Role.RISK]}"}
    assert call(client, "GET", "/api/v1/status", headers)[0] == 401


def test_stream_takes_the_token_in_the_query(client, tokens):
    status, headers, _ = call(client, "GET", f"/api/v1/stream?token={tokens[Role.VIEWER]}", {})
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")


def test_only_the_stream_takes_the_token_in_the_query(client, tokens):
    status, _, _ = call(client, "GET", f"/api/v1/status?token={tokens[Role.RISK]}", {})
    assert status == 401


def test_metrics_and_dashboard_need_no_token(client):
    assert client.get("/metrics").status_code == 200
    assert client.get("/").status_code == 200
