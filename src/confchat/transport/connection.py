"""Drive one client connection: read lines into the core, write its outbox out.

Shared by every transport: TCP here, WebSocket later. A transport supplies a
``receive()`` that returns the next chunk of bytes (b"" at end of file) and a
``send(data)`` that writes a chunk; this module owns the two tasks and their
shutdown rules:

* the reader feeds the :class:`LineDecoder` and the core, and sleeps the flood
  delay the core asks for (so a flood slows only the flooder);
* the writer sleeps until the outbox has bytes, then writes them all in one
  call (coalescing whatever queued meanwhile);
* once the core closes the outbox (QUIT, KILL, SendQ exceeded, shutdown), the
  writer flushes the final ERROR line and the connection ends; a peer that does
  not read even that is cut off after ``CLOSE_GRACE`` seconds.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import structlog
import trio

from ..core.client import Client
from ..core.outbox import Outbox
from ..core.server import Server
from ..proto.codec import LineDecoder

# Seconds a closing connection gets to take its last lines (the ERROR reply).
CLOSE_GRACE = 5.0

log = structlog.get_logger("confchat.transport")

_PEER_GONE = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class Wakeup:
    """A re-armable event: ``set`` from synchronous code, ``wait`` in one task."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        self._event = trio.Event()


async def run_connection(
    core: Server,
    ip: str,
    transport: str,
    receive: Callable[[], Awaitable[bytes]],
    send: Callable[[Any], Awaitable[None]],
    chunked: bool = False,
) -> None:
    """Serve one connection until either side ends it. Never raises for
    network errors; the caller closes the underlying stream. ``send`` gets
    one bytes buffer, or with ``chunked`` the outbox's chunks as queued (the
    WebSocket transport frames each shared chunk once)."""
    wakeup = Wakeup()
    scope: trio.CancelScope | None = None
    # The journal gates the outbox: replies wait for the commit they follow.
    outbox = Outbox(core.limits.max_sendq, gate=core.journal)

    def wake() -> None:
        wakeup.set()
        # Closing: the peer gets CLOSE_GRACE seconds to take its last lines
        # (a deadline on the connection, not a task per connection waiting).
        if outbox.closed and scope is not None and scope.deadline == float("inf"):
            scope.deadline = trio.current_time() + CLOSE_GRACE

    outbox.wake = wake
    stats = core.stats
    client = core.connect(ip, outbox, transport)
    reason = "Connection closed"
    try:
        async with trio.open_nursery() as nursery:
            scope = nursery.cancel_scope
            if outbox.closed:  # refused at connect (per-IP limit)
                scope.deadline = trio.current_time() + CLOSE_GRACE

            async def writer() -> None:
                nonlocal reason
                try:
                    while True:
                        data = outbox.take_chunks() if chunked else outbox.take()
                        if data:
                            stats.bytes_out[transport] += sum(map(len, data)) if chunked else len(data)
                            await send(data)
                        elif outbox.closed and outbox.drained:
                            break
                        else:
                            await wakeup.wait()
                except _PEER_GONE:
                    reason = "Write error"
                nursery.cancel_scope.cancel()

            async def reader() -> None:
                nonlocal reason
                assert client is not None
                decoder = LineDecoder()
                try:
                    while not client.gone:
                        data = await receive()
                        if not data:
                            break
                        stats.bytes_in[transport] += len(data)
                        for line in decoder.feed(data):
                            delay = core.receive(client, line)
                            if client.gone:
                                return
                            if delay:
                                await trio.sleep(delay)
                except _PEER_GONE:
                    reason = "Read error"
                if not client.gone:
                    core.connection_lost(client, reason)

            nursery.start_soon(writer)
            if client is not None:
                nursery.start_soon(reader)
    finally:
        if client is not None and not client.gone:
            core.connection_lost(client, reason)
