"""A whole moderated event over real sockets, against the real server process.

Two moderators (modA, modB) and the guest (mayor) log in with SASL PLAIN; two
viewers and a visitor, citizen, join the auditorium #townhall (live,
moderated). Citizen asks five questions; the moderators reorder, approve,
drop and forward them; the mayor answers; a moderator deletes a published
question, disconnects and then bans citizen; the queue and the audit log show
what is left and who decided what, and why (protocol.md, *Moderation
extension*).

Every test starts its own server and replays the event up to the step it
checks (``Event``); each action is followed by a round trip on every
connection, so that what each client received because of that action is
known exactly (``Event.logs``) and compared line by line.

Citizen connects from 127.0.0.2 and everyone else from 127.0.0.1 (the whole
127/8 is loopback on Linux): a ban by nick of a client without an account is a
ban of its address, and it must not hit the viewers.
"""

from __future__ import annotations

import json
import re
import socket
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

from confchat.core.passwords import hash_password
from confchat.proto.message import Message
from e2e_client import IRCClient

SERVER = "confchat.local"
CHAN = "#townhall"
TITLE = "Ask the mayor"
PASSWORDS = {
    "modA": "modA-secret",
    "modB": "modB-secret",
    "mayor": "mayor-secret",
    "admin": "admin-secret",
}
CONFIG = {
    # The event's clients send a PING after every action (see Event.act):
    # flood control is not under test here, so its burst is raised out of the way.
    "limits": {"flood_burst": 1000},
    # The lines of the whole event are compared exactly, prefixes included:
    # addresses are shown as they are (what visitors see of each other,
    # cloaks, is tests/e2e/test_e2e_privacy.py's subject).
    "server": {"cloak_hosts": False},
    "accounts": [
        {"name": "modA", "password_hash": hash_password(PASSWORDS["modA"])},
        {"name": "modB", "password_hash": hash_password(PASSWORDS["modB"])},
        {"name": "mayor", "password_hash": hash_password(PASSWORDS["mayor"])},
        {"name": "admin", "password_hash": hash_password(PASSWORDS["admin"]), "admin": True},
    ],
    "conferences": [
        {
            "channel": CHAN,
            "title": TITLE,
            "description": "The new tram line",
            "moderators": ["modA", "modB"],
            "guests": ["mayor"],
            "state": "live",
            "mode": "moderated",
        }
    ],
}

STAFF_CAPS = ("message-tags", "server-time", "echo-message", "standard-replies", "draft/message-redaction")
# Viewers: tags (msgid, +draft/reply threading), times, and REDACT.
VIEWER1_CAPS = ("message-tags", "server-time", "draft/message-redaction", "standard-replies")
# viewer2 has no standard-replies: NOTEs come to it as NOTICEs.
VIEWER2_CAPS = ("message-tags", "server-time", "draft/message-redaction")
LATECOMER_CAPS = ("message-tags", "server-time", "draft/message-redaction", "batch")
CITIZEN_CAPS = ("message-tags", "standard-replies")

CITIZEN_ADDRESS = "127.0.0.2"
CITIZEN = f"citizen!~citizen@{CITIZEN_ADDRESS}"
MOD_A = "modA!~modA@127.0.0.1"
MOD_B = "modB!~modB@127.0.0.1"
MAYOR = "mayor!~mayor@127.0.0.1"

QUESTIONS = {
    1: "When will the tram reach the north district?",
    2: "Why does the mayor hide the real cost?",
    3: "Will the old bus lines be kept?",
    4: "How much will the new tram line cost?",
    5: "Will tickets be cheaper for students?",
}
ANSWER = "Spring 2027; the works start in March."
DROP_REASON = "Please stay polite"
REDACT_REASON = "Asked twice"
DISCONNECT_REASON = "Please calm down"
BAN_REASON = "Trolling"

HELD = "Your message is awaiting moderation"
VISITOR_WELCOME = f"{TITLE} is live; your messages are read by the moderators before they are published"
STAFF_NAMES = "+mayor @modA @modB"  # sorted, see norm()
TIME_TAG = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def fresh(client: IRCClient) -> list[Message]:
    """Everything ``client`` received since the last call, PING/PONG aside."""
    start = getattr(client, "seen", 0)
    client.seen = len(client.received)
    return [m for m in client.received[start:] if m.command not in ("PING", "PONG")]


def norm(msg: Message) -> tuple[str | None, ...]:
    """A line as a tuple (source, command, *params); NAMES lists are sorted,
    since the staff in a 353 come in no fixed order."""
    params = list(msg.params)
    if msg.command == "353" and params:
        params[-1] = " ".join(sorted(params[-1].split()))
    return (msg.source, msg.command, *params)


def lines(msgs: list[Message]) -> list[tuple[str | None, ...]]:
    return [norm(m) for m in msgs]


def q(n: int) -> tuple[str, ...]:
    """Question ``n`` as published: from citizen's address at submission."""
    return (CITIZEN, "PRIVMSG", CHAN, QUESTIONS[n])


