"""The API's routes, one module per resource; `api_router` gathers them under /api/v1."""

from fastapi import APIRouter

from sw.control.routes import (
    audit,
    kill_switch,
    limits,
    orders,
    positions,
    status,
    strategy,
    stream,
    symbols,
)

api_router = APIRouter(prefix="/api/v1")
for module in (status, kill_switch, limits, symbols, strategy, positions, orders, audit,
               stream):
    api_router.include_router(module.router)
