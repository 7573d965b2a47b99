"""Risk limits and strategy parameters: the files the host loads, validated before use.

Where it sits: the host side of the register map. The golden model takes these objects directly;
the control plane (later) validates the same schemas and writes them into hardware registers.
A file that is malformed or out of range is refused whole, naming the offending key: nothing is
half-applied.

Prices are integer ITCH units (1/10000 dollar) and quantities are shares everywhere, except the
notional limit, which the file gives in dollars and which is converted once (by the card's own
conversion, spec/bounds.py `notional_units`) to integer share x ITCH-unit so the gate compares
integers.

Every numeric key's range is the card's, from the table of bounds (spec/bounds.py): a file or
an API body that passes these models is one the card's commit accepts.
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

from spec.bounds import HOST, POSITION, STRATEGY, Bound, notional_units

Symbol = Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,8}$")]


class ConfigError(ValueError):
    """A limits or strategy file that cannot be used; the message names the bad key."""


def _within(bound: Bound, default, description: str | None = None):
    """A field whose range is the card's, from the table of bounds (spec/bounds.py): a value
    accepted here is one the card accepts."""
    low, high = bound.low, bound.high
    if isinstance(low, Decimal):        # dollars: a float field, bounded by floats
        low, high = float(low), float(high)
    return Field(default, ge=low, le=high, description=description)


class _Strict(BaseModel):
    # Unknown keys are refused: a misspelt limit silently ignored is a limit not enforced.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SymbolLimits(_Strict):
    """Pre-trade limits for one symbol (every key optional in a per-symbol override)."""

    max_order_qty: int = _within(HOST["max_order_qty"], 500, "shares per order")
    max_order_notional: float = _within(
        HOST["max_order_notional"], 50_000.0,
        "dollars per order: qty * price / 10000; at least 0.0001, one ITCH unit (the card's "
        "least: less would round to 0)")
    collar_bps: int = _within(HOST["collar_bps"], 100, "max |price - mid| / mid, bps")
    max_long: int = _within(HOST["max_long"], 2_000,
                            "position + open buy qty may not exceed this, shares")
    max_short: int = _within(HOST["max_short"], 2_000,
                             "open sell qty - position may not exceed this, shares")
    max_open_orders: int = _within(HOST["max_open_orders"], 4, "live orders per symbol")
    max_orders_per_sec: int = _within(
        HOST["max_orders_per_sec"], 1_000,
        "sustained order rate, orders/s (one per ceil(156,250,000 / rate) cycles)")
    rate_burst: int = _within(HOST["rate_burst"], 10,
                              "orders that may go at once, the rest paced")
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
        return notional_units(self.max_order_notional)


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
    positions: dict[Symbol, Annotated[int, Field(ge=POSITION.low, le=POSITION.high)]] = Field(
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
    size: int = _within(STRATEGY["size"], 100, "shares per quote / take order")
    tick: int = _within(STRATEGY["tick"], 100, "price grid, ITCH units")
    half_spread_ticks: int = _within(STRATEGY["half_spread_ticks"], 2)
    skew_ticks: int = _within(STRATEGY["skew_ticks"], 1, "ticks per inventory unit")
    inventory_unit_shift: int = _within(STRATEGY["inventory_unit_shift"], 7,
                                        "inventory unit = 2**shift shares")
    requote_ticks: int = _within(STRATEGY["requote_ticks"], 1,
                                 "replace a quote only if its price moves this far")
    take_buy_at_or_below: int = _within(STRATEGY["take_buy_at_or_below"], 0,
                                        "0 = off; ITCH units")
    take_sell_at_or_above: int = _within(STRATEGY["take_sell_at_or_above"], 0,
                                         "0 = off; ITCH units")


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