def note(*params: str) -> tuple[str, ...]:
    return (SERVER, "NOTE", *params)


@contextmanager
def connecting_from(address: str) -> Iterator[None]:
    """Make the IRCClient created inside connect from ``address``."""
    real = socket.create_connection

    def create_connection(addr, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, **kw):
        return real(addr, timeout, (address, 0), **kw)

    socket.create_connection = create_connection
    try:
        yield
    finally:
        socket.create_connection = real


def can_bind(address: str) -> bool:
    try:
        with socket.socket() as s:
            s.bind((address, 0))
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------
# The event
# --------------------------------------------------------------------------


class Event:
    """Plays the event step by step; ``logs[key][client]`` is what each
    connected client received because of the action ``key``."""

    def __init__(self, server) -> None:
        self.server = server
        self.clients: dict[str, IRCClient] = {}
        self.logs: dict[str, dict[str, list[Message]]] = {}
        self.logins: dict[str, list[Message]] = {}
        self.submitted: dict[int, str] = {}  # item -> submitted-unix of its item line
        self.msgids: dict[str, str] = {}
        self.started = time.time()

    # -- mechanics -----------------------------------------------------------
    def settle(self, first: IRCClient | None = None) -> None:
        """The server handled what was sent (round trip on ``first``), and
        every client received what that caused (round trip on each)."""
        if first is not None:
            first.roundtrip()
        for client in self.clients.values():
            client.roundtrip()

    def act(self, who: str, command: str, key: str) -> dict[str, list[Message]]:
        actor = self.clients[who]
        actor.send(command)
        self.settle(actor)
        log = {name: fresh(client) for name, client in self.clients.items()}
        self.logs[key] = log
        return log

    def add(self, name: str, client: IRCClient) -> IRCClient:
        fresh(client)  # the welcome burst
        self.clients[name] = client
        return client

    def staff(self, account: str) -> IRCClient:
        client = self.server.client(account, caps=STAFF_CAPS, sasl=(account, PASSWORDS[account]))
        self.logins[account] = [m for m in client.received if m.command in ("900", "903", "904")]
        return self.add(account, client)

    def visitor(self, nick: str, caps: tuple[str, ...], address: str = "127.0.0.1") -> IRCClient:
        with connecting_from(address):
            client = IRCClient(self.server.host, self.server.port)
        client.register(nick, caps=caps)
        fresh(client)
        return client

    def msgid(self, log: list[Message], text: str) -> str:
        return next(m.tags["msgid"] for m in log if m.command == "PRIVMSG" and m.params[-1] == text)

    # -- the steps -----------------------------------------------------------
    def gather(self) -> None:
        """Step 1: staff log in and join, then viewer1, viewer2, citizen."""
        for account in ("modA", "modB", "mayor"):
            self.staff(account)
            self.act(account, f"JOIN {CHAN}", f"join {account}")
        self.add("viewer1", self.visitor("viewer1", VIEWER1_CAPS))
        self.act("viewer1", f"JOIN {CHAN}", "join viewer1")
        self.add("viewer2", self.visitor("viewer2", VIEWER2_CAPS))
        self.act("viewer2", f"JOIN {CHAN}", "join viewer2")
        self.add("citizen", self.visitor("citizen", CITIZEN_CAPS, CITIZEN_ADDRESS))
        self.act("citizen", f"JOIN {CHAN}", "join citizen")

    def ask(self) -> None:
        """Step 2: citizen asks five questions."""
        for n, text in QUESTIONS.items():
            log = self.act("citizen", f"PRIVMSG {CHAN} :{text}", f"ask {n}")
            for m in log["modA"]:
                if m.command == "QUEUE" and m.param(2) == str(n):
                    self.submitted[n] = m.param(6)

    def moderate(self) -> None:
        """Step 3: modA moves #4 to the top and approves it, drops #2 with a
        reason, forwards #1 to the guest; modB comes too late for #2 and #4."""
        self.act("modA", f"QUEUE {CHAN} MOVE 4 top", "move 4")
        log = self.act("modA", f"QUEUE {CHAN} APPROVE 4", "approve 4")
        self.msgids["q4"] = self.msgid(log["viewer1"], QUESTIONS[4])
        self.act("modA", f"QUEUE {CHAN} DROP 2 :{DROP_REASON}", "drop 2")
        self.act("modA", f"QUEUE {CHAN} FORWARD 1", "forward 1")
        self.act("modB", f"QUEUE {CHAN} APPROVE 2", "late approve 2")
        self.act("modB", f"QUEUE {CHAN} DROP 4 :Duplicate", "late drop 4")

    def answer(self) -> None:
        """Step 4: the guest answers #1 (which publishes it first)."""
        log = self.act("mayor", f"ANSWER {CHAN} 1 :{ANSWER}", "answer 1")
        self.msgids["q1"] = self.msgid(log["viewer1"], QUESTIONS[1])
        self.msgids["answer"] = self.msgid(log["viewer1"], ANSWER)

    def redact(self) -> None:
        """Step 6: modA deletes the published #4."""
        self.act("modA", f"REDACT {CHAN} {self.msgids['q4']} :{REDACT_REASON}", "redact q4")

    def disconnect_and_ban(self) -> None:
        """Step 7: modA disconnects citizen, who comes back; modA bans it by
        nick (its connection and nick, as it has no account), then its
        address on purpose (nobody else uses it); it leaves and tries again,
        under its nick and under another one; then a newcomer from another
        address joins."""
        citizen = self.clients.pop("citizen")
        log = self.act("modA", f"CONF {CHAN} DISCONNECT citizen :{DISCONNECT_REASON}", "disconnect")
        citizen.wait_closed()
        log["citizen"] = fresh(citizen)

        self.add("citizen", self.visitor("citizen", CITIZEN_CAPS, CITIZEN_ADDRESS))
        self.act("citizen", f"JOIN {CHAN}", "rejoin citizen")
        self.act("modA", f"CONF {CHAN} BAN citizen 3600 :{BAN_REASON}", "ban")
        self.act("modA", f"CONF {CHAN} BAN *!*@{CITIZEN_ADDRESS} 3600 :{BAN_REASON}", "ban address")

        citizen = self.clients.pop("citizen")
        citizen.send("QUIT :Bye")
        citizen.wait_closed()
        self.settle()
        self.logs["citizen quits"] = {name: fresh(c) for name, c in self.clients.items()}

        for nick in ("citizen", "citizen2"):
            comeback = self.add(nick, self.visitor(nick, CITIZEN_CAPS, CITIZEN_ADDRESS))
            comeback.send(f"JOIN {CHAN}")
            self.act(nick, f"PRIVMSG {CHAN} :Let me in", f"banned {nick}")
            del self.clients[nick]
            comeback.close()
        self.add("newcomer", self.visitor("newcomer", VIEWER1_CAPS))
        self.act("newcomer", f"JOIN {CHAN}", "join newcomer")

    def records(self) -> None:
        """Step 8: modA lists the queue; the admin (not in the channel) reads
        the audit log."""
        self.act("modA", f"QUEUE {CHAN} LIST", "queue list")
        self.staff("admin")
        self.act("admin", f"CONF {CHAN} AUDIT", "audit")


