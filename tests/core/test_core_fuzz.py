"""A hypothesis state machine over the whole core, driven by IRC lines only.

A live moderated conference with two moderators, a guest, an admin and a
viewer who stays all along; visitors connect, register, join, ask, vote,
part and quit; the staff approve, drop, hold, move, forward, edit, claim,
answer, redact and raise the shield, with item ids and msgids that exist and
some that do not; anyone sends garbage (random bytes, invalid UTF-8, over-long
lines, any command of the table with random parameters). Every line goes
through a LineDecoder first, as the transport's are.

Checked after every step:

* nothing escapes the core and no command crashes inside it (the server's
  ``command.crashed`` log event, an INTERNAL_ERROR reply);
* everything sent is CRLF-terminated UTF-8 that parses;
* the viewer has every published question exactly once, and nothing else;
* the queue's order is its undecided items sorted by (rank, id);
* every client in a channel is a live client of the server;
* a visitor's staff subcommand (QUEUE, CONF, PREPARED, ANSWER, REDACT) gets
  NEED_ROLE and changes nothing.
"""

from __future__ import annotations

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from confchat.core.commands import COMMANDS
from confchat.moderation.queue import State
from confchat.proto.codec import MAX_LINE_BYTES, LineDecoder
from helpers import Conn, Net, parse_all, with_limits
from test_conference import CAPS, CHAN, login, make_config

UNDECIDED = {State.PENDING, State.HELD, State.FORWARDED}
QUEUE_ACTIONS = ("APPROVE", "DROP", "HOLD", "UNHOLD", "FORWARD", "CLAIM", "UNCLAIM", "TAKEOVER")
# Subcommands that need a staff role, by command (core/subcommands.py tables).
STAFF_ONLY = {
    "QUEUE": ("LIST", "NEXT", "APPROVE", "EDIT", "DROP", "MOVE", *QUEUE_ACTIONS),
    "CONF": ("STATE", "SET", "ROLE", "BAN", "UNBAN", "MUTE", "UNMUTE", "BANS", "DISCONNECT", "SHIELD",
             "ANSWERING", "ANSWERED", "QUESTIONS", "AUDIT", "AUDIENCE", "EXPORT"),
    "PREPARED": ("LIST", "ADD", "DEL", "PUBLISH"),
}

_any_text = st.text(max_size=80)
texts = st.one_of(
    _any_text,
    st.sampled_from(["", " ", ":", "When does the tram come?", "Straße 橋 🚋 ça", "\x01ACTION waves\x01", "a" * 600,
                     "x\r\ny", "nul\x00byte", "QUEUE #townhall APPROVE 1"]),
    st.builds(lambda s, n: s * n, st.sampled_from(["é", "ab ", "🚋"]), st.integers(1, 400)),
)
picks = st.integers(min_value=0, max_value=2**16)
words = st.sampled_from([
    CHAN, "#TownHall", "#lobby", "#nowhere", "moda", "mayor", "viewer", "v1", "*", "0", "1", "-1", "1,2,3", "1,,x",
    "99999999999999999999", "top", "bottom", "on", "off", "ON", "CLOSED", "live", "closed", "open", "moderated",
    "readonly", "mode", "slow_mode", "title", "*!*@*", "$a:moda", "nick!user@host", "+o", "-o", "+b", "+m", "+i",
    "LS", "REQ", "END", "302", "ACK", "sasl", "PLAIN", "+", "INFO", "LIST", "NEXT", "APPROVE", "HOLD", "MOVE",
    "SHIELD", "ANSWERING", "html", "json", "internal", "é", "a b", ":x", "",
])
commands = st.sampled_from(sorted(COMMANDS) + ["FOO", "privmsg", "Queue", "001"])
_tags = st.sampled_from(["", "@label=1 ", "@+draft/reply=zz ", "@msgid=x;+typing=active ", "@a=\\:\\s\\ ", "@ "])
random_commands = st.builds(
    lambda tags, command, params, trailing: (tags + " ".join([command, *params]) + (f" :{trailing}" if trailing is not None else "")).encode(),
    _tags, commands, st.lists(words.filter(lambda w: w and " " not in w and not w.startswith(":")), max_size=5),
    st.none() | texts,
)
garbage = st.one_of(
    random_commands,
    st.binary(max_size=60),
    st.sampled_from([b"\xff\xfe\xfd", b"PRIVMSG #townhall :\xc3\x28", b"\x00", b"\r", b"@", b":", b" ", b"@a",
                     b"QUEUE", b"QUEUE #townhall", b"CONF", b"CONF #townhall SET", b"CAP REQ :" + b"x" * 600]),
    st.builds(lambda n: b"PRIVMSG #townhall :" + b"y" * n, st.sampled_from([480, 491, 492, 600, MAX_LINE_BYTES + 5])),
)


