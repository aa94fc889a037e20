"""TLS on the listeners that ask for it: IRC over TLS and HTTPS/WSS.

The TLS layer is the shell's alone: the core sees lines, as over plain TCP,
and only learns that a connection is secure (and which name the client
asked for, SNI) to advertise the right STS policy (core/caps.py).

:class:`TlsStream` is a trio stream over a TCP stream, built on the
standard library's sans-IO ``ssl.SSLObject`` with memory BIOs, as
``trio.SSLStream`` is. It is ours rather than ``trio.SSLStream`` for one
reason: fan-out. The connection layer (:mod:`.connection`) writes a
message fanned out to thousands with one non-blocking write per recipient,
straight from the event loop, without a task switch each; ``trio.SSLStream``
can only write from a task. Here every byte of ciphertext, whoever made it
(a direct write, a task's ``send_all``, a handshake or a key update answered
while reading), goes through one ordered queue (``tail``): it is written at
once if nothing waits before it, else queued behind what does. TLS records
therefore leave in the order they were made, which is all TLS asks.

:class:`Certificates` holds the server's ``ssl.SSLContext``; ``reload()``
builds a new one from the files (SIGHUP) and swaps it in: a new handshake
uses the new certificate, an open connection keeps the context it was made
with, so no connection is dropped. A reload that fails (a missing file, a key
that does not match) leaves the old certificate in place and says why.

A handshake runs in its connection's own task and is bounded by
``tls.handshake_timeout``: one that fails or stalls costs that connection
and nothing else. At most ``HANDSHAKES_PER_IP`` handshakes from one address
run at once (``limits.connection_limit_exempt`` aside); more are closed at
once, before the core ever sees them.
"""

from __future__ import annotations

import os
import ssl
from collections import Counter
from typing import Any, Callable

import structlog
import trio

from ..config import ConfigError, TlsSection
from ..core.caps import StsPolicy
from ..core.server import Server
from .connection import RawSocket, run_connection
from .tcp import RECV_CHUNK as TCP_RECV_CHUNK
from .tcp import accept_loops, peer_ip

# Bytes asked of the socket per read, as for plain TCP.
RECV_CHUNK = 16384
# TLS handshakes in progress from one address at once. A browser opens a
# handful of connections at a time, an IRC client one; a venue behind one
# address is exempted with limits.connection_limit_exempt.
HANDSHAKES_PER_IP = 20

MIN_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}

log = structlog.get_logger("confchat.tls")


# --------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------


