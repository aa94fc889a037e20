"""Drive one client connection: read lines into the core, write its outbox out.

Shared by every transport: TCP here, WebSocket later. A transport supplies a
``receive()`` that returns the next chunk of bytes (b"" at end of file) and a
``send(data)`` that writes a chunk; this module owns the two tasks and their
shutdown rules:

* the reader feeds the :class:`LineDecoder` and the core, and sleeps the flood
  delay the core asks for (so a flood slows only the flooder);
* the writer sleeps until the outbox has bytes, then writes them all in one
  call (coalescing whatever queued meanwhile);
* with a plain socket (``fd``), output is first tried straight from the event
  loop: once the core has finished its current step, every outbox it filled
  is written with one non-blocking write, and the writer task is woken only
  for what the socket did not take. A message fanned out to thousands then
  costs a write each, not a task switch and a write each;
* once the core closes the outbox (QUIT, KILL, SendQ exceeded, shutdown), the
  writer flushes the final ERROR line and the connection ends; a peer that does
  not read even that is cut off after ``CLOSE_GRACE`` seconds.
"""

from __future__ import annotations

import os
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


class DirectWrites:
    """Connections whose outbox has bytes, written together as soon as the
    event loop gets control back (``run_sync_soon``), so one step of the core
    (a whole fan-out) is coalesced before anything is written."""

    def __init__(self) -> None:
        self.ready: list[Callable[[], None]] = []

    def schedule(self, flush: Callable[[], None]) -> None:
        if not self.ready:
            trio.lowlevel.current_trio_token().run_sync_soon(self._run)
        self.ready.append(flush)

    def _run(self) -> None:
        ready, self.ready = self.ready, []
        for flush in ready:
            try:
                flush()
            except Exception:  # never let one connection break the loop
                log.exception("connection.direct_write_failed")


_direct = DirectWrites()


class RawSocket:
    """Direct writes to a plain socket (``fd``) for ``run_connection``:
    ``write`` passes what the socket takes now and keeps the rest, which
    ``flush`` sends (awaiting) before anything else goes out."""

    def __init__(self, fd: int, send_all: Callable[[bytes], Awaitable[None]]) -> None:
        self.fd = fd
        self.send_all = send_all
        self.rest = b""

    @property
    def pending(self) -> bool:
        return bool(self.rest)

    def ready(self) -> bool:
        return not self.rest

    def wire(self, chunks: list[bytes]) -> bytes:
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def write(self, chunks: list[bytes]) -> int:
        data = self.wire(chunks)
        try:
            written = os.write(self.fd, data)
        except BlockingIOError:
            written = 0
        self.rest = data[written:]
        return written

    async def flush(self) -> None:
        rest, self.rest = self.rest, b""
        await self.send_all(rest)


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
    direct: RawSocket | None = None,
) -> None:
    """Serve one connection until either side ends it. Never raises for
    network errors; the caller closes the underlying stream. ``send`` gets
    one bytes buffer, or with ``chunked`` the outbox's chunks as queued (the
    WebSocket transport frames each shared chunk once)."""
    wakeup = Wakeup()
    scope: trio.CancelScope | None = None
    # The journal gates the outbox: replies wait for the commit they follow.
    outbox = Outbox(core.limits.max_sendq, gate=core.journal)
    # Direct writes: ``busy`` while the writer task is in a send; ``dead``
    # once the connection is over (its fd may be reused by another). With
    # direct writes the writer task exists only while it has work (a socket
    # that did not take everything, or closing): an idle connection is one
    # task, its reader.
    busy = scheduled = dead = writing = False
    nursery: trio.Nursery | None = None

    def need_writer() -> None:
        nonlocal writing
        if writing:
            wakeup.set()
        elif nursery is not None and not dead:
            writing = True
            nursery.start_soon(writer)

    def flush_direct() -> None:
        nonlocal scheduled
        scheduled = False
        if dead or direct is None:
            return
        if busy or outbox.closed or not direct.ready():
            need_writer()
            return
        chunks = outbox.take_chunks()
        if not chunks:
            return
        try:
            written = direct.write(chunks)
        except OSError:  # the writer task meets the error and ends the connection
            need_writer()
            return
        stats.bytes_out[transport] += written
        if direct.pending:
            need_writer()

    def wake() -> None:
        nonlocal scheduled
        if direct is not None and not outbox.closed:
            if not scheduled:
                scheduled = True
                _direct.schedule(flush_direct)
        else:
            need_writer()
        # Closing: the peer gets CLOSE_GRACE seconds to take its last lines
        # (a deadline on the connection, not a task per connection waiting).
        if outbox.closed and scope is not None and scope.deadline == float("inf"):
            scope.deadline = trio.current_time() + CLOSE_GRACE

    outbox.wake = wake
    stats = core.stats
    client = core.connect(ip, outbox, transport)
    reason = "Connection closed"
    async def writer() -> None:
        nonlocal reason, busy, writing
        assert nursery is not None
        try:
            while True:
                if direct is not None and direct.pending:
                    busy = True
                    await direct.flush()  # what a direct write left, first
                    busy = False
                    continue
                data = outbox.take_chunks() if chunked else outbox.take()
                if data:
                    stats.bytes_out[transport] += sum(map(len, data)) if chunked else len(data)
                    busy = True
                    await send(data)
                    busy = False
                elif outbox.closed and outbox.drained:
                    break
                elif direct is not None:
                    writing = False  # idle: direct writes take over
                    return
                else:
                    await wakeup.wait()
        except _PEER_GONE:
            reason = "Write error"
        nursery.cancel_scope.cancel()

    try:
        async with trio.open_nursery() as nursery:
            scope = nursery.cancel_scope
            if outbox.closed:  # refused at connect (per-IP limit)
                scope.deadline = trio.current_time() + CLOSE_GRACE

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

            if direct is None or outbox.closed or outbox.pending:
                writing = True
                nursery.start_soon(writer)
            if client is not None:
                nursery.start_soon(reader)
    finally:
        dead = True
        if client is not None and not client.gone:
            core.connection_lost(client, reason)
