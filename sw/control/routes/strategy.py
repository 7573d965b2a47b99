"""/api/v1/strategy: the strategy parameters (defaults and per-symbol overrides)."""

from __future__ import annotations

from fastapi import APIRouter

from sw.control.deps import DeskDep, Trader, Viewer
from sw.control.desk import Desk, StrategyUpdate
from sw.control.schemas import StrategyPublic, StrategyUpdateIn

router = APIRouter(prefix="/strategy", tags=["strategy"])


def strategy_public(desk: Desk) -> StrategyPublic:
    return StrategyPublic(document=desk.strategy(), effective=desk.effective_strategy())


@router.get("", response_model=StrategyPublic)
def read_strategy(desk: DeskDep, user: Viewer) -> StrategyPublic:
    return strategy_public(desk)


@router.put("", response_model=StrategyPublic)
def update_strategy(update: StrategyUpdateIn, desk: DeskDep, user: Trader) -> StrategyPublic:
    """Change some parameters of the defaults and/or of symbols; the slots whose parameters
    change are committed to the card, persisted and audited, all or nothing."""
    desk.update_strategy(user, StrategyUpdate(update.defaults, update.symbols))
    return strategy_public(desk)
