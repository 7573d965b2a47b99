"""Request and response bodies of the control plane's API, one family per resource.

The update bodies are the limit and strategy models of sw/model/config.py (one definition of
every key and bound, shared with the files and docs/limits.md), made strict as the files are:
"500" is not a quantity and 1 is not a boolean. A body that fails them is a 422 naming the key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from spec.bounds import U32
from spec.itch import PRICE_SCALE
from sw.model.config import (
    Limits,
    StrategyConfig,
    StrategyParams,
    StrategyParamsUpdate,
    Symbol,
    SymbolLimits,
    SymbolLimitsUpdate,
)

# --- limits ---------------------------------------------------------------------------------


class LimitsUpdate(SymbolLimitsUpdate):
    """A partial change of the defaults or of one symbol's override (absent: unchanged)."""

    model_config = ConfigDict(strict=True)


class ReduceOnlyPublic(BaseModel):
    position: int = Field(description="the confirmed position the bounds were taken from")
    previous: dict[str, int | None] = Field(
        description="max_long / max_short of the override to restore (null: the default)")
    since: str
    by: str


class LimitsPublic(BaseModel):
    document: Limits = Field(description="the persisted limits document")
    effective: dict[str, SymbolLimits] = Field(
        description="every directory symbol's limits as committed to the card")
    reduce_only: dict[str, ReduceOnlyPublic]


class ReduceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    side: Literal["B", "S"] = Field(description="B buys back a short, S sells a long")
    qty: int = Field(gt=0, le=U32, description="shares")
    price: Decimal = Field(gt=0, le=Decimal(U32) / PRICE_SCALE, decimal_places=4,
                           description="IOC limit price, dollars (e.g. the touch)")
    why: str | None = Field(None, max_length=200, description="recorded in the audit log")

    @property
    def price_units(self) -> int:
        return int(self.price * PRICE_SCALE)


class SymbolPublic(BaseModel):
    symbol: str
    slot: int | None = Field(description="the slot the card's map confirms for the symbol's "
                                  "stock locate; null: not bound, nothing written to the card")
    limits: SymbolLimits = Field(description="effective limits, as committed to the card")
    override: dict = Field(description="the keys this symbol overrides")
    reduce_only: ReduceOnlyPublic | None


# --- strategy -------------------------------------------------------------------------------


class StrategyParamsIn(StrategyParamsUpdate):
    model_config = ConfigDict(strict=True)


class StrategyUpdateIn(BaseModel):
    """Partial changes of the defaults and of per-symbol overrides (absent: unchanged)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    defaults: StrategyParamsIn | None = None
    symbols: dict[Symbol, StrategyParamsIn] = {}


class StrategyPublic(BaseModel):
    document: StrategyConfig
    effective: dict[str, StrategyParams] = Field(
        description="every directory symbol's parameters as committed to the card")


# --- status ---------------------------------------------------------------------------------


class StatusPublic(BaseModel):
    halted: bool
    halt_reasons: list[str]
    backend: str = Field(description="model, sim, uart or pcie")
    symbols: list[str] = Field(description="the symbol directory, in the desk's order (the "
                               "card's map gives each symbol's slot)")
    limits_loaded: bool = Field(
        description="every slot's persisted limits were staged, read back equal, committed "
                    "and checked by the card")
    strategy_loaded: bool
    load_error: str | None
    loaded_at: str | None
    counters: dict[str, int | None] = Field(
        description="the card's status registers; null: the backend does not model it")


# --- positions ------------------------------------------------------------------------------

PNL_NOTE = ("P&L comes from the OMS of a running trading loop (nerve run --api); without one "
            "it is unknown (null), not zero. Positions are the OMS's when one runs, else the "
            "host-confirmed ones in the limits document, as loaded into the card's risk gate. "
            "Money in dollars.")


class PositionPublic(BaseModel):
    symbol: str
    slot: int | None = Field(description="the slot the card's map confirms for the symbol's "
                                  "stock locate; null: not bound, nothing written to the card")
    position: int = Field(description="confirmed position, shares (+ long, - short)")
    avg_px: float | None = Field(None, description="average cost of the position, dollars")
    realised_pnl: float | None = None
    unrealised_pnl: float | None = Field(None, description="marked to the card's mid; null "
                                         "when unknown (no OMS, or no mark yet)")
    fees: float | None = None


class PositionsPublic(BaseModel):
    positions: list[PositionPublic]
    totals: dict[str, float | None] | None = Field(
        None, description="realised_pnl, unrealised_pnl, fees, net_pnl; null: no OMS")
    note: str = PNL_NOTE


class OrderPublic(BaseModel):
    clordid: str = Field(description="the chain's latest ClOrdID")
    first_clordid: str
    order_id: str
    symbol: str
    side: str
    qty: int
    price: float | None
    status: str = Field(description="FIX OrdStatus, by name (pending states while a request "
                                    "is in flight)")
    cum_qty: int
    leaves_qty: int
    avg_px: float | None
    venue: str
    flags: list[str] = Field(description="anomalies: a fill after a cancel, and the like")
    sent_ns: int
    ended_ns: int | None


class FillPublic(BaseModel):
    exec_id: str
    clordid: str
    venue: str
    symbol: str
    side: str
    qty: int
    price: float
    fee: float = Field(description="dollars; negative: a rebate")
    transact_ns: int
