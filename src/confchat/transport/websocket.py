"""IRC over WebSocket (IRCv3 WebSocket spec): one IRC line per message.

Subprotocols ``text.ircv3.net`` (UTF-8 text messages) and
``binary.ircv3.net`` (binary messages) are offered; a client that proposes
neither gets text. Lines arrive without CRLF (a trailing CRLF is tolerated)
and leave one per WebSocket message. Everything else — registration, limits,
the moderation queue — is the core's, exactly as over TCP.

The framing is ours, on wsproto (sans-IO): wsproto checks the handshake,
parses what the client sends (masking, fragments, control frames, UTF-8 of
text messages) and builds the pong and close frames. The data frames to the
client are built here, once per chunk of the outbox and reused for every
recipient (server frames are unmasked), and leave like TCP output: written
straight from the event loop, and what the socket does not take by the
connection's writer task (:mod:`.connection`). One lock orders every write to
the stream; what a direct write left unsent (``tail``) goes first.

http.py parses the upgrade request and checks its Origin; it hands over the
stream, the request's headers and whatever the client sent after them.
"""

from __future__ import annotations

import structlog
import trio
from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason
from wsproto.handshake import H11Handshake
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from ..core.server import Server
from .connection import RawSocket, receive_from, run_connection
from .tls import TlsDirect, TlsStream

SUBPROTOCOLS = ("text.ircv3.net", "binary.ircv3.net")
# A WebSocket message carries one line: 8191 bytes of tags + 512 of body.
# Counted in bytes of payload, text or binary; a larger message closes the
# connection with 1009 (message too big).
MAX_MESSAGE = 16 * 1024
# Bytes asked of the socket per read (as for TCP).
RECV_CHUNK = 16384
# Seconds the server waits for the client's Close after its own, and for the
# last frames to leave (trio-websocket's close took the same bound here).
CLOSE_TIMEOUT = 1.0

log = structlog.get_logger("confchat.websocket")

OPCODE_TEXT = 0x81  # FIN + text
OPCODE_BINARY = 0x82  # FIN + binary

BAD_HANDSHAKE = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 30\r\n"
    b"Connection: close\r\n\r\nThis is not a WebSocket upgrade"
)

_PEER_GONE = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)

# Fan-out: the core queues the same bytes object for every recipient of a
# message, so its frames are built once and reused for everyone: a small
# cache keyed by the object's identity (kept alive by the cache itself).
_FRAME_CACHE: dict[tuple[int, int], tuple[bytes, bytes]] = {}
_FRAME_CACHE_SIZE = 1024


