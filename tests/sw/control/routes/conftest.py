"""Fixtures of the route tests beyond the control plane's own (tests/sw/control/conftest.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sw.control.main import create_app

from ..support import Booked


@pytest.fixture
def booked(card, store, settings, tokens):
    """The app with a trading loop attached (a fixed `Booked` view), under TestClient."""
    with TestClient(create_app(card, store, settings, trading=Booked())) as client:
        yield client
