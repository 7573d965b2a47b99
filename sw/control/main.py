"""The control plane's FastAPI app: `create_app(card, store, settings)`.

Where it sits: the human side of the appliance. Risk officers, traders and viewers reach the
card (drivers/card.py) through it: limits, strategy, symbols, the kill switch, the audit log,
live telemetry (dashboard at /, events at /api/v1/stream, Prometheus at /metrics) and the
OpenAPI docs at /docs. `nerve serve` (sw/control/server.py) builds the card and the store from
the command line; tests give a model-backed card.

Start-up (the lifespan) fails closed: the card is halted, then the persisted limits and
strategy are committed to it and checked. If that fails the app still starts, stays halted
and says why in /api/v1/status. Only a risk officer's POST /api/v1/release lets it trade.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from drivers.card import Card
from drivers.device import DriverError
from sw.control.desk import Conflict, Desk, StoreFailure, UnknownSymbol
from sw.control.metrics import registry_for
from sw.control.routes import api_router, dashboard, metrics
from sw.control.settings import Settings
from sw.control.store import Store
from sw.control.telemetry import Telemetry
from sw.control.trading import NO_TRADING, TradingView

#: Domain errors -> HTTP status. A card that refuses or cannot be reached is a bad gateway; a
#: store that fails is an unavailable service.
ERROR_STATUS = ((UnknownSymbol, 404, ""), (Conflict, 409, ""), (DriverError, 502, ""),
                (StoreFailure, 503, ""), (sqlite3.Error, 503, "the store failed: "))


def create_app(card: Card, store: Store, settings: Settings | None = None, *,
               trading: TradingView = NO_TRADING, card_events: bool = True) -> FastAPI:
    """The app over `card` and `store`; `trading`: the OMS and TCA of a running trading loop
    (nerve run --api), or none (their figures are unknown). `card_events` False: the loop
    reads the card's events and hands them to the telemetry (`Telemetry.observe`)."""
    settings = settings or Settings()
    desk = Desk(card, store)
    telemetry = Telemetry(desk, interval=settings.poll_interval, trading=trading,
                          card_events=card_events)
    desk.on_change = telemetry.poke

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(desk.start)
        poller = asyncio.create_task(telemetry.run(), name="nerve-telemetry")
        try:
            yield
        finally:
            telemetry.close()
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    app = FastAPI(
        title="Nerve control plane",
        summary="Limits, strategy, kill switch, audit and telemetry of one Nerve card.",
        description=(
            "Authenticate with `Authorization: Bearer <token>` (`nerve token add`). Roles: "
            "viewer reads; trader also halts, disables symbols, enters reduce-only and tunes "
            "the strategy; risk also changes limits, enables symbols, leaves reduce-only and "
            "releases the kill switch. The card starts halted. See docs/control-plane.md."),
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.card = card
    app.state.store = store
    app.state.desk = desk
    app.state.telemetry = telemetry
    app.state.trading = trading
    app.state.registry = registry_for(telemetry)

    app.include_router(api_router)
    app.include_router(metrics.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC), name="static")

    for error, code, prefix in ERROR_STATUS:
        app.add_exception_handler(error, _error_response(code, prefix))
    return app


def _error_response(code: int, prefix: str):
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"{prefix}{exc}"}, status_code=code)
    return handle