def frame(payload: bytes, opcode: int) -> bytes:
    """One unmasked server frame (RFC 6455 5.2)."""
    n = len(payload)
    if n < 126:
        head = bytes((opcode, n))
    elif n < 65536:
        head = bytes((opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


def frames_for(chunk: bytes, opcode: int) -> bytes:
    """The frames for a chunk of IRC lines: one message per line, no CRLF."""
    key = (id(chunk), opcode)
    cached = _FRAME_CACHE.get(key)
    if cached is not None and cached[0] is chunk:
        return cached[1]
    data = b"".join([frame(line, opcode) for line in chunk.split(b"\r\n") if line])
    if len(_FRAME_CACHE) >= _FRAME_CACHE_SIZE:
        _FRAME_CACHE.clear()
    _FRAME_CACHE[key] = (chunk, data)
    return data


def choose_subprotocol(proposed: list[str]) -> str | None:
    for name in SUBPROTOCOLS:
        if name in proposed:
            return name
    return None


class WebSocket:
    """One accepted WebSocket on a trio stream, server side: IRC lines in
    (``receive``), prebuilt frames out (``send_frames``, ``send_all``)."""

    __slots__ = ("stream", "ws", "opcode", "tail", "lock", "_parts", "_size", "_fd")

    def __init__(self, stream: trio.SocketStream, ws: WsConnection, opcode: int) -> None:
        self.stream = stream
        self.ws = ws
        self.opcode = opcode
        self.tail = b""  # what a direct write left unsent: every send sends it first
        self.lock = trio.Lock()  # one send at a time: frames never interleave
        self._parts: list[bytes] = []  # the message being received, by fragment
        self._size = 0
        # A plain socket is read straight (connection.receive_from: fewer
        # coroutine frames kept by an idle connection); wss:// through its stream.
        self._fd = stream.socket.fileno() if isinstance(stream, trio.SocketStream) else -1

    @property
    def fd(self) -> int:
        return self.stream.socket.fileno()

    @property
    def open(self) -> bool:
        """Neither side has sent its Close: data frames may still go out."""
        return self.ws.state is ConnectionState.OPEN

    async def send_all(self, data: bytes) -> None:
        async with self.lock:
            if self.tail:
                tail, self.tail = self.tail, b""
                await self.stream.send_all(tail)
            if data:
                await self.stream.send_all(data)

    async def send_frames(self, chunks: list[bytes]) -> None:
        """The outbox's chunks as frames, one message per line."""
        if not self.open:
            raise trio.BrokenResourceError("the WebSocket is closed")
        opcode = self.opcode
        await self.send_all(b"".join([frames_for(chunk, opcode) for chunk in chunks]))

    async def receive(self) -> bytes:
        """The lines of the next complete messages, each with a line end for
        the line decoder; b"" once the WebSocket is closed. Pings are
        answered and a Close is answered (the close handshake) on the way."""
        while True:
            lines, replies = self._read_events()
            if replies:
                await self.send_all(replies)
            if lines or not self.open:
                return lines
            fd = self._fd
            data = await (receive_from(fd, RECV_CHUNK) if fd >= 0 else self.stream.receive_some(RECV_CHUNK))
            # b"": the peer closed TCP without a Close frame (1006).
            self.ws.receive_data(data or None)

    def _read_events(self) -> tuple[bytes, bytes]:
        """What wsproto has parsed so far: (lines, frames to send back)."""
        ws = self.ws
        lines: list[bytes] = []
        replies = b""
        for event in ws.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                data = event.data.encode() if isinstance(event, TextMessage) else bytes(event.data)
                self._size += len(data)
                if self._size > MAX_MESSAGE:
                    self._parts, self._size = [], 0
                    reason = f"A message may carry {MAX_MESSAGE} bytes at most"
                    replies += ws.send(CloseConnection(code=CloseReason.MESSAGE_TOO_BIG, reason=reason))
                    break
                self._parts.append(data)
                if event.message_finished:
                    message = b"".join(self._parts)
                    self._parts, self._size = [], 0
                    # The line decoder wants line ends; a line already ending in CRLF keeps it.
                    lines.append(message if message.endswith(b"\n") else message + b"\r\n")
            elif isinstance(event, Ping):
                if ws.state is ConnectionState.OPEN:
                    replies += ws.send(event.response())
            elif isinstance(event, CloseConnection):
                if ws.state is ConnectionState.REMOTE_CLOSING:  # the client's Close: answer it
                    replies += ws.send(event.response())
                elif ws.state is ConnectionState.OPEN:  # a protocol error: wsproto names the code
                    replies += ws.send(CloseConnection(code=event.code, reason=event.reason))
                break
            # Pongs need nothing: the server sends no pings (IRC PING keeps
            # connections alive, over every transport alike).
        return b"".join(lines), replies

    async def close(self) -> None:
        """The server's side of the close handshake: a Close (1000) after
        whatever is still unsent, then the client's Close awaited (messages
        after ours are dropped). The caller bounds the time it takes."""
        ws = self.ws
        if ws.state is not ConnectionState.OPEN:
            return
        await self.send_all(ws.send(CloseConnection(code=CloseReason.NORMAL_CLOSURE)))
        while ws.state is ConnectionState.LOCAL_CLOSING:
            if any(isinstance(event, CloseConnection) for event in ws.events()):
                break
            data = await self.stream.receive_some(RECV_CHUNK)
            ws.receive_data(data or None)


class RawWebSocket(RawSocket):
    """Direct writes of prebuilt frames to the WebSocket's socket, in order
    with its other writes: whatever the socket does not take waits in the
    WebSocket's ``tail``, which every later send sends first."""

    __slots__ = ("ws",)

    def __init__(self, ws: WebSocket) -> None:
        super().__init__(ws.fd, ws.send_all)
        self.ws = ws

    @property
    def pending(self) -> bool:
        return bool(self.ws.tail)

    def ready(self) -> bool:
        ws = self.ws
        return not ws.tail and not ws.lock.locked() and ws.open

    def wire(self, chunks: list[bytes]) -> bytes:
        opcode = self.ws.opcode
        return b"".join([frames_for(chunk, opcode) for chunk in chunks])

    def write(self, chunks: list[bytes]) -> int:
        taken = super().write(chunks)
        self.ws.tail, self.rest = self.rest, b""
        return taken

    async def flush(self) -> None:
        await self.ws.send_all(b"")


def accept(headers: list[tuple[str, str]], target: str, trailing: bytes) -> tuple[bytes, WsConnection | None, str | None]:
    """The server's answer to an upgrade request already parsed by http.py:
    (bytes to send, the open connection or None if refused, subprotocol)."""
    handshake = H11Handshake(ConnectionType.SERVER)
    try:
        handshake.initiate_upgrade_connection(headers, target)
        request = next(event for event in handshake.events() if isinstance(event, Request))
    except (RemoteProtocolError, LocalProtocolError, StopIteration) as exc:
        log.info("websocket.handshake_refused", error=str(exc) or type(exc).__name__)
        return BAD_HANDSHAKE, None, None
    subprotocol = choose_subprotocol(list(request.subprotocols))
    response = handshake.send(AcceptConnection(subprotocol=subprotocol))
    ws = handshake.connection
    assert ws is not None
    if trailing:  # frames the client sent right behind its request
        ws.receive_data(trailing)
    return response, ws, subprotocol


async def open_websocket(
    stream: trio.SocketStream, headers: list[tuple[str, str]], target: str = "/ws", trailing: bytes = b""
) -> WebSocket | None:
    """The server's side of the handshake that the upgrade request
    (``headers``) asks for, sent: the open WebSocket, or None if refused."""
    response, connection, subprotocol = accept(headers, target, trailing)
    await stream.send_all(response)
    if connection is None:
        return None
    return WebSocket(stream, connection, OPCODE_BINARY if subprotocol == "binary.ircv3.net" else OPCODE_TEXT)


async def run_websocket(core: Server, ws: WebSocket, ip: str) -> None:
    """IRC over the open WebSocket ``ws`` until either side ends it, then
    the close handshake. The caller closes the stream. (Nothing of the
    upgrade request is kept: an idle WebSocket lives as long as this.)"""
    stream = ws.stream
    try:
        direct: RawSocket = RawWebSocket(ws)
        tls = None
        if isinstance(stream, TlsStream):  # wss://: frames encrypted per recipient (tls.py)
            wire = direct.wire
            direct, tls = TlsDirect(stream, wire, lambda: ws.lock.locked() or not ws.open), stream.server_name
        await run_connection(core, ip, "websocket", ws.receive, ws.send_frames, chunked=True, direct=direct, tls=tls)
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT):
            try:
                await ws.close()
            except _PEER_GONE:
                pass


async def serve_websocket(
    core: Server,
    stream: trio.SocketStream,
    ip: str,
    headers: list[tuple[str, str]],
    target: str = "/ws",
    trailing: bytes = b"",
) -> None:
    """IRC over the WebSocket that the upgrade request (``headers``) asks
    for, until either side ends it. The caller closes ``stream``.
    (http.py calls the two halves itself, so that its frames keep nothing
    of the request meanwhile.)"""
    ws = await open_websocket(stream, headers, target, trailing)
    del headers, trailing
    if ws is not None:
        await run_websocket(core, ws, ip)