@pytest.fixture
def event(start_server) -> Iterator[Event]:
    if not can_bind(CITIZEN_ADDRESS):
        pytest.skip(f"cannot connect from {CITIZEN_ADDRESS} on this system")
    server = start_server(CONFIG)
    ev = Event(server)
    yield ev
    for client in ev.clients.values():
        client.close()


def item(ev: Event, n: int, state: str, position: int, decided: str = "*", flags: str = "*") -> tuple:
    """The QUEUE ITEM line of citizen's question ``n``."""
    return (
        SERVER, "QUEUE", CHAN, "ITEM", str(n), state, str(position), "citizen",
        ev.submitted[n], "*", decided, flags, QUESTIONS[n],
    )  # fmt: skip


# --------------------------------------------------------------------------
# 1. Joining: logins, welcome, the auditorium
# --------------------------------------------------------------------------


def test_staff_log_in_and_the_auditorium_hides_the_audience(event):
    ev = event
    ev.gather()

    for account in ("modA", "modB", "mayor"):
        host = f"{account}!~{account}@127.0.0.1"
        assert lines(ev.logins[account]) == [
            (SERVER, "900", account, host, account, f"You are now logged in as {account}"),
            (SERVER, "903", account, "SASL authentication successful"),
        ]

    log = ev.logs["join modA"]
    modA_burst = lines(log["modA"])
    assert modA_burst[0] == (MOD_A, "JOIN", CHAN)
    # Staff join with their status, announced as a server MODE.
    assert modA_burst[1] == (SERVER, "MODE", CHAN, "+o", "modA")
    modA_burst = modA_burst[:1] + modA_burst[2:]
    assert modA_burst[1] == (SERVER, "332", "modA", CHAN, TITLE)
    assert modA_burst[2][:5] == (SERVER, "333", "modA", CHAN, SERVER)
    assert modA_burst[3:] == [
        (SERVER, "353", "modA", "=", CHAN, "@modA"),
        (SERVER, "366", "modA", CHAN, "End of /NAMES list"),
        note("JOIN", "CONFERENCE", CHAN, "live", "moderated", "moderator", f"{TITLE} is live; you are moderator"),
    ]

    log = ev.logs["join modB"]
    assert lines(log["modA"]) == [(MOD_B, "JOIN", CHAN), (SERVER, "MODE", CHAN, "+o", "modB")]
    assert lines(log["modB"])[4] == (SERVER, "353", "modB", "=", CHAN, "@modA @modB")

    log = ev.logs["join mayor"]
    assert lines(log["modA"]) == lines(log["modB"]) == [(MAYOR, "JOIN", CHAN), (SERVER, "MODE", CHAN, "+v", "mayor")]
    assert lines(log["mayor"])[4:] == [
        (SERVER, "353", "mayor", "=", CHAN, STAFF_NAMES),
        (SERVER, "366", "mayor", CHAN, "End of /NAMES list"),
        note("JOIN", "CONFERENCE", CHAN, "live", "moderated", "guest", f"{TITLE} is live; you are guest"),
    ]

    # Visitors see the staff and a count of the audience, themselves included.
    log = ev.logs["join viewer1"]
    viewer1 = lines(log["viewer1"])
    assert viewer1[:2] == [("viewer1!~viewer1@127.0.0.1", "JOIN", CHAN), (SERVER, "332", "viewer1", CHAN, TITLE)]
    assert viewer1[3:] == [
        (SERVER, "353", "viewer1", "=", CHAN, STAFF_NAMES),
        note("NAMES", "AUDIENCE", CHAN, "1", "1 person in the audience"),
        (SERVER, "366", "viewer1", CHAN, "End of /NAMES list"),
        note("JOIN", "CONFERENCE", CHAN, "live", "moderated", "visitor", VISITOR_WELCOME),
    ]
    # The staff see the visitor join, with the same msgid as the visitor's own JOIN.
    for staff in ("modA", "modB", "mayor"):
        assert lines(log[staff]) == [("viewer1!~viewer1@127.0.0.1", "JOIN", CHAN)]
        assert log[staff][0].tags["msgid"] == log["viewer1"][0].tags["msgid"]

    log = ev.logs["join viewer2"]
    assert lines(log["viewer2"])[3:] == [
        (SERVER, "353", "viewer2", "=", CHAN, STAFF_NAMES),
        (SERVER, "NOTICE", "viewer2", "NAMES AUDIENCE: 2 people in the audience"),
        (SERVER, "366", "viewer2", CHAN, "End of /NAMES list"),
        (SERVER, "NOTICE", "viewer2", f"JOIN CONFERENCE: {VISITOR_WELCOME}"),
    ]
    assert log["viewer1"] == []  # viewer2's join is hidden from viewer1
    for staff in ("modA", "modB", "mayor"):
        assert lines(log[staff]) == [("viewer2!~viewer2@127.0.0.1", "JOIN", CHAN)]

    log = ev.logs["join citizen"]
    assert lines(log["citizen"])[0] == (CITIZEN, "JOIN", CHAN)
    assert lines(log["citizen"])[3:5] == [
        (SERVER, "353", "citizen", "=", CHAN, STAFF_NAMES),
        note("NAMES", "AUDIENCE", CHAN, "3", "3 people in the audience"),
    ]
    assert log["viewer1"] == log["viewer2"] == []
    for staff in ("modA", "modB", "mayor"):
        assert lines(log[staff]) == [(CITIZEN, "JOIN", CHAN)]


