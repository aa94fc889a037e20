"""Drive the sans-IO core directly: a fake clock, clients wired to Outboxes,
and helpers that send raw lines and parse everything a client received.

Password checks, which the shell runs in worker threads, are run here at
once after each line (``Net.run_verifications``), so a login reads as if it
were synchronous; set ``Net.verify_at_once = False`` to hold them and run
them when the test says."""

from __future__ import annotations

from typing import Iterable

import attrs

from confchat.config import Config
from confchat.core.client import Client
from confchat.core.cloak import cloak_host
from confchat.core.outbox import Outbox
from confchat.core.passwords import verify_password
from confchat.core.server import Server
from confchat.proto.codec import parse_line
from confchat.proto.message import Message

SERVER_NAME = Config().server.name
# Wall-clock start: 2023-11-14T22:13:20Z.
WALL_START = 1_700_000_000.0


class FakeClock:
    """A callable clock that only moves when told to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def with_limits(config: Config | None = None, **changes) -> Config:
    config = config or Config()
    return attrs.evolve(config, limits=attrs.evolve(config.limits, **changes))


def with_server(config: Config | None = None, **changes) -> Config:
    config = config or Config()
    return attrs.evolve(config, server=attrs.evolve(config.server, **changes))


def plain_irc(config: Config) -> Config:
    """A plain IRC server's side routes: visitors message each other and
    create channels (an event server closes both by default:
    ``tests/core/test_fair_bans.py``)."""
    return with_server(config, visitor_private_messages=True, visitor_channels=True)


# The cloak key of every test server: cloaks are known in advance
# (``cloak_of``), as a server's are once its key is in its data directory.
TEST_CLOAK_KEY = bytes(range(32))


def cloak_of(ip: str) -> str:
    """The host other users see for a connection from ``ip``."""
    return cloak_host(TEST_CLOAK_KEY, ip)


def with_channels(config: Config | None = None, **changes) -> Config:
    config = config or Config()
    return attrs.evolve(config, channels=attrs.evolve(config.channels, **changes))


class Conn:
    """One client connection: the core's Client plus the Outbox it writes to."""

    def __init__(self, net: "Net", client: Client, outbox: Outbox) -> None:
        self.net = net
        self.client = client
        self.outbox = outbox

    @property
    def nick(self) -> str:
        return self.client.nick

    def send(self, line: str | bytes) -> float:
        raw = line.encode() if isinstance(line, str) else line
        delay = self.net.server.receive(self.client, raw)
        if self.net.verify_at_once:
            self.net.run_verifications()
        return delay

    def take_raw(self) -> bytes:
        return self.outbox.take()

    def take(self) -> list[Message]:
        """Everything received since the last take, parsed."""
        return parse_all(self.outbox.take())

    def ask(self, line: str | bytes) -> list[Message]:
        """Drop pending output, send ``line``, return the reply."""
        self.outbox.take()
        self.send(line)
        return self.take()

    @property
    def closed(self) -> bool:
        return self.outbox.closed


def parse_all(data: bytes) -> list[Message]:
    assert data == b"" or data.endswith(b"\r\n"), data[-40:]
    return [parse_line(line.decode("utf-8")) for line in data.split(b"\r\n") if line]


class Net:
    """A Server with fake clocks and a way to plug clients into it."""

    def __init__(self, config: Config | None = None, policies=None, *, event_defaults: bool = False) -> None:
        """``event_defaults``: the configuration as given; otherwise with a
        plain IRC server's side routes open (``plain_irc``), which most
        tests of IRC itself assume."""
        self.clock = FakeClock(1000.0)
        self.wall = FakeClock(WALL_START)
        config = config or Config()
        self.config = config if event_defaults else plain_irc(config)
        self.server = Server(self.config, clock=self.clock, wallclock=self.wall, policies=policies,
                             cloak_key=TEST_CLOAK_KEY)
        self.verify_at_once = True

    def run_verifications(self) -> int:
        """Answer every password check the core asked for, as the shell
        would (answers may lead to more checks); how many were run."""
        count = 0
        while (request := self.server.logins.next()) is not None:
            self.server.verified(request, verify_password(request.stored_hash, request.password))
            count += 1
        return count

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.wall.advance(seconds)

    def connect(self, ip: str = "192.0.2.1", sendq: int | None = None) -> Conn | None:
        outbox = Outbox(sendq if sendq is not None else self.config.limits.max_sendq)
        client = self.server.connect(ip, outbox)
        return None if client is None else Conn(self, client, outbox)

    def register(
        self, nick: str, caps: Iterable[str] = (), ip: str = "192.0.2.1", sendq: int | None = None
    ) -> Conn:
        """A connected, registered client with ``caps`` negotiated; its output drained."""
        conn = self.connect(ip, sendq)
        assert conn is not None
        caps = list(caps)
        if caps:
            conn.send("CAP LS 302")
            conn.send("CAP REQ :" + " ".join(caps))
        conn.send(f"NICK {nick}")
        conn.send(f"USER {nick.lower()} 0 * :{nick} Realname")
        if caps:
            conn.send("CAP END")
        replies = conn.take()
        assert conn.client.registered, replies
        assert "001" in commands(replies)
        return conn


def commands(messages: list[Message]) -> list[str]:
    return [m.command for m in messages]


def find(messages: list[Message], command: str) -> list[Message]:
    return [m for m in messages if m.command == command]


def one(messages: list[Message], command: str) -> Message:
    found = find(messages, command)
    assert len(found) == 1, (command, messages)
    return found[0]
