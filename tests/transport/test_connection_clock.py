"""The connection shell's deadlines and delays, on trio's mock clock (it jumps
ahead whenever every task waits), over in-memory streams: no direct writes,
so the writer task lives as long as the connection."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from confchat.core.server import Server
from confchat.transport.connection import CLOSE_GRACE, Connection
from confchat.transport.states import State

from test_connection import mock_clock_core as make_core

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})




def stream_connection(core: Server, stream: trio.abc.Stream) -> Connection:
    return Connection(core, "memory", lambda: stream.receive_some(16384), stream.send_all)


async def lines_of(stream: trio.abc.Stream, into: list[tuple[float, bytes]]) -> None:
    """Every line the server sends, with the (mock) time it arrived."""
    buffer = b""
    while data := await stream.receive_some(65536):
        buffer += data
        *lines, buffer = buffer.split(b"\r\n")
        into.extend((trio.current_time(), line) for line in lines)


async def test_a_peer_that_does_not_read_its_last_lines_is_cut_off_after_close_grace():
    core = make_core()
    ours, theirs = trio.testing.lockstep_stream_pair()  # a send waits for the peer to read
    connection = stream_connection(core, ours)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connection.run, "192.0.2.1")
        await trio.testing.wait_all_tasks_blocked()
        assert connection.state is State.WRITING  # parked: nothing to send
        start = trio.current_time()
        core.shutdown()
        assert connection.state is State.CLOSING
    assert trio.current_time() - start == pytest.approx(CLOSE_GRACE)
    assert connection.state is State.DEAD


async def test_a_peer_that_reads_gets_its_last_line_and_the_end_at_once():
    core = make_core()
    ours, theirs = trio.testing.memory_stream_pair()
    connection = stream_connection(core, ours)
    received: list[tuple[float, bytes]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lines_of, theirs, received)
        async with trio.open_nursery() as serving:
            serving.start_soon(connection.run, "192.0.2.1")
            await trio.testing.wait_all_tasks_blocked()
            start = trio.current_time()
            core.shutdown("Back soon")
        assert trio.current_time() == start
        await ours.aclose()
    assert [line for _, line in received] == [b"ERROR :Back soon"]


async def test_a_refused_connection_that_does_not_read_is_cut_off_after_close_grace():
    core = make_core(max_connections_per_ip=1)
    first, _ = trio.testing.memory_stream_pair()
    refused, _ = trio.testing.lockstep_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stream_connection(core, first).run, "192.0.2.9")
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        connection = stream_connection(core, refused)
        await connection.run("192.0.2.9")
        assert trio.current_time() - start == pytest.approx(CLOSE_GRACE)
        assert connection.client is None and connection.state is State.DEAD
        nursery.cancel_scope.cancel()


async def test_a_flood_is_delayed_line_by_line_and_slows_only_the_flooder():
    core = make_core(flood_burst=3, flood_rate=2.0)
    flooder_ours, flooder = trio.testing.memory_stream_pair()
    other_ours, other = trio.testing.memory_stream_pair()
    flooder_lines: list[tuple[float, bytes]] = []
    other_lines: list[tuple[float, bytes]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stream_connection(core, flooder_ours).run, "192.0.2.1")
        nursery.start_soon(stream_connection(core, other_ours).run, "192.0.2.2")
        nursery.start_soon(lines_of, flooder, flooder_lines)
        nursery.start_soon(lines_of, other, other_lines)
        start = trio.current_time()
        # Six lines at once, three tokens, two more per second: lines 4 to 6
        # are handled 0, 0.5 and 1 s after the burst ran out.
        await flooder.send_all(b"NICK fay\r\nUSER fay 0 * :f\r\nPING :1\r\nPING :2\r\nPING :3\r\nPING :4\r\n")
        await trio.sleep(0.1)
        await other.send_all(b"NICK gus\r\nUSER gus 0 * :g\r\nPING :prompt\r\n")
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    pongs = {line.rsplit(b" ", 1)[1]: when - start for when, line in flooder_lines if b" PONG " in line}
    assert pongs == pytest.approx({b"1": 0.0, b"2": 0.0, b"3": 0.5, b"4": 1.0})
    assert [when - start for when, line in other_lines if b" PONG " in line] == [pytest.approx(0.1)]
    assert any(b"RATE_LIMITED" in line for _, line in flooder_lines)