# --------------------------------------------------------------------------
# 2. Questions are held
# --------------------------------------------------------------------------


def test_questions_are_held_and_only_the_moderators_see_them(event):
    ev = event
    ev.gather()
    before = int(time.time())
    ev.ask()
    after = int(time.time())

    for n in QUESTIONS:
        log = ev.logs[f"ask {n}"]
        assert lines(log["citizen"]) == [note("PRIVMSG", "HELD", CHAN, str(n), HELD)]
        assert before <= int(ev.submitted[n]) <= after
        expected = [item(ev, n, "pending", n)]
        assert lines(log["modA"]) == lines(log["modB"]) == expected
        assert log["modA"][0].tags["msgid"] == log["modB"][0].tags["msgid"]
        # Neither the guest (nothing forwarded yet) nor the viewers see anything.
        assert log["mayor"] == log["viewer1"] == log["viewer2"] == []

    for name in ("viewer1", "viewer2", "mayor"):
        client = ev.clients[name]
        client.roundtrip()
        client.drain(0.3)
        assert fresh(client) == [], name


# --------------------------------------------------------------------------
# 3. Decisions: move, approve, drop, forward; a second moderator too late
# --------------------------------------------------------------------------


def test_moderators_decide_and_an_item_is_decided_once(event):
    ev = event
    ev.gather()
    ev.ask()
    ev.moderate()

    log = ev.logs["move 4"]
    assert lines(log["modA"]) == lines(log["modB"]) == [item(ev, 4, "pending", 1)]
    for name in ("mayor", "viewer1", "viewer2", "citizen"):
        assert log[name] == [], name

    # Publication: the question to every member, PUBLISHED to the author,
    # then the item line to the moderators.
    log = ev.logs["approve 4"]
    published = item(ev, 4, "published", 0, decided="modA")
    assert lines(log["modA"]) == lines(log["modB"]) == [q(4), published]
    assert lines(log["citizen"]) == [q(4), note("PRIVMSG", "PUBLISHED", CHAN, "4", "Your message was published")]
    for name in ("mayor", "viewer1", "viewer2"):
        assert lines(log[name]) == [q(4)], name
    q4 = ev.msgids["q4"]
    for name, received in log.items():
        assert received[0].tags["msgid"] == q4, name
        assert received[0].tags["confchat/item"] == "4", name

    log = ev.logs["drop 2"]
    dropped = item(ev, 2, "dropped", 0, decided="modA")
    assert lines(log["modA"]) == lines(log["modB"]) == [dropped]
    assert lines(log["citizen"]) == [
        note("PRIVMSG", "DECLINED", CHAN, "2", f"Your message was not published: {DROP_REASON}")
    ]
    for name in ("mayor", "viewer1", "viewer2"):
        assert log[name] == [], name

    # Undecided now: 1, 3, 5 (4 was moved then published, 2 dropped).
    log = ev.logs["forward 1"]
    forwarded = item(ev, 1, "forwarded", 1)
    assert lines(log["modA"]) == lines(log["modB"]) == lines(log["mayor"]) == [forwarded]
    for name in ("viewer1", "viewer2", "citizen"):
        assert log[name] == [], name

    log = ev.logs["late approve 2"]
    assert lines(log["modB"]) == [
        (SERVER, "FAIL", "QUEUE", "ALREADY_DECIDED", CHAN, "2", "Item 2 was already dropped by modA")
    ]
    for name in ("modA", "mayor", "viewer1", "viewer2", "citizen"):
        assert log[name] == [], name

    log = ev.logs["late drop 4"]
    assert lines(log["modB"]) == [
        (SERVER, "FAIL", "QUEUE", "ALREADY_DECIDED", CHAN, "4", "Item 4 was already published by modA")
    ]
    for name in ("modA", "mayor", "viewer1", "viewer2", "citizen"):
        assert log[name] == [], name

    # Never a double publication, and never the dropped question.
    for name in ev.clients:
        everything = [m for key in ev.logs for m in ev.logs[key].get(name, [])]
        published_items = [m.tags.get("confchat/item") for m in everything if m.command == "PRIVMSG"]
        assert published_items == ["4"], name


