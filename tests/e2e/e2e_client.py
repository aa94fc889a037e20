"""A small blocking IRC client for end-to-end tests: real sockets, lines
parsed with the project's codec, waits with timeouts (never sleeps)."""

from __future__ import annotations

import socket
import time
from typing import Callable

from confchat.proto.codec import parse_line
from confchat.proto.message import Message

TIMEOUT = 10.0


class Closed(Exception):
    """The server closed the connection."""


class IRCClient:
    def __init__(self, host: str, port: int, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buffer = b""
        self.received: list[Message] = []  # every message, in order
        self.unread: list[Message] = []  # not yet returned by expect()
        self.closed = False
        self.nick = ""

    # -- sending -------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    # -- receiving -----------------------------------------------------------
    def _read_some(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            raise Closed
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for raw in lines:
            raw = raw.rstrip(b"\r")
            if raw:
                msg = parse_line(raw.decode())
                self.received.append(msg)
                self.unread.append(msg)
                if msg.command == "PING":
                    self.send("PONG :" + (msg.params[-1] if msg.params else ""))

    def expect(
        self, predicate: Callable[[Message], bool] | str, timeout: float | None = None
    ) -> Message:
        """The first unread message matching ``predicate`` (a command or
        numeric, or a function); everything before it is consumed."""
        if isinstance(predicate, str):
            command = predicate
            predicate = lambda m: m.command == command  # noqa: E731
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for index, msg in enumerate(self.unread):
                if predicate(msg):
                    del self.unread[: index + 1]
                    return msg
            try:
                self._read_some(deadline)
            except TimeoutError:
                raise AssertionError(
                    f"timed out; unread: {[m for m in self.unread][-10:]}"
                ) from None

    def drain(self, quiet: float = 0.2) -> list[Message]:
        """Read until the server stays quiet for ``quiet`` seconds."""
        while True:
            try:
                self._read_some(time.monotonic() + quiet)
            except TimeoutError:
                break
            except Closed:
                break
        unread, self.unread = self.unread, []
        return unread

    def wait_closed(self, timeout: float | None = None) -> list[Message]:
        """Read until the server closes the connection; everything unread."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.closed:
            try:
                self._read_some(deadline)
            except Closed:
                break
            except TimeoutError:
                raise AssertionError("connection still open") from None
        unread, self.unread = self.unread, []
        return unread

    def roundtrip(self) -> None:
        """Wait until the server has handled everything sent so far."""
        token = f"sync{time.monotonic_ns()}"
        self.send(f"PING {token}")
        self.expect(lambda m: m.command == "PONG" and m.params[-1] == token)

    # -- conveniences --------------------------------------------------------
    def register(
        self,
        nick: str,
        caps: tuple[str, ...] = (),
        password: str | None = None,
        sasl: tuple[str, str] | None = None,
    ) -> Message:
        wanted = list(caps) + (["sasl"] if sasl else [])
        if wanted:
            self.send("CAP LS 302")
        if password is not None:
            self.send(f"PASS {password}")
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :{nick}")
        if wanted:
            self.send("CAP REQ :" + " ".join(wanted))
            self.expect(lambda m: m.command == "CAP" and m.params[1] in ("ACK", "NAK"))
            if sasl:
                import base64

                self.send("AUTHENTICATE PLAIN")
                self.expect("AUTHENTICATE")
                blob = f"{sasl[0]}\0{sasl[0]}\0{sasl[1]}".encode()
                self.send("AUTHENTICATE " + base64.b64encode(blob).decode())
                self.expect(lambda m: m.command in ("903", "904"))
            self.send("CAP END")
        welcome = self.expect("001")
        self.expect(lambda m: m.command in ("376", "422"))
        self.nick = nick
        return welcome

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def screenshots_dir():
    """Where the browser tests save their screenshots: a temporary folder,
    or the folder named by CONFCHAT_SCREENSHOTS (``docs/screenshots`` to
    refresh the ones kept in the repository)."""
    import os
    import tempfile
    from pathlib import Path

    folder = os.environ.get("CONFCHAT_SCREENSHOTS")
    path = Path(folder) if folder else Path(tempfile.gettempdir()) / "confchat-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def assert_no_axe_violations(page, where: str) -> None:
    """Run axe-core on ``page`` (and its frames) and fail with each
    violation's rule, impact, elements and summary."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    for frame in page.frames[1:]:  # frames get axe too, or axe waits for them
        frame.evaluate(axe.axe_script)
    violations = axe.run(page).response["violations"]
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(f"{n['target']} {n.get('failureSummary', '')}" for n in v["nodes"][:5])
        for v in violations
    ]
    assert violations == [], f"axe violations on {where}:\n" + "\n".join(details)
