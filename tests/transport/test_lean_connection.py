"""A plain TCP connection as tcp.py runs it: read from its descriptor, no
nursery and no cancel scope of its own. The writer task, when there is one,
runs beside it and ends it by waking its reader (Connection._end): after the
last lines, when the peer is gone, at CLOSE_GRACE, and out of a flood pause.
On trio's mock clock (it jumps ahead whenever every task waits), so the
deadlines are exact and nothing here sleeps for real."""

from __future__ import annotations


import pytest
import trio
import trio.testing

from confchat.core.server import Server
from confchat.transport.connection import CLOSE_GRACE, Connection, RawSocket
from confchat.transport.states import State
from test_connection import Peer, register, serve, socket_pair
from test_connection import mock_clock_core as make_core

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


def plain_connection(core: Server, stream: trio.SocketStream, direct: RawSocket | None = None) -> Connection:
    """Wired as tcp.handle_tcp wires one: no ``receive``, the descriptor is read."""
    return Connection(core, "tcp", None, stream.send_all, direct=direct or RawSocket(stream.socket.fileno(), stream.send_all))




async def test_an_idle_plain_connection_is_one_task_without_a_cancel_scope():
    core = make_core()
    stream, theirs = socket_pair()
    connection = plain_connection(core, stream)
    peer = Peer(theirs)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, connection, stream)
        await register(peer, "ann")
        await trio.testing.wait_all_tasks_blocked()
        assert connection.state is State.IDLE
        assert len(connection.tasks) == 1 and connection._scope is None and connection._wakeup is None
        await peer.send("QUIT :bye")
        assert b"ERROR" in (await peer.lines_until(b"ERROR"))[-1]
        assert await peer.at_eof()
    assert connection.state is State.DEAD and connection.tasks == []
    assert connection.client is not None and connection.client.gone
    assert not core.clients


async def test_a_backlog_goes_out_in_order_by_the_writer_which_then_ends():
    core = make_core(flood_burst=100_000, flood_rate=100_000.0, max_sendq=8 * 1024 * 1024)
    stream, theirs = socket_pair(buffer=4096)
    connection = plain_connection(core, stream)
    peer = Peer(theirs)
    count = 2000
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, connection, stream)
        await register(peer, "bob")
        filler = "x" * 400
        await peer.send(*(f"PING :{i}-{filler}" for i in range(count)))
        while connection.state is not State.WRITING:
            await trio.sleep(0.01)
        assert len(connection.tasks) == 2  # the connection's task, and its writer
        pongs = [line for line in await peer.lines_until(f" {count - 1}-".encode()) if b" PONG " in line]
        assert [line.rsplit(b" ", 1)[1].split(b"-")[0] for line in pongs] == [str(i).encode() for i in range(count)]
        while connection.state is not State.IDLE:
            await trio.sleep(0.01)
        await trio.testing.wait_all_tasks_blocked()
        assert len(connection.tasks) == 1
        await peer.send("PING :after")
        assert (await peer.lines_until(b"after"))[-1].endswith(b" after")
        nursery.cancel_scope.cancel()


async def test_a_peer_that_does_not_read_its_last_lines_is_cut_off_after_close_grace():
    core = make_core(flood_burst=100_000, flood_rate=100_000.0, max_sendq=8 * 1024 * 1024)
    stream, theirs = socket_pair(buffer=4096)
    connection = plain_connection(core, stream)
    peer = Peer(theirs)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, connection, stream)
        await register(peer, "cat")
        await peer.send(*(f"PING :{i}-{'x' * 400}" for i in range(500)))  # never read
        while connection.state is not State.WRITING:
            await trio.sleep(0.01)
        start = trio.current_time()
        core.shutdown("Back soon")
        assert connection.state is State.CLOSING
        while connection.state is not State.DEAD:
            await trio.sleep(0.5)
        assert trio.current_time() - start == pytest.approx(CLOSE_GRACE, abs=0.5)
        assert connection.tasks == []
    assert not core.clients


