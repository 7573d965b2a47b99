"""The control plane's persistent state: tokens, the limits and strategy documents, the symbol
directory and the audit log, in one SQLite file.

Where it sits: under `Desk` (sw/control/desk.py), which changes the documents, and the
`nerve token` command. A change and its audit row are written in one transaction
(`Store.transaction()`), so the log can never miss a change nor record one that did not happen.

SQLite runs in WAL mode, so readers (the dashboard, `nerve token list`) never wait for the
writer; each thread has its own connection. Tokens are stored as their SHA-256 only.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sw.control.auth import Role, User, new_token, token_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'trader', 'risk')),
    sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (      -- 'limits', 'strategy', 'reduce_only'
    kind TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS directory (      -- the symbols the desk trades, in its order
    slot INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL UNIQUE,
    locate INTEGER                          -- the symbol's stock locate; NULL: not known
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    old TEXT,
    new TEXT
);
"""


class StoreError(ValueError):
    """A store operation that cannot be made (a token name taken, an unknown role)."""


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: Role
    created_at: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    who: str
    role: str
    action: str
    target: str
    old: object
    new: object


class Transaction:
    """Writes inside one `Store.transaction()`: all of them land, or none does."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def put_document(self, kind: str, body: object) -> None:
        self._conn.execute(
            "INSERT INTO documents (kind, body, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (kind) DO UPDATE SET body = excluded.body, "
            "updated_at = excluded.updated_at",
            (kind, json.dumps(body, sort_keys=True), utc_now()))

    def set_directory(self, symbols: Mapping[str, int | None] | Sequence[str]) -> None:
        """The symbols the desk trades, each with its stock locate (None: not known)."""
        entries = dict(symbols) if isinstance(symbols, Mapping) else dict.fromkeys(symbols)
        self._conn.execute("DELETE FROM directory")
        self._conn.executemany(
            "INSERT INTO directory (slot, symbol, locate) VALUES (?, ?, ?)",
            [(n, symbol, locate) for n, (symbol, locate) in enumerate(entries.items())])

    def audit(self, user: User, action: str, target: str, old: object, new: object) -> None:
        self._conn.execute(
            "INSERT INTO audit (at, who, role, action, target, old, new) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (utc_now(), user.name, str(user.role), action, target,
             json.dumps(old, sort_keys=True), json.dumps(new, sort_keys=True)))

    def add_token(self, name: str, role: Role, digest: str) -> None:
        try:
            self._conn.execute(
                "INSERT INTO tokens (name, role, sha256, created_at) VALUES (?, ?, ?, ?)",
                (name, str(role), digest, utc_now()))
        except sqlite3.IntegrityError:
            raise StoreError(f"a token named {name!r} already exists") from None

    def remove_token(self, name: str) -> None:
        if self._conn.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount == 0:
            raise StoreError(f"no token named {name!r}")


class Store:
    """The control plane's SQLite file (see the module doc)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        try:
            conn = self._conn()
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(directory)")}
            if "locate" not in columns:         # a store made before locates were kept
                conn.execute("ALTER TABLE directory ADD COLUMN locate INTEGER")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level None: no implicit transactions; `transaction()` says BEGIN itself.
            # check_same_thread off only so that `close()` may close every thread's connection;
            # each is still used by its own thread alone.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0,
                                   check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One write transaction; an exception inside rolls all of it back."""
        conn = self._conn()
        # IMMEDIATE takes the write lock now: another process (`nerve token add`) waits for
        # it instead of failing half-way through.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Transaction(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- documents and directory -----------------------------------------------------------

    def document(self, kind: str) -> object | None:
        row = self._conn().execute("SELECT body FROM documents WHERE kind = ?",
                                   (kind,)).fetchone()
        return None if row is None else json.loads(row[0])

    def directory(self) -> list[str]:
        return list(self.locates())

    def locates(self) -> dict[str, int | None]:
        """The directory's symbols, in order, with their stock locates (None: not known)."""
        rows = self._conn().execute(
            "SELECT symbol, locate FROM directory ORDER BY slot").fetchall()
        return dict(rows)

    # --- audit -----------------------------------------------------------------------------

    def audit(self, limit: int = 100) -> list[AuditEntry]:
        """The newest `limit` entries, newest first."""
        rows = self._conn().execute(
            "SELECT id, at, who, role, action, target, old, new FROM audit "
            "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [AuditEntry(*row[:6], json.loads(row[6]), json.loads(row[7])) for row in rows]

    # --- tokens ----------------------------------------------------------------------------

    def add_token(self, name: str, role: Role | str, by: User) -> str:
        """Make a token for `name`; returns it (the only time it exists outside its holder)."""
        try:
            role = Role(role)
        except ValueError:
            raise StoreError(f"role must be one of {', '.join(Role)}, not {role!r}") from None
        if not name or not name.isprintable() or len(name) > 64:
            raise StoreError(f"token name must be 1-64 printable characters, not {name!r}")
        token = new_token()
        with self.transaction() as tx:
            tx.add_token(name, role, token_hash(token))
            tx.audit(by, "token.add", f"token.{name}", None, {"role": str(role)})
        return token

    def remove_token(self, name: str, by: User) -> None:
        with self.transaction() as tx:
            info = {t.name: t for t in self.tokens()}.get(name)
            tx.remove_token(name)
            tx.audit(by, "token.remove", f"token.{name}",
                     {"role": str(info.role)} if info else None, None)

    def tokens(self) -> list[TokenInfo]:
        rows = self._conn().execute(
            "SELECT name, role, created_at FROM tokens ORDER BY created_at, name").fetchall()
        return [TokenInfo(name, Role(role), at) for name, role, at in rows]

    def user_for(self, token: str) -> User | None:
        """The holder of `token`, or None. Every stored hash is compared, in constant time,
        so the answer's timing says nothing about how close a guess came."""
        presented = token_hash(token)
        found = None
        for name, role, digest in self._conn().execute(
                "SELECT name, role, sha256 FROM tokens").fetchall():
            if hmac.compare_digest(presented, digest):
                found = User(name, Role(role))
        return found

    def close(self) -> None:
        """Close every thread's connection (call when no thread uses the store any more)."""
        with self._opened_lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._local = threading.local()