# Lines that would take the staff or the viewer out of the conference.
CAST_BREAKERS = (b"QUIT", b"PART", b"KILL", b"NICK", b"JOIN", b"KICK", b"DISCONNECT", b"ROLE")


class Peer:
    """A connection as the transport sees it: bytes in through a
    LineDecoder, each line to ``Server.receive``."""

    def __init__(self, conn: Conn, role: str) -> None:
        self.conn = conn
        self.role = role  # staff, viewer, visitor or unregistered
        self.decoder = LineDecoder()
        self.nick = conn.client.nick

    def feed(self, data: bytes) -> None:
        server = self.conn.net.server
        for line in self.decoder.feed(data):
            server.receive(self.conn.client, line)
        self.conn.net.run_verifications()

    def line(self, text: str | bytes) -> None:
        self.feed((text.encode() if isinstance(text, str) else text) + b"\r\n")

    @property
    def gone(self) -> bool:
        return self.conn.client.gone


def conference_snapshot(net: Net):
    conference = net.server.conferences[CHAN.lower()]
    channel = net.server.channels[CHAN.lower()]
    q = conference.queue
    return (
        list(q.order),
        {i.id: (i.state, i.text, i.claimed_by, i.decided_by, i.rank, frozenset(i.votes), i.redacted, i.answered)
         for i in q.items.values()},
        len(conference.audit), sorted(conference.published), dict(conference.prepared), dict(conference.roles),
        [attrs.astuple(r) for r in conference.restrictions],
        (conference.shield.on, conference.shield.closed, conference.shield.reason),
        conference.info(), conference.now_answering,
        {c.id for c in channel.members}, sorted(channel.modes),
    )


class CoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.errors: list[tuple[str, dict]] = []
        self.internal_errors: list[str] = []
        self.viewer_items: dict[int, int] = {}
        self.visitors: list[Peer] = []
        self.strangers: list[Peer] = []  # connected, never registered
        self.serial = 0

    @initialize()
    def room(self) -> None:
        config = with_limits(make_config(), max_connections_per_ip=0)
        self.net = net = Net(config)

        def log(event: str, level: str = "info", **fields) -> None:
            if level in ("error", "critical"):
                self.errors.append((event, fields))

        net.server.log = log
        self.staff = {name: Peer(login(net, name), "staff") for name in ("moda", "modb", "mayor", "boss")}
        self.viewer = Peer(net.register("viewer", CAPS, ip="203.0.113.1"), "viewer")
        for n, caps in enumerate((CAPS, (), ("standard-replies",))):
            self.serial += 1
            ip = ("203.0.113.2", "203.0.113.3", "2001:db8::7")[n]
            self.visitors.append(Peer(net.register(f"v{self.serial}", caps, ip=ip), "visitor"))
        for peer in [*self.staff.values(), self.viewer, *self.visitors]:
            peer.line(f"JOIN {CHAN}")
        self.drain()

    # ---------------------------------------------------------------- helpers

    @property
    def conference(self):
        return self.net.server.conferences[CHAN.lower()]

    def peers(self) -> list[Peer]:
        return [*self.staff.values(), self.viewer, *self.visitors, *self.strangers]

    def drain(self) -> dict[Peer, list]:
        """Read every connection's output: check it, answer PINGs, count
        what the viewer was given."""
        out = {}
        for peer in self.peers():
            messages = parse_all(peer.conn.take_raw())
            out[peer] = messages
            for m in messages:
                if m.command in ("FAIL", "NOTICE") and "INTERNAL_ERROR" in " ".join(m.params):
                    self.internal_errors.append(f"{peer.nick}: {m}")
                if m.command == "PING" and not peer.gone:
                    peer.line(f"PONG :{m.param(0)}")
                if peer is self.viewer and m.command == "PRIVMSG" and "confchat/item" in m.tags \
                        and "+draft/reply" not in m.tags:
                    item = int(m.tags["confchat/item"])
                    self.viewer_items[item] = self.viewer_items.get(item, 0) + 1
        self.visitors = [p for p in self.visitors if not p.gone]
        self.strangers = [p for p in self.strangers if not p.gone]
        return out

    def item_id(self, pick: int) -> str:
        """Mostly an id that exists, sometimes one that does not, or a list."""
        ids = sorted(self.conference.queue.items)
        if not ids or pick % 9 == 0:
            return ("0", "-3", "x", "1e3", "4294967296", "1,2", ",", str(len(ids) + 1))[pick % 8]
        if pick % 11 == 1:
            return ",".join(str(ids[(pick + k) % len(ids)]) for k in range(3))
        return str(ids[pick % len(ids)])

    def msgid(self, pick: int) -> str:
        published = sorted(self.conference.published)
        if not published or pick % 7 == 0:
            return ("nosuchmsgid", "*", "0")[pick % 3]
        return published[pick % len(published)]

    def pick(self, peers: list[Peer], pick: int) -> Peer | None:
        return peers[pick % len(peers)] if peers else None

    def moderator(self, pick: int) -> Peer:
        return self.staff[("moda", "modb", "boss")[pick % 3]]

    def after(self) -> None:
        self.drain()

    # ---------------------------------------------------------------- visitors

    @rule(caps=st.sampled_from([CAPS, (), ("standard-replies",), ("message-tags", "echo-message")]),
          ip=st.sampled_from(["203.0.113.2", "203.0.113.3", "2001:db8::7"]), join=st.booleans())
    def visitor_arrives(self, caps, ip: str, join: bool) -> None:
        if len(self.visitors) >= 8:
            return
        self.serial += 1
        peer = Peer(self.net.register(f"v{self.serial}", caps, ip=ip), "visitor")
        self.visitors.append(peer)
        if join:
            peer.line(f"JOIN {CHAN}")
        self.after()

    @rule(ip=st.sampled_from(["198.18.0.1", "198.18.0.2"]))
    def stranger_connects(self, ip: str) -> None:
        if len(self.strangers) < 3:
            conn = self.net.connect(ip)
            assert conn is not None
            self.strangers.append(Peer(conn, "unregistered"))
        self.after()

    @rule(pick=picks, how=st.sampled_from(["join", "part", "quit", "lost", "nick"]))
    def visitor_comes_and_goes(self, pick: int, how: str) -> None:
        peer = self.pick(self.visitors, pick)
        if peer is None:
            return
        if how == "join":
            peer.line(f"JOIN {CHAN}")
        elif how == "part":
            peer.line(f"PART {CHAN} :bye")
        elif how == "quit":
            peer.line("QUIT :bye")
        elif how == "lost":
            self.net.server.connection_lost(peer.conn.client)
        else:
            self.serial += 1
            peer.line(f"NICK w{self.serial}")
        self.after()

    @rule(pick=picks, text=texts)
    def visitor_asks(self, pick: int, text: str) -> None:
        peer = self.pick(self.visitors, pick)
        if peer is not None:
            peer.feed(f"PRIVMSG {CHAN} :{text}\r\n".encode("utf-8", "surrogatepass"))
        self.after()

    @rule(pick=picks, n=st.integers(1, 4))
    def visitors_ask_plain_questions(self, pick: int, n: int) -> None:
        for k in range(n):
            peer = self.pick(self.visitors, pick + k)
            if peer is not None:
                peer.line(f"PRIVMSG {CHAN} :Question {self.serial}.{k}: when does the tram come?")
        self.after()

    @rule(pick=picks, item=picks, viewer=st.booleans())
    def vote(self, pick: int, item: int, viewer: bool) -> None:
        peer = self.viewer if viewer else self.pick(self.visitors, pick)
        if peer is not None:
            peer.line(f"VOTE {CHAN} {self.item_id(item)}")
        self.after()

    @rule(pick=picks, command=st.sampled_from(sorted(STAFF_ONLY)), sub=picks, item=picks, extra=words)
    def visitor_tries_a_staff_subcommand(self, pick: int, command: str, sub: int, item: int, extra: str) -> None:
        peer = self.pick(self.visitors, pick)
        if peer is None or not peer.conn.client.registered:
            return
        name = STAFF_ONLY[command][sub % len(STAFF_ONLY[command])]
        self.staff_attempt(peer, f"{command} {CHAN} {name} {self.item_id(item)} {extra or '*'} :x")

    @rule(pick=picks, item=picks, msgid=picks, which=st.sampled_from(["ANSWER", "REDACT", "CREATE"]))
    def visitor_tries_a_staff_command(self, pick: int, item: int, msgid: int, which: str) -> None:
        peer = self.pick(self.visitors, pick)
        if peer is None or not peer.conn.client.registered:
            return
        line = {
            "ANSWER": f"ANSWER {CHAN} {self.item_id(item)} :I answer",
            "REDACT": f"REDACT {CHAN} {self.msgid(msgid)} :gone",
            "CREATE": "CONF CREATE #mine :My conference",
        }[which]
        self.staff_attempt(peer, line)

    def staff_attempt(self, peer: Peer, line: str) -> None:
        self.drain()
        before = conference_snapshot(self.net)
        peer.line(line)
        replies = self.drain().get(peer, [])
        refusals = [m for m in replies if (m.command == "FAIL" and m.param(1) == "NEED_ROLE")
                    or (m.command == "NOTICE" and "NEED_ROLE:" in m.param(1))]
        assert refusals, (line, replies)
        assert conference_snapshot(self.net) == before, line

    # ---------------------------------------------------------------- staff

    @rule(who=picks, action=st.sampled_from(QUEUE_ACTIONS), item=picks)
    def moderator_acts(self, who: int, action: str, item: int) -> None:
        self.moderator(who).line(f"QUEUE {CHAN} {action} {self.item_id(item)}")
        self.after()

    @rule(who=picks, item=picks, reason=st.none() | texts)
    def moderator_drops(self, who: int, item: int, reason: str | None) -> None:
        tail = "" if reason is None else f" :{reason}"
        self.moderator(who).line(f"QUEUE {CHAN} DROP {self.item_id(item)}{tail}".encode("utf-8", "surrogatepass"))
        self.after()

    @rule(who=picks, item=picks, where=st.sampled_from(["top", "bottom", "1", "2", "0", "-1", "99", "x", "TOP"]))
    def moderator_moves(self, who: int, item: int, where: str) -> None:
        self.moderator(who).line(f"QUEUE {CHAN} MOVE {self.item_id(item)} {where}")
        self.after()

    @rule(who=picks, item=picks, text=texts)
    def moderator_edits(self, who: int, item: int, text: str) -> None:
        self.moderator(who).line(f"QUEUE {CHAN} EDIT {self.item_id(item)} :{text}".encode("utf-8", "surrogatepass"))
        self.after()

    @rule(who=picks, sub=st.sampled_from(["NEXT", "LIST", "LIST 2", "NEXT x"]))
    def moderator_lists_or_takes_the_next(self, who: int, sub: str) -> None:
        self.moderator(who).line(f"QUEUE {CHAN} {sub}")
        self.after()

    @rule(who=picks, msgid=picks, reason=st.none() | texts)
    def moderator_redacts(self, who: int, msgid: int, reason: str | None) -> None:
        tail = "" if reason is None else f" :{reason}"
        self.moderator(who).line(f"REDACT {CHAN} {self.msgid(msgid)}{tail}".encode("utf-8", "surrogatepass"))
        self.after()

    @rule(who=picks, setting=st.sampled_from([
        "SHIELD ON", "SHIELD ON CLOSED raid", "SHIELD OFF", "SHIELD maybe", "SET mode open", "SET mode moderated",
        "SET mode readonly", "SET slow_mode 0", "SET slow_mode 5", "SET slow_mode -1", "SET title :New title",
        "STATE live", "STATE open", "STATE closed", "STATE nonsense", "BAN v1 60 :rude", "UNBAN v1", "MUTE *!*@203.0.113.3",
        "UNMUTE *!*@203.0.113.3", "BANS", "AUDIT", "AUDIENCE", "AUDIENCE 1 v", "QUESTIONS", "EXPORT json internal",
        "DISCONNECT v1", "DISCONNECT moda", "ROLE moda visitor", "ROLE mayor guest", "INFO",
    ]))
    def staff_changes_the_conference(self, who: int, setting: str) -> None:
        if setting.startswith("ROLE moda"):  # keep the cast: an admin puts her back at once
            self.staff["boss"].line(f"CONF {CHAN} {setting}")
            self.staff["boss"].line(f"CONF {CHAN} ROLE moda moderator")
        else:
            self.moderator(who).line(f"CONF {CHAN} {setting}")
        self.after()

    @rule(item=picks, text=texts, how=st.sampled_from(["answer", "answering", "answered", "prepared", "speak"]))
    def guest_answers(self, item: int, text: str, how: str) -> None:
        guest = self.staff["mayor"]
        item_id = self.item_id(item)
        lines = {
            "answer": [f"ANSWER {CHAN} {item_id} :{text}"],
            "answering": [f"CONF {CHAN} ANSWERING {item_id}"],
            "answered": [f"CONF {CHAN} ANSWERED {item_id}"],
            "prepared": [f"PREPARED {CHAN} ADD p1 :{text}", f"PREPARED {CHAN} PUBLISH p1 {item_id}"],
            "speak": [f"PRIVMSG {CHAN} :{text}"],
        }[how]
        for line in lines:
            guest.line(line.encode("utf-8", "surrogatepass"))
        self.after()

    # ---------------------------------------------------------------- anyone

    @rule(who=picks, data=garbage, kind=st.sampled_from(["visitor", "stranger", "staff", "viewer"]))
    def garbage_line(self, who: int, data: bytes, kind: str) -> None:
        if kind == "visitor":
            peer = self.pick(self.visitors, who)
        elif kind == "stranger":
            peer = self.pick(self.strangers, who)
        elif kind == "staff":
            peer = self.pick(list(self.staff.values()), who)
        else:
            peer = self.viewer
        if peer is None:
            return
        if kind in ("staff", "viewer") and any(word in data.upper() for word in CAST_BREAKERS):
            return  # keep the cast in place: no leaving, no nick theft, no closing
        peer.feed(data + b"\r\n")
        self.after()

    @rule(data=st.binary(min_size=1, max_size=200), cut=st.integers(0, 200))
    def bytes_split_anywhere(self, data: bytes, cut: int) -> None:
        peer = self.pick(self.visitors, cut)
        if peer is not None:
            peer.feed(data[:cut])
            peer.feed(data[cut:] + b"\n")
        self.after()

    @rule(seconds=st.sampled_from([0.5, 5.0, 31.0, 95.0]))
    def time_passes(self, seconds: float) -> None:
        self.net.advance(seconds)
        self.net.server.tick()
        self.after()

    # ---------------------------------------------------------------- invariants

    @invariant()
    def nothing_crashed(self) -> None:
        assert not self.errors, self.errors
        assert not self.internal_errors, self.internal_errors

    @invariant()
    def the_viewer_has_each_published_question_once(self) -> None:
        if not hasattr(self, "net"):
            return
        assert not self.viewer.gone
        published = {i.id for i in self.conference.queue.items.values() if i.state is State.PUBLISHED}
        assert set(self.viewer_items) == published
        assert all(n == 1 for n in self.viewer_items.values()), self.viewer_items

    @invariant()
    def queue_order_is_the_undecided_by_rank(self) -> None:
        if not hasattr(self, "net"):
            return
        q = self.conference.queue
        undecided = [i.id for i in q.items.values() if i.state in UNDECIDED]
        assert q.order == sorted(undecided, key=lambda i: (q.items[i].rank, i))

    @invariant()
    def members_are_live_clients(self) -> None:
        if not hasattr(self, "net"):
            return
        server = self.net.server
        for channel in server.channels.values():
            for member in channel.members:
                assert not member.gone and server.clients.get(member.id) is member
            assert channel.staff <= set(channel.members)
        for folded, client in server.nicks.items():
            assert client.folded == folded and not client.gone


CoreMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
TestCoreMachine = CoreMachine.TestCase
