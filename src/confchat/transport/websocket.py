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
from .connection import run_connection

SUBPROTOCOLS = ("text.ircv3.net", "binary.ircv3.net")
# A WebSocket message carries one line: 8191 bytes of tags + 512 of body.
MAX_MESSAGE = 16 * 1024

log = structlog.get_logger("confchat.websocket")


def choose_subprotocol(proposed: list[str]) -> str | None:
    for name in SUBPROTOCOLS:
        if name in proposed:
            return name
    return None


async def serve_websocket(core: Server, request: WebSocketRequest, ip: str) -> None:
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

    async def send(data: bytes) -> None:
        try:
            for line in data.split(b"\r\n"):
                if line:
                    await ws.send_message(line if binary else line.decode("utf-8", "replace"))
        except ConnectionClosed as exc:
            raise trio.BrokenResourceError from exc

    try:
        await run_connection(core, ip, "websocket", receive, send)
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await ws.aclose()
