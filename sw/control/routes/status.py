"""GET /api/v1/status: the card's state, live from its registers."""

from __future__ import annotations

from fastapi import APIRouter

from sw.control.deps import DeskDep, Viewer
from sw.control.desk import Desk
from sw.control.schemas import StatusPublic

router = APIRouter(prefix="/status", tags=["status"])


def status_of(desk: Desk) -> StatusPublic:
    card = desk.card.status()
    load = desk.load_state
    return StatusPublic(
        halted=card.halted, halt_reasons=list(card.halt_reasons),
        backend=desk.card.device.kind, symbols=desk.symbols,
        limits_loaded=load.limits_loaded, strategy_loaded=load.strategy_loaded,
        load_error=load.error, loaded_at=load.at, counters=card.registers)


@router.get("", response_model=StatusPublic)
def read_status(desk: DeskDep, user: Viewer) -> StatusPublic:
    """Halted or not and why, the backend, whether the persisted limits are in the card, and
    every status register (null: the backend does not model it, so it is unknown)."""
    return status_of(desk)
