"""/api/v1/limits: the limits document, its per-symbol effect, and changes to it."""

from __future__ import annotations

from fastapi import APIRouter

from sw.control.deps import DeskDep, RiskOfficer, SymbolPath, Viewer
from sw.control.desk import Desk
from sw.control.routes.status import status_of
from sw.control.schemas import LimitsPublic, LimitsUpdate, StatusPublic

router = APIRouter(prefix="/limits", tags=["limits"])


def limits_public(desk: Desk) -> LimitsPublic:
    limits = desk.limits()
    return LimitsPublic(document=limits, effective=desk.effective_limits(limits),
                        reduce_only=desk.reduce_only())


@router.get("", response_model=LimitsPublic)
def read_limits(desk: DeskDep, user: Viewer) -> LimitsPublic:
    return limits_public(desk)


@router.put("/defaults", response_model=LimitsPublic)
def update_defaults(update: LimitsUpdate, desk: DeskDep, user: RiskOfficer) -> LimitsPublic:
    """Change some default limits; every slot whose effective limits change is committed to
    the card, then persisted and audited, all or nothing (502 if the card refuses)."""
    desk.update_defaults(user, update)
    return limits_public(desk)


@router.put("/symbols/{symbol}", response_model=LimitsPublic)
def update_symbol(symbol: SymbolPath, update: LimitsUpdate, desk: DeskDep,
                  user: RiskOfficer) -> LimitsPublic:
    """Change some of one symbol's limits (its override of the defaults); as above."""
    desk.update_symbol(user, symbol, update)
    return limits_public(desk)


@router.post("/load", response_model=StatusPublic)
def load_limits(desk: DeskDep, user: RiskOfficer) -> StatusPublic:
    """Commit the persisted limits, positions and strategy to the card again (e.g. after a
    failed load at start). Does not release the kill switch."""
    desk.load(user)
    return status_of(desk)
