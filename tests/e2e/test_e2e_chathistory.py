"""CHATHISTORY end to end, with a third-party IRCv3 library (irctokens for
the lines, ircstates for what the client knows) over real TCP: a visitor
drops off, the conference goes on, the visitor comes back and fetches
exactly what it missed, by the last msgid it saw."""

from __future__ import annotations

import time

import irctokens
from argon2 import PasswordHasher

from test_e2e_thirdparty import StatefulClient

TIMEOUT = 10.0
CHAN = "#townhall"
CAPS = ["draft/chathistory", "batch", "server-time", "message-tags", "standard-replies"]
STAFF_CAPS = ("message-tags", "server-time", "echo-message", "standard-replies", "draft/message-redaction")


def config() -> dict:
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    return {
        "accounts": [{"name": "moda", "password_hash": hasher.hash("moda-pw")}],
        "conferences": [{"channel": CHAN, "title": "Ask the mayor", "moderators": ["moda"], "state": "live"}],
    }


class Visitor(StatefulClient):
    """One irctokens connection, its lines fed to an ircstates.Server
    (the third-party client of test_e2e_thirdparty.py), registered."""

    def __init__(self, host: str, port: int, nick: str) -> None:
        super().__init__(host, port)
        self.send("CAP", "LS", "302")
        self.send("NICK", nick)
        self.send("USER", nick, "0", "*", nick)
        self.send("CAP", "REQ", " ".join(CAPS))
        ack = self.expect(lambda line: line.command == "CAP" and line.params[1] in ("ACK", "NAK"))
        assert ack.params[1] == "ACK", ack.format()
        self.send("CAP", "END")
        self.expect("001")
        self.expect(lambda line: line.command in ("376", "422"))

    def until_pong(self) -> list[irctokens.Line]:
        """Everything received up to the answer of a PING sent now."""
        token = f"sync{time.monotonic_ns()}"
        self.send("PING", token)
        lines = []
        while True:
            line = self.expect(lambda _: True)
            if line.command == "PONG" and line.params[-1] == token:
                return lines
            lines.append(line)

    def history(self, *params: str) -> list[irctokens.Line]:
        """The lines of the chathistory batch that answers CHATHISTORY."""
        self.send("CHATHISTORY", *params)
        start = self.expect("BATCH")
        assert start.params[1:] == ["chathistory", CHAN], start.format()
        ref = start.params[0][1:]
        inner = []
        while True:
            line = self.expect(lambda _: True)
            if line.command == "BATCH" and line.params == ["-" + ref]:
                return inner
            assert line.tags.get("batch") == ref, line.format()
            inner.append(line)


def staff_line(moda, text: str):
    """moda publishes ``text``; the line as everyone got it (echo-message)."""
    moda.send(f"PRIVMSG {CHAN} :{text}")
    return moda.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == text)


def test_a_visitor_back_from_a_dropped_connection_fetches_exactly_what_it_missed(start_server):
    server = start_server(config())
    moda = server.client("moda", caps=STAFF_CAPS, sasl=("moda", "moda-pw"))
    moda.send(f"JOIN {CHAN}")
    moda.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    for i in range(3):
        staff_line(moda, f"before {i}")

    carol = Visitor(server.host, server.port, "carol")
    assert carol.state.isupport.raw["CHATHISTORY"] == "100"
    assert carol.state.isupport.raw["MSGREFTYPES"] == "msgid,timestamp"
    assert set(CAPS) <= set(carol.state.agreed_caps)
    carol.send("JOIN", CHAN)
    carol.expect(lambda line: line.command == "NOTE" and line.params[:2] == ["JOIN", "CONFERENCE"])
    # With draft/chathistory no backlog comes on JOIN: the client asks.
    assert [line.format() for line in carol.until_pong() if line.command == "PRIVMSG"] == []
    latest = carol.history("LATEST", CHAN, "*", "10")
    assert [line.params[1] for line in latest] == ["before 0", "before 1", "before 2"]

    live = [staff_line(moda, f"seen live {i}") for i in range(2)]
    seen = [carol.expect("PRIVMSG") for _ in live]
    assert [line.tags["msgid"] for line in seen] == [m.tags["msgid"] for m in live]
    last_seen = seen[-1].tags["msgid"]

    # The connection drops (no QUIT); the conference goes on.
    carol.close()
    moda.expect(lambda m: m.command == "QUIT" and m.source.startswith("carol!"))
    dave = server.client("dave", caps=("standard-replies",))
    dave.send(f"JOIN {CHAN}")
    dave.expect("366")
    missed = [staff_line(moda, "while away 0")]
    dave.send(f"PRIVMSG {CHAN} :Will the tram run at night?")
    item = moda.expect(lambda m: m.command == "QUEUE" and m.params[-1] == "Will the tram run at night?").params[2]
    moda.send(f"QUEUE {CHAN} APPROVE {item}")
    missed.append(moda.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == "Will the tram run at night?"))
    doomed = staff_line(moda, "posted by mistake")
    moda.send(f"REDACT {CHAN} {doomed.tags['msgid']}")
    moda.expect("REDACT")
    dave.send(f"PRIVMSG {CHAN} :Still waiting for a moderator")  # pending: never history
    moda.expect(lambda m: m.command == "QUEUE" and m.params[-1] == "Still waiting for a moderator")
    missed += [staff_line(moda, f"while away {i}") for i in (1, 2)]

    # Back: the same nick, a new connection, and exactly the missed lines.
    back = Visitor(server.host, server.port, "carol")
    back.send("JOIN", CHAN)
    back.expect(lambda line: line.command == "NOTE" and line.params[:2] == ["JOIN", "CONFERENCE"])
    got = back.history("AFTER", CHAN, f"msgid={last_seen}", back.state.isupport.raw["CHATHISTORY"])
    assert [line.tags["msgid"] for line in got] == [m.tags["msgid"] for m in missed]
    assert [line.params for line in got] == [list(m.params) for m in missed]
    assert [line.tags["time"] for line in got] == [m.tags["time"] for m in missed]  # as published
    assert [line.hostmask.nickname for line in got] == ["moda", "dave", "moda", "moda"]

    # Paging by the last msgid of each page gives the same, a page at a time.
    pages, cursor = [], last_seen
    while page := back.history("AFTER", CHAN, f"msgid={cursor}", "3"):
        pages.append([line.tags["msgid"] for line in page])
        cursor = page[-1].tags["msgid"]
    assert pages == [[m.tags["msgid"] for m in missed[:3]], [missed[3].tags["msgid"]]]

    # The whole history: each published message once, in order.
    everything = back.history("LATEST", CHAN, "*", "100")
    assert [line.params[1] for line in everything] == [
        "before 0", "before 1", "before 2", "seen live 0", "seen live 1",
        "while away 0", "Will the tram run at night?", "while away 1", "while away 2",
    ]

    # A visitor who is not in the channel reads nothing.
    stranger = Visitor(server.host, server.port, "stranger")
    stranger.send("CHATHISTORY", "LATEST", CHAN, "*", "10")
    fail = stranger.expect("FAIL")
    assert fail.params[:4] == ["CHATHISTORY", "INVALID_TARGET", "LATEST", CHAN]
    for client in (back, stranger):
        client.close()
    moda.close()
    dave.close()
