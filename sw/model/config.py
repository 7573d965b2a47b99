"""Risk limits and strategy parameters: the files the host loads, validated before use.

Where it sits: the host side of the register map. The golden model takes these objects directly;
the control plane (later) validates the same schemas and writes them into hardware registers.
A file that is malformed or out of range is refused whole, naming the offending key: nothing is
half-applied.

Prices are integer ITCH units (1/10000 dollar) and quantities are shares everywhere, except the
notional limit, which the file gives in dollars and which is converted once, here, to integer
share x ITCH-unit so the gate compares integers.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)

from sw.model.encoder import MAX_QTY as MAX_ORDER_QTY  # the 8-digit OrderQty (38) field

U32 = (1 << 32) - 1
PRICE_SCALE = 10_000  # ITCH price units per dollar

Symbol = Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,8}$")]


class ConfigError(ValueError):
    """A limits or strategy file that cannot be used; the message names the bad key."""


class _Strict(BaseModel):
    # Unknown keys are refused: a misspelt limit silently ignored is a limit not enforced.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SymbolLimits(_Strict):
    """Pre-trade limits for one symbol (every key optional in a per-symbol override)."""

    max_order_qty: int = Field(500, ge=1, le=U32, description="shares per order")
    max_order_notional: float = Field(
        50_000.0, gt=0, le=1e9, description="dollars per order: qty * price / 10000")
    collar_bps: int = Field(100, ge=0, le=10_000, description="max |price - mid| / mid, bps")
    max_long: int = Field(2_000, ge=0, le=(1 << 31) - 1,
                          description="position + open buy qty may not exceed this, shares")
    max_short: int = Field(2_000, ge=0, le=(1 << 31) - 1,
                           description="open sell qty - position may not exceed this, shares")
    max_open_orders: int = Field(4, ge=0, le=255, description="live orders per symbol")
    max_orders_per_sec: int = Field(
        1_000, ge=0, le=1_000_000,
        description="sustained order rate, orders/s (one per ceil(156,250,000 / rate) cycles)")
    rate_burst: int = Field(10, ge=1, le=65_535,
                            description="orders that may go at once, the rest paced")
    enabled: bool = Field(True, description="false rejects every order: SYMBOL_DISABLED")

    @field_validator("max_order_notional")
    @classmethod
    def _finite(cls, value: float) -> float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        return value

    @property
    def max_notional_units(self) -> int:
        """max_order_notional as an integer bound on shares x ITCH price units."""
        return int(Decimal(repr(self.max_order_notional)) * PRICE_SCALE)


def _partial(model: type[_Strict], name: str, doc: str) -> type[_Strict]:
    """`model` with every key optional (None = unchanged) and the same bounds: one definition."""
    fields = {}
    for key, info in model.model_fields.items():
        bounded = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
        fields[key] = (bounded | None, None)
    partial = create_model(name, __base__=_Strict, **fields)
    partial.__doc__ = doc
    return partial


SymbolLimitsUpdate = _partial(SymbolLimits, "SymbolLimitsUpdate",
                              "A partial per-symbol override; absent keys come from the defaults.")


class Limits(_Strict):
    """The limits file: global halt, defaults, per-symbol overrides, confirmed positions."""

    halted: bool = Field(False, description="global kill switch")
    defaults: SymbolLimits = SymbolLimits()
    symbols: dict[Symbol, SymbolLimitsUpdate] = {}
    positions: dict[Symbol, Annotated[int, Field(ge=-(1 << 31), le=(1 << 31) - 1)]] = Field(
        default_factory=dict, description="host-confirmed position per symbol, shares")

    def for_symbol(self, symbol: str) -> SymbolLimits:
        override = self.symbols.get(symbol)
        if override is None:
            return self.defaults
        return self.defaults.model_copy(update=override.model_dump(exclude_none=True))

    def updated(self, symbol: str | None, update: SymbolLimitsUpdate) -> Limits:
        """These limits with a partial update of the defaults (symbol None) or of one symbol."""
        changes = update.model_dump(exclude_none=True)
        if symbol is None:
            return self.model_copy(
                update={"defaults": self.defaults.model_copy(update=changes)})
        merged = self.symbols.get(symbol, SymbolLimitsUpdate()).model_copy(update=changes)
        return self.model_copy(update={"symbols": {**self.symbols, symbol: merged}})


class StrategyParams(_Strict):
    """Per-symbol strategy parameters (see docs/golden-model.md, "Strategy")."""

    mode: Literal["quote", "take", "off"] = "quote"
    size: int = Field(100, ge=1, le=MAX_ORDER_QTY, description="shares per quote / take order")
    tick: int = Field(100, ge=1, le=1_000_000, description="price grid, ITCH units")
    half_spread_ticks: int = Field(2, ge=0, le=10_000)
    skew_ticks: int = Field(1, ge=0, le=10_000, description="ticks per inventory unit")
    inventory_unit_shift: int = Field(7, ge=0, le=31,
                                      description="inventory unit = 2**shift shares")
    requote_ticks: int = Field(1, ge=1, le=10_000,
                               description="replace a quote only if its price moves this far")
    take_buy_at_or_below: int = Field(0, ge=0, le=U32, description="0 = off; ITCH units")
    take_sell_at_or_above: int = Field(0, ge=0, le=U32, description="0 = off; ITCH units")


StrategyParamsUpdate = _partial(StrategyParams, "StrategyParamsUpdate",
                                "A partial per-symbol override of the strategy parameters.")


class StrategyConfig(_Strict):
    """The strategy file: defaults for every symbol plus per-symbol overrides."""

    defaults: StrategyParams = StrategyParams()
    symbols: dict[Symbol, StrategyParamsUpdate] = {}

    def for_symbol(self, symbol: str) -> StrategyParams:
        override = self.symbols.get(symbol)
        if override is None:
            return self.defaults
        return self.defaults.model_copy(update=override.model_dump(exclude_none=True))


def read_json(path: str | Path, name: str) -> object:
    """Parse a JSON file; any failure is a one-line ConfigError starting with `name`."""
    try:
        # Explicit UTF-8 (JSON's encoding, RFC 8259), not the locale's; a bad byte is a
        # ConfigError like any other malformed file, not a UnicodeDecodeError traceback.
        return json.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}: not valid JSON at line {exc.lineno} column {exc.colno}: "
                          f"{exc.msg}") from None


def describe(exc: ValidationError, name: str) -> str:
    """One line naming every offending key of a validation failure."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        problems.append(f"{key}: {err['msg']}")
    return f"{name}: " + "; ".join(problems)


def _load(model: type[BaseModel], source: str | Path | dict, what: str):
    if isinstance(source, dict):
        data, name = source, what
    else:
        name = f"{what} {source}"
        data = read_json(source, name)
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: top level must be a JSON object")
    try:
        # Strict mode: "500" is not a quantity, 1.5 is not a share count, 1 is not a bool.
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise ConfigError(describe(exc, name)) from None


def load_limits(source: str | Path | dict) -> Limits:
    return _load(Limits, source, "limits file")


def load_strategy(source: str | Path | dict) -> StrategyConfig:
    return _load(StrategyConfig, source, "strategy file")