def test_simultaneous_decisions_publish_an_item_once(event):
    """Two moderators approve item 3 at once; the guest answers item 5 while
    one moderator approves it and the other edits it: each question appears
    once, the answer once, threaded to it."""
    ev = event
    ev.gather()
    ev.ask()
    modA, modB, mayor = ev.clients["modA"], ev.clients["modB"], ev.clients["mayor"]
    edited = "Will students pay less?"
    modA.send(f"QUEUE {CHAN} APPROVE 3")
    modB.send(f"QUEUE {CHAN} APPROVE 3")
    mayor.send(f"ANSWER {CHAN} 5 :Yes, half price.")
    modB.send(f"QUEUE {CHAN} APPROVE 5")
    modA.send(f"QUEUE {CHAN} EDIT 5 :{edited}")
    modA.roundtrip()
    modB.roundtrip()
    mayor.roundtrip()
    ev.settle()
    log = {name: fresh(client) for name, client in ev.clients.items()}

    fails = [m for name in ("modA", "modB", "mayor") for m in log[name] if m.command == "FAIL"]
    item_lines = {m.param(2): m for m in log["modA"] if m.command == "QUEUE" and m.param(3) == "published"}
    assert sorted(item_lines) == ["3", "5"]
    winner5 = item_lines["5"].param(8)
    assert winner5 in ("modA", "modB", "mayor")
    # Item 3: one of the two approvals lost. Item 5: every action after the
    # first one that published it fails, except the answer, which is posted.
    assert sorted((m.param(1), m.param(3)) for m in fails) == sorted(
        [("ALREADY_DECIDED", "3")] + [("ALREADY_DECIDED", "5")] * (2 if winner5 == "mayor" else 1)
    )
    text5 = edited if winner5 == "modA" else QUESTIONS[5]
    for name in ("viewer1", "viewer2", "citizen", "modA", "modB", "mayor"):
        privmsgs = [m for m in log[name] if m.command == "PRIVMSG"]
        questions = [m for m in privmsgs if "+draft/reply" not in m.tags]
        answers = [m for m in privmsgs if "+draft/reply" in m.tags]
        assert sorted((m.tags["confchat/item"], m.params[-1]) for m in questions) == [
            ("3", QUESTIONS[3]),
            ("5", text5),
        ], name
        assert [(m.source, m.params[-1]) for m in answers] == [(MAYOR, "Yes, half price.")], name
        question5 = next(m for m in questions if m.tags["confchat/item"] == "5")
        assert answers[0].tags["+draft/reply"] == question5.tags["msgid"], name
        assert privmsgs.index(question5) < privmsgs.index(answers[0]), name
    published_notes = [m.param(3) for m in log["citizen"] if m.command == "NOTE" and m.param(1) == "PUBLISHED"]
    assert sorted(published_notes) == ["3", "5"]


# --------------------------------------------------------------------------
# 4. The guest answers
# --------------------------------------------------------------------------


