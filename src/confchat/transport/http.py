"""The HTTP port: plain HTTP/1.1 (h11) and the ``/ws`` WebSocket upgrade.

One listener serves the health and metrics endpoints, the web client's
pages and files, downloads, and IRC over WebSocket. Requests are parsed with
h11; a ``GET /ws`` asking for a WebSocket upgrade, once its Origin is
allowed, is handed to :mod:`.websocket` with the request's headers and
whatever the client sent behind them (h11's ``trailing_data``).

Routes are plain async functions ``(Request) -> Response`` registered by the
application; this module knows nothing of what they serve.
"""

from __future__ import annotations

import urllib.parse
from typing import Awaitable, Callable

import attrs
import h11
import structlog
import trio

from ..core.server import Server
from .tcp import accept_loops, peer_ip
from .websocket import serve_websocket

# Seconds a client has to send a whole request (slowloris protection).
REQUEST_TIMEOUT = 10.0
MAX_REQUEST_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
RECV_CHUNK = 16384

log = structlog.get_logger("confchat.http")

# Sent with every response.
BASE_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]


@attrs.define
class Request:
    method: str
    path: str  # without the query string, percent-decoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    ip: str


@attrs.define
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = attrs.field(factory=list)

    @classmethod
    def text(cls, status: int, text: str) -> "Response":
        return cls(status, (text + "\n").encode())


Handler = Callable[[Request], Awaitable[Response]]


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """Cross-site WebSocket hijacking guard: a browser always sends Origin;
    it must be this server itself or one of ``allowed``. Non-browser clients
    send none and are let in (they cannot carry a visitor's cookies anyway)."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in {a.rstrip("/").lower() for a in allowed}:
        return True
    parsed = urllib.parse.urlsplit(origin)
    return bool(host) and parsed.scheme in ("http", "https") and parsed.netloc == host.strip().lower()


class HttpServer:
    def __init__(
        self,
        core: Server,
        routes: dict[str, Handler],
        *,
        allowed_origins: tuple[str, ...] = (),
        prefix_routes: dict[str, Handler] | None = None,
    ) -> None:
        self.core = core
        self.routes = routes  # exact paths
        self.prefix_routes = prefix_routes or {}  # "/static/" -> handler
        self.allowed_origins = allowed_origins

    async def handle(self, stream: trio.SocketStream) -> None:
        ip = peer_ip(stream)
        if ip is None:
            await stream.aclose()
            return
        try:
            await self._serve(stream, ip)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        except Exception:
            log.exception("http.crashed")
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await stream.aclose()

    async def _serve(self, stream: trio.SocketStream, ip: str) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
        while True:
            with trio.move_on_after(REQUEST_TIMEOUT) as timeout:
                try:
                    request = await self._read_request(conn, stream, ip)
                except h11.RemoteProtocolError as exc:
                    await self._send_error(conn, stream, exc.error_status_hint, "Bad request")
                    return
            if timeout.cancelled_caught or request is None:
                return
            if request.path == "/ws" and "websocket" in request.headers.get("upgrade", "").lower():
                await self._websocket(stream, request, conn.trailing_data[0])
                return
            response = await self._dispatch(request)
            await self._send(conn, stream, response, head=request.method == "HEAD")
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _read_request(self, conn: h11.Connection, stream: trio.SocketStream, ip: str) -> Request | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(RECV_CHUNK)
                conn.receive_data(data)  # b"" means EOF
                if not data and head is None:
                    return None
                continue
            if isinstance(event, h11.Request):
                head = event
                continue
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise h11.RemoteProtocolError("body too large", error_status_hint=413)
                continue
            if isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                break
            if isinstance(event, h11.ConnectionClosed):
                return None
        assert head is not None
        target = head.target.decode("latin-1")
        path, _, query = target.partition("?")
        headers: dict[str, str] = {}
        for name, value in head.headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        request = Request(
            head.method.decode("ascii", "replace"),
            urllib.parse.unquote(path),
            dict(urllib.parse.parse_qsl(query)),
            headers,
            bytes(body),
            ip,
        )
        return request

    async def _dispatch(self, request: Request) -> Response:
        handler = self.routes.get(request.path)
        if handler is None:
            for prefix, candidate in self.prefix_routes.items():
                if request.path.startswith(prefix):
                    handler = candidate
                    break
        if handler is None:
            return Response.text(404, "Not found")
        if request.method not in ("GET", "HEAD", "POST"):
            return Response.text(405, "Method not allowed")
        try:
            return await handler(request)
        except Exception:
            log.exception("http.handler_failed", path=request.path)
            return Response.text(500, "Internal error")

    async def _websocket(self, stream: trio.SocketStream, request: Request, trailing: bytes) -> None:
        if not origin_allowed(request.headers.get("origin"), request.headers.get("host"), self.allowed_origins):
            log.warning("websocket.origin_refused", origin=request.headers.get("origin"))
            await stream.send_all(
                b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n"
                b"Connection: close\r\n\r\nThis origin may not open a WebSocket.\r\n"
            )
            return
        headers = list(request.headers.items())
        await serve_websocket(self.core, stream, request.ip, headers, request.path, trailing)

    async def _send(self, conn: h11.Connection, stream: trio.SocketStream, response: Response, head: bool = False) -> None:
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            *BASE_HEADERS,
            *response.headers,
        ]
        data = conn.send(h11.Response(status_code=response.status, headers=headers))
        if not head:
            data += conn.send(h11.Data(data=response.body))
        data += conn.send(h11.EndOfMessage())
        await stream.send_all(data)

    async def _send_error(self, conn: h11.Connection, stream: trio.SocketStream, status: int, text: str) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        try:
            await self._send(conn, stream, Response.text(status, text))
        except h11.LocalProtocolError:
            pass


async def serve_http(
    server: HttpServer, listeners: list[trio.SocketListener], connections: trio.Nursery
) -> None:
    """The HTTP port on ``listeners`` until cancelled."""
    await accept_loops(listeners, connections, server.handle)
