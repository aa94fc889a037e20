"""The HTTP port: plain HTTP/1.1 (h11) and the WebSocket upgrade on ``/ws`` and ``/``.

One listener serves the health and metrics endpoints, the web client's
pages and files, downloads, and IRC over WebSocket. Requests are parsed with
h11; a ``GET /ws`` (or ``GET /``: some IRC clients and test tools connect to
the root; a plain GET of ``/`` is still the home page, only the ``Upgrade:
websocket`` header makes it IRC) asking for a WebSocket upgrade, once its Origin is
allowed, is handed to :mod:`.websocket` with the request's headers and
whatever the client sent behind them (h11's ``trailing_data``).

Limits (``[limits]``), so that one address cannot take the port from the
others (``/healthz`` answers while one holds hundreds of half-sent
requests):

* :class:`Admission`: open connections from one address
  (``http_connections_per_ip``) and from all (``http_connections``); past
  either a newcomer gets 503 and is closed at once. A WebSocket leaves the
  count once upgraded: it is an IRC client, which the core counts
  (``max_connections_per_ip``);
* a request's headers must arrive whole within ``http_header_timeout``
  seconds and its body within ``http_body_timeout`` more, else 408 and close;
  an idle keep-alive connection is closed (without 408) after the former;
* a message with both ``Content-Length`` and ``Transfer-Encoding`` (request
  smuggling) gets 400 and the connection is closed (RFC 9112 section 6.1:
  h11 would read it as chunked and keep the connection).

Routes are plain async functions ``(Request) -> Response`` registered by the
application; this module knows nothing of what they serve.
"""

from __future__ import annotations

import urllib.parse
from collections import Counter
from typing import Awaitable, Callable, Iterable

import attrs
import h11
import structlog
import trio

from ..core.server import Server
from .forwarded import TrustedProxies, canonical, client_address
from .tcp import accept_loops, peer_ip
from .tls import TlsStream
from .websocket import WebSocket, open_websocket, run_websocket

MAX_REQUEST_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
RECV_CHUNK = 16384
# Where a request with ``Upgrade: websocket`` becomes IRC over WebSocket: the
# documented /ws, and the root, where some clients and test tools connect.
WEBSOCKET_PATHS = frozenset({"/ws", "/"})
# After an error response the server stops sending and reads (and drops)
# what the client still sends, for this long or this many bytes, before it
# closes: closing with unread input sends a reset, which may reach the
# client before it has read the answer (nginx's lingering_close).
LINGER_SECONDS = 1.0
LINGER_BYTES = 64 * 1024
# A refusal is a few hundred bytes into a fresh socket's empty buffer; a
# client that somehow does not take them is not waited for.
REFUSAL_SECONDS = 1.0

log = structlog.get_logger("confchat.http")

# Sent with every response.
BASE_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]


def _refusal(text: bytes) -> bytes:
    """The whole answer to a connection refused at accept, built once."""
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(text))),
        ("Retry-After", "10"),
        ("Connection", "close"),
        *BASE_HEADERS,
    ]
    return b"HTTP/1.1 503 Service Unavailable\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in headers) + b"\r\n" + text


REFUSED = _refusal(b"Too many connections; try again soon.\n")


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


# Seconds a connection must have waited for a request's head before a
# newcomer may take its place on a full port: a real browser's request
# arrives in milliseconds; a half-sent one waits for the header timeout.
EVICT_AFTER = 1.0


class Admission:
    """Which connections the HTTP port holds: at most ``per_ip`` from one
    address (``exempt`` ones aside) and ``total`` in all. Pure bookkeeping:
    :meth:`admit` says why not (the reason counted in the metrics) or takes
    a place, :meth:`release` gives it back."""

    __slots__ = ("per_ip", "total", "exempt", "by_ip", "open")

    def __init__(self, per_ip: int, total: int, exempt: Iterable[str] = ()) -> None:
        self.per_ip = per_ip
        self.total = total
        self.exempt = frozenset(exempt)
        self.by_ip: Counter[str] = Counter()
        self.open = 0

    def admit(self, ip: str, limited: bool = True) -> str | None:
        """None, with a place taken for ``ip``; or the reason it is refused.
        ``limited=False``: a trusted proxy, whose requests are counted by
        the address each one is for (:meth:`move`)."""
        if self.open >= self.total:
            return "http_limit"
        if limited and self.by_ip[ip] >= self.per_ip and ip not in self.exempt:
            return "http_per_ip_limit"
        self.by_ip[ip] += 1
        self.open += 1
        return None

    def move(self, old: str, new: str) -> str | None:
        """The place held for ``old`` now counts for ``new`` (a request's
        real address behind a proxy, or a newcomer taking a stalled
        connection's place on a full port); or the reason ``new`` may not
        have it."""
        if old == new:
            return None
        if self.by_ip[new] >= self.per_ip and new not in self.exempt:
            return "http_per_ip_limit"
        self.release(old)
        self.by_ip[new] += 1
        self.open += 1
        return None

    def release(self, ip: str) -> None:
        self.open -= 1
        left = self.by_ip[ip] - 1
        if left:
            self.by_ip[ip] = left
        else:
            del self.by_ip[ip]


