"""IRC over plain TCP: accept connections and hand each to ``run_connection``."""

from __future__ import annotations

import structlog
import trio

from ..core.server import Server
from .connection import run_connection

# Bytes asked of the socket per read: enough for many lines at once; the line
# decoder bounds what is kept of an unfinished line.
RECV_CHUNK = 16384

log = structlog.get_logger("confchat.tcp")


async def handle_tcp(core: Server, stream: trio.SocketStream) -> None:
    try:
        peer = stream.socket.getpeername()
        ip = peer[0] if isinstance(peer, tuple) else "unknown"
    except OSError:
        await stream.aclose()
        return
    try:
        await run_connection(
            core,
            ip,
            "tcp",
            lambda: stream.receive_some(RECV_CHUNK),
            stream.send_all,
        )
    except Exception:  # never let one connection take the listener down
        log.exception("connection.crashed", transport="tcp")
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await stream.aclose()


async def serve_tcp(
    core: Server,
    listeners: list[trio.SocketListener],
    connections: trio.Nursery,
) -> None:
    """Accept on ``listeners`` until cancelled; connections live in ``connections``
    so that they outlive the accept loop during a graceful shutdown."""

    async def accept_loop(listener: trio.SocketListener) -> None:
        async with listener:
            while True:
                try:
                    stream = await listener.accept()
                except OSError as exc:  # e.g. EMFILE: back off, keep serving
                    log.warning("accept.failed", error=str(exc))
                    await trio.sleep(0.1)
                    continue
                connections.start_soon(handle_tcp, core, stream)

    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(accept_loop, listener)
