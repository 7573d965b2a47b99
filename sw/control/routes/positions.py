"""GET /api/v1/positions: confirmed positions and P&L (from the OMS when a trading loop runs;
otherwise the limits document's positions and P&L unknown)."""

from __future__ import annotations

from fastapi import APIRouter

from sw.control.deps import DeskDep, TradingDep, Viewer
from sw.control.schemas import PositionPublic, PositionsPublic

router = APIRouter(prefix="/positions", tags=["positions"])


@router.get("", response_model=PositionsPublic)
def read_positions(desk: DeskDep, trading: TradingDep, user: Viewer) -> PositionsPublic:
    booked = trading.positions()
    if booked is None:
        return PositionsPublic(positions=[
            PositionPublic(symbol=symbol, slot=desk.slot_of(symbol), position=position)
            for symbol, position in desk.positions().items()])
    rows = []
    for symbol in desk.symbols:
        held = booked.get(symbol, {"qty": 0, "avg_px": None, "realised_pnl": 0.0,
                                   "unrealised_pnl": 0.0, "fees": 0.0})
        rows.append(PositionPublic(symbol=symbol, slot=desk.slot_of(symbol),
                                   position=held["qty"], avg_px=held["avg_px"],
                                   realised_pnl=held["realised_pnl"],
                                   unrealised_pnl=held["unrealised_pnl"], fees=held["fees"]))
    return PositionsPublic(positions=rows, totals=trading.totals())
