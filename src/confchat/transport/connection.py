"""Drive one client connection: read lines into the core, write its outbox out.

Shared by every transport (TCP, WebSocket). A transport supplies a
``receive()`` that returns the next chunk of bytes (b"" at end of file), a
``send(data)`` that writes one buffer (or, with ``chunked``, the outbox's
chunks as queued), and for a socket with a file descriptor a
:class:`RawSocket` for direct writes. :class:`Connection` owns the tasks and
the rules, in the states of :mod:`.states`:

* the reader task feeds the :class:`LineDecoder` and the core, and sleeps the
  flood delay the core asks for (so a flood slows only the flooder);
* direct writes (IDLE -> DIRECT_SCHEDULED -> IDLE): once the core has finished
  its current step, every outbox it filled is written from the event loop
  with one non-blocking write (:class:`DirectWrites`). A message fanned out
  to thousands costs a write each, not a task switch and a write each;
* the writer task (WRITING) exists only while it has work: what the socket
  did not take, a stream that was busy, or a transport without direct
  writes (there it parks between writes). An idle connection is one task,
  its reader;
* once the core closes the outbox (QUIT, KILL, SendQ exceeded, shutdown, a
  refused connection), the writer flushes the final ERROR line and ends the
  connection (CLOSING); a peer that does not read even that is cut off
  ``CLOSE_GRACE`` seconds after the close (a deadline on the connection's
  nursery, not a task waiting per connection);
* every byte read or written is counted per transport in the core's stats.
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
from .states import WRITER_STATES, Event, State, initial_state, next_state, table

# Seconds a closing connection gets to take its last lines (the ERROR reply).
CLOSE_GRACE = 5.0

log = structlog.get_logger("confchat.transport")

_PEER_GONE = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)

# The states and events as plain names: ``wake`` and the direct write run
# for every recipient of a fan-out, and each enum lookup on the class costs.
_IDLE, _SCHEDULED, _CLOSING = State.IDLE, State.DIRECT_SCHEDULED, State.CLOSING
_OUTPUT, _CLOSED, _WRITTEN, _BACKLOG, _CAUGHT_UP = (
    Event.OUTPUT, Event.CLOSED, Event.WRITTEN, Event.BACKLOG, Event.CAUGHT_UP,
)


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
    """Direct writes to a plain socket (``fd``) for a :class:`Connection`:
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
        """Bytes taken: written now, or kept in ``rest`` for ``flush``
        (counted once, here, as the writer task counts what it sends)."""
        data = self.wire(chunks)
        try:
            written = os.write(self.fd, data)
        except BlockingIOError:
            written = 0
        self.rest = data[written:]
        return len(data)

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