async def test_a_refused_plain_connection_gets_its_error_and_ends():
    core = make_core(max_connections_per_ip=1)
    first_stream, first_sock = socket_pair()
    second_stream, second_sock = socket_pair()
    first, second = plain_connection(core, first_stream), plain_connection(core, second_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, first, first_stream, "192.0.2.9")
        await register(Peer(first_sock), "eve")
        refused = Peer(second_sock)
        await serve(second, second_stream, "192.0.2.9")
        assert second.client is None and second.state is State.DEAD
        assert b"Too many connections" in (await refused.lines_until(b"ERROR"))[-1]
        assert await refused.at_eof()
        nursery.cancel_scope.cancel()


async def test_a_flood_pause_ends_with_the_connection_not_after_it():
    # One token, one more every 100 s: the flooder's third line waits ~100 s.
    core = make_core(flood_burst=2, flood_rate=0.01)
    stream, theirs = socket_pair()
    connection = plain_connection(core, stream)
    peer = Peer(theirs)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, connection, stream)
        await peer.send("NICK fay", "USER fay 0 * :f", "PING :late")
        await peer.lines_until(b" 001 ")
        await trio.testing.wait_all_tasks_blocked()
        assert connection._pause is not None  # the reader waits out its delay
        start = trio.current_time()
        core.shutdown("Back soon")
        assert b"ERROR :Back soon" in (await peer.lines_until(b"ERROR"))[-1]
        assert await peer.at_eof()
    assert trio.current_time() - start < 1
    assert connection.state is State.DEAD


async def test_a_peer_that_hangs_up_ends_the_connection_and_its_client():
    core = make_core()
    stream, theirs = socket_pair()
    connection = plain_connection(core, stream)
    peer = Peer(theirs)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, connection, stream)
        await register(peer, "dan")
        assert len(core.clients) == 1
        peer.sock.close()
    assert connection.state is State.DEAD
    assert not core.clients


class BrokenFlush(RawSocket):
    """Direct writes that take nothing, and a flush that fails with a bug."""

    def write(self, chunks: list[bytes]) -> int:
        self.rest = self.wire(chunks)
        return len(self.rest)

    async def flush(self) -> None:
        raise RuntimeError("a bug in the writer")


async def test_a_crash_in_the_writer_ends_its_connection_only():
    core = make_core()
    stream, theirs = socket_pair()
    other_stream, other_sock = socket_pair()
    broken = plain_connection(core, stream, BrokenFlush(stream.socket.fileno(), stream.send_all))
    other = plain_connection(core, other_stream)
    other_peer = Peer(other_sock)
    async with trio.open_nursery() as nursery:  # both in one nursery, as in the server
        nursery.start_soon(serve, broken, stream)
        nursery.start_soon(serve, other, other_stream, "192.0.2.2")
        await register(other_peer, "gus")
        await Peer(theirs).send("NICK hal", "USER hal 0 * :h")
        while broken.state is not State.DEAD:
            await trio.sleep(0.1)
        await other_peer.send("PING :still")
        assert (await other_peer.lines_until(b"still"))[-1].endswith(b" still")
        nursery.cancel_scope.cancel()
    assert [c.nick for c in core.clients.values()] == []


async def test_direct_writes_run_in_slices_and_the_loop_turns_between_them():
    from confchat.transport.connection import DIRECT_SLICE, DirectWrites

    writes = DirectWrites()
    done: list[int] = []
    count = 2 * DIRECT_SLICE + 5
    for i in range(count):
        writes.schedule(lambda i=i: done.append(i))
    seen: list[int] = []  # how many were written each time this task ran
    while len(done) < count:
        await trio.sleep(0)
        seen.append(len(done))
    assert done == list(range(count))  # all of them, in the order scheduled
    # Other tasks ran between slices, and only between them.
    assert any(0 < n < count for n in seen)
    assert all(n % DIRECT_SLICE == 0 or n == count for n in seen)
    assert not writes.ready
    writes.schedule(lambda: done.append(-1))  # a new step schedules a new run
    await trio.sleep(0.01)
    assert done[-1] == -1
