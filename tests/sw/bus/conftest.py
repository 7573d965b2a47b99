"""Fixtures of the bus tests: the same tests over both transports.

`connect` opens a bus of the test's transport: in-process, or NATS against one `nats-server`
shared by the whole session (starting one takes tens of milliseconds; the fixture checks it
leaves no process behind). The drop-copy tests take `fresh_connect` instead: on NATS a server of
their own, because the drop copy delivers every report its stream has ever stored.

There is no asyncio plugin in the project: each test runs its scenario with `run()`, which also
bounds it in time so a bus that loses a message fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from sw.bus import Bus, open_bus
from sw.bus.server import NatsServer

Connect = Callable[[], Awaitable[Bus]]


def run(scenario: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
    """Run one test scenario in a fresh event loop, failing it after `timeout` seconds."""
    return asyncio.run(asyncio.wait_for(scenario, timeout))


def process_gone(pid: int) -> bool:
    """True if no process `pid` is running (a zombie, dead but not reaped, counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


async def settle(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds (polling the event loop), or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)


@contextlib.contextmanager
def started_server() -> Iterator[NatsServer]:
    """A running server, stopped (and checked gone) on exit."""
    server = NatsServer().start()
    assert server.process is not None
    pid = server.process.pid
    try:
        yield server
    finally:
        server.stop()
        assert process_gone(pid), f"nats-server {pid} still running after stop()"


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    with started_server() as server:
        yield server


@pytest.fixture(params=["local", "nats"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def connect(request: pytest.FixtureRequest, transport: str) -> Connect:
    url = request.getfixturevalue("nats_server").url if transport == "nats" else None
    return functools.partial(open_bus, url)


@pytest.fixture
def fresh_connect(transport: str) -> Iterator[Connect]:
    if transport == "local":
        yield open_bus
        return
    with started_server() as server:
        yield functools.partial(open_bus, server.url)
