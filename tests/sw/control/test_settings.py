"""Settings from NERVE_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sw.control.settings import Settings


def test_environment_with_nerve_prefix(monkeypatch):
    monkeypatch.setenv("NERVE_BACKEND", "uart")
    monkeypatch.setenv("NERVE_DEVICE", "/dev/ttyUSB0")
    monkeypatch.setenv("NERVE_SYMBOLS", "AAPL=13, MSFT,NVDA = 2")
    monkeypatch.setenv("NERVE_DB", "/var/lib/nerve/control.db")
    settings = Settings()
    assert (settings.backend, settings.device) == ("uart", "/dev/ttyUSB0")
    # Each symbol with its stock locate where the configuration knows it.
    assert settings.symbols == {"AAPL": 13, "MSFT": None, "NVDA": 2}
    assert list(settings.symbols) == ["AAPL", "MSFT", "NVDA"]
    assert settings.db == Path("/var/lib/nerve/control.db")
    assert Settings(backend="model").backend == "model"          # arguments win


def test_bad_values_name_the_setting(monkeypatch):
    monkeypatch.setenv("NERVE_BACKEND", "fpga")
    with pytest.raises(ValidationError, match="backend"):
        Settings()
    with pytest.raises(ValidationError, match="symbols"):
        Settings(backend="model", symbols="AAPL,TOOLONGNAME")
    with pytest.raises(ValidationError, match="symbols.AAPL"):
        Settings(backend="model", symbols="AAPL=70000")
