"""The HTTP port's limits, over loopback sockets on trio's mock clock (it
jumps ahead whenever every task waits, so a ten-second timeout takes no
time and its moment is exact): connections per address and in all, the
header and body timeouts, WebSockets leaving the count once upgraded, and
the framing that RFC 9112 says to refuse."""

from __future__ import annotations

import base64
import os
import re
from contextlib import asynccontextmanager
from typing import AsyncIterator

import pytest
import trio
import trio.testing

from confchat.core.server import Server
from confchat.transport.http import Admission, HttpServer, Request, Response
from confchat.transport.tcp import accept_loops

from test_connection import mock_clock_core as make_core

pytestmark = pytest.mark.anyio

PARTIAL = b"GET /healthz HTTP/1.1\r\nHost: confchat\r\nX-Slow: "  # and never the rest


@pytest.fixture
def anyio_backend():
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})




class Site:
    def __init__(self, port: int, calls: list[Request]) -> None:
        self.port = port
        self.calls = calls  # requests that reached a route
        self.streams: list[trio.SocketStream] = []

    async def open(self, ip: str = "127.0.0.1", send: bytes = b"") -> trio.SocketStream:
        stream = await trio.open_tcp_stream("127.0.0.1", self.port, local_address=ip)
        self.streams.append(stream)
        if send:
            await stream.send_all(send)
        return stream

    async def get(self, path: str = "/healthz", ip: str = "127.0.0.1") -> bytes:
        """One request on a new connection; everything the server sent."""
        stream = await self.open(ip, f"GET {path} HTTP/1.1\r\nHost: confchat\r\nConnection: close\r\n\r\n".encode())
        return await read_all(stream)


@asynccontextmanager
async def serving(core: Server) -> AsyncIterator[Site]:
    calls: list[Request] = []

    async def healthz(request: Request) -> Response:
        calls.append(request)
        return Response.text(200, "ok")

    server = HttpServer(core, {"/healthz": healthz})
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_loops, listeners, nursery, server.handle)
        site = Site(listeners[0].socket.getsockname()[1], calls)
        yield site
        for stream in site.streams:
            await stream.aclose()
        nursery.cancel_scope.cancel()


async def read_all(stream: trio.SocketStream) -> bytes:
    """What the server sends until it closes (a reset after its answer too)."""
    data = b""
    try:
        while chunk := await stream.receive_some(65536):
            data += chunk
    except trio.BrokenResourceError:
        pass
    return data


def statuses(data: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3})", data)]


# ---------------------------------------------------------------- admission


def test_admission_counts_by_address_and_in_all():
    admission = Admission(per_ip=2, total=3, exempt=("192.0.2.9",))
    assert [admission.admit("192.0.2.1") for _ in range(3)] == [None, None, "http_per_ip_limit"]
    assert admission.admit("192.0.2.9") is None
    assert admission.admit("192.0.2.9") == "http_limit"  # exempt from the first limit only
    admission.release("192.0.2.1")
    assert admission.admit("192.0.2.2") is None
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.9"):
        admission.release(ip)
    assert (admission.open, dict(admission.by_ip)) == (0, {})


# ---------------------------------------------------------------- connection limits


async def test_an_address_past_its_limit_gets_503_and_others_are_still_served():
    core = make_core(http_connections_per_ip=3)
    async with serving(core) as site:
        held = [await site.open("127.0.0.2", PARTIAL) for _ in range(3)]
        assert statuses(await site.get()) == [200]  # 127.0.0.1: served
        answer = await read_all(await site.open("127.0.0.2", PARTIAL))
        assert statuses(answer) == [503] and b"Connection: close" in answer
        assert core.stats.connections_refused["http_per_ip_limit"] == 1
        assert statuses(await site.get(ip="127.0.0.2")) == [503]
        # One of the three ends (its half-sent request answered 400): a place is free.
        await held[0].send_eof()
        assert statuses(await read_all(held[0])) == [400]
        assert statuses(await site.get(ip="127.0.0.2")) == [200]
        assert len(site.calls) == 2


async def test_all_addresses_together_are_limited():
    core = make_core(http_connections=2)
    async with serving(core) as site:
        await site.open("127.0.0.2", PARTIAL)
        await site.open("127.0.0.3", PARTIAL)
        assert statuses(await site.get(ip="127.0.0.4")) == [503]
        assert core.stats.connections_refused["http_limit"] == 1


