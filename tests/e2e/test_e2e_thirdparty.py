"""Third-party IRC libraries drive the real server over TCP: jaraco's ``irc``
(a classic event-loop client) and ``irctokens`` + ``ircstates`` (an IRCv3
client whose state tracker must agree with what happened)."""

from __future__ import annotations

import re
import socket
import time
from datetime import datetime, timezone
from typing import Callable

import irc.client
import irctokens
import ircstates
from ircstates import CaseMap
import pytest

from confchat.core.cloak import cloak_host


# An event server closes the side routes to visitors (private messages,
# new channels): these tests are about IRC itself, on a plain IRC server's
# settings.
PLAIN_IRC = {"server": {"visitor_private_messages": True, "visitor_channels": True}}


@pytest.fixture
def server(start_server):
    """A plain IRC server (side routes open) on otherwise default settings."""
    return start_server(PLAIN_IRC)

TIMEOUT = 10.0
SERVER_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# --------------------------------------------------------------------------- jaraco irc


class Recorder:
    """Every event one jaraco connection sees, in order."""

    def __init__(self) -> None:
        self.events: list[irc.client.Event] = []

    def __call__(self, connection: irc.client.ServerConnection, event: irc.client.Event) -> None:
        self.events.append(event)

    def find(self, type_: str, where: Callable[[irc.client.Event], bool] = lambda e: True):
        return [e for e in self.events if e.type == type_ and where(e)]


