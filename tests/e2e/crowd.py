"""A crowd for end-to-end tests at scale: thousands of visitors over plain
non-blocking sockets, all driven by one selector in the test process (no
thread or process per visitor, no parsing beyond what a phase needs), spread
over loopback source addresses so that the server sees many visitors, not
one address.

    with Crowd(server.host, server.port, "#hall") as crowd:
        crowd.join(10_000)               # registered and joined, pipelined
        ids = crowd.ask(10, 1_000)       # 10 visitors, 1,000 questions each
        crowd.disconnected("v42")        # until the server closes v42
        crowd.leave(5_000)               # the first 5,000 go
"""

from __future__ import annotations

import errno
import resource
import selectors
import socket
import time

# The whole of 127.0.0.0/8 is loopback: each address is another visitor's.
SOURCES = tuple(f"127.0.0.{n}" for n in range(2, 41))
WINDOW = 500  # connections opened but not yet joined, at most (the listen backlog is larger)


class CrowdError(AssertionError):
    """The server refused or closed a visitor, or a phase ran out of time."""


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (a server
    started afterwards inherits it); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard if hard != resource.RLIM_INFINITY else 1 << 20


class Visitor:
    __slots__ = ("sock", "nick", "out", "tail", "connected", "joined", "held", "wanted", "asked", "last", "closed",
                 "may_close")

    def __init__(self, sock: socket.socket, nick: str, out: bytes) -> None:
        self.sock = sock
        self.nick = nick
        self.out = bytearray(out)
        self.tail = b""
        self.connected = False
        self.joined = False
        self.held: list[int] = []  # item ids, from the HELD notes
        self.wanted = 0  # HELD notes still expected
        self.asked: list[str] = []  # the questions sent, in order (a HELD note each, in the same order)
        self.last = b""  # the last line received
        self.closed = False
        self.may_close = False  # the server closing it is expected (a moderator disconnects it)


class Crowd:
    def __init__(self, host: str, port: int, channel: str, prefix: str = "v", sources=SOURCES) -> None:
        self.address = (host, port)
        self.channel = channel
        self.prefix = prefix
        self.sources = sources
        self.sel = selectors.DefaultSelector()
        self.visitors: list[Visitor] = []
        self.joined = 0
        self.questions: dict[int, str] = {}  # item id -> its text, from the HELD notes

    # ------------------------------------------------------------ phases

    def join(self, count: int, timeout: float = 60.0) -> float:
        """Open ``count`` visitors, each sending its registration and JOIN in
        one write, at most WINDOW of them in flight; return once every one has
        its end of NAMES (seconds taken)."""
        started = time.monotonic()
        deadline = started + timeout
        target = len(self.visitors) + count
        opened = len(self.visitors)
        while self.joined < target:
            while opened < target and opened - self.joined < WINDOW:
                self._open(opened)
                opened += 1
            self._step(deadline)
        return time.monotonic() - started

    def ask(self, askers: int, each: int, timeout: float = 60.0) -> list[int]:
        """``askers`` visitors send ``each`` questions apiece, all pipelined;
        return once every HELD note is in: the item ids, in queue order."""
        deadline = time.monotonic() + timeout
        chosen = self.visitors[:askers]
        for v in chosen:
            texts = [f"Question {n} from {v.nick}: when does the tram reach the north?" for n in range(each)]
            v.asked += texts
            v.out += b"".join(f"PRIVMSG {self.channel} :{text}\r\n".encode() for text in texts)
            v.wanted += each
            self.sel.modify(v.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, v)
        while any(v.wanted for v in chosen):
            self._step(deadline)
        return sorted(i for v in chosen for i in v.held)

    def disconnected(self, nick: str, timeout: float = 20.0) -> bytes:
        """Wait until the server closes ``nick``'s connection (reading the
        others meanwhile); the last line it was sent."""
        deadline = time.monotonic() + timeout
        v = next(v for v in self.visitors if v.nick == nick)
        v.may_close = True
        while not v.closed:
            self._step(deadline)
        return v.last

    def leave(self, count: int) -> None:
        """The first ``count`` visitors close their connections (the server
        tells the staff they quit)."""
        leaving, self.visitors = self.visitors[:count], self.visitors[count:]
        for v in leaving:
            if not v.closed:
                self.sel.unregister(v.sock)
            v.sock.close()
        self.joined -= sum(v.joined for v in leaving)

    def close(self) -> None:
        for v in self.visitors:
            try:
                self.sel.unregister(v.sock)
            except (KeyError, ValueError):
                pass
            v.sock.close()
        self.visitors.clear()
        self.sel.close()

    def __enter__(self) -> Crowd:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ the loop

    def _open(self, n: int) -> None:
        nick = f"{self.prefix}{n}"
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind((self.sources[n % len(self.sources)], 0))
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            raise CrowdError(f"{nick}: connect failed: {errno.errorcode.get(code, code)}")
        v = Visitor(sock, nick, (
            # standard-replies: the HELD note names its item (a NOTICE would not).
            f"CAP REQ :standard-replies\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nCAP END\r\n"
            f"JOIN {self.channel}\r\n").encode())
        self.visitors.append(v)
        self.sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, v)

    def _step(self, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise CrowdError(f"out of time: {self.joined} of {len(self.visitors)} joined, "
                             f"{sum(v.wanted for v in self.visitors)} HELD notes missing")
        for key, events in self.sel.select(0.5):
            v = key.data
            if events & selectors.EVENT_WRITE:
                self._write(v)
            if events & selectors.EVENT_READ:
                self._read(v)

    def _write(self, v: Visitor) -> None:
        if not v.connected:
            code = v.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise CrowdError(f"{v.nick}: connect failed: {errno.errorcode.get(code, code)}")
            v.connected = True
        try:
            sent = v.sock.send(v.out) if v.out else 0
        except BlockingIOError:
            return
        del v.out[:sent]
        if not v.out:
            self.sel.modify(v.sock, selectors.EVENT_READ, v)

    def _read(self, v: Visitor) -> None:
        try:
            data = v.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except ConnectionResetError:
            data = b""
        if not data:
            if not v.may_close:
                raise CrowdError(f"{v.nick}: the server closed the connection after {v.last!r}")
            v.closed = True
            self.sel.unregister(v.sock)
            return
        *lines, v.tail = (v.tail + data).split(b"\r\n")
        if lines:
            v.last = lines[-1]
        replies = []
        for line in lines:
            words = line.split(b" ", 6)
            command = words[1] if line.startswith(b":") and len(words) > 1 else words[0]
            if command == b"PING":
                replies.append(b"PONG" + line[4:] + b"\r\n")
            elif command == b"NOTE" and words[2:4] == [b"PRIVMSG", b"HELD"]:
                item_id = int(words[5])
                self.questions[item_id] = v.asked[len(v.held)]
                v.held.append(item_id)
                v.wanted -= 1
            elif command == b"366" and not v.joined:
                v.joined = True
                self.joined += 1
            elif command in (b"ERROR", b"FAIL", b"451", b"465", b"471", b"473", b"474", b"477") and not v.may_close:
                raise CrowdError(f"{v.nick}: {line.decode(errors='replace')}")
        if replies:
            v.out += b"".join(replies)
            self.sel.modify(v.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, v)