def test_the_guest_answers_and_the_answer_is_threaded_to_the_question(event):
    ev = event
    ev.gather()
    ev.ask()
    ev.moderate()
    ev.answer()

    log = ev.logs["answer 1"]
    q1, answer = ev.msgids["q1"], ev.msgids["answer"]
    reply = (MAYOR, "PRIVMSG", CHAN, ANSWER)
    published = item(ev, 1, "published", 0, decided="mayor")
    for name in ("viewer1", "viewer2"):
        assert lines(log[name]) == [q(1), reply], name
    assert lines(log["citizen"]) == [
        q(1),
        note("PRIVMSG", "PUBLISHED", CHAN, "1", "Your message was published"),
        reply,
    ]
    # The guest gets the answer once, echo-message or not; and the item line,
    # the item having been forwarded to it.
    for name in ("mayor", "modA", "modB"):
        assert lines(log[name]) == [q(1), published, reply], name
    for name, received in log.items():
        question = next(m for m in received if m.command == "PRIVMSG" and m.source == CITIZEN)
        threaded = next(m for m in received if m.command == "PRIVMSG" and m.source == MAYOR)
        assert question.tags["msgid"] == q1, name
        assert question.tags["confchat/item"] == "1", name
        assert "+draft/reply" not in question.tags, name
        assert threaded.tags["msgid"] == answer != q1, name
        assert threaded.tags["+draft/reply"] == q1, name
        assert threaded.tags["confchat/item"] == "1", name


# --------------------------------------------------------------------------
# 5. What a viewer received, all in all
# --------------------------------------------------------------------------


def test_a_viewer_receives_exactly_the_published_sequence(event):
    ev = event
    ev.gather()
    ev.ask()
    ev.moderate()
    ev.answer()
    viewer1 = ev.clients["viewer1"]
    viewer1.roundtrip()
    viewer1.drain(0.3)
    ev.logs["drain"] = {"viewer1": fresh(viewer1)}

    keys = list(ev.logs)
    since_join = [m for key in keys[keys.index("join viewer1") + 1 :] for m in ev.logs[key].get("viewer1", [])]
    assert lines(since_join) == [q(4), q(1), (MAYOR, "PRIVMSG", CHAN, ANSWER)]
    msgids = [m.tags["msgid"] for m in since_join]
    assert msgids == [ev.msgids["q4"], ev.msgids["q1"], ev.msgids["answer"]]
    assert len(set(msgids)) == 3
    times = [m.tags["time"] for m in since_join]
    assert all(TIME_TAG.fullmatch(t) for t in times), times
    assert times == sorted(times)
    assert [m.tags.get("+draft/reply") for m in since_join] == [None, None, ev.msgids["q1"]]

    # NAMES: the staff, then the audience (viewer1, viewer2, citizen).
    log = ev.act("viewer1", f"NAMES {CHAN}", "names")
    assert lines(log["viewer1"]) == [
        (SERVER, "353", "viewer1", "=", CHAN, STAFF_NAMES),
        note("NAMES", "AUDIENCE", CHAN, "3", "3 people in the audience"),
        (SERVER, "366", "viewer1", CHAN, "End of /NAMES list"),
    ]
    # The staff see every member.
    log = ev.act("modA", f"NAMES {CHAN}", "staff names")
    assert lines(log["modA"]) == [
        (SERVER, "353", "modA", "=", CHAN, "+mayor @modA @modB citizen viewer1 viewer2"),
        (SERVER, "366", "modA", CHAN, "End of /NAMES list"),
    ]

    # A latecomer gets the published messages as they were published
    # (source, text, msgid, tags, original time) and is not seen by viewer1.
    ev.add("latecomer", ev.visitor("latecomer", LATECOMER_CAPS))
    log = ev.act("latecomer", f"JOIN {CHAN}", "join latecomer")
    assert log["viewer1"] == log["viewer2"] == log["citizen"] == []
    assert lines(log["modA"]) == [("latecomer!~latecomer@127.0.0.1", "JOIN", CHAN)]
    received = log["latecomer"]
    start = next(i for i, m in enumerate(received) if m.command == "BATCH")
    opening, *history, closing = received[start:]
    assert opening.params[0].startswith("+") and opening.params[1:] == ("chathistory", CHAN)
    assert closing.params == ("-" + opening.params[0][1:],)
    assert lines(history) == lines(since_join)
    for old, new in zip(since_join, history):
        assert new.tags["batch"] == opening.params[0][1:]
        assert {k: v for k, v in new.tags.items() if k != "batch"} == dict(old.tags)


# --------------------------------------------------------------------------
# 6. A moderator deletes a published question
# --------------------------------------------------------------------------


