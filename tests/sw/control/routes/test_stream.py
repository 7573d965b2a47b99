"""GET /api/v1/stream: server-sent telemetry events."""

from __future__ import annotations

import json

from sw.control.auth import SYSTEM, Role
from sw.control.routes import stream


def events(client, token: str):
    """Yield (event, data) pairs from the stream until the caller stops."""
    with client.stream("GET", f"/api/v1/stream?token={token}") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                yield event, json.loads(line[6:])


def test_stream_yields_telemetry_events(client, tokens):
    event, data = next(events(client, tokens[Role.VIEWER]))
    assert event == "telemetry"
    assert data["halted"] is True and data["card"]["backend"] == "model"
    assert data["limits_loaded"] is True
    assert {"rates", "counters", "rejects_by_reason", "tick_to_trade", "feed",
            "symbols"} <= set(data)


def test_a_halt_shows_in_the_stream(client, auth, tokens):
    client.post("/api/v1/release", headers=auth("risk"))
    seen, halted_at = [], None
    for _, data in events(client, tokens[Role.VIEWER]):
        seen.append(data["halted"])
        if halted_at is None and data["halted"] is False:
            client.post("/api/v1/halt", headers=auth("trader"))
            halted_at = len(seen)
        elif halted_at is not None and data["halted"]:
            assert data["halt_reasons"] == ["kill switch"]
            break
        assert len(seen) < 50, f"the halt never reached the stream: {seen}"


def test_revoking_the_token_ends_its_stream(client, store, tokens, monkeypatch):
    monkeypatch.setattr(stream, "RECHECK_S", 0.0)
    seen = 0
    for _ in events(client, tokens[Role.VIEWER]):     # ends only if the server ends it
        seen += 1
        if seen == 1:
            store.remove_token("viewer-user", SYSTEM)
        assert seen < 50, "the stream outlived its token"
    assert seen >= 1
