"""GET /metrics: Prometheus text exposition (unauthenticated, as scrapers expect; it carries
counters and flags only, nothing that steers the card)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from sw.control.metrics import exposition

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    return Response(exposition(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