def test_a_moderator_deletes_a_published_question(event):
    ev = event
    ev.gather()
    ev.ask()
    ev.moderate()
    ev.answer()
    ev.redact()

    q4 = ev.msgids["q4"]
    log = ev.logs["redact q4"]
    redact = (MOD_A, "REDACT", CHAN, q4, REDACT_REASON)
    for name in ("viewer1", "viewer2", "mayor"):
        assert lines(log[name]) == [redact], name
    # Without draft/message-redaction, a NOTICE from the server.
    assert lines(log["citizen"]) == [(SERVER, "NOTICE", CHAN, f"A message was deleted by the moderators: {REDACT_REASON}")]
    # The moderators get the item again, flagged redacted (4 never went to the guest).
    retired = item(ev, 4, "published", 0, decided="modA", flags="redacted")
    assert lines(log["modA"]) == lines(log["modB"]) == [redact, retired]
    assert log["viewer1"][0].tags["msgid"] == log["viewer2"][0].tags["msgid"] == log["modA"][0].tags["msgid"]

    log = ev.act("modB", f"REDACT {CHAN} {q4} :Again", "redact again")
    assert lines(log["modB"]) == [
        (SERVER, "FAIL", "REDACT", "UNKNOWN_MSGID", CHAN, q4, "No published message has that msgid")
    ]
    assert all(log[name] == [] for name in ev.clients if name != "modB")

    log = ev.act("mayor", f"CONF {CHAN} QUESTIONS", "questions")
    assert lines(log["mayor"]) == [
        (SERVER, "CONF", CHAN, "QUESTION", "1", "0", "open", ev.msgids["q1"], "citizen", QUESTIONS[1]),
        (SERVER, "CONF", CHAN, "END", "1 questions"),
    ]

    # Someone joining now gets the history without the deleted question.
    ev.add("latecomer", ev.visitor("latecomer", ("message-tags", "server-time")))
    log = ev.act("latecomer", f"JOIN {CHAN}", "join latecomer")
    history = [m for m in log["latecomer"] if m.command == "PRIVMSG"]
    assert lines(history) == [q(1), (MAYOR, "PRIVMSG", CHAN, ANSWER)]
    assert [m.tags["msgid"] for m in history] == [ev.msgids["q1"], ev.msgids["answer"]]


# --------------------------------------------------------------------------
# 7. Disconnect, ban, and the banned visitor coming back
# --------------------------------------------------------------------------


def test_a_moderator_disconnects_then_bans_a_visitor(event):
    ev = event
    ev.gather()
    ev.ask()
    ev.moderate()
    ev.answer()
    ev.redact()
    ev.disconnect_and_ban()

    log = ev.logs["disconnect"]
    assert lines(log["citizen"]) == [(None, "ERROR", f"Closing Link: {CITIZEN_ADDRESS} ({DISCONNECT_REASON})")]
    quit_ = (CITIZEN, "QUIT", DISCONNECT_REASON)
    assert lines(log["modA"]) == [
        quit_,
        note("CONF", "DISCONNECTED", CHAN, "citizen", "citizen was disconnected"),
    ]
    assert lines(log["modB"]) == lines(log["mayor"]) == [quit_]
    assert log["viewer1"] == log["viewer2"] == []

    # Not banned yet: citizen comes back (the viewers do not see it).
    log = ev.logs["rejoin citizen"]
    assert lines(log["citizen"])[0] == (CITIZEN, "JOIN", CHAN)
    assert lines(log["modA"]) == lines(log["modB"]) == lines(log["mayor"]) == [(CITIZEN, "JOIN", CHAN)]
    assert log["viewer1"] == log["viewer2"] == []

    # The ban by nick of a visitor without an account is a ban of its
    # connection and nick, never of everyone behind its address; it is
    # kicked, in front of the staff only.
    log = ev.logs["ban"]
    kick = (MOD_A, "KICK", CHAN, "citizen", BAN_REASON)
    by_nick = log["modA"][1].params[3]
    assert re.fullmatch(r"\$c:[0-9a-f]+-\d+,citizen!\*@\*", by_nick), by_nick
    assert lines(log["modA"]) == [
        kick, note("CONF", "BAN", CHAN, by_nick, "1", f"{by_nick} banned for 3600 seconds (1 present)"),
    ]
    assert lines(log["modB"]) == lines(log["mayor"]) == lines(log["citizen"]) == [kick]
    assert log["viewer1"] == log["viewer2"] == []
    # The address is banned as a choice of its own (nobody else is on it).
    log = ev.logs["ban address"]
    mask = f"*!*@{CITIZEN_ADDRESS}"
    assert lines(log["modA"]) == [note("CONF", "BAN", CHAN, mask, "0", f"{mask} banned for 3600 seconds (0 present)")]
    assert all(log[name] == [] for name in log if name != "modA")

    # Citizen left the server; nobody shares a channel with it any more.
    assert all(received == [] for received in ev.logs["citizen quits"].values())

    # Reconnecting, under its nick or another, does not get round the ban.
    for nick in ("citizen", "citizen2"):
        log = ev.logs[f"banned {nick}"]
        assert lines(log[nick]) == [
            (SERVER, "474", nick, CHAN, f"You are banned from this conference: {BAN_REASON}"),
            (SERVER, "FAIL", "PRIVMSG", "NOT_JOINED", CHAN, "Join the conference to take part"),
        ]
        assert all(log[name] == [] for name in log if name != nick), nick

    # The ban is on that address only: a newcomer from elsewhere joins.
    log = ev.logs["join newcomer"]
    assert lines(log["newcomer"])[0] == ("newcomer!~newcomer@127.0.0.1", "JOIN", CHAN)
    assert lines(log["modA"]) == [("newcomer!~newcomer@127.0.0.1", "JOIN", CHAN)]
    assert log["viewer1"] == log["viewer2"] == []

    before = int(time.time())
    log = ev.act("modB", f"CONF {CHAN} BANS", "bans")
    (first, restriction, end) = log["modB"]
    assert norm(first)[:7] == (SERVER, "CONF", CHAN, "RESTRICTION", "ban", by_nick, "modA")
    assert norm(restriction)[:7] == (SERVER, "CONF", CHAN, "RESTRICTION", "ban", mask, "modA")
    assert before + 3600 - 30 <= int(restriction.params[5]) <= before + 3600 + 1
    assert restriction.params[6] == BAN_REASON
    assert norm(end) == (SERVER, "CONF", CHAN, "END", "2 restrictions")


