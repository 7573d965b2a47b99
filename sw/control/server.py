"""Running the control plane: `nerve serve`, and a loopback server for tests and benchmarks.

`build()` opens the card on the chosen backend with the symbol directory (from --symbols, else
the store's), seeds an empty store from --limits / --strategy, and makes the app; `serve()`
runs it under uvicorn. `serve_in_thread()` runs an app on a free loopback port in a thread.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from drivers import open_device
from drivers.card import Card
from drivers.device import DriverError
from sw.control.desk import seed_documents
from sw.control.main import create_app
from sw.control.settings import Settings
from sw.control.store import Store
from sw.model.config import load_limits, load_strategy

#: Seconds uvicorn waits for open event streams on shutdown before closing them.
GRACEFUL_SHUTDOWN_S = 2


class TokenRedaction(logging.Filter):
    """Blanks `token=...` in access-log lines: the event stream takes the token in its query
    string (EventSource cannot send headers), and a token must not land in a log file."""

    PATTERN = re.compile(r"([?&]token=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.PATTERN.sub(r"\1<redacted>", a) if isinstance(a, str)
                                else a for a in record.args)
        return True


class ControlServer(uvicorn.Server):
    """uvicorn, ending the app's event streams first when it shuts down: they never end by
    themselves, and uvicorn waits for open responses before it stops."""

    async def shutdown(self, sockets=None) -> None:
        self.config.app.state.telemetry.close()
        await super().shutdown(sockets)


def build(settings: Settings, say: Callable[[str], None] = print) -> tuple[FastAPI, Store]:
    """The app for `settings` and its store (the caller closes both: `store.close()`,
    `app.state.card.device.close()`); ValueError (one line) for anything that cannot be used.
    The sim backend without --device builds and starts a simulated card (drivers/sim.py)."""
    limits = load_limits(settings.limits) if settings.limits else None
    strategy = load_strategy(settings.strategy) if settings.strategy else None
    store = Store(settings.db)
    device = None
    try:
        symbols = settings.symbols or store.locates()
        if not symbols:
            raise ValueError(f"no symbol directory: pass --symbols A=1,B=2,... (the store "
                             f"{settings.db} has none yet)")
        try:
            device = open_device(settings.backend, settings.device)
            card = Card(device, symbols)
        except DriverError as exc:
            raise ValueError(f"cannot open the {settings.backend} card: {exc}") from None
        wrote = seed_documents(store, limits=limits, strategy=strategy, symbols=symbols)
    except BaseException:
        if device is not None:
            device.close()
        store.close()
        raise
    for kind, given in (("limits", settings.limits), ("strategy", settings.strategy)):
        if given and kind not in wrote:
            say(f"  {settings.db} already holds the {kind}: {given} not used "
                f"(the store is the record; change it through the API)")
    return create_app(card, store, settings), store


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (0: a free port); ValueError if it cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[0]
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they
        # are TCP, and without it a kept-alive connection waits ~40 ms (delayed ACK) for
        # every response.
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def serve(settings: Settings, say: Callable[[str], None] = print) -> None:
    sock = listening_socket(settings.host, settings.port)
    try:
        app, store = build(settings, say)
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(app, log_level="info", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    logging.getLogger("uvicorn.access").addFilter(TokenRedaction())
    directory = app.state.card.directory
    listed = ", ".join(s if loc is None else f"{s}={loc}" for s, loc in directory.items())
    say(f"nerve serve: {settings.backend} card, symbols {listed} (slots from the card's map), "
        f"store {settings.db}")
    say(f"  listening on http://{settings.host}:{sock.getsockname()[1]}/ (dashboard), /docs "
        "(API), /metrics (Prometheus)")
    say("  the card starts HALTED: a risk officer releases it (POST /api/v1/release)")
    try:
        ControlServer(config).run(sockets=[sock])
    finally:
        app.state.card.device.close()      # e.g. stops a simulated card this process started
        store.close()
        sock.close()


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", timeout: float = 10.0, *,
                    port: int = 0) -> Iterator[str]:
    """Run `app` on `port` of `host` (0: a free one) in a thread; yields its base URL, stops
    on exit."""
    sock = listening_socket(host, port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
    server = ControlServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="nerve-control", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the control plane did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
