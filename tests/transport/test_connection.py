"""The connection shell over real sockets: direct writes from the event loop,
the writer task only while the socket is behind, the order of what leaves."""

from __future__ import annotations

import socket

import attrs
import pytest
import trio
import trio.testing

from confchat.config import Config
from confchat.core.server import Server
from confchat.transport.connection import Connection, RawSocket
from confchat.transport.states import Event, State

pytestmark = pytest.mark.anyio

S, E = State, Event


def make_core(**limits) -> Server:
    config = Config()
    return Server(attrs.evolve(config, limits=attrs.evolve(config.limits, **limits)))


def mock_clock_core(**limits) -> Server:
    """``make_core`` on trio's clock: the mock clock of the tests that run on one."""
    config = Config()
    return Server(attrs.evolve(config, limits=attrs.evolve(config.limits, **limits)), clock=trio.current_time)


def socket_pair(buffer: int | None = None) -> tuple[trio.SocketStream, socket.socket]:
    """The server's end as a trio stream; the peer's as a plain blocking-free socket."""
    ours, theirs = socket.socketpair()
    if buffer:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    theirs.setblocking(False)
    return trio.SocketStream(trio.socket.from_stdlib_socket(ours)), theirs


def direct_connection(core: Server, stream: trio.SocketStream) -> Connection:
    """A connection wired as tcp.py wires one."""
    return Connection(
        core, "tcp", lambda: stream.receive_some(16384), stream.send_all,
        direct=RawSocket(stream.socket.fileno(), stream.send_all),
    )


async def serve(connection: Connection, stream: trio.SocketStream, ip: str = "192.0.2.1") -> None:
    """As tcp.py does: run the connection, then close the stream."""
    try:
        await connection.run(ip)
    finally:
        await stream.aclose()