async def test_exempt_addresses_have_no_limit_of_their_own():
    core = make_core(http_connections_per_ip=1, connection_limit_exempt=("127.0.0.2",))
    async with serving(core) as site:
        await site.open("127.0.0.2", PARTIAL)
        await site.open("127.0.0.2", PARTIAL)
        assert statuses(await site.get(ip="127.0.0.2")) == [200]
        await site.open("127.0.0.3", PARTIAL)
        assert statuses(await site.get(ip="127.0.0.3")) == [503]


def upgrade_request() -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        "GET /ws HTTP/1.1\r\nHost: confchat\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def receive_head(stream: trio.SocketStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive_some(65536)
    return data


async def test_upgraded_websockets_leave_the_count_and_keep_the_cores_limit():
    core = make_core(http_connections_per_ip=2, max_connections_per_ip=3)
    async with serving(core) as site:
        sockets = [await site.open("127.0.0.1", upgrade_request()) for _ in range(4)]
        heads = [await receive_head(stream) for stream in sockets]
        assert [statuses(head) for head in heads] == [[101]] * 4
        # Past the HTTP port's limit, requests are still served...
        assert statuses(await site.get()) == [200]
        # ...and one of the four IRC clients is over the core's own limit.
        assert core.stats.connections_refused == {"per_ip_limit": 1}
        assert len(core.clients) == 3
        ends = []
        for head, stream in zip(heads, sockets):
            with trio.move_on_after(1):  # once every task waits: what was sent is here
                head += await read_all(stream)
            ends.append(head)
        assert sum(b"Too many connections from your IP address" in end for end in ends) == 1


# ---------------------------------------------------------------- timeouts


async def test_headers_that_do_not_arrive_in_time_get_408_even_byte_by_byte():
    core = make_core(http_header_timeout=10.0)
    async with serving(core) as site:
        start = trio.current_time()
        stream = await site.open("127.0.0.1", PARTIAL)

        async def drip() -> None:
            while True:
                await trio.sleep(1)
                await stream.send_all(b"x")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drip)
            answer = await read_all(stream)
            nursery.cancel_scope.cancel()
        assert statuses(answer) == [408] and b"Connection: close" in answer
        assert trio.current_time() - start == pytest.approx(10.0)
        assert site.calls == []


async def test_a_body_that_does_not_arrive_in_time_gets_408():
    core = make_core(http_header_timeout=10.0, http_body_timeout=4.0)
    async with serving(core) as site:
        await trio.sleep(3)  # counted from the end of the headers, not from the connection
        start = trio.current_time()
        stream = await site.open(send=b"POST /healthz HTTP/1.1\r\nHost: confchat\r\nContent-Length: 100\r\n\r\nabc")
        await trio.sleep(2)
        await stream.send_all(b"def")
        answer = await read_all(stream)
        assert statuses(answer) == [408]
        assert trio.current_time() - start == pytest.approx(4.0)
        assert site.calls == []


async def test_an_idle_keep_alive_connection_is_closed_without_a_word_after_the_header_timeout():
    core = make_core(http_header_timeout=10.0)
    async with serving(core) as site:
        stream = await site.open(send=b"GET /healthz HTTP/1.1\r\nHost: confchat\r\n\r\n")
        first = await stream.receive_some(65536)
        assert statuses(first) == [200]
        answered = trio.current_time()
        assert await read_all(stream) == b""
        assert trio.current_time() - answered == pytest.approx(10.0)


# ---------------------------------------------------------------- framing


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    ],
)
async def test_content_length_with_transfer_encoding_is_400_and_the_connection_closes(framing):
    core = make_core()
    async with serving(core) as site:
        # Read as chunked, the body is empty and a second request follows:
        # what a proxy reading Content-Length would not see (smuggling).
        stream = await site.open(
            send=b"POST /healthz HTTP/1.1\r\nHost: confchat\r\n" + framing + b"\r\n0\r\n\r\n"
            b"GET /healthz HTTP/1.1\r\nHost: confchat\r\n\r\n"
        )
        answer = await read_all(stream)
        assert statuses(answer) == [400] and b"Connection: close" in answer
        assert site.calls == []
