"""The SQLite store: hashed tokens, documents, directory and an audit written with them."""

from __future__ import annotations

import hashlib
import sqlite3
import threading

import pytest

from sw.control.auth import SYSTEM, Role, User
from sw.control.store import Store, StoreError


def test_a_token_is_stored_as_its_sha256_only(store, db):
    token = store.add_token("alice", "risk", SYSTEM)
    assert len(token) >= 40
    rows = sqlite3.connect(db).execute("SELECT name, role, sha256 FROM tokens").fetchall()
    assert rows == [("alice", "risk", hashlib.sha256(token.encode()).hexdigest())]
    assert token.encode() not in db.read_bytes()
    assert store.user_for(token) == User("alice", Role.RISK)
    assert store.user_for(token + "x") is None
    assert store.user_for("") is None


def test_token_names_are_unique_and_roles_known(store):
    store.add_token("bob", "viewer", SYSTEM)
    with pytest.raises(StoreError, match="a token named 'bob' already exists"):
        store.add_token("bob", "risk", SYSTEM)
    with pytest.raises(StoreError, match="role must be one of viewer, trader, risk"):
        store.add_token("carol", "admin", SYSTEM)
    assert [(t.name, t.role) for t in store.tokens()] == [("bob", Role.VIEWER)]


def test_revoking_a_token_ends_its_access_and_is_audited(store):
    token = store.add_token("dave", "trader", SYSTEM)
    store.remove_token("dave", SYSTEM)
    assert store.user_for(token) is None
    entry = store.audit(1)[0]
    assert (entry.action, entry.target, entry.old, entry.new) == (
        "token.remove", "token.dave", {"role": "trader"}, None)
    with pytest.raises(StoreError, match="no token named 'dave'"):
        store.remove_token("dave", SYSTEM)


def test_a_failed_transaction_leaves_no_trace(store):
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put_document("limits", {"halted": True})
        tx.audit(SYSTEM, "limits.update", "limits", None, {"halted": True})
        raise RuntimeError("the card refused")
    assert store.document("limits") is None
    assert store.audit() == []


def test_wal_mode_and_a_connection_per_thread(store, db):
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone() == ("wal",)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(store.document("missing")))
    thread.start()
    thread.join()
    assert seen == [None]


def test_audit_is_newest_first(store):
    for n in range(5):
        with store.transaction() as tx:
            tx.audit(SYSTEM, "x", "t", n, n + 1)
    assert [e.new for e in store.audit(3)] == [5, 4, 3]
    assert store.audit(3)[0].at.endswith("+00:00")


def test_an_unopenable_database_is_one_line(tmp_path):
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(tmp_path / "no" / "such" / "dir.db")


def test_the_directory_keeps_each_symbol_s_locate_and_an_older_store_gains_the_column(tmp_path):
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE directory (slot INTEGER PRIMARY KEY, symbol TEXT NOT NULL UNIQUE)")
    conn.execute("INSERT INTO directory VALUES (0, 'AAPL')")
    conn.commit()
    conn.close()
    store = Store(old)
    assert store.locates() == {"AAPL": None} and store.directory() == ["AAPL"]
    with store.transaction() as tx:
        tx.set_directory({"MSFT": 2, "AAPL": None, "NVDA": 13})
    assert store.locates() == {"MSFT": 2, "AAPL": None, "NVDA": 13}
    assert store.directory() == ["MSFT", "AAPL", "NVDA"]
    store.close()
