"""POST /api/v1/halt and /api/v1/release: the kill switch."""

from __future__ import annotations

from fastapi import APIRouter

from sw.control.deps import DeskDep, RiskOfficer, Trader
from sw.control.routes.status import status_of
from sw.control.schemas import StatusPublic

router = APIRouter(tags=["kill switch"])


@router.post("/halt", response_model=StatusPublic)
def halt(desk: DeskDep, user: Trader) -> StatusPublic:
    """Block every new order at once; the card cancels its live orders. Traders and risk
    officers. The card is written before the audit, and never waits for a limits commit."""
    desk.halt(user)
    return status_of(desk)


@router.post("/release", response_model=StatusPublic)
def release(desk: DeskDep, user: RiskOfficer) -> StatusPublic:
    """Release the kill switch (risk officers only); 409 until the persisted limits are in
    the card. Other halt reasons (order-table fault, lost events) stay until cleared."""
    desk.release(user)
    return status_of(desk)
