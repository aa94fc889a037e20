"""IRC over WebSocket through the HTTP port's hand-off, against a wsproto
client on loopback: the handshake, one line per message, fragments, pings,
both close handshakes, the message size limit, and the order of frames when
the socket falls behind."""

from __future__ import annotations

import os
import socket
from contextlib import asynccontextmanager
from typing import AsyncIterator

import attrs
import pytest
import trio
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)

from confchat.config import Config
from confchat.core.server import Server
from confchat.transport import websocket
from confchat.transport.http import HttpServer
from confchat.transport.tcp import accept_loops
from confchat.transport.websocket import MAX_MESSAGE, OPCODE_BINARY, OPCODE_TEXT, frames_for

pytestmark = pytest.mark.anyio


def make_core(**limits) -> Server:
    config = Config()
    return Server(attrs.evolve(config, limits=attrs.evolve(config.limits, **limits)))


class Site:
    """The HTTP port of a test server, and the clients opened on it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.clients: list[Client] = []

    async def open(self, *args, **kwargs) -> tuple["Client", Event | None]:
        client, event = await Client.open(self.port, *args, **kwargs)
        self.clients.append(client)
        return client, event


@asynccontextmanager
async def serving(core: Server, allowed_origins: tuple[str, ...] = ()) -> AsyncIterator[Site]:
    server = HttpServer(core, {}, allowed_origins=allowed_origins)
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_loops, listeners, nursery, server.handle)
        site = Site(listeners[0].socket.getsockname()[1])
        yield site
        for client in site.clients:  # hang up, rather than leave the server waiting for a Close
            await client.stream.aclose()
        nursery.cancel_scope.cancel()


def masked_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client frame built by hand (for what wsproto's client will not send)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode, 0x80 | n]) if n < 126 else bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Client:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.eof = False
        self.parts: list = []  # a message arriving in pieces

    @classmethod
    async def open(
        cls,
        port: int,
        subprotocols: tuple[str, ...] = ("text.ircv3.net",),
        headers: tuple[tuple[str, str], ...] = (),
        then: bytes = b"",
        receive_buffer: int | None = None,
    ) -> tuple["Client", Event | None]:
        client = cls(await trio.open_tcp_stream("127.0.0.1", port))
        if receive_buffer:
            client.stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        request = Request(host=f"127.0.0.1:{port}", target="/ws", subprotocols=list(subprotocols), extra_headers=list(headers))
        await client.stream.send_all(client.ws.send(request) + then)
        return client, await client.event()

    async def send(self, event: Event) -> None:
        await self.stream.send_all(self.ws.send(event))

    async def event(self) -> Event | None:
        """The next event, messages whole; None once the server has closed TCP."""
        with trio.fail_after(10):
            while True:
                for event in self.ws.events():
                    if isinstance(event, (TextMessage, BytesMessage)):
                        self.parts.append(event.data)
                        if not event.message_finished:
                            continue
                        data = ("" if isinstance(event, TextMessage) else b"").join(self.parts)
                        self.parts = []
                        return type(event)(data=data)
                    return event
                if self.eof:
                    return None
                data = await self.stream.receive_some(65536)
                if not data:
                    self.eof = True
                    continue
                self.ws.receive_data(data)

    async def messages_until(self, needle: str) -> list[TextMessage | BytesMessage]:
        """Every message up to the first whose text contains ``needle``."""
        seen: list[TextMessage | BytesMessage] = []
        while True:
            event = await self.event()
            assert isinstance(event, (TextMessage, BytesMessage, Pong)), (event, seen)
            if isinstance(event, Pong):
                continue
            seen.append(event)
            text = event.data if isinstance(event, TextMessage) else event.data.decode()
            if needle in text:
                return seen

    async def register(self, nick: str) -> None:
        await self.send(TextMessage(f"NICK {nick}"))
        await self.send(TextMessage(f"USER {nick} 0 * :{nick}\r\n"))  # a trailing CRLF is tolerated
        await self.messages_until(" 001 ")
        await self.send(TextMessage("PING :settled"))  # the rest of the welcome
        await self.messages_until("settled")


async def test_text_subprotocol_one_line_per_message_without_crlf():
    core = make_core()
    async with serving(core) as site:
        client, accepted = await site.open(("text.ircv3.net", "binary.ircv3.net"))
        assert isinstance(accepted, AcceptConnection) and accepted.subprotocol == "text.ircv3.net"
        await client.send(TextMessage("NICK ann"))
        await client.send(TextMessage("USER ann 0 * :Ann\r\n"))
        messages = await client.messages_until(" 001 ")
        await client.send(TextMessage("PING :end"))
        messages += await client.messages_until("end")
        assert all(isinstance(m, TextMessage) and m.message_finished for m in messages)
        assert all("\r" not in m.data and "\n" not in m.data for m in messages)
        assert " PONG " in messages[-1].data and messages[-1].data.endswith(" end")
        assert core.stats.bytes_in["websocket"] == len(b"NICK ann\r\nUSER ann 0 * :Ann\r\nPING :end\r\n")


async def test_binary_subprotocol_gets_binary_frames_and_a_message_may_hold_several_lines():
    core = make_core()
    async with serving(core) as site:
        client, accepted = await site.open(("binary.ircv3.net",))
        assert isinstance(accepted, AcceptConnection) and accepted.subprotocol == "binary.ircv3.net"
        await client.send(BytesMessage(b"NICK bin\r\nUSER bin 0 * :b"))
        messages = await client.messages_until(" 001 ")
        assert all(isinstance(m, BytesMessage) for m in messages)


async def test_a_client_proposing_no_subprotocol_gets_text():
    core = make_core()
    async with serving(core) as site:
        client, accepted = await site.open(())
        assert isinstance(accepted, AcceptConnection) and accepted.subprotocol is None
        await client.register("plain")


async def test_a_fragmented_message_is_one_line_and_pings_are_answered():
    core = make_core()
    async with serving(core) as site:
        client, _ = await site.open()
        await client.register("frag")
        await client.send(TextMessage("PING :fr", message_finished=False))
        await client.send(Ping(b"between the fragments"))
        await client.send(TextMessage("ag", message_finished=True))
        assert await client.event() == Pong(b"between the fragments")
        assert (await client.messages_until("frag"))[-1].data.endswith(" frag")


async def test_frames_sent_right_behind_the_upgrade_request_are_not_lost():
    core = make_core()
    async with serving(core) as site:
        early = masked_frame(b"NICK early") + masked_frame(b"USER early 0 * :e")
        client, accepted = await site.open(then=early)
        assert isinstance(accepted, AcceptConnection)
        await client.messages_until(" 001 ")


async def test_the_clients_close_is_answered_and_its_client_leaves():
    core = make_core()
    async with serving(core) as site:
        client, _ = await site.open()
        await client.register("bye")
        assert len(core.clients) == 1
        await client.send(CloseConnection(code=1000, reason="done"))
        answer = await client.event()
        assert isinstance(answer, CloseConnection) and answer.code == 1000
        assert await client.event() is None  # then the server closes TCP
        assert not core.clients


async def test_the_server_sends_its_error_line_then_closes_the_websocket():
    core = make_core()
    async with serving(core) as site:
        client, _ = await site.open()
        await client.register("quitter")
        await client.send(TextMessage("QUIT :see you"))
        assert (await client.messages_until("ERROR"))[-1].data.startswith("ERROR")
        close = await client.event()
        assert isinstance(close, CloseConnection) and close.code == 1000
        await client.send(close.response())
        assert await client.event() is None


async def test_a_message_over_the_limit_closes_with_1009_and_one_at_the_limit_does_not():
    core = make_core()
    async with serving(core) as site:
        client, _ = await site.open()
        await client.register("big")
        await client.send(TextMessage("PRIVMSG big :" + "a" * (MAX_MESSAGE - len("PRIVMSG big :"))))
        assert " 417 " in (await client.messages_until(" 417 "))[-1].data  # too long for IRC, not for the WebSocket
        await client.send(TextMessage("a" * (MAX_MESSAGE + 1)))
        close = await client.event()
        assert isinstance(close, CloseConnection) and close.code == 1009


async def test_invalid_utf8_in_a_text_message_closes_with_1007():
    core = make_core()
    async with serving(core) as site:
        client, _ = await site.open()
        await client.register("bad")
        await client.stream.send_all(masked_frame(b"PING :\xff\xfe"))
        close = await client.event()
        assert isinstance(close, CloseConnection) and close.code == 1007


async def test_a_bad_upgrade_request_gets_400_and_a_foreign_origin_403():
    core = make_core()
    async with serving(core, allowed_origins=("https://www.city.example",)) as site:
        stream = await trio.open_tcp_stream("127.0.0.1", site.port)
        await stream.send_all(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"  # no Sec-WebSocket-Key
        )
        answer = b""
        with trio.fail_after(10):
            while data := await stream.receive_some(4096):
                answer += data
        assert answer.startswith(b"HTTP/1.1 400 ")

        _, refused = await site.open(headers=(("Origin", "https://evil.example"),))
        assert isinstance(refused, RejectConnection) and refused.status_code == 403
        _, accepted = await site.open(headers=(("Origin", "https://www.city.example"),))
        assert isinstance(accepted, AcceptConnection)


async def test_frames_stay_whole_and_in_order_when_the_socket_falls_behind(monkeypatch):
    tails: list[int] = []
    write = websocket.RawWebSocket.write

    def recording(self, chunks):
        written = write(self, chunks)
        tails.append(len(self.ws.tail))
        return written

    monkeypatch.setattr(websocket.RawWebSocket, "write", recording)
    core = make_core(flood_burst=100_000, flood_rate=100_000.0, max_sendq=8 * 1024 * 1024)
    count = 2000
    async with serving(core) as site:
        client, _ = await site.open(receive_buffer=32768)
        await client.register("slow")
        filler = "x" * 400
        # About 900 KiB of PONGs the client does not read at first, and a
        # ping in the middle: its pong must not cut into a frame. Thirty
        # lines a message keeps each under the message limit. (The server
        # reads no further while its pong waits behind the backlog, so the
        # client sends from a task of its own.)
        batches = [range(start, min(start + 30, count)) for start in range(0, count, 30)]

        async def send_all() -> None:
            for number, batch in enumerate(batches):
                await client.send(TextMessage("\r\n".join(f"PING :{i}-{filler}" for i in batch)))
                if number == len(batches) // 2:
                    await client.send(Ping(b"mid"))

        numbers, pongs = [], 0
        async with trio.open_nursery() as sending:
            sending.start_soon(send_all)
            await trio.sleep(0.2)
            with trio.fail_after(20):
                while len(numbers) < count:
                    event = await client.event()
                    if isinstance(event, Pong):
                        pongs += 1
                        continue
                    assert isinstance(event, TextMessage)
                    if " PONG " in event.data:
                        numbers.append(int(event.data.rsplit(" ", 1)[1].split("-")[0]))
        assert numbers == list(range(count))
        assert pongs == 1
        assert any(tails), "the socket never fell behind: the test did not test the tail"


def test_a_chunk_is_framed_once_for_every_recipient():
    chunk = b":a!a@h PRIVMSG #c :one\r\n:a!a@h PRIVMSG #c :two\r\n"
    framed = frames_for(chunk, OPCODE_TEXT)
    assert frames_for(chunk, OPCODE_TEXT) is framed
    assert framed == bytes([0x81, 22]) + b":a!a@h PRIVMSG #c :one" + bytes([0x81, 22]) + b":a!a@h PRIVMSG #c :two"
    assert frames_for(chunk, OPCODE_BINARY)[0] == 0x82
