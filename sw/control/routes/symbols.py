"""/api/v1/symbols: the symbol directory, disabling, reduce-only and reducing a position.

Risk-reducing actions (disable, enter reduce-only, reduce the position) are open to traders;
the ones that let a symbol trade more (enable, leave reduce-only) are for risk officers.
"""

from __future__ import annotations

from fastapi import APIRouter

from sw.control.deps import DeskDep, RiskOfficer, SymbolPath, Trader, Viewer
from sw.control.desk import Desk, override
from sw.control.schemas import ReduceIn, SymbolPublic

router = APIRouter(prefix="/symbols", tags=["symbols"])


def symbol_public(desk: Desk, symbol: str) -> SymbolPublic:
    limits = desk.limits()
    return SymbolPublic(symbol=symbol, slot=desk.slot_of(symbol),
                        limits=limits.for_symbol(symbol), override=override(limits, symbol),
                        reduce_only=desk.reduce_only().get(symbol))


@router.get("", response_model=list[SymbolPublic])
def read_symbols(desk: DeskDep, user: Viewer) -> list[SymbolPublic]:
    """The directory in slot order, with each symbol's effective limits."""
    return [symbol_public(desk, symbol) for symbol in desk.symbols]


@router.post("/{symbol}/disable", response_model=SymbolPublic)
def disable(symbol: SymbolPath, desk: DeskDep, user: Trader) -> SymbolPublic:
    """Reject every new order of the symbol (SYMBOL_DISABLED)."""
    desk.disable(user, symbol)
    return symbol_public(desk, symbol)


@router.post("/{symbol}/enable", response_model=SymbolPublic)
def enable(symbol: SymbolPath, desk: DeskDep, user: RiskOfficer) -> SymbolPublic:
    desk.enable(user, symbol)
    return symbol_public(desk, symbol)


@router.post("/{symbol}/reduce-only", response_model=SymbolPublic)
def enter_reduce_only(symbol: SymbolPath, desk: DeskDep, user: Trader) -> SymbolPublic:
    """Bound the symbol to its confirmed position: max_long = max(position, 0), max_short =
    max(-position, 0); only orders towards a flat position pass. Again: recompute the bounds
    from the current confirmed position."""
    desk.enter_reduce_only(user, symbol)
    return symbol_public(desk, symbol)


@router.delete("/{symbol}/reduce-only", response_model=SymbolPublic)
def leave_reduce_only(symbol: SymbolPath, desk: DeskDep, user: RiskOfficer) -> SymbolPublic:
    """Put back the max_long / max_short the symbol had before reduce-only."""
    desk.leave_reduce_only(user, symbol)
    return symbol_public(desk, symbol)


@router.post("/{symbol}/reduce", response_model=SymbolPublic, status_code=202)
def reduce_position(symbol: SymbolPath, body: ReduceIn, desk: DeskDep,
                    user: Trader) -> SymbolPublic:
    """Send an IOC order toward a flat position through the card's host order port: it passes
    the same risk gate as every order (a refusal comes back as a gate reject in /orders). 202:
    sent, not yet filled; 409 when it would not reduce the confirmed position."""
    desk.reduce_position(user, symbol, body.side, body.qty, body.price_units, body.why)
    return symbol_public(desk, symbol)
