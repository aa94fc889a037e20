"""IRC over plain TCP: accept connections and hand each to ``run_connection``."""

from __future__ import annotations

from typing import Awaitable, Callable

import structlog
import trio

from ..core.server import Server
from .connection import RECV_CHUNK, RawSocket, run_connection
from .forwarded import TrustedProxies, canonical
from .proxy import ProxyHeaderError
from .proxy import parse as parse_proxy_header

log = structlog.get_logger("confchat.tcp")


def peer_ip(stream: trio.SocketStream) -> str | None:
    """The client's address, or None if the connection is already gone."""
    try:
        peer = stream.socket.getpeername()
    except OSError:
        return None
    return peer[0] if isinstance(peer, tuple) else "unknown"


def replay(first: bytes, receive: Callable[[], Awaitable[bytes]]) -> Callable[[], Awaitable[bytes]]:
    """``receive`` that returns ``first`` (bytes read behind a PROXY header) first."""
    pending = [first]

    async def receive_after() -> bytes:
        if pending:
            return pending.pop()
        return await receive()

    return receive_after


async def handle_tcp(core: Server, stream: trio.SocketStream, first: bytes = b"", ip: str | None = None) -> None:
    """IRC over ``stream``; ``ip`` and ``first`` (bytes already read) when a
    PROXY header gave the client's address (:func:`handle_proxied_tcp`)."""
    ip = ip or peer_ip(stream)
    if ip is None:
        await stream.aclose()
        return
    # The connection reads the socket itself (connection.py), unless bytes
    # behind a PROXY header come first.
    receive: Callable[[], Awaitable[bytes]] | None = None
    if first:
        receive = replay(first, lambda: stream.receive_some(RECV_CHUNK))
    send_all = stream.send_all  # one bound method for both
    try:
        await run_connection(core, ip, "tcp", receive, send_all, direct=RawSocket(stream.socket.fileno(), send_all))
    except Exception:  # never let one connection take the listener down
        log.exception("connection.crashed", transport="tcp")
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await stream.aclose()


class ProxyRefused(Exception):
    """A connection to a PROXY protocol listener that gets no IRC: the
    reason is logged, the connection closed."""


async def read_proxy_header(stream: trio.abc.ReceiveStream, peer: str, timeout: float) -> tuple[str, bytes]:
    """The client's address from the PROXY header that starts ``stream``
    (``peer``'s own for a LOCAL or UNKNOWN header), and what followed it.
    Raises :class:`ProxyRefused` for a bad header, end of file or
    ``timeout`` seconds without a whole header."""
    data = b""
    with trio.move_on_after(timeout):
        while True:
            try:
                header = parse_proxy_header(data)
            except ProxyHeaderError as exc:
                raise ProxyRefused(str(exc)) from None
            if header is not None:
                ip = canonical(header.source[0]) if header.source is not None else peer
                return ip, data[header.length :]
            chunk = await stream.receive_some(RECV_CHUNK)
            if not chunk:
                raise ProxyRefused("closed before a whole PROXY header")
            data += chunk
    raise ProxyRefused(f"no PROXY header within {timeout:g} seconds")


async def handle_proxied_tcp(core: Server, stream: trio.SocketStream, trusted: TrustedProxies) -> None:
    """A connection to a ``listen.proxy_protocol`` listener: only a trusted
    proxy may connect, and it must start with a valid PROXY header; then
    it is IRC from the address the header gives."""
    accepted: tuple[str, bytes] | None = None
    try:
        accepted = await _proxied_client(core, stream, trusted)
    finally:
        if accepted is None:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await stream.aclose()
    if accepted is not None:
        ip, first = accepted
        await handle_tcp(core, stream, first, ip)


async def _proxied_client(core: Server, stream: trio.SocketStream, trusted: TrustedProxies) -> tuple[str, bytes] | None:
    """(the client's address, its first bytes), or None (logged) for a
    connection that gets no IRC."""
    peer = peer_ip(stream)
    if peer is None:
        return None
    if peer not in trusted:
        core.stats.connections_refused["proxy_untrusted"] += 1
        log.warning("proxy.untrusted_peer", peer=peer, hint="add it to listen.trusted_proxies")
        return None
    try:
        return await read_proxy_header(stream, canonical(peer), core.limits.proxy_header_timeout)
    except ProxyRefused as exc:
        core.stats.connections_refused["proxy_header"] += 1
        log.warning("proxy.header_refused", peer=peer, reason=str(exc))
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    except Exception:  # never let one connection take the listener down
        log.exception("connection.crashed", transport="tcp")
    return None


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


async def serve_proxied_tcp(
    core: Server,
    listeners: list[trio.SocketListener],
    connections: trio.Nursery,
    trusted: TrustedProxies,
) -> None:
    """IRC over TCP behind a PROXY protocol proxy on ``listeners`` until cancelled."""
    await accept_loops(listeners, connections, lambda stream: handle_proxied_tcp(core, stream, trusted))