class Connection:
    """One client connection, from accept to close: the reader task, direct
    writes and the writer task, switched by the transitions in :mod:`.states`."""

    __slots__ = (
        "core", "transport", "receive", "send", "chunked", "direct", "stats", "tls",
        "outbox", "client", "state", "reason", "_table", "_flush", "_wakeup", "_nursery",
    )

    def __init__(
        self,
        core: Server,
        transport: str,
        receive: Callable[[], Awaitable[bytes]],
        send: Callable[[Any], Awaitable[None]],
        chunked: bool = False,
        direct: RawSocket | None = None,
        tls: str | None = None,
    ) -> None:
        self.core = core
        self.tls = tls  # None: plain; else the name the TLS client asked for
        self.transport = transport
        self.receive = receive
        self.send = send
        self.chunked = chunked
        self.direct = direct
        self.stats = core.stats
        self.state = initial_state(direct is not None)
        self._table = table(direct is not None)
        self._flush = self._flush_direct  # bound once: scheduled at every fan-out
        self.reason = "Connection closed"
        self._wakeup = Wakeup()
        self._nursery: trio.Nursery | None = None
        # The journal gates the outbox: replies wait for the commit they follow.
        self.outbox = Outbox(core.limits.max_sendq, wake=self.wake, gate=core.journal)
        self.client: Client | None = None

    # ------------------------------------------------------------ transitions

    def wake(self) -> None:
        """The outbox's callback: it has bytes again, or it closed."""
        self._fire(_CLOSED if self.outbox.closed else _OUTPUT)

    def _fire(self, event: Event) -> None:
        old = self.state
        try:
            new = self._table[old, event]
        except KeyError:
            new = next_state(old, event, self.direct is not None)  # raises TransitionError
        self.state = new
        if new is _SCHEDULED:
            if old is not new:
                _direct.schedule(self._flush)
        elif new in WRITER_STATES:
            if old not in WRITER_STATES:
                self._start_writer()
            elif event is not _CAUGHT_UP:
                self._wakeup.set()
            if new is _CLOSING and old is not new:
                self._closing_deadline()

    def _start_writer(self) -> None:
        # Before the nursery opens (output at connect), ``run`` starts it.
        if self._nursery is not None:
            self._nursery.start_soon(self._writer)

    def _closing_deadline(self) -> None:
        # The peer gets CLOSE_GRACE seconds to take its last lines.
        if self._nursery is not None:
            scope = self._nursery.cancel_scope
            if scope.deadline == float("inf"):
                scope.deadline = trio.current_time() + CLOSE_GRACE

    def _flush_direct(self) -> None:
        """The direct write, run by :class:`DirectWrites` after the core's step."""
        if self.state is not _SCHEDULED:
            return  # closing or over since it was scheduled
        direct = self.direct
        assert direct is not None
        if not direct.ready():
            self._fire(_BACKLOG)
            return
        chunks = self.outbox.take_chunks()
        if not chunks:
            self._fire(_WRITTEN)
            return
        try:
            taken = direct.write(chunks)
        except OSError:  # the writer task meets the error and ends the connection
            self._fire(_BACKLOG)
            return
        self.stats.bytes_out[self.transport] += taken
        self._fire(_BACKLOG if direct.pending else _WRITTEN)

    # ------------------------------------------------------------ tasks

    async def run(self, ip: str) -> None:
        """Serve the connection until either side ends it. Never raises for
        network errors; the caller closes the underlying stream."""
        core = self.core
        client = self.client = core.connect(ip, self.outbox, self.transport, self.tls)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self.state is _CLOSING:  # refused at connect (per-IP limit)
                    self._closing_deadline()
                if self.state in WRITER_STATES:
                    nursery.start_soon(self._writer)
                if client is not None:
                    nursery.start_soon(self._reader, client)
        finally:
            self._fire(Event.ENDED)
            self._nursery = None
            if client is not None and not client.gone:
                core.connection_lost(client, self.reason)

    async def _reader(self, client: Client) -> None:
        core = self.core
        bytes_in = self.stats.bytes_in
        decoder = LineDecoder()
        try:
            while not client.gone:
                data = await self.receive()
                if not data:
                    break
                bytes_in[self.transport] += len(data)
                for line in decoder.feed(data):
                    delay = core.receive(client, line)
                    if client.gone:
                        return
                    if delay:
                        await trio.sleep(delay)
        except _PEER_GONE:
            self.reason = "Read error"
        if not client.gone:
            core.connection_lost(client, self.reason)

    async def _writer(self) -> None:
        outbox, direct, chunked = self.outbox, self.direct, self.chunked
        bytes_out = self.stats.bytes_out
        assert self._nursery is not None
        try:
            while True:
                if direct is not None and direct.pending:
                    await direct.flush()  # what a direct write left, first
                    continue
                data = outbox.take_chunks() if chunked else outbox.take()
                if data:
                    bytes_out[self.transport] += sum(map(len, data)) if chunked else len(data)
                    await self.send(data)
                elif outbox.closed and outbox.drained:
                    break
                else:
                    self._fire(_CAUGHT_UP)
                    if self.state is _IDLE:
                        return  # direct writes take over
                    await self._wakeup.wait()
        except _PEER_GONE:
            self.reason = "Write error"
        self._nursery.cancel_scope.cancel()


async def run_connection(
    core: Server,
    ip: str,
    transport: str,
    receive: Callable[[], Awaitable[bytes]],
    send: Callable[[Any], Awaitable[None]],
    chunked: bool = False,
    direct: RawSocket | None = None,
    tls: str | None = None,
) -> None:
    """Serve one connection until either side ends it. Never raises for
    network errors; the caller closes the underlying stream. ``send`` gets
    one bytes buffer, or with ``chunked`` the outbox's chunks as queued (the
    WebSocket transport frames each shared chunk once). ``tls``: None on a
    plain connection, else the name (SNI) the TLS client asked for, "" if none."""
    await Connection(core, transport, receive, send, chunked, direct, tls).run(ip)
