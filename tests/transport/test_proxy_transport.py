"""Trusted proxies in the trio shell, over loopback sockets on trio's mock
clock: a PROXY protocol listener takes the client's address from a trusted
peer's header and refuses (with a log line) untrusted peers, bogus headers
and peers that never send one; the HTTP port counts, limits and routes each
request by the address a trusted proxy forwards, and ignores the header
from anyone else."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import attrs
import pytest
import structlog
import trio
import trio.testing

from confchat.config import Config
from confchat.core.server import Server
from confchat.transport.forwarded import TrustedProxies
from confchat.transport.http import Admission, HttpServer, Request, Response
from confchat.transport.proxy import V2_SIGNATURE
from confchat.transport.tcp import accept_loops, handle_proxied_tcp

pytestmark = pytest.mark.anyio

PROXY = "127.0.0.1"  # the trusted proxy; everything else on 127/8 is a stranger


@pytest.fixture
def anyio_backend():
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


def make_core(listen: dict | None = None, **limits) -> Server:
    config = Config()
    config = attrs.evolve(
        config,
        listen=attrs.evolve(config.listen, trusted_proxies=(PROXY,), **(listen or {})),
        limits=attrs.evolve(config.limits, **limits),
    )
    return Server(config, clock=trio.current_time)


def v2_tcp4(src: str, sport: int = 40000) -> bytes:
    block = bytes(map(int, src.split("."))) + bytes((127, 0, 0, 1)) + sport.to_bytes(2, "big") + (6668).to_bytes(2, "big")
    return V2_SIGNATURE + b"\x21\x11" + len(block).to_bytes(2, "big") + block


async def read_until(stream: trio.SocketStream, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = await stream.receive_some(65536)
        if not chunk:
            break
        data += chunk
    return data


async def read_all(stream: trio.SocketStream) -> bytes:
    data = b""
    try:
        while chunk := await stream.receive_some(65536):
            data += chunk
    except trio.BrokenResourceError:
        pass
    return data


# ---------------------------------------------------------------- PROXY protocol listener


@asynccontextmanager
async def proxy_listener(core: Server) -> AsyncIterator[int]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    trusted = TrustedProxies(core.config.listen.trusted_proxies)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_loops, listeners, nursery, lambda s: handle_proxied_tcp(core, s, trusted))
        yield listeners[0].socket.getsockname()[1]
        nursery.cancel_scope.cancel()


async def register(port: int, first: bytes, local: str = PROXY, nick: str = "visitor") -> trio.SocketStream:
    stream = await trio.open_tcp_stream("127.0.0.1", port, local_address=local)
    await stream.send_all(first + f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
    return stream


async def test_a_trusted_proxy_s_v2_header_gives_the_client_s_address():
    core = make_core()
    async with proxy_listener(core) as port:
        stream = await register(port, v2_tcp4("203.0.113.7"))
        await read_until(stream, b" 001 ")
        [client] = core.clients.values()
        assert client.ip == "203.0.113.7" and core.per_ip == {"203.0.113.7": 1}
        await stream.aclose()


async def test_a_v1_header_in_pieces_with_irc_behind_it_in_the_same_segment():
    core = make_core()
    async with proxy_listener(core) as port:
        stream = await trio.open_tcp_stream("127.0.0.1", port, local_address=PROXY)
        await stream.send_all(b"PROXY TCP6 2001:db8::7 ::1 4")
        await trio.sleep(1)  # within proxy_header_timeout
        await stream.send_all(b"0000 6668\r\nNICK six\r\nUSER six 0 * :six\r\n")
        await read_until(stream, b" 001 ")
        [client] = core.clients.values()
        assert client.ip == "2001:db8::7" and client.nick == "six"
        await stream.aclose()


async def test_the_per_address_limit_counts_real_addresses_behind_one_proxy():
    core = make_core(max_connections_per_ip=2)
    async with proxy_listener(core) as port:
        streams = [await register(port, v2_tcp4("203.0.113.1"), nick=f"a{i}") for i in range(2)]
        for stream in streams:
            await read_until(stream, b" 001 ")
        third = await register(port, v2_tcp4("203.0.113.1"), nick="a3")
        assert b"Too many connections from your IP address" in await read_all(third)
        other = await register(port, v2_tcp4("203.0.113.2"), nick="b")
        await read_until(other, b" 001 ")
        assert core.per_ip == {"203.0.113.1": 2, "203.0.113.2": 1}
        for stream in (*streams, other):
            await stream.aclose()


async def test_a_local_health_check_is_the_proxy_itself():
    core = make_core()
    async with proxy_listener(core) as port:
        stream = await register(port, V2_SIGNATURE + b"\x20\x00\x00\x00", nick="check")
        await read_until(stream, b" 001 ")
        [client] = core.clients.values()
        assert client.ip == PROXY
        await stream.aclose()


async def refused(port: int, send: bytes, local: str = PROXY) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port, local_address=local)
    if send:
        await stream.send_all(send)
    return await read_all(stream)


async def test_an_untrusted_peer_is_closed_and_logged_even_with_a_valid_header():
    core = make_core()
    with structlog.testing.capture_logs() as logs:
        async with proxy_listener(core) as port:
            assert await refused(port, v2_tcp4("203.0.113.7") + b"NICK x\r\n", local="127.0.0.2") == b""
    assert not core.clients and not core.per_ip
    assert core.stats.connections_refused["proxy_untrusted"] == 1
    assert [(e["event"], e["peer"]) for e in logs if e["event"].startswith("proxy.")] == [
        ("proxy.untrusted_peer", "127.0.0.2")
    ]


@pytest.mark.parametrize(
    "send, reason",
    [
        (b"NICK visitor\r\nUSER visitor 0 * :v\r\n", "not a PROXY protocol header"),
        (b"PROXY TCP4 203.0.113.007 127.0.0.1 1 2\r\nNICK v\r\n", "canonical IPv4"),
        (V2_SIGNATURE + b"\x21\x12\x00\x0c" + bytes(12), "datagram"),
        (b"PROXY TCP4 203.0.113", "closed before a whole PROXY header"),  # then EOF
    ],
)
async def test_a_bogus_header_closes_the_connection_with_its_reason_logged(send, reason):
    core = make_core()
    with structlog.testing.capture_logs() as logs:
        async with proxy_listener(core) as port:
            stream = await trio.open_tcp_stream("127.0.0.1", port, local_address=PROXY)
            await stream.send_all(send)
            if reason.startswith("closed"):
                await stream.send_eof()
            assert await read_all(stream) == b""
    assert not core.clients
    assert core.stats.connections_refused["proxy_header"] == 1
    [entry] = [e for e in logs if e["event"] == "proxy.header_refused"]
    assert reason in entry["reason"] and entry["peer"] == PROXY


async def test_a_peer_that_never_sends_a_header_is_timed_out():
    core = make_core(proxy_header_timeout=3.0)
    with structlog.testing.capture_logs() as logs:
        async with proxy_listener(core) as port:
            stream = await trio.open_tcp_stream("127.0.0.1", port, local_address=PROXY)
            start = trio.current_time()
            assert await read_all(stream) == b""
            assert trio.current_time() - start == pytest.approx(3.0)
    [entry] = [e for e in logs if e["event"] == "proxy.header_refused"]
    assert entry["reason"] == "no PROXY header within 3 seconds"


# ---------------------------------------------------------------- the HTTP port behind a proxy


@asynccontextmanager
async def http_site(core: Server) -> AsyncIterator[tuple[int, list[Request]]]:
    calls: list[Request] = []

    async def healthz(request: Request) -> Response:
        calls.append(request)
        return Response.text(200, request.ip)

    server = HttpServer(core, {"/healthz": healthz})
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_loops, listeners, nursery, server.handle)
        yield listeners[0].socket.getsockname()[1], calls
        nursery.cancel_scope.cancel()


def get(headers: str = "", close: bool = True) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return f"GET /healthz HTTP/1.1\r\nHost: confchat\r\n{headers}{connection}\r\n".encode()


async def request(port: int, data: bytes, local: str = PROXY) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port, local_address=local)
    await stream.send_all(data)
    return await read_all(stream)


async def test_a_request_through_a_trusted_proxy_is_the_visitor_s():
    core = make_core()
    async with http_site(core) as (port, calls):
        answer = await request(port, get("X-Forwarded-For: 1.2.3.4, 203.0.113.7\r\n"))
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\n203.0.113.7\n")
        # A stranger's header changes nothing.
        answer = await request(port, get("X-Forwarded-For: 203.0.113.7\r\n"), local="127.0.0.2")
        assert answer.endswith(b"\r\n\r\n127.0.0.2\n")
    assert [c.ip for c in calls] == ["203.0.113.7", "127.0.0.2"]


async def test_forwarded_is_read_only_where_configured():
    core = make_core({"forwarded_header": "forwarded"})
    both = 'Forwarded: for="[2001:db8:cafe::17]:4711"\r\nX-Forwarded-For: 192.0.2.99\r\n'
    async with http_site(core) as (port, calls):
        await request(port, get(both))
    core = make_core()
    async with http_site(core) as (port, calls2):
        await request(port, get(both))
    assert [c.ip for c in calls + calls2] == ["2001:db8:cafe::17", "192.0.2.99"]


async def test_per_address_http_limit_applies_to_forwarded_addresses():
    core = make_core(http_connections_per_ip=1)
    async with http_site(core) as (port, calls):
        # One visitor's keep-alive connection through the proxy holds its place.
        held = await trio.open_tcp_stream("127.0.0.1", port, local_address=PROXY)
        await held.send_all(get("X-Forwarded-For: 203.0.113.7\r\n", close=False))
        assert b"203.0.113.7" in await read_until(held, b"203.0.113.7\n")
        # The same visitor again: refused; another visitor, and the proxy
        # itself (many connections), still served.
        assert (await request(port, get("X-Forwarded-For: 203.0.113.7\r\n"))).startswith(b"HTTP/1.1 503")
        assert (await request(port, get("X-Forwarded-For: 203.0.113.8\r\n"))).startswith(b"HTTP/1.1 200")
        assert (await request(port, get("X-Forwarded-For: 203.0.113.9\r\n"))).startswith(b"HTTP/1.1 200")
        assert core.stats.connections_refused["http_per_ip_limit"] == 1
        await held.aclose()
        await trio.sleep(0.1)
        assert (await request(port, get("X-Forwarded-For: 203.0.113.7\r\n"))).startswith(b"HTTP/1.1 200")
    assert [c.ip for c in calls] == ["203.0.113.7", "203.0.113.8", "203.0.113.9", "203.0.113.7"]


def test_admission_moves_a_place_to_the_forwarded_address():
    admission = Admission(per_ip=1, total=10)
    assert admission.admit(PROXY, limited=False) is None
    assert admission.admit(PROXY, limited=False) is None  # a proxy is not limited by its own address
    assert admission.move(PROXY, "203.0.113.7") is None
    assert admission.move(PROXY, "203.0.113.7") == "http_per_ip_limit"
    assert dict(admission.by_ip) == {PROXY: 1, "203.0.113.7": 1} and admission.open == 2
    admission.release("203.0.113.7")
    admission.release(PROXY)
    assert (admission.open, dict(admission.by_ip)) == (0, {})