class BadRequest(Exception):
    """A request the server answers with ``status`` and then closes."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def framing_error(head: h11.Request) -> BadRequest | None:
    """RFC 9112 section 6.1: a message with both Transfer-Encoding and
    Content-Length may be an attempt at request smuggling or response
    splitting; a server ought to treat it as an error and must close after
    responding. (h11 refuses codings other than chunked and repeated
    Transfer-Encoding itself.)"""
    names = {name for name, _ in head.headers}
    if b"transfer-encoding" in names and b"content-length" in names:
        return BadRequest(400, "Content-Length and Transfer-Encoding together")
    return None


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
        websocket: bool = True,
    ) -> None:
        self.core = core
        self.websocket = websocket  # False: a port for supervision only (a worker's metrics)
        self.routes = routes  # exact paths
        self.prefix_routes = prefix_routes or {}  # "/static/" -> handler
        self.allowed_origins = allowed_origins
        limits = core.limits
        self.admission = Admission(
            limits.http_connections_per_ip, limits.http_connections, limits.connection_limit_exempt
        )
        self.header_timeout = limits.http_header_timeout
        # Connections waiting for a request's head (a new one, or the next
        # on a kept-alive one), oldest first: when the port is full, the
        # oldest of them that has waited EVICT_AFTER gives its place to the
        # newcomer, so that many addresses sending half requests cannot shut
        # the port for everyone until the header timeout frees it.
        self.waiting: dict[int, tuple[float, trio.CancelScope, list[str]]] = {}
        self.body_timeout = limits.http_body_timeout
        # Proxies whose forwarding header gives each request's address.
        self.trusted = TrustedProxies(core.config.listen.trusted_proxies)
        self.forwarded_header = core.config.listen.forwarded_header

    async def handle(self, stream: trio.SocketStream) -> None:
        ip = peer_ip(stream)
        if ip is None:
            await stream.aclose()
            return
        await self.serve_connection(stream, ip)

    async def serve_connection(self, stream: trio.abc.HalfCloseableStream, ip: str) -> None:
        """One connection from ``ip``, admitted or refused; closed on return.
        From a trusted proxy, each request counts for the address its
        forwarding header gives instead. A WebSocket upgrade makes it an IRC
        client: this frame then keeps only the WebSocket and its address
        (the HTTP side's state, the request and its headers, is let go)."""
        try:
            opened = await self._serve_http(stream, ip)
            if opened is not None:
                ws, ws_ip = opened
                del opened
                await run_websocket(self.core, ws, ws_ip)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        except Exception:
            log.exception("http.crashed")
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await stream.aclose()

    async def _serve_http(self, stream: trio.abc.HalfCloseableStream, ip: str) -> tuple[WebSocket, str] | None:
        """Admission, then the requests: None at the end, or (the open
        WebSocket, its client's address) after an upgrade."""
        ip = canonical(ip)
        proxied = ip in self.trusted
        refused = self.admission.admit(ip, limited=not proxied)
        place = [ip]  # emptied when given back: at the end, on becoming a WebSocket, or evicted
        if refused == "http_limit":
            refused = self._evict_for(ip)
        if refused is not None:
            self.core.stats.connections_refused[refused] += 1
            log.debug("http.refused", reason=refused)
            with trio.move_on_after(REFUSAL_SECONDS):
                try:
                    await stream.send_all(REFUSED)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    pass
            return None

        def leave() -> None:
            if place:
                self.admission.release(place.pop())

        def relocate(real: str) -> str | None:
            refused = self.admission.move(place[0], real) if place else None
            if place and refused is None:
                place[0] = real
            return refused

        try:
            return await self._serve(stream, ip, leave, relocate if proxied else None, place)
        finally:
            leave()

    def _evict_for(self, ip: str) -> str | None:
        """The port is full: give ``ip`` the place of the connection that
        has waited longest for a request's head, if it has waited
        ``EVICT_AFTER`` seconds; None when done, else why not."""
        now = trio.current_time()
        for key, (since, scope, place) in list(self.waiting.items()):
            if now - since < EVICT_AFTER:
                break  # the rest came later
            if not place:
                continue
            refused = self.admission.move(place[0], ip)  # the place changes hands
            if refused is not None:
                return refused
            place.clear()
            del self.waiting[key]
            scope.cancel()
            self.core.stats.connections_refused["http_evicted"] += 1
            log.debug("http.evicted", waited=round(now - since, 1))
            return None
        return "http_limit"

    async def _serve(
        self,
        stream: trio.abc.HalfCloseableStream,
        ip: str,
        leave: Callable[[], None],
        relocate: Callable[[str], str | None] | None = None,
        place: list[str] | None = None,
    ) -> tuple[WebSocket, str] | None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
        while True:
            try:
                with trio.CancelScope() as waiting:
                    key = id(waiting)
                    if place is not None:
                        self.waiting[key] = (trio.current_time(), waiting, place)
                    try:
                        head = await self._read_head(conn, stream)
                    finally:
                        self.waiting.pop(key, None)
                if waiting.cancelled_caught:
                    return None  # its place went to a newcomer while it sent nothing whole
                if head is None:
                    return None  # closed, or idle too long, between requests
                request = self._request(head, ip)
                if relocate is not None:  # behind a trusted proxy: the visitor's address
                    request.ip = client_address(ip, request.headers, self.trusted, self.forwarded_header)
                    refused = relocate(request.ip)
                    if refused is not None:
                        self.core.stats.connections_refused[refused] += 1
                        raise BadRequest(503, "Too many connections; try again soon.")
                with trio.move_on_after(self.body_timeout) as reading:
                    request.body = await self._read_body(conn, stream)
                if reading.cancelled_caught:
                    raise BadRequest(408, "The request's body did not arrive in time")
            except h11.RemoteProtocolError as exc:
                await self._close_with_error(conn, stream, exc.error_status_hint, "Bad request")
                return None
            except BadRequest as exc:
                await self._close_with_error(conn, stream, exc.status, exc.text)
                return None
            if (self.websocket and request.path in WEBSOCKET_PATHS
                    and "websocket" in request.headers.get("upgrade", "").lower()):
                leave()  # an IRC client from now on: the core counts it
                return await self._websocket(stream, request, conn.trailing_data[0])
            response = await self._dispatch(request)
            await self._send(conn, stream, response, head=request.method == "HEAD")
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return None
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return None

    async def _read_head(self, conn: h11.Connection, stream: trio.abc.HalfCloseableStream) -> h11.Request | None:
        """The next request's head; None at end of file or after
        ``header_timeout`` with nothing of a request received (an idle
        keep-alive connection). Part of a head by then: 408."""
        with trio.move_on_after(self.header_timeout) as waiting:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive_some(RECV_CHUNK)
                    conn.receive_data(data)  # b"" means EOF
                    continue
                if isinstance(event, h11.Request):
                    if (problem := framing_error(event)) is not None:
                        raise problem
                    return event
                return None  # ConnectionClosed (or PAUSED, which no request reaches here)
        assert waiting.cancelled_caught
        if conn.trailing_data[0].strip():
            raise BadRequest(408, "The request's headers did not arrive in time")
        return None

    async def _read_body(self, conn: h11.Connection, stream: trio.abc.HalfCloseableStream) -> bytes:
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(RECV_CHUNK))  # b"": h11 raises
                continue
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise h11.RemoteProtocolError("body too large", error_status_hint=413)
                continue
            # EndOfMessage, or PAUSED after an upgrade request
            return bytes(body)

    def _request(self, head: h11.Request, ip: str) -> Request:
        target = head.target.decode("latin-1")
        path, _, query = target.partition("?")
        headers: dict[str, str] = {}
        for name, value in head.headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        return Request(
            head.method.decode("ascii", "replace"),
            urllib.parse.unquote(path),
            dict(urllib.parse.parse_qsl(query)),
            headers,
            b"",
            ip,
        )

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

    async def _websocket(
        self, stream: trio.abc.HalfCloseableStream, request: Request, trailing: bytes
    ) -> tuple[WebSocket, str] | None:
        """The upgrade answered: (the open WebSocket, the client's address),
        or None (refused: a foreign origin, a bad handshake)."""
        if not origin_allowed(request.headers.get("origin"), request.headers.get("host"), self.allowed_origins):
            log.warning("websocket.origin_refused", origin=request.headers.get("origin"))
            await stream.send_all(
                b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n"
                b"Connection: close\r\n\r\nThis origin may not open a WebSocket.\r\n"
            )
            return None
        assert isinstance(stream, (trio.SocketStream, TlsStream))  # direct writes need its socket
        ws = await open_websocket(stream, list(request.headers.items()), request.path, trailing)
        return None if ws is None else (ws, request.ip)

    async def _send(
        self, conn: h11.Connection, stream: trio.abc.HalfCloseableStream, response: Response, head: bool = False
    ) -> None:
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

    async def _close_with_error(
        self, conn: h11.Connection, stream: trio.abc.HalfCloseableStream, status: int, text: str
    ) -> None:
        """Answer ``status`` with ``Connection: close``, then linger: stop
        sending and drop what the client still sends for a moment, so the
        answer is read before the connection closes."""
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        response = Response.text(status, text)
        response.headers.append(("Connection", "close"))
        try:
            await self._send(conn, stream, response)
        except h11.LocalProtocolError:
            return
        with trio.move_on_after(LINGER_SECONDS):
            await stream.send_eof()
            dropped = 0
            while dropped < LINGER_BYTES and (data := await stream.receive_some(RECV_CHUNK)):
                dropped += len(data)


async def serve_http(
    server: HttpServer, listeners: list[trio.SocketListener], connections: trio.Nursery
) -> None:
    """The HTTP port on ``listeners`` until cancelled."""
    await accept_loops(listeners, connections, server.handle)
