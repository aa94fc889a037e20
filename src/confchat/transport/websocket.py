"""IRC over WebSocket (IRCv3 WebSocket spec): one IRC line per message.

Subprotocols ``text.ircv3.net`` (UTF-8 text messages) and
``binary.ircv3.net`` (binary messages) are offered; a client that proposes
neither gets text. Lines arrive without CRLF (a trailing CRLF is tolerated)
and leave one per WebSocket message. Everything else — registration, limits,
the moderation queue — is the core's, exactly as over TCP.
"""

from __future__ import annotations

import structlog
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest

from ..core.server import Server
from .connection import RawSocket, run_connection

SUBPROTOCOLS = ("text.ircv3.net", "binary.ircv3.net")
# A WebSocket message carries one line: 8191 bytes of tags + 512 of body.
MAX_MESSAGE = 16 * 1024

log = structlog.get_logger("confchat.websocket")

OPCODE_TEXT = 0x81  # FIN + text
OPCODE_BINARY = 0x82  # FIN + binary

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


class RawWebSocket(RawSocket):
    """Direct writes of prebuilt frames to the WebSocket's socket, in order
    with trio-websocket's own writes: whatever the socket does not take
    waits in the stream's ``tail``, which every later write sends first."""

    def __init__(self, ws: WebSocketConnection, replay, opcode: int) -> None:
        super().__init__(replay.fd, replay.send_all)
        self.ws = ws
        self.replay = replay
        self.opcode = opcode

    @property
    def pending(self) -> bool:
        return bool(self.replay.tail)

    def ready(self) -> bool:
        return not (self.replay.tail or self.replay.sending or self.ws._stream_lock.locked()) and self.ws.closed is None

    def wire(self, chunks: list[bytes]) -> bytes:
        return b"".join([frames_for(chunk, self.opcode) for chunk in chunks])

    def write(self, chunks: list[bytes]) -> int:
        written = super().write(chunks)
        self.replay.tail, self.rest = self.rest, b""
        return written

    async def flush(self) -> None:
        async with self.ws._stream_lock:
            await self.replay.send_all(b"")


async def serve_websocket(core: Server, request: WebSocketRequest, ip: str, replay=None) -> None:
    subprotocol = choose_subprotocol(list(request.proposed_subprotocols))
    ws: WebSocketConnection = await request.accept(subprotocol=subprotocol)
    binary = subprotocol == "binary.ircv3.net"

    async def receive() -> bytes:
        try:
            message = await ws.get_message()
        except ConnectionClosed:
            return b""
        data = message.encode("utf-8", "surrogatepass") if isinstance(message, str) else message
        # The line decoder wants line ends; a line already ending in CRLF keeps it.
        return data if data.endswith(b"\n") else data + b"\r\n"

    opcode = OPCODE_BINARY if binary else OPCODE_TEXT
    direct = hasattr(ws, "_stream_lock") and hasattr(ws, "_stream")

    async def send(chunks: list[bytes]) -> None:
        if ws.closed is not None:
            raise trio.BrokenResourceError
        data = b"".join([frames_for(chunk, opcode) for chunk in chunks])
        if direct:
            # Prebuilt frames go straight to the stream, under the lock
            # trio-websocket itself uses for its writes (pings, close).
            async with ws._stream_lock:
                await ws._stream.send_all(data)
        else:  # pragma: no cover - a trio-websocket without those internals
            for chunk in chunks:
                for line in chunk.split(b"\r\n"):
                    if line:
                        await ws.send_message(line if binary else line.decode("utf-8", "replace"))

    raw = RawWebSocket(ws, replay, opcode) if direct and replay is not None else None
    try:
        await run_connection(core, ip, "websocket", receive, send, chunked=True, direct=raw)
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await ws.aclose()
