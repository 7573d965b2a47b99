"""GET /api/v1/positions: confirmed positions; P&L is unknown until the OMS exists."""

from __future__ import annotations

from fastapi import APIRouter

from sw.control.deps import DeskDep, Viewer
from sw.control.schemas import PositionPublic, PositionsPublic

router = APIRouter(prefix="/positions", tags=["positions"])


@router.get("", response_model=PositionsPublic)
def read_positions(desk: DeskDep, user: Viewer) -> PositionsPublic:
    return PositionsPublic(positions=[
        PositionPublic(symbol=symbol, slot=desk.slot_of(symbol), position=position)
        for symbol, position in desk.positions().items()])
