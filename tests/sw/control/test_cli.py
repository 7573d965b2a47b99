"""`nerve token` and `nerve serve` through the CLI's main(argv)."""

from __future__ import annotations

import hashlib
import socket
import sqlite3

import pytest

from sw.cli.main import main
from sw.control.auth import Role, User
from sw.control.store import Store


def test_token_add_prints_the_token_once_and_stores_its_hash(db, capsys):
    assert main(["token", "add", "alice", "--role", "risk", "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert len(token) == 43 and "shown this once" in err
    (digest,) = sqlite3.connect(db).execute("SELECT sha256 FROM tokens").fetchone()
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert token.encode() not in db.read_bytes()
    store = Store(db)
    assert store.user_for(token) == User("alice", Role.RISK)
    assert store.audit(1)[0].action == "token.add"
    store.close()


def test_token_list_and_revoke(db, capsys):
    main(["token", "add", "bob", "--role", "viewer", "--db", str(db)])
    main(["token", "add", "carol", "--role", "trader", "--db", str(db)])
    capsys.readouterr()
    assert main(["token", "list", "--db", str(db)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in listing] == [["bob", "viewer"], ["carol", "trader"]]
    assert main(["token", "revoke", "bob", "--db", str(db)]) == 0
    capsys.readouterr()
    main(["token", "list", "--db", str(db)])
    assert "bob" not in capsys.readouterr().out


def test_token_db_from_the_environment(db, monkeypatch, capsys):
    monkeypatch.setenv("NERVE_DB", str(db))
    assert main(["token", "add", "dan", "--role", "viewer"]) == 0
    store = Store(db)
    assert [t.name for t in store.tokens()] == ["dan"]
    store.close()


@pytest.mark.parametrize("argv, message", [
    (["token", "add", "erin", "--role", "admin"], "invalid choice: 'admin'"),
    (["token", "revoke", "nobody"], "nerve token: error: no token named 'nobody'"),
    (["serve", "--port", "http"], "invalid int value: 'http'"),
    (["serve", "--backend", "fpga"], "invalid choice: 'fpga'"),
    (["serve"], "nerve serve: error: no symbol directory: pass --symbols"),
    (["serve", "--symbols", "AAPL,AAPL"], "the symbol directory names a symbol twice"),
    (["serve", "--symbols", "AAPL,WAYTOOLONG"], "nerve serve: error: settings: symbols.WAYTOOLONG"),
    (["serve", "--symbols", "AAPL=0"], "nerve serve: error: settings: symbols.AAPL"),
    (["serve", "--symbols", "AAPL", "--backend", "uart"],
     "cannot open the uart card: the uart backend needs --device"),
])
def test_bad_input_is_one_line_and_exit_2(db, capsys, argv, message):
    """Every refusal comes before anything listens or touches a card."""
    try:
        code = main([*argv, "--db", str(db)])
    except SystemExit as exit_:          # argparse's own usage errors
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1


def test_a_port_in_use_is_one_line_and_exit_2(db, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--symbols", "AAPL", "--port", str(port), "--db", str(db)])
    assert code == 2
    assert capsys.readouterr().err == (
        f"nerve serve: error: cannot listen on 127.0.0.1:{port}: Address already in use\n")
