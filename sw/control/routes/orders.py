"""GET /api/v1/orders (open and recent), /api/v1/orders/{clordid}, /api/v1/fills and
/api/v1/tca: the trading loop's book of record and its cost analysis, when one runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from sw.control.deps import TradingDep, Viewer
from sw.control.schemas import FillPublic, OrderPublic

router = APIRouter(tags=["orders"])
NOT_RUNNING = "no trading loop runs behind this control plane (nerve run --api starts one)"


def _running(value):
    if value is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_RUNNING)
    return value


@router.get("/orders", response_model=list[OrderPublic])
def read_orders(trading: TradingDep, user: Viewer,
                open: Annotated[bool, Query(description="only orders still live")] = False,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[dict]:
    """Order chains, newest first; each under its latest ClOrdID (first_clordid: its D's)."""
    return _running(trading.orders(open_only=open, limit=limit))


@router.get("/orders/{clordid}", response_model=OrderPublic)
def read_order(trading: TradingDep, user: Viewer, clordid: str) -> dict:
    """One order chain, by any ClOrdID it has used."""
    _running(trading.orders(open_only=True, limit=1))
    order = trading.order(clordid)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order has ClOrdID {clordid}")
    return order


@router.get("/fills", response_model=list[FillPublic])
def read_fills(trading: TradingDep, user: Viewer,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[dict]:
    """Fills, newest first (prices and fees in dollars; a negative fee is a rebate)."""
    return _running(trading.fills(limit))


@router.get("/tca")
def read_tca(trading: TradingDep, user: Viewer) -> dict:
    """TCA's aggregates (docs/tca.md): per symbol, side, venue and liquidity; latency.
    Markouts whose horizon the feed has not reached are null (unknown)."""
    return _running(trading.tca())