def make_context(section: TlsSection) -> ssl.SSLContext:
    """A server context from ``[tls]``; ``ConfigError`` naming the key and
    the problem when the files cannot serve (missing, unreadable, not PEM,
    a key that does not belong to the certificate, a passphrase)."""
    if not section.cert or not section.key:
        missing = "tls.cert" if not section.cert else "tls.key"
        raise ConfigError(f"{missing}: a TLS listener needs [tls] cert and key (PEM files)")
    for key, path in (("tls.cert", section.cert), ("tls.key", section.key)):
        try:
            with open(path, "rb") as f:
                head = f.read(1 << 20)
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read {path}: {exc.strerror or exc}") from None
        if b"-----BEGIN " not in head:
            raise ConfigError(f"{key}: {path} is not a PEM file (-----BEGIN ... expected)")
        if key == "tls.key" and b"ENCRYPTED" in head:
            raise ConfigError(
                f"{key}: {path} is protected by a passphrase; the server starts unattended, "
                "give it the key without one (openssl pkey -in KEY -out KEY.plain), readable only by its user"
            )
    if section.min_version not in MIN_VERSIONS:
        raise ConfigError(
            f"tls.min_version: expected one of {', '.join(repr(v) for v in MIN_VERSIONS)}, got {section.min_version!r}"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MIN_VERSIONS[section.min_version]
    # No renegotiation: a write never has to wait for a read (direct writes
    # rely on it), and a client cannot make the server redo handshakes.
    context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    # HTTPS speaks HTTP/1.1 (h11); IRC clients send no ALPN.
    context.set_alpn_protocols(["http/1.1"])
    context.sni_callback = _remember_name
    try:
        context.load_cert_chain(section.cert, section.key, password=_no_passphrase)
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if "KEY_VALUES_MISMATCH" in str(exc) or reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(
                f"tls.key: {section.key} does not belong to the certificate in {section.cert} (key values mismatch)"
            ) from None
        raise ConfigError(f"tls.cert: cannot load {section.cert} with {section.key}: {reason}") from None
    return context


def _no_passphrase() -> bytes:
    # Never let OpenSSL prompt on the terminal of an unattended server.
    raise ConfigError("tls.key: the key is protected by a passphrase")


def _remember_name(obj: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
    """The SNI callback: keep the name the client asked for (STS needs it)."""
    obj.server_name_indicated = name  # type: ignore[attr-defined]


def certificate_serial(path: str) -> int | None:
    """The serial number of the first certificate in ``path`` (for the
    logs), or None when cryptography is not installed or the file is odd."""
    try:
        from cryptography import x509
    except ImportError:
        return None
    try:
        with open(path, "rb") as f:
            return x509.load_pem_x509_certificate(f.read()).serial_number
    except (OSError, ValueError):
        return None


class Certificates:
    """The current server context; swapped whole by :meth:`reload`."""

    def __init__(self, section: TlsSection) -> None:
        self.section = section
        self.context = make_context(section)
        self.handshaking: Counter[str] = Counter()

    def reload(self) -> str | None:
        """Load the files again; None when the new certificate is in use,
        else why not (the old one stays)."""
        try:
            context = make_context(self.section)
        except ConfigError as exc:
            log.error("tls.reload_failed", error=str(exc))
            return str(exc)
        self.context = context
        log.info("tls.reloaded", cert=self.section.cert, serial=certificate_serial(self.section.cert))
        return None


# --------------------------------------------------------------------------
# The stream
# --------------------------------------------------------------------------

_SSL_ERRORS = (ssl.SSLError, ssl.CertificateError)


class TlsStream(trio.abc.HalfCloseableStream):
    """TLS, server side, over ``transport`` (a trio stream with a
    ``socket``). ``receive_some`` and ``send_all`` as any trio stream;
    :meth:`write_now` encrypts and writes without awaiting (direct writes).
    One task receives at a time; sends may come from several (each one's
    records stay whole and in order)."""

    def __init__(self, transport: trio.abc.Stream, context: ssl.SSLContext) -> None:
        self.transport = transport
        self.socket = transport.socket  # type: ignore[attr-defined]  # peer_ip() and the fd
        self._fd = self.socket.fileno()
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.ssl = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self.tail = bytearray()  # ciphertext made but not yet taken by the socket
        self._flushing = trio.Lock()  # one task waits for the socket at a time
        self._broken: BaseException | None = None
        self._closed = False

    # -------------------------------------------------------- what the core learns

    @property
    def server_name(self) -> str:
        """The name the client asked for (SNI), "" if none."""
        return getattr(self.ssl, "server_name_indicated", None) or ""

    # -------------------------------------------------------- the ciphertext queue

    @property
    def pending(self) -> bool:
        return bool(self.tail)

    def _emit(self) -> None:
        """Move what OpenSSL produced to the socket, or behind the queue."""
        data = self._outgoing.read()
        if not data:
            return
        if self.tail or self._broken is not None:
            self.tail += data
            return
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:  # the peer is gone: the next flush says so
            self._broken = exc
            written = 0
        if written < len(data):
            self.tail += memoryview(data)[written:]

    async def flush(self) -> None:
        """Until the queue is empty (or the peer is gone)."""
        async with self._flushing:
            while self.tail:
                if self._broken is not None:
                    raise trio.BrokenResourceError("TLS peer gone") from self._broken
                try:
                    written = os.write(self._fd, self.tail)
                except BlockingIOError:
                    written = 0
                except OSError as exc:
                    self._broken = exc
                    continue
                del self.tail[:written]
                if self.tail:
                    await trio.lowlevel.wait_writable(self._fd)

    def write_now(self, data: bytes) -> None:
        """Encrypt ``data`` and write what the socket takes now; the rest
        waits in ``tail`` for :meth:`flush`. Never awaits."""
        if self._closed:
            raise trio.ClosedResourceError("the TLS stream is closed")
        try:
            self.ssl.write(data)
        except _SSL_ERRORS as exc:
            raise trio.BrokenResourceError(f"TLS write failed: {exc}") from exc
        self._emit()

    # -------------------------------------------------------- handshake

    async def do_handshake(self) -> None:
        """The server's side of the handshake; raises BrokenResourceError
        when the client gives up, sends garbage or fails to agree."""
        while True:
            try:
                self.ssl.do_handshake()
            except ssl.SSLWantReadError:
                self._emit()
                await self.flush()
                await self._receive_ciphertext()
                continue
            except _SSL_ERRORS as exc:
                self._emit()  # the alert telling the client why, best effort
                raise trio.BrokenResourceError(f"TLS handshake failed: {exc}") from exc
            self._emit()
            await self.flush()
            return

    async def _receive_ciphertext(self) -> None:
        data = await self.transport.receive_some(RECV_CHUNK)
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    # -------------------------------------------------------- trio.abc.Stream

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._closed:
            raise trio.ClosedResourceError("the TLS stream is closed")
        size = max_bytes or RECV_CHUNK
        while True:
            try:
                data = self.ssl.read(size)
            except ssl.SSLWantReadError:
                self._emit()
                if self.tail:
                    await self.flush()
                await self._receive_ciphertext()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                # close_notify, or the TCP connection closed without one
                # (a ragged end: for IRC and HTTP/1.1 with lengths, the
                # same as an end of file).
                return b""
            except _SSL_ERRORS as exc:
                raise trio.BrokenResourceError(f"TLS read failed: {exc}") from exc
            self._emit()  # e.g. the answer to a key update
            if self.tail:
                await self.flush()
            else:
                await trio.lowlevel.checkpoint()
            return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.write_now(bytes(data))
        await self.flush()
        await trio.lowlevel.checkpoint()

    async def wait_send_all_might_not_block(self) -> None:
        await self.flush()
        await trio.lowlevel.wait_writable(self._fd)

    async def send_eof(self) -> None:
        """A close_notify; reading goes on (what the client still sends)."""
        try:
            self.ssl.unwrap()
        except (ssl.SSLWantReadError, *_SSL_ERRORS):
            pass
        self._emit()
        await self.flush()

    async def aclose(self) -> None:
        """A close_notify if the socket takes it now, then close TCP."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        if not self.tail and self._broken is None:
            try:
                self.ssl.unwrap()
            except (ssl.SSLWantReadError, *_SSL_ERRORS):
                pass
            self._emit()
        await self.transport.aclose()


class TlsDirect(RawSocket):
    """Direct writes through a :class:`TlsStream` for a connection
    (:mod:`.connection`): each write is encrypted for this recipient and
    written at once; what the socket does not take waits in the stream's
    queue, which the connection's writer task flushes. ``wire`` builds the
    plaintext from the outbox's chunks (WebSocket frames over WSS);
    ``busy`` says when another send holds the stream (the WebSocket's lock)."""

    def __init__(
        self,
        stream: TlsStream,
        wire: Callable[[list[bytes]], bytes] | None = None,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(-1, stream.send_all)
        self.stream = stream
        self._wire = wire
        self._busy = busy

    @property
    def pending(self) -> bool:
        return bool(self.stream.tail)

    def ready(self) -> bool:
        return not self.stream.tail and not (self._busy is not None and self._busy())

    def wire(self, chunks: list[bytes]) -> bytes:
        if self._wire is not None:
            return self._wire(chunks)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def write(self, chunks: list[bytes]) -> int:
        data = self.wire(chunks)
        try:
            self.stream.write_now(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise OSError(str(exc)) from exc
        return len(data)

    async def flush(self) -> None:
        await self.stream.flush()


# --------------------------------------------------------------------------
# Accepting
# --------------------------------------------------------------------------


async def accept_tls(core: Server, certs: Certificates, stream: trio.abc.Stream, ip: str) -> TlsStream | None:
    """``stream`` after a completed handshake, or None (then it is closed):
    the handshake failed, took longer than ``tls.handshake_timeout``, or
    ``ip`` already has ``HANDSHAKES_PER_IP`` in progress."""
    handshaking = certs.handshaking
    exempt = ip in core.limits.connection_limit_exempt
    if handshaking[ip] >= HANDSHAKES_PER_IP and not exempt:
        core.stats.connections_refused["tls_handshakes_per_ip"] += 1
        log.debug("tls.refused", reason="handshakes_per_ip")
        await _close(stream)
        return None
    handshaking[ip] += 1
    tls = TlsStream(stream, certs.context)
    problem = "timeout"
    try:
        with trio.move_on_after(certs.section.handshake_timeout):
            await tls.do_handshake()
            problem = ""
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        problem = str(exc.__cause__ or exc) or type(exc).__name__
    finally:
        left = handshaking[ip] - 1
        if left:
            handshaking[ip] = left
        else:
            del handshaking[ip]
    if problem:
        core.stats.connections_refused["tls_handshake"] += 1
        log.debug("tls.handshake_failed", error=problem)
        await _close(stream)
        return None
    return tls


async def _close(stream: trio.abc.Stream) -> None:
    with trio.CancelScope(shield=True), trio.move_on_after(1):
        await stream.aclose()


# --------------------------------------------------------------------------
# Serving: IRC over TLS, HTTPS
# --------------------------------------------------------------------------


async def handle_tls(core: Server, certs: Certificates, stream: trio.SocketStream) -> None:
    """IRC over TLS: the handshake, then the same connection as plain TCP
    (:func:`.tcp.handle_tcp`), its direct writes encrypted."""
    ip = peer_ip(stream)
    if ip is None:
        await _close(stream)
        return
    tls = await accept_tls(core, certs, stream, ip)
    if tls is None:
        return
    try:
        await run_connection(
            core,
            ip,
            "tcp",
            lambda: tls.receive_some(TCP_RECV_CHUNK),
            tls.send_all,
            direct=TlsDirect(tls),
            tls=tls.server_name,
        )
    except Exception:  # never let one connection take the listener down
        log.exception("connection.crashed", transport="tcp", tls=True)
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await tls.aclose()


async def serve_tls(
    core: Server, certs: Certificates, listeners: list[trio.SocketListener], connections: trio.Nursery
) -> None:
    """IRC over TLS on ``listeners`` until cancelled."""
    await accept_loops(listeners, connections, lambda stream: handle_tls(core, certs, stream))


async def serve_https(
    http: Any, certs: Certificates, listeners: list[trio.SocketListener], connections: trio.Nursery
) -> None:
    """The HTTP port's pages, downloads, metrics and WebSocket (wss://)
    over TLS on ``listeners`` until cancelled; ``http``: the
    :class:`.http.HttpServer` that the plain port uses too."""

    async def handle(stream: trio.SocketStream) -> None:
        ip = peer_ip(stream)
        if ip is None:
            await _close(stream)
            return
        tls = await accept_tls(http.core, certs, stream, ip)
        if tls is not None:
            await http.serve_connection(tls, ip)  # closes it

    await accept_loops(listeners, connections, handle)


def sts_policy(section: TlsSection, tls_ports: list[int]) -> StsPolicy | None:
    """The STS policy to advertise: None without ``tls.sts`` or without an
    IRC over TLS listener to send plain clients to."""
    if not section.sts or not (section.sts_port or tls_ports):
        return None
    port = section.sts_port or tls_ports[0]
    return StsPolicy(port, section.sts_duration, section.sts_preload, frozenset(section.sts_hosts))
