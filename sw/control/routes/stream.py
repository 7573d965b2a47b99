"""GET /api/v1/stream: the telemetry as server-sent events, for the dashboard.

This route alone also takes the token as `?token=`: a browser's EventSource cannot send an
Authorization header. The server's access log redacts it (sw/control/server.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from sw.control.deps import StoreDep, StreamViewer, TelemetryDep
from sw.control.telemetry import Telemetry

router = APIRouter(prefix="/stream", tags=["telemetry"])

KEEPALIVE_S = 15.0
RECHECK_S = 10.0       # how often an open stream checks that its token still exists


async def telemetry_events(telemetry: Telemetry,
                           still_allowed: Callable[[], bool]) -> AsyncIterator[str]:
    """`event: telemetry` with each new snapshot as JSON; a comment line when idle, so
    proxies and the browser keep the connection. Ends when the token is revoked."""
    yield "retry: 2000\n\n"
    version, checked = 0, time.monotonic()
    while not telemetry.closed:
        if time.monotonic() - checked > RECHECK_S:
            if not await asyncio.to_thread(still_allowed):
                return
            checked = time.monotonic()
        snapshot = await telemetry.next(version, timeout=KEEPALIVE_S)
        if snapshot is None:
            yield ": keep-alive\n\n"
            continue
        version = snapshot["version"]
        yield f"event: telemetry\nid: {version}\ndata: {json.dumps(snapshot)}\n\n"


@router.get("", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(telemetry: TelemetryDep, store: StoreDep,
                 user: StreamViewer) -> StreamingResponse:
    """Telemetry snapshots as they are polled (every ~200 ms, and at once after a change).
    Takes the token as `?token=` too: EventSource cannot send an Authorization header."""
    def still_allowed() -> bool:
        return any(t.name == user.name and t.role == user.role for t in store.tokens())

    return StreamingResponse(telemetry_events(telemetry, still_allowed),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
