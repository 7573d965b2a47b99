"""Fixtures of the control plane's tests: a model-backed card, a store in a temporary file,
one token per role, and the app under TestClient (its lifespan runs: the card starts halted
and the persisted limits are loaded)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drivers.card import Card
from sw.control.auth import SYSTEM, Role
from sw.control.desk import Desk
from sw.control.main import create_app
from sw.control.settings import Settings
from sw.control.store import Store

from .support import ROLES, model_card


@pytest.fixture
def db(tmp_path):
    """The store's file: in memory-backed /dev/shm where there is one, because each SQLite
    commit's fsync on disk costs milliseconds and the suite commits thousands of times."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path / "control.db"
        return
    folder = Path(tempfile.mkdtemp(prefix="nerve-control-", dir=shm))
    yield folder / "control.db"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def store(db):
    store = Store(db)
    yield store
    store.close()


@pytest.fixture
def tokens(store) -> dict[Role, str]:
    return {role: store.add_token(f"{role}-user", role, SYSTEM) for role in ROLES}


@pytest.fixture
def auth(tokens):
    """auth(role) -> the Authorization header of that role's token."""
    return lambda role: {"Authorization": f"Bearer {tokens[Role(role)]}"}


@pytest.fixture
def card() -> Card:
    return model_card()


@pytest.fixture
def desk(card, store) -> Desk:
    """The desk of `card` without HTTP, started (halted, persisted documents loaded)."""
    desk = Desk(card, store)
    desk.start()
    return desk


@pytest.fixture
def settings() -> Settings:
    return Settings(poll_interval=0.1)


@pytest.fixture
def app(card, store, settings):
    return create_app(card, store, settings)


@pytest.fixture
def client(app, tokens):
    with TestClient(app) as client:
        yield client