class Peer:
    """The client's end: raw lines out, lines in."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = trio.socket.from_stdlib_socket(sock)
        self.buffer = b""
        self.received = 0

    async def send(self, *lines: str) -> None:
        data = memoryview("".join(line + "\r\n" for line in lines).encode())
        while data:
            data = data[await self.sock.send(data):]

    async def read(self) -> bytes:
        data = await self.sock.recv(65536)
        self.received += len(data)
        return data

    async def lines_until(self, needle: bytes) -> list[bytes]:
        """Every line up to the first one containing ``needle``."""
        lines: list[bytes] = []
        with trio.fail_after(10):
            while True:
                while b"\r\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\r\n", 1)
                    lines.append(line)
                    if needle in line:
                        return lines
                data = await self.read()
                if not data:
                    raise EOFError(lines)
                self.buffer += data

    async def at_eof(self) -> bool:
        with trio.fail_after(10):
            while data := await self.read():
                self.buffer += data
        return True


@pytest.fixture
def transitions(monkeypatch) -> list[tuple[State, Event, State]]:
    """Every transition any connection makes, as (old, event, new)."""
    seen: list[tuple[State, Event, State]] = []
    fire = Connection._fire

    def recording(self: Connection, event: Event) -> None:
        old = self.state
        fire(self, event)
        seen.append((old, event, self.state))

    monkeypatch.setattr(Connection, "_fire", recording)
    return seen


async def register(peer: Peer, nick: str) -> None:
    await peer.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
    await peer.lines_until(b" 001 ")
    await peer.send("PING :settled")
    await peer.lines_until(b"settled")


async def test_an_idle_connection_is_one_task_and_its_output_leaves_by_direct_writes(transitions):
    core = make_core()
    stream, theirs = socket_pair()
    connection = direct_connection(core, stream)
    peer = Peer(theirs)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, connection, stream)
        await register(peer, "ann")
        await trio.testing.wait_all_tasks_blocked()
        assert connection.state is S.IDLE
        assert connection._nursery is not None and len(connection._nursery.child_tasks) == 1  # the reader
        assert (S.IDLE, E.OUTPUT, S.DIRECT_SCHEDULED) in transitions
        assert (S.DIRECT_SCHEDULED, E.WRITTEN, S.IDLE) in transitions
        assert not [t for t in transitions if t[2] is S.WRITING]  # the socket took everything at once

        await peer.send("QUIT :bye")
        assert b"ERROR" in (await peer.lines_until(b"ERROR"))[-1]
        assert await peer.at_eof()
    assert connection.state is S.DEAD
    assert connection.client is not None and connection.client.gone
    assert core.stats.bytes_in["tcp"] == len(b"NICK ann\r\nUSER ann 0 * :ann\r\nPING :settled\r\nQUIT :bye\r\n")
    assert core.stats.bytes_out["tcp"] == peer.received


async def test_what_the_socket_does_not_take_goes_out_in_order_then_the_writer_task_ends(transitions):
    core = make_core(flood_burst=100_000, flood_rate=100_000.0, max_sendq=8 * 1024 * 1024)
    stream, theirs = socket_pair(buffer=4096)
    connection = direct_connection(core, stream)
    peer = Peer(theirs)
    count = 2000
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, connection, stream)
        await register(peer, "bob")
        # About 900 KiB of PONGs that the peer does not read yet.
        filler = "x" * 400
        await peer.send(*(f"PING :{i}-{filler}" for i in range(count)))
        with trio.fail_after(10):
            while connection.state is not S.WRITING:
                await trio.sleep(0.01)
        assert connection._nursery is not None and len(connection._nursery.child_tasks) == 2  # reader and writer
        assert (S.DIRECT_SCHEDULED, E.BACKLOG, S.WRITING) in transitions

        pongs = [line for line in await peer.lines_until(f" {count - 1}-".encode()) if b" PONG " in line]
        assert [line.rsplit(b" ", 1)[1].split(b"-")[0] for line in pongs] == [str(i).encode() for i in range(count)]
        with trio.fail_after(10):
            while connection.state is not S.IDLE:
                await trio.sleep(0.01)
        await trio.testing.wait_all_tasks_blocked()
        assert len(connection._nursery.child_tasks) == 1
        assert (S.WRITING, E.CAUGHT_UP, S.IDLE) in transitions

        # Direct writes take over again.
        await peer.send("PING :after")
        assert (await peer.lines_until(b"after"))[-1].endswith(b" after")
        # What the socket refused at first is counted once it is sent.
        assert core.stats.bytes_out["tcp"] == peer.received
        nursery.cancel_scope.cancel()


async def test_a_closed_outbox_is_flushed_by_the_writer_and_ends_the_connection(transitions):
    core = make_core()
    stream, theirs = socket_pair()
    connection = direct_connection(core, stream)
    peer = Peer(theirs)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, connection, stream)
        await register(peer, "cat")
        core.shutdown("Back soon")
        assert (await peer.lines_until(b"ERROR"))[-1] == b"ERROR :Back soon"
        assert await peer.at_eof()
    assert (S.IDLE, E.CLOSED, S.CLOSING) in transitions
    assert transitions[-1][2] is S.DEAD
    assert connection.state is S.DEAD


async def test_a_peer_that_hangs_up_ends_the_connection_and_its_client():
    core = make_core()
    stream, theirs = socket_pair()
    connection = direct_connection(core, stream)
    peer = Peer(theirs)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve, connection, stream)
            await register(peer, "dan")
            assert len(core.clients) == 1
            peer.sock.close()
    assert connection.state is S.DEAD
    assert not core.clients


async def test_a_connection_refused_at_connect_gets_its_error_and_ends(transitions):
    core = make_core(max_connections_per_ip=1)
    first_stream, first_sock = socket_pair()
    second_stream, second_sock = socket_pair()
    first, second = direct_connection(core, first_stream), direct_connection(core, second_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, first, first_stream, "192.0.2.9")
        await register(Peer(first_sock), "eve")
        refused = Peer(second_sock)
        await serve(second, second_stream, "192.0.2.9")  # returns once the ERROR is out
        assert second.client is None and second.state is S.DEAD
        assert b"Too many connections" in (await refused.lines_until(b"ERROR"))[-1]
        assert await refused.at_eof()
        nursery.cancel_scope.cancel()
