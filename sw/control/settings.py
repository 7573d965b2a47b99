"""Settings of the control plane: from the environment (`NERVE_` prefix), overridden by the
command line (`nerve serve`). Validated whole at start: a bad value is one line naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sw.model.config import Symbol


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NERVE_", extra="forbid")

    backend: Literal["model", "sim", "uart", "pcie"] = Field(
        "model", description="the card behind the register map (drivers/)")
    device: str | None = Field(None, description="sim HOST:PORT, serial port or BAR file")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65_535)
    db: Path = Field(Path("nerve.db"), description="the SQLite store")
    # NERVE_SYMBOLS=AAPL=13,MSFT=2 (comma-separated, not JSON): each symbol the desk trades,
    # with its stock locate where it is known; empty: the store's directory.
    symbols: Annotated[dict[Symbol, Annotated[int, Field(ge=1, le=65_535)] | None],
                       NoDecode] = Field(
        default_factory=dict, description="the symbols traded, SYMBOL or SYMBOL=LOCATE")
    limits: Path | None = Field(None, description="limits JSON seeding an empty store")
    strategy: Path | None = Field(None, description="strategy JSON seeding an empty store")
    poll_interval: float = Field(0.2, gt=0, le=10, description="telemetry poll, seconds")

    @field_validator("symbols", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            value = [s.strip() for s in value.split(",") if s.strip()]
        if isinstance(value, list):
            entries = [s.partition("=") if isinstance(s, str) else (s, "", "") for s in value]
            names = [name.strip() for name, _, _ in entries]
            if len(set(names)) != len(names):
                raise ValueError("the symbol directory names a symbol twice")
            return {name.strip(): (locate.strip() or None) for name, _, locate in entries}
        return value
