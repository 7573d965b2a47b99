"""GET /: the dashboard page and its static files (no build step, nothing external)."""

from __future__ import annotations

import re


def test_dashboard_page_and_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for element in ('id="halt"', 'id="release"', 'id="token"', 'id="state"'):
        assert element in page.text
    for asset in ("/static/dashboard.js", "/static/dashboard.css"):
        assert asset in page.text
        assert client.get(asset).status_code == 200


def test_nothing_is_loaded_from_outside(client):
    for path in ("/", "/static/dashboard.js", "/static/dashboard.css"):
        text = client.get(path).text
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), path
        assert "cdn" not in text.lower()


def test_the_page_keeps_its_token_per_tab_and_streams_with_it(client):
    script = client.get("/static/dashboard.js").text
    assert "sessionStorage" in script and "localStorage" not in script
    assert "/api/v1/stream?token=" in script
    assert "Bearer" in script
    assert "innerHTML" not in script                    # values are text, never markup


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/status", "/api/v1/halt", "/api/v1/limits/defaults",
            "/api/v1/symbols/{symbol}/reduce-only", "/metrics"} <= set(paths)
