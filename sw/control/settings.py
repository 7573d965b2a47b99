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
    # NERVE_SYMBOLS=AAPL,MSFT (comma-separated, not JSON); empty: the store's directory.
    symbols: Annotated[list[Symbol], NoDecode] = Field(
        default_factory=list, description="the symbol directory, in slot order")
    limits: Path | None = Field(None, description="limits JSON seeding an empty store")
    strategy: Path | None = Field(None, description="strategy JSON seeding an empty store")
    poll_interval: float = Field(0.2, gt=0, le=10, description="telemetry poll, seconds")

    @field_validator("symbols", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [s.strip() for s in value.split(",") if s.strip()]
        return value