def pump(reactor: irc.client.Reactor, until: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Run the reactor until ``until()`` holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        reactor.process_once(0.05)


def nick_of(event: irc.client.Event) -> str:
    return irc.client.NickMask(event.source).nick


def test_jaraco_irc_two_clients_chat_rename_kick_and_quit(server):
    reactor = irc.client.Reactor()
    records: dict[irc.client.ServerConnection, Recorder] = {}

    def connect(nick: str) -> tuple[irc.client.ServerConnection, Recorder]:
        conn = reactor.server().connect(server.host, server.port, nick, username=nick, ircname=f"{nick} test")
        rec = Recorder()
        records[conn] = rec
        return conn, rec

    def dispatch(connection, event):
        records[connection](connection, event)

    reactor.add_global_handler("all_events", dispatch, -20)

    alice, a = connect("alice")
    bob, b = connect("bob")
    pump(reactor, lambda: a.find("endofmotd") and b.find("endofmotd"))
    assert a.find("welcome") and b.find("welcome")
    # jaraco parses the welcome burst: ISUPPORT reaches its FeatureSet.
    assert alice.features.network == "confchat"
    assert dict(alice.features.prefix) == {"@": "o", "+": "v"}
    assert alice.get_nickname() == "alice"

    alice.join("#town")
    pump(reactor, lambda: a.find("endofnames"))
    bob.join("#town")
    pump(reactor, lambda: b.find("endofnames") and a.find("join", lambda e: nick_of(e) == "bob"))
    names = " ".join(e.arguments[-1] for e in b.find("namreply"))
    assert "@alice" in names.split()  # the first joiner is the channel operator
    assert "bob" in names.split()

    alice.privmsg("#town", "hello bob")
    pump(reactor, lambda: b.find("pubmsg"))
    (msg,) = b.find("pubmsg")
    assert nick_of(msg) == "alice" and msg.target == "#town" and msg.arguments == ["hello bob"]
    bob.privmsg("alice", "psst")
    pump(reactor, lambda: a.find("privmsg"))
    (private,) = a.find("privmsg")
    assert nick_of(private) == "bob" and private.arguments == ["psst"]

    bob.nick("robert")
    pump(reactor, lambda: a.find("nick") and b.find("nick"))
    (seen,) = a.find("nick")
    assert nick_of(seen) == "bob" and seen.target == "robert"
    assert bob.get_nickname() == "robert"  # jaraco tracked its own rename from the server's NICK

    alice.kick("#town", "robert", "behave")
    pump(reactor, lambda: b.find("kick") and a.find("kick"))
    (kicked,) = b.find("kick")
    assert nick_of(kicked) == "alice"
    assert kicked.target == "#town" and kicked.arguments == ["robert", "behave"]
    # Kicked means out: robert's next line to the channel is refused (+n).
    robert_sent = len(a.find("pubmsg"))
    bob.privmsg("#town", "still here?")
    pump(reactor, lambda: b.find("cannotsendtochan"))
    assert len(a.find("pubmsg")) == robert_sent

    # A kick by a non-operator is refused with 482.
    bob.join("#town")
    pump(reactor, lambda: a.find("join", lambda e: nick_of(e) == "robert"))
    bob.kick("#town", "alice", "revenge")
    pump(reactor, lambda: b.find("chanoprivsneeded"))
    assert not b.find("kick", lambda e: e.arguments[0] == "alice")

    bob.quit("good night")
    pump(reactor, lambda: a.find("quit"))
    (quit,) = a.find("quit")
    assert nick_of(quit) == "robert"
    assert quit.arguments == ["Quit: good night"]
    # The quitter gets ERROR, then the server closes the connection.
    pump(reactor, lambda: b.find("disconnect"))
    (error,) = b.find("error")
    assert "Quit: good night" in error.target
    assert [e.type for e in b.events[-2:]] == ["error", "disconnect"]
    alice.quit()
    pump(reactor, lambda: a.find("disconnect"))
    assert a.find("error")


# --------------------------------------------------------------------------- irctokens + ircstates


class StatefulClient:
    """An IRCv3 client made of irctokens' codec over a socket, with
    ircstates tracking what the server says."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.decoder = irctokens.StatefulDecoder()
        self.encoder = irctokens.StatefulEncoder()
        self.state = ircstates.Server("confchat")
        self.lines: list[irctokens.Line] = []  # every line received
        self.unread: list[irctokens.Line] = []

    def send(self, command: str, *params: str) -> None:
        line = irctokens.build(command, list(params))
        self.encoder.push(line)
        while self.encoder.pending():
            sent = self.sock.send(self.encoder.pending())
            self.encoder.pop(sent)

    def expect(self, predicate: Callable[[irctokens.Line], bool] | str, timeout: float = TIMEOUT) -> irctokens.Line:
        if isinstance(predicate, str):
            command = predicate
            predicate = lambda line: line.command == command  # noqa: E731
        deadline = time.monotonic() + timeout
        while True:
            for index, line in enumerate(self.unread):
                if predicate(line):
                    del self.unread[: index + 1]
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; unread: {[l.format() for l in self.unread][-10:]}")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            lines = self.decoder.push(data)
            assert lines is not None, "server closed the connection"
            for line in lines:
                self.state.parse_tokens(line)
                if line.command == "PING":
                    self.send("PONG", *line.params)
                self.lines.append(line)
                self.unread.append(line)

    def roundtrip(self) -> None:
        token = f"sync{time.monotonic_ns()}"
        self.send("PING", token)
        self.expect(lambda line: line.command == "PONG" and line.params[-1] == token)

    def close(self) -> None:
        self.sock.close()


CAPS = ["message-tags", "server-time", "echo-message", "multi-prefix"]


def assert_server_time(value: str) -> None:
    assert SERVER_TIME.match(value), value
    stamp = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs(stamp.timestamp() - time.time()) < 60


def test_irctokens_ircstates_view_matches_the_server(server):
    alice = StatefulClient(server.host, server.port)
    alice.send("CAP", "LS", "302")
    alice.send("NICK", "alice")
    alice.send("USER", "alice", "0", "*", "Alice Liddell")
    ls = alice.expect(lambda line: line.command == "CAP" and line.params[1] == "LS")
    offered = dict(item.partition("=")[::2] for item in ls.params[-1].split())
    assert set(CAPS) <= set(offered)
    assert offered["sasl"] == "PLAIN"  # 302 shows capability values
    alice.send("CAP", "REQ", " ".join(CAPS))
    ack = alice.expect(lambda line: line.command == "CAP" and line.params[1] in ("ACK", "NAK"))
    assert ack.params[1] == "ACK" and sorted(ack.params[2].split()) == sorted(CAPS)
    alice.send("CAP", "END")
    alice.expect("001")
    alice.expect(lambda line: line.command in ("376", "422"))

    state = alice.state
    assert state.registered
    assert state.nickname == "alice"
    assert set(CAPS) <= set(state.agreed_caps)
    assert state.isupport.network == "confchat"
    assert state.isupport.raw["CASEMAPPING"] == "rfc1459"  # the default: check it was sent
    assert state.isupport.casemapping == CaseMap.RFC1459
    assert state.isupport.chantypes == ["#", "&"]
    assert state.isupport.prefix.modes == ["o", "v"]
    assert state.isupport.prefix.prefixes == ["@", "+"]
    assert state.isupport.nicklen == 30
    assert state.isupport.whox
    # Once server-time is agreed, every line alice gets is stamped.
    stamped = alice.lines[alice.lines.index(ack) + 1 :]
    assert len(stamped) > 10
    for line in stamped:
        assert_server_time((line.tags or {}).get("time", "missing: " + line.format()))

    bob = server.client("bob", caps=("message-tags", "server-time"))

    alice.send("JOIN", "#Town")
    alice.expect("366")
    # ircstates learns its own user and host from its JOIN's source: the
    # cloak of its address, under the key in the server's data directory.
    key = bytes.fromhex((server.workdir / "data" / "cloak.key").read_text().strip())
    assert state.username == "~alice" and state.hostname == cloak_host(key, "127.0.0.1")
    alice.send("TOPIC", "#town", "Welcome to town")
    alice.expect(lambda line: line.command == "TOPIC")
    bob.send("JOIN #town")
    bob.expect("366")
    alice.expect(lambda line: line.command == "JOIN" and line.hostmask.nickname == "bob")
    alice.send("MODE", "#town", "+ov", "bob", "bob")
    alice.expect(lambda line: line.command == "MODE")
    bob.expect("MODE")
    # multi-prefix: NAMES shows every status a member has, highest first.
    alice.send("NAMES", "#town")
    names = alice.expect("353")
    assert sorted(names.params[-1].split()) == ["@+bob", "@alice"]
    alice.expect("366")

    channel = state.channels[state.casefold("#town")]
    assert channel.name == "#Town"  # the name as created
    assert channel.topic == "Welcome to town"
    assert channel.topic_setter is not None and channel.topic_setter.startswith("alice")
    assert {nick: cu.modes for nick, cu in channel.users.items()} == {"alice": {"o"}, "bob": {"o", "v"}}
    alice.send("MODE", "#town")  # ircstates learns channel modes from 324
    alice.expect("324")
    assert set(channel.modes) == {"n", "t"}

    # Messages relayed to a message-tags + server-time client carry msgid and time.
    bob.send("PRIVMSG #town :hi alice")
    got = alice.expect(lambda line: line.command == "PRIVMSG")
    assert state.casefold(got.params[0]) == "#town" and got.params[1] == "hi alice"
    assert got.hostmask.nickname == "bob"
    assert got.tags and got.tags.get("msgid")
    assert_server_time(got.tags["time"])

    # echo-message: alice's own message comes back, with the msgid bob sees.
    alice.send("PRIVMSG", "#town", "hello bob")
    echo = alice.expect(lambda line: line.command == "PRIVMSG")
    delivered = bob.expect("PRIVMSG")
    assert echo.hostmask.nickname == "alice" and echo.params[-1] == "hello bob"
    assert delivered.params[-1] == "hello bob"
    assert echo.tags["msgid"] == delivered.tags["msgid"]
    assert_server_time(echo.tags["time"])
    assert_server_time(delivered.tags["time"])

    # A private message, echoed too.
    alice.send("PRIVMSG", "bob", "just you")
    private_echo = alice.expect(lambda line: line.command == "PRIVMSG")
    assert private_echo.params == ["bob", "just you"]
    assert bob.expect("PRIVMSG").tags["msgid"] == private_echo.tags["msgid"]

    # ircstates follows a rename, folding it the rfc1459 way ([ is { ),
    # and the server folds nicks the same way it advertised.
    bob.send("NICK Bob[1]")
    alice.expect(lambda line: line.command == "NICK")
    assert "bob{1}" in channel.users and "bob" not in channel.users
    assert channel.users["bob{1}"].nickname == "Bob[1]"
    assert state.users["bob{1}"].username == "~bob"
    alice.send("PRIVMSG", "BOB{1}", "folded")
    alice.expect(lambda line: line.command == "PRIVMSG" and line.params[-1] == "folded")
    assert bob.expect("PRIVMSG").params == ("Bob[1]", "folded")
    bob.send("PART #town :later")
    alice.expect(lambda line: line.command == "PART")
    assert set(channel.users) == {"alice"}

    relayed = [line for line in alice.lines if line.command == "PRIVMSG"]
    assert len(relayed) == 4
    msgids = [line.tags.get("msgid") for line in relayed]
    assert all(msgids) and len(set(msgids)) == len(msgids)
    assert all("time" in line.tags for line in relayed)
    alice.close()
    bob.close()
