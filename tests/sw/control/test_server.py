"""Building and running the control plane: seeding, the directory, a loopback server, and
tokens kept out of the access log."""

from __future__ import annotations

import json
import logging
import urllib.request

import pytest

from sw.control.auth import SYSTEM
from sw.control.server import TokenRedaction, build, serve_in_thread
from sw.control.settings import Settings
from sw.control.store import Store


def test_build_seeds_an_empty_store_from_the_files(tmp_path, db):
    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"defaults": {"max_order_qty": 250}}))
    said = []
    app, store = build(Settings(db=db, symbols="AAPL=13,MSFT", limits=limits), said.append)
    assert app.state.card.symbols == ["AAPL", "MSFT"]
    assert app.state.card.directory == {"AAPL": 13, "MSFT": None}
    assert store.document("limits")["defaults"]["max_order_qty"] == 250
    assert store.locates() == {"AAPL": 13, "MSFT": None}
    store.close()

    limits.write_text(json.dumps({"defaults": {"max_order_qty": 9}}))
    app, store = build(Settings(db=db, limits=limits), said.append)     # directory: stored
    assert app.state.card.directory == {"AAPL": 13, "MSFT": None}
    assert store.document("limits")["defaults"]["max_order_qty"] == 250   # the store wins
    assert said == [f"  {db} already holds the limits: {limits} not used (the store is the "
                    "record; change it through the API)"]
    store.close()


def test_build_refuses_what_it_cannot_use(tmp_path, db):
    with pytest.raises(ValueError, match="no symbol directory: pass --symbols"):
        build(Settings(db=db))
    with pytest.raises(ValueError, match="cannot open the pcie card: the pcie backend needs"):
        build(Settings(db=db, backend="pcie", symbols="AAPL"))
    bad = tmp_path / "limits.json"
    bad.write_text('{"defaults": {"max_order_qty": "500"}}')
    with pytest.raises(ValueError, match="defaults.max_order_qty"):
        build(Settings(db=db, symbols="AAPL", limits=bad))


def test_serve_in_thread_answers_on_loopback(db):
    app, store = build(Settings(db=db, symbols="AAPL"))
    token = store.add_token("v", "viewer", SYSTEM)
    with serve_in_thread(app) as url:
        assert url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(f"{url}/api/v1/status",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["halted"] is True
    store.close()


def test_tokens_are_redacted_from_access_log_lines():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d', (
                                   "127.0.0.1:5", "GET", "/api/v1/stream?token=s3cret&x=1",
                                   "1.1", 200), None)
    assert TokenRedaction().filter(record)
    assert record.getMessage() == \
        '127.0.0.1:5 - "GET /api/v1/stream?token=<redacted>&x=1 HTTP/1.1" 200'


def test_stored_store_reopens(db):
    Store(db).close()
    assert Store(db).directory() == []
