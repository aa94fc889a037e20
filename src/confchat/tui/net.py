"""The client's connection: a small asyncio task that feeds the session.

It reads bytes, splits them with the server's own :class:`LineDecoder`,
parses each line and hands it to :class:`~.session.Session`, and writes what
the session returns. When the connection ends it tells the session and
connects again after a back-off (1 s, doubling up to 30 s), until the
session says a login was refused or the client quits. TLS with ``ssl``
when asked (``--tls``), verified against the system's certificates or the
file given.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Callable

from ..proto.codec import LineDecoder, LineTooLong, ProtocolError, parse_line
from .session import Session

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
TICK = 1.0  # seconds between session ticks (CONF INFO refreshes)


def tls_context(cafile: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    if insecure:  # a test server with a self-signed certificate, on request only
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Link:
    """One server, reconnected as long as it runs."""

    def __init__(
        self,
        session: Session,
        host: str,
        port: int,
        tls: ssl.SSLContext | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.session = session
        self.host = host
        self.port = port
        self.tls = tls
        self.on_change = on_change
        self.status = "connecting"
        self._writer: asyncio.StreamWriter | None = None
        self._stopping = False
        self._wake = asyncio.Event()

    def send(self, lines: list[str]) -> bool:
        """Write lines now; False when there is no connection."""
        if self._writer is None or self._writer.is_closing():
            return False
        if lines:
            self._writer.write(b"".join(line.encode("utf-8") + b"\r\n" for line in lines))
        return True

    def drop(self) -> None:
        """Close the current connection (the next one follows after the back-off)."""
        if self._writer is not None:
            self._writer.close()

    def reconnect_now(self) -> None:
        self._wake.set()

    async def stop(self, reason: str = "Leaving") -> None:
        self._stopping = True
        self._wake.set()
        if self._writer is not None and not self._writer.is_closing():
            self.send([f"QUIT :{reason}"])
            try:
                await asyncio.wait_for(self._writer.drain(), 2)
            except (OSError, asyncio.TimeoutError):
                pass
            self._writer.close()

    async def run(self) -> None:
        backoff = BACKOFF_FIRST
        ticker = asyncio.create_task(self._tick())
        try:
            while not self._stopping and self.session.fatal is None:
                self.status = "connecting"
                self.on_change()
                try:
                    reader, writer = await asyncio.open_connection(
                        self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None
                    )
                except (OSError, ssl.SSLError) as error:
                    self.status = f"offline ({error.strerror or error})" if isinstance(error, OSError) else "offline"
                    self.session.view.note("error", f"Cannot connect to {self.host}:{self.port}: {error}")
                else:
                    backoff = BACKOFF_FIRST
                    await self._serve(reader, writer)
                if self._stopping or self.session.fatal is not None:
                    break
                self.on_change()
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), backoff)
                except asyncio.TimeoutError:
                    pass
                backoff = min(BACKOFF_MAX, backoff * 2)
        finally:
            ticker.cancel()
            self.status = "stopped" if self.session.fatal is None else "login refused"
            self.on_change()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.status = "online"
        self.send(self.session.connected())
        decoder = LineDecoder()
        reason = "the server closed the connection"
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for raw in decoder.feed(data):
                    if isinstance(raw, LineTooLong) or not raw.strip(b"\r "):
                        continue
                    try:
                        msg = parse_line(raw.decode("utf-8", "replace"))
                    except ProtocolError:
                        continue
                    self.send(self.session.receive(msg))
                self.on_change()
        except (OSError, ssl.SSLError) as error:
            reason = str(error) or type(error).__name__
        finally:
            self._writer = None
            writer.close()
            self.session.lost(reason)
            self.status = "reconnecting"
            self.on_change()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            if self._writer is not None:
                self.send(self.session.tick())
            self.on_change()