# --------------------------------------------------------------------------
# 8. What remains, and the record of who decided what
# --------------------------------------------------------------------------


def test_the_queue_and_the_audit_log_after_the_event(event):
    ev = event
    ev.gather()
    ev.ask()
    ev.moderate()
    ev.answer()
    ev.redact()
    ev.disconnect_and_ban()
    ev.records()
    finished = time.time()

    log = ev.logs["queue list"]
    assert lines(log["modA"]) == [
        item(ev, 3, "pending", 1),
        item(ev, 5, "pending", 2),
        (SERVER, "QUEUE", CHAN, "END", "2 waiting"),
    ]
    assert all("msgid" not in m.tags for m in log["modA"])  # direct replies
    assert all(log[name] == [] for name in log if name != "modA")

    lines_ = ev.logs["audit"]["admin"]
    *entries, end = lines_
    assert norm(end) == (SERVER, "CONF", CHAN, "END", f"{len(entries)} entries")
    rows = []
    times = []
    for entry in entries:
        assert entry.params[:2] == (CHAN, "AUDIT"), entry
        stamp, actor, action, target, detail = entry.params[2:]
        times.append(int(stamp))
        rows.append((actor, action, target, json.loads(detail)))
    assert times == sorted(times)
    assert int(ev.started) - 1 <= times[0] and times[-1] <= finished + 1

    waits = {}
    for actor, action, target, detail in rows:
        if "wait" in detail:
            waits[(action, target)] = detail.pop("wait")
    assert set(waits) == {("approve", "4"), ("drop", "2")}
    assert all(isinstance(w, (int, float)) and 0 <= w < 60 for w in waits.values()), waits

    moves = [detail.get("to") for actor, action, target, detail in rows if action == "move"]
    assert moves in (["top"], [1]), moves
    disconnects = [(actor, target) for actor, action, target, detail in rows if action == "disconnect"]
    assert disconnects == [("modA", "*")]
    documented = [row for row in rows if row[1] not in ("move", "disconnect")]
    assert documented == [
        ("citizen", "submit", "1", {"text": QUESTIONS[1]}),
        ("citizen", "submit", "2", {"text": QUESTIONS[2]}),
        ("citizen", "submit", "3", {"text": QUESTIONS[3]}),
        ("citizen", "submit", "4", {"text": QUESTIONS[4]}),
        ("citizen", "submit", "5", {"text": QUESTIONS[5]}),
        ("modA", "approve", "4", {}),
        ("modA", "drop", "2", {"reason": DROP_REASON}),
        ("modA", "forward", "1", {}),
        ("mayor", "approve", "1", {"via": "answer"}),
        ("mayor", "answer", "1", {"msgid": ev.msgids["answer"], "text": ANSWER}),
        ("modA", "redact", "4", {"msgid": ev.msgids["q4"], "reason": REDACT_REASON}),
        ("modA", "ban", "*", {"mask": ev.logs["ban"]["modA"][1].params[3], "duration": 3600, "reason": BAN_REASON}),
        ("modA", "ban", "*", {"mask": f"*!*@{CITIZEN_ADDRESS}", "duration": 3600, "reason": BAN_REASON}),
    ]
    # The order of everything, moves and disconnections included; the
    # too-late attempts of modB left nothing in the log.
    assert [(actor, action, target) for actor, action, target, _ in rows] == [
        *[("citizen", "submit", str(n)) for n in QUESTIONS],
        ("modA", "move", "4"),
        ("modA", "approve", "4"),
        ("modA", "drop", "2"),
        ("modA", "forward", "1"),
        ("mayor", "approve", "1"),
        ("mayor", "answer", "1"),
        ("modA", "redact", "4"),
        ("modA", "disconnect", "*"),
        ("modA", "ban", "*"),
        ("modA", "ban", "*"),
    ]
