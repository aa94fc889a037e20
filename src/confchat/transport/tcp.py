"""IRC over plain TCP: accept connections and hand each to ``run_connection``."""

from __future__ import annotations

from typing import Awaitable, Callable

import structlog
import trio

from ..core.server import Server
from .connection import RawSocket, run_connection

# Bytes asked of the socket per read: enough for many lines at once; the line
# decoder bounds what is kept of an unfinished line.
RECV_CHUNK = 16384

log = structlog.get_logger("confchat.tcp")


def peer_ip(stream: trio.SocketStream) -> str | None:
    """The client's address, or None if the connection is already gone."""
    try:
        peer = stream.socket.getpeername()
    except OSError:
        return None
    return peer[0] if isinstance(peer, tuple) else "unknown"


async def handle_tcp(core: Server, stream: trio.SocketStream) -> None:
    ip = peer_ip(stream)
    if ip is None:
        await stream.aclose()
        return
    try:
        await run_connection(
            core,
            ip,
            "tcp",
            lambda: stream.receive_some(RECV_CHUNK),
            stream.send_all,
            direct=RawSocket(stream.socket.fileno(), stream.send_all),
        )
    except Exception:  # never let one connection take the listener down
        log.exception("connection.crashed", transport="tcp")
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await stream.aclose()


async def accept_loops(
    listeners: list[trio.SocketListener],
    connections: trio.Nursery,
    handle: Callable[[trio.SocketStream], Awaitable[None]],
) -> None:
    """Accept on ``listeners`` until cancelled, starting ``handle(stream)``
    for each connection in ``connections``, so that connections outlive the
    accept loops during a graceful shutdown."""

    async def accept_loop(listener: trio.SocketListener) -> None:
        async with listener:
            while True:
                try:
                    stream = await listener.accept()
                except OSError as exc:  # e.g. EMFILE: back off, keep serving
                    log.warning("accept.failed", error=str(exc))
                    await trio.sleep(0.1)
                    continue
                connections.start_soon(handle, stream)

    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(accept_loop, listener)


async def serve_tcp(
    core: Server,
    listeners: list[trio.SocketListener],
    connections: trio.Nursery,
) -> None:
    """IRC over TCP on ``listeners`` until cancelled."""
    await accept_loops(listeners, connections, lambda stream: handle_tcp(core, stream))
