"""Run the server: listeners, the core's clock tick, signals, graceful shutdown.

Lifecycle (after hypercorn's): connections live in an outer nursery, the
accept loops and the ticker in an inner one. ``stop()`` (SIGINT/SIGTERM)
cancels the inner one, so nothing new is accepted; the core then sends every
client ``ERROR :Server shutting down`` and the connections get
``SHUTDOWN_GRACE`` seconds to flush it before they are cut.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import attrs
import structlog
import trio

from . import __version__
from .config import Config, parse_hostport
from .core.server import Server
from .transport.tcp import serve_tcp

SHUTDOWN_GRACE = 5.0
TICK_INTERVAL = 1.0

log = structlog.get_logger("confchat")


@attrs.define
class Running:
    """What ``serve`` hands back through ``task_status``: the bound addresses,
    the core (for tests and, later, metrics) and a way to stop."""

    core: Server
    tcp_addresses: list[tuple[str, int]]
    _stop: trio.Event

    def stop(self) -> None:
        self._stop.set()


def _core_logger(event: str, level: str = "info", **fields: Any) -> None:
    getattr(log, level)(event, **fields)


async def _open_tcp_listeners(config: Config) -> list[trio.SocketListener]:
    listeners: list[trio.SocketListener] = []
    for address in config.listen.tcp:
        host, port = parse_hostport(address)
        listeners.extend(await trio.open_tcp_listeners(port, host=host))
    return listeners


async def _ticker(core: Server) -> None:
    while True:
        await trio.sleep(TICK_INTERVAL)
        core.tick()


async def serve(config: Config, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Serve until ``Running.stop()``; bind port 0 in tests and read the real
    port from the value passed to ``task_status.started``."""
    os.makedirs(config.server.data_dir, exist_ok=True)
    core = Server(config, log=_core_logger)
    listeners = await _open_tcp_listeners(config)
    addresses = [listener.socket.getsockname()[:2] for listener in listeners]
    stop_event = trio.Event()
    running = Running(core, addresses, stop_event)
    async with trio.open_nursery() as connections:
        async with trio.open_nursery() as services:
            services.start_soon(serve_tcp, core, listeners, connections)
            services.start_soon(_ticker, core)
            for host, port in addresses:
                log.info("listener.started", transport="tcp", host=host, port=port)
            task_status.started(running)
            await stop_event.wait()
            services.cancel_scope.cancel()
        log.info("server.stopping", clients=len(core.clients))
        core.shutdown("Server shutting down")
        connections.cancel_scope.deadline = trio.current_time() + SHUTDOWN_GRACE
    log.info("server.stopped")


def _announce(running: Running, config: Config) -> None:
    """Tell the person who started the server where to connect."""
    lines = [f"confchat {__version__} is running as {config.server.name}."]
    for host, port in running.tcp_addresses:
        shown = f"[{host}]" if ":" in host else host
        lines.append(f"  IRC over TCP:  irc://{shown}:{port}   (irssi: /connect {host} {port})")
    lines.append("  Stop with Ctrl-C.")
    print("\n".join(lines), flush=True)


async def _main(config: Config) -> None:
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(serve, config)
        _announce(running, config)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.info("signal.received", signal=signal.Signals(signum).name)
                running.stop()
                break


def run(config: Config) -> None:
    """Blocking entry point for ``confchat serve``."""
    failure: BaseException | None = None
    try:
        trio.run(_main, config)
    except* OSError as group:  # e.g. address already in use
        failure = group.exceptions[0]
    if failure is not None:
        print(f"confchat: cannot start: {failure}", file=sys.stderr)
        raise SystemExit(1)
