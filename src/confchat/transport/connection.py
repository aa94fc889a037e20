"""Drive one client connection: read lines into the core, write its outbox out.

Shared by every transport (TCP, WebSocket). A transport supplies a
``receive()`` that returns the next chunk of bytes (b"" at end of file), a
``send(data)`` that writes one buffer (or, with ``chunked``, the outbox's
chunks as queued), and for a socket with a file descriptor a
:class:`RawSocket` for direct writes. :class:`Connection` owns the tasks and
the rules, in the states of :mod:`.states`:

* the reader is the task that runs the connection (no task of its own, no
  nursery per connection): it feeds the :class:`LineDecoder` and the core,
  and sleeps the flood delay the core asks for (so a flood slows only the
  flooder). Over plain TCP it reads the socket's file descriptor itself (one
  coroutine frame between the connection and trio's wait, not five);
* direct writes (IDLE -> DIRECT_SCHEDULED -> IDLE): once the core has finished
  its current step, every outbox it filled is written from the event loop
  with one non-blocking write (:class:`DirectWrites`), ``DIRECT_SLICE``
  connections per turn of the loop. A message fanned out to thousands costs
  a write each, not a task switch and a write each;
* the writer task (WRITING) exists only while it has work: what the socket
  did not take, a stream that was busy, or a transport without direct
  writes (there it parks between writes). It is started beside the
  connection's own task, in the nursery that runs it, and the connection
  waits for it before it ends. An idle connection is one task, its reader;
* once the core closes the outbox (QUIT, KILL, SendQ exceeded, shutdown, a
  refused connection), the writer flushes the final ERROR line and ends the
  connection (CLOSING); a peer that does not read even that is cut off
  ``CLOSE_GRACE`` seconds after the close (a deadline on the connection's
  cancel scope, not a task waiting per connection);
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

# Bytes asked of a plain socket per read: enough for many lines at once; the
# line decoder bounds what is kept of an unfinished line.
RECV_CHUNK = 16384

# The states and events as plain names: ``wake`` and the direct write run
# for every recipient of a fan-out, and each enum lookup on the class costs.
_IDLE, _SCHEDULED, _CLOSING, _DEAD = State.IDLE, State.DIRECT_SCHEDULED, State.CLOSING, State.DEAD
_OUTPUT, _CLOSED, _WRITTEN, _BACKLOG, _CAUGHT_UP = (
    Event.OUTPUT, Event.CLOSED, Event.WRITTEN, Event.BACKLOG, Event.CAUGHT_UP,
)


def _nested(flat: dict[tuple[State, Event], State]) -> dict[State, dict[Event, State]]:
    """:func:`.states.table` as state -> event -> state: looked up without
    building a (state, event) tuple, twice per recipient of a fan-out (each
    tuple also counts towards the garbage collector's next pass)."""
    out: dict[State, dict[Event, State]] = {}
    for (state, event), new in flat.items():
        out.setdefault(state, {})[event] = new
    return out


_TABLES = {direct: _nested(table(direct)) for direct in (True, False)}


async def receive_from(fd: int, size: int = RECV_CHUNK) -> bytes:
    """Bytes from a plain socket's descriptor, as trio's
    ``SocketStream.receive_some`` gets them (a checkpoint that cannot lose
    what was read, or the wait for the descriptor), in one coroutine frame
    instead of five: an idle connection keeps them as long as it waits.
    (:meth:`Connection._read_socket` does the same inline.)"""
    await trio.lowlevel.checkpoint_if_cancelled()
    data = read_now(fd, size)
    if data is not None:
        await trio.lowlevel.cancel_shielded_checkpoint()
        return data
    while data is None:
        await trio.lowlevel.wait_readable(fd)
        data = read_now(fd, size)
    return data


def read_now(fd: int, size: int) -> bytes | None:
    """What the socket has now (b"": end of file), None if nothing yet.
    (A function of its own: waiting inside the ``except`` would keep the
    BlockingIOError, its traceback and message, for as long as it waits.)"""
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None


# Direct writes run in slices of this many connections, one callback each:
# between two slices trio runs whatever became ready meanwhile (a commit that
# came back, lines that came in), so when a fan-out is more than one pass can
# write before the next message is committed, the next one joins the writes
# still waiting (one write for both) instead of queueing behind all of them,
# and the next commit is not kept waiting for the event loop. 10,000 viewers
# at 20 msg/s (bench/README.md): one pass, then slices of 2,048, 512 and 128
# gave a mean commit of 75-109, 82-86, 23-25 and 8-10 ms, fan-out p50 of
# 390-580, 350, 235-240 and 200-210 ms; 64 and 32 gave no more.
DIRECT_SLICE = 128


class DirectWrites:
    """Connections whose outbox has bytes, written together as soon as the
    event loop gets control back (``run_sync_soon``), so one step of the core
    (a whole fan-out) is coalesced before anything is written; a callback
    is queued whenever ``ready`` is not empty."""

    def __init__(self) -> None:
        self.ready: list[Callable[[], None]] = []

    def schedule(self, flush: Callable[[], None]) -> None:
        if not self.ready:
            trio.lowlevel.current_trio_token().run_sync_soon(self._run)
        self.ready.append(flush)

    def _run(self) -> None:
        ready = self.ready
        if len(ready) > DIRECT_SLICE:
            self.ready = ready[DIRECT_SLICE:]
            del ready[DIRECT_SLICE:]
            trio.lowlevel.current_trio_token().run_sync_soon(self._run)  # the rest, after a turn of the loop
        else:
            self.ready = []
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


class _Tasks:
    """What the connection's tasks are, read as a nursery's ``child_tasks``
    (tests count them: an idle connection is one task)."""

    __slots__ = ("child_tasks",)

    def __init__(self, tasks: list[trio.lowlevel.Task]) -> None:
        self.child_tasks = tasks


class Connection:
    """One client connection, from accept to close: the reader (the task
    that runs it), direct writes and the writer task, switched by the
    transitions in :mod:`.states`.

    There is no nursery per connection: the writer task, while there is one,
    runs in the nursery of the connection's own task (``spawn``) and is
    waited for (and cancelled, if the connection ends first) before
    :meth:`run` returns. When the writer ends the connection (all sent after
    the close, the peer gone, ``CLOSE_GRACE`` over) it stops the reader
    (:meth:`_end`): through the connection's cancel scope, or on a plain
    socket, which needs no scope (an idle connection's scope is 0.7 KiB), by
    waking the reader's wait on the descriptor and its flood pause."""

    __slots__ = (
        "core", "transport", "receive", "send", "chunked", "direct", "stats", "tls",
        "outbox", "client", "state", "reason", "_table", "_flush", "_wakeup",
        "_scope", "_spawn", "_task", "_writer_task", "_writer_scope", "_writer_done",
        "_close_by", "_over", "_pause",
    )

    def __init__(
        self,
        core: Server,
        transport: str,
        receive: Callable[[], Awaitable[bytes]] | None,
        send: Callable[[Any], Awaitable[None]],
        chunked: bool = False,
        direct: RawSocket | None = None,
        tls: str | None = None,
    ) -> None:
        self.core = core
        self.tls = tls  # None: plain; else the name the TLS client asked for
        self.transport = transport
        # None: read ``direct.fd`` straight (a plain socket, plain TCP).
        assert receive is not None or (direct is not None and direct.fd >= 0)
        self.receive = receive
        self.send = send
        self.chunked = chunked
        self.direct = direct
        self.stats = core.stats
        self.state = initial_state(direct is not None)
        self._table = _TABLES[direct is not None]
        self._flush = self._flush_direct  # bound once: scheduled at every fan-out
        self.reason = "Connection closed"
        # Made when a writer task starts (an idle connection has none).
        self._wakeup: Wakeup | None = None
        # The connection's cancel scope while it runs; None on a plain socket.
        self._scope: trio.CancelScope | None = None
        self._spawn: trio.Nursery | None = None  # where its writer task starts
        self._task: trio.lowlevel.Task | None = None
        self._writer_task: trio.lowlevel.Task | None = None
        self._writer_scope: trio.CancelScope | None = None
        # Not None from a writer task's start until it ends (then set).
        self._writer_done: trio.Event | None = None
        self._close_by: float | None = None  # CLOSE_GRACE's deadline, once closing
        # A plain socket's reader, stopped without a cancel scope: told to
        # stop, and its flood pause while it has one.
        self._over = False
        self._pause: trio.CancelScope | None = None
        # The journal gates the outbox: replies wait for the commit they follow.
        self.outbox = Outbox(core.limits.max_sendq, wake=self.wake, gate=core.journal)
        self.client: Client | None = None

    @property
    def tasks(self) -> list[trio.lowlevel.Task]:
        """The connection's tasks now: the one that runs it (and reads), and
        its writer while it has one."""
        return [t for t in (self._task, self._writer_task) if t is not None]

    @property
    def _nursery(self) -> _Tasks | None:
        # The connection had a nursery of its own; its tasks are counted
        # the same way (tests/transport/test_connection.py).
        return _Tasks(self.tasks) if self._task is not None else None

    # ------------------------------------------------------------ transitions

    def wake(self) -> None:
        """The outbox's callback: it has bytes again, or it closed."""
        self._fire(_CLOSED if self.outbox.closed else _OUTPUT)

    def _fire(self, event: Event) -> None:
        old = self.state
        try:
            new = self._table[old][event]
        except KeyError:
            new = next_state(old, event, self.direct is not None)  # raises TransitionError
        self.state = new
        if new is _SCHEDULED:
            if old is not new:
                _direct.schedule(self._flush)
        elif new in WRITER_STATES:
            if old not in WRITER_STATES:
                self._start_writer()
            elif event is not _CAUGHT_UP and self._wakeup is not None:
                self._wakeup.set()
            if new is _CLOSING and old is not new:
                self._closing_deadline()

    def _start_writer(self) -> None:
        # Before the connection runs (output at connect), ``run`` starts it.
        if self._spawn is not None and self._writer_done is None:
            if self._wakeup is None:
                self._wakeup = Wakeup()
            self._writer_done = trio.Event()
            self._spawn.start_soon(self._writer)

    def _closing_deadline(self) -> None:
        # The peer gets CLOSE_GRACE seconds to take its last lines: a
        # deadline on the connection's scope, or without one on the writer's
        # (which then ends the connection).
        if self._close_by is None:
            self._close_by = trio.current_time() + CLOSE_GRACE
        scope = self._scope if self._scope is not None else self._writer_scope
        if scope is not None and scope.deadline > self._close_by:
            scope.deadline = self._close_by

    def _end(self) -> None:
        """The writer ends the connection: the reader stops at once."""
        if self._scope is not None:
            self._scope.cancel()
            return
        if self._over or self._task is None:
            return
        self._over = True
        if self._pause is not None:
            self._pause.cancel()
        # Wakes a wait on the descriptor with ClosedResourceError; the
        # stream, still open, is closed by the caller once ``run`` is over.
        trio.lowlevel.notify_closing(self.direct.fd)  # type: ignore[union-attr]

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
        task = self._task = trio.lowlevel.current_task()
        client = self.client = core.connect(ip, self.outbox, self.transport, self.tls)
        try:
            self._spawn = task.parent_nursery
            if self.receive is None:  # a plain socket: no cancel scope (``_end``)
                self._begin()
                if client is not None:
                    await self._read_socket(client)
                await self._finish(client)
            else:
                with trio.CancelScope() as scope:
                    self._scope = scope
                    self._begin()
                    if client is not None:
                        await self._reader(client)
                    await self._finish(client)
        finally:
            self._fire(Event.ENDED)
            self._spawn = None
            await self._end_writer()
            self._scope = None
            self._task = None
            if client is not None and not client.gone:
                core.connection_lost(client, self.reason)

    def _begin(self) -> None:
        if self.state is _CLOSING:  # refused at connect (per-IP limit)
            self._closing_deadline()
        if self.state in WRITER_STATES:
            self._start_writer()

    async def _finish(self, client: Client | None) -> None:
        """Reading is over: the client leaves, and the connection lasts as
        long as its writer (which sends what is left, then ends it)."""
        if client is not None and not client.gone:
            self.core.connection_lost(client, self.reason)
        while self._writer_done is not None:
            await self._writer_done.wait()

    async def _reader(self, client: Client) -> None:
        """Lines from ``receive`` into the core until the peer or the core
        ends the connection."""
        core = self.core
        bytes_in = self.stats.bytes_in
        decoder = LineDecoder()
        try:
            while not client.gone:
                data = await self.receive()  # type: ignore[misc]
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

    async def _read_socket(self, client: Client) -> None:
        """:meth:`_reader` for a plain socket, read here as
        :func:`receive_from` reads it, inline (one coroutine frame fewer for
        as long as an idle connection waits), and stopped by :meth:`_end`
        instead of a cancel scope."""
        core = self.core
        bytes_in = self.stats.bytes_in
        fd = self.direct.fd  # type: ignore[union-attr]
        read = read_now
        lowlevel = trio.lowlevel
        decoder = LineDecoder()
        try:
            while not client.gone and not self._over:
                await lowlevel.checkpoint_if_cancelled()
                data = read(fd, RECV_CHUNK)
                if data is not None:
                    await lowlevel.cancel_shielded_checkpoint()
                while data is None:
                    await lowlevel.wait_readable(fd)  # _end wakes it: ClosedResourceError
                    data = read(fd, RECV_CHUNK)
                if not data:
                    break
                bytes_in[self.transport] += len(data)
                for line in decoder.feed(data):
                    delay = core.receive(client, line)
                    if client.gone:
                        return
                    if delay:  # trio.sleep(delay), with a scope _end can cancel
                        with trio.move_on_after(delay) as self._pause:
                            await trio.sleep_forever()
                        self._pause = None
                        if self._over:
                            return
        except _PEER_GONE:
            if not self._over:
                self.reason = "Read error"

    async def _writer(self) -> None:
        """The writer task: runs beside the connection's own task and ends
        the connection (:meth:`_end`) when the output is over; never raises
        into the nursery it shares with other connections."""
        done = self._writer_done
        try:
            if self.state is _DEAD:
                return  # the connection ended before this task began
            self._writer_task = trio.lowlevel.current_task()
            over = True  # unless it catches up: then direct writes take over
            with trio.CancelScope() as scope:
                self._writer_scope = scope
                if self._scope is None and self._close_by is not None:
                    scope.deadline = self._close_by  # CLOSE_GRACE, without a connection scope
                over = await self._write()
            if over:
                self._end()
        except Exception:  # as a crash of the connection: logged, the connection ended
            log.exception("connection.crashed", transport=self.transport)
            self._end()
        finally:
            self._writer_task = self._writer_scope = self._writer_done = None
            if done is not None:
                done.set()

    async def _write(self) -> bool:
        """Send until caught up (False: direct writes take over) or until
        the connection is over (True: closed and drained, or the peer gone)."""
        outbox, direct, chunked = self.outbox, self.direct, self.chunked
        bytes_out = self.stats.bytes_out
        wakeup = self._wakeup
        assert wakeup is not None
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
                    return True
                else:
                    self._fire(_CAUGHT_UP)
                    if self.state is _IDLE:
                        return False  # direct writes take over
                    await wakeup.wait()
        except _PEER_GONE:
            self.reason = "Write error"
            return True

    async def _end_writer(self) -> None:
        """The connection is over: its writer task, if any, is cancelled and
        awaited, so nothing writes to the stream once the caller closes it."""
        done = self._writer_done
        if done is None:
            return
        if self._writer_scope is not None:
            self._writer_scope.cancel()
        # A writer not begun yet sees DEAD and returns at once.
        with trio.CancelScope(shield=True) as waiting:
            waiting.deadline = trio.current_time() + CLOSE_GRACE
            await done.wait()


def run_connection(
    core: Server,
    ip: str,
    transport: str,
    receive: Callable[[], Awaitable[bytes]] | None,
    send: Callable[[Any], Awaitable[None]],
    chunked: bool = False,
    direct: RawSocket | None = None,
    tls: str | None = None,
) -> Awaitable[None]:
    """Serve one connection until either side ends it (await it). Never
    raises for network errors; the caller closes the underlying stream.
    ``receive`` None: read ``direct``'s socket straight (plain TCP). ``send``
    gets one bytes buffer, or with ``chunked`` the outbox's chunks as queued
    (the WebSocket transport frames each shared chunk once). ``tls``: None on
    a plain connection, else the name (SNI) the TLS client asked for, "" if
    none. (A function returning the coroutine, not a coroutine of its own:
    one frame less for as long as the connection lasts.)"""
    return Connection(core, transport, receive, send, chunked, direct, tls).run(ip)
