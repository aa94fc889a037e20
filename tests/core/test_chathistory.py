"""CHATHISTORY through the core (IRCv3 ``draft/chathistory``,
``draft/event-playback``): every subcommand and selector, the limits, the
errors, and what a visitor and the staff may read (no sockets).

Quotes are from the spec, https://ircv3.net/specs/extensions/chathistory."""

from __future__ import annotations

import base64

import attrs
import pytest

from argon2 import PasswordHasher
from confchat.config import Account, Config, ConferenceConfig, HistorySection
from confchat.core.handlers.history import parse_timestamp
from confchat.moderation.conference import Publication
from confchat.moderation.timeline import Timeline
from confchat.proto.servertime import format_server_time
from helpers import WALL_START, Conn, Net, find

PASSWORD = "correct horse"
HASH = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
CHAN = "#townhall"
OTHER = "#library"
HISTORY = ("batch", "message-tags", "server-time", "draft/chathistory")
STAFF_CAPS = ("message-tags", "server-time", "echo-message", "standard-replies", "draft/message-redaction")


def make_config(limit: int = 100, **conference) -> Config:
    settings = dict(channel=CHAN, title="Ask the mayor", moderators=("moda",), guests=("mayor",), state="live", slow_mode=0)
    settings.update(conference)
    return attrs.evolve(
        Config(),
        accounts=(Account("moda", HASH), Account("mayor", HASH)),
        conferences=(ConferenceConfig(**settings), ConferenceConfig(channel=OTHER, title="Books", moderators=("moda",), state="live")),
        history=HistorySection(chathistory_limit=limit),
    )


def login(net: Net, account: str, caps=STAFF_CAPS) -> Conn:
    conn = net.connect("198.51.100.7")
    assert conn is not None
    conn.send("CAP LS 302")
    conn.send("CAP REQ :" + " ".join((*caps, "sasl")))
    conn.send(f"NICK {account}")
    conn.send(f"USER {account} 0 * :{account}")
    conn.send("AUTHENTICATE PLAIN")
    conn.send("AUTHENTICATE " + base64.b64encode(f"{account}\0{account}\0{PASSWORD}".encode()).decode())
    conn.send("CAP END")
    assert "903" in [m.command for m in conn.take()]
    return conn


@pytest.fixture
def net() -> Net:
    return Net(make_config())


@pytest.fixture
def moda(net: Net) -> Conn:
    conn = login(net, "moda")
    conn.send(f"JOIN {CHAN}")
    conn.take()
    return conn


def visitor(net: Net, nick: str = "carol", caps=HISTORY, ip: str = "203.0.113.2") -> Conn:
    conn = net.register(nick, caps, ip=ip)
    conn.send(f"JOIN {CHAN}")
    conn.take()
    return conn


def say(net: Net, moda: Conn, text: str) -> Publication:
    """A staff message, published at once, one second after the last."""
    net.advance(1)
    moda.send(f"PRIVMSG {CHAN} :{text}")
    moda.take()
    return list(net.server.conferences["#townhall"].published.values())[-1]


def history(conn: Conn, line: str) -> list:
    """The lines of the one chathistory batch the command got back (the
    flood bucket refilled first: each request costs 4 tokens)."""
    conn.net.clock.advance(2)
    replies = conn.ask(line)
    assert replies[0].command == "BATCH" and replies[0].params[1:] == ("chathistory", CHAN), replies
    ref = replies[0].params[0][1:]
    assert replies[-1].command == "BATCH" and replies[-1].params == ("-" + ref,)
    inner = replies[1:-1]
    assert all(m.tags.get("batch") == ref for m in inner)
    return inner


def texts(lines) -> list[str]:
    return [m.params[1] for m in lines]


def fail(replies, code: str):
    (line,) = find(replies, "FAIL")
    assert line.params[:2] == ("CHATHISTORY", code), line
    return line


@pytest.fixture
def ten(net: Net, moda: Conn) -> list[Publication]:
    return [say(net, moda, f"message {i}") for i in range(10)]


def stamp(publication: Publication) -> str:
    return format_server_time(publication.at)


# ------------------------------------------------------------ advertised


def test_the_capabilities_and_isupport_are_advertised(net):
    """"The draft/chathistory capability MUST be negotiated"; "An ISUPPORT
    token MUST be sent to the client to state the maximum number of messages
    a client can request in a single command"; MSGREFTYPES lists the
    selectors, the preferred first."""
    conn = net.connect()
    ls = conn.ask("CAP LS 302")
    offered = ls[0].params[-1].split()
    assert "draft/chathistory" in offered and "draft/event-playback" in offered
    conn.send("NICK carol")
    conn.send("USER carol 0 * :Carol")
    conn.send("CAP END")
    tokens = [t for m in find(conn.take(), "005") for t in m.params[1:-1]]
    assert "CHATHISTORY=100" in tokens
    assert "MSGREFTYPES=msgid,timestamp" in tokens


def test_the_isupport_limit_follows_the_configuration():
    conn = Net(make_config(limit=25)).register("carol")
    tokens = [t for m in find(conn.ask("VERSION"), "005") for t in m.params[1:-1]]
    assert "CHATHISTORY=25" in tokens


# ------------------------------------------------------------ subcommands


def test_latest(net, ten):
    """LATEST: "Request up to limit number of the most recent messages that
    have been sent. If a timestamp or msgid is given, the returned messages
    are restricted to those sent after and excluding that timestamp or
    msgid; if a * is given, no such restriction applies.\""""
    carol = visitor(net)
    assert texts(history(carol, f"CHATHISTORY LATEST {CHAN} * 50")) == [p.text for p in ten]
    assert texts(history(carol, f"CHATHISTORY LATEST {CHAN} * 5")) == [p.text for p in ten[-5:]]
    assert texts(history(carol, f"CHATHISTORY LATEST {CHAN} * 1")) == ["message 9"]
    assert texts(history(carol, f"CHATHISTORY LATEST {CHAN} msgid={ten[4].msgid} 50")) == [p.text for p in ten[5:]]
    assert texts(history(carol, f"CHATHISTORY LATEST {CHAN} timestamp={stamp(ten[4])} 50")) == [p.text for p in ten[5:]]
    assert texts(history(carol, f"CHATHISTORY LATEST {CHAN} msgid={ten[4].msgid} 2")) == ["message 8", "message 9"]


def test_before(net, ten):
    """BEFORE: "Request up to limit number of messages before and excluding
    the given timestamp or msgid.\""""
    carol = visitor(net)
    assert texts(history(carol, f"CHATHISTORY BEFORE {CHAN} msgid={ten[6].msgid} 50")) == [p.text for p in ten[:6]]
    assert texts(history(carol, f"CHATHISTORY BEFORE {CHAN} timestamp={stamp(ten[6])} 50")) == [p.text for p in ten[:6]]
    assert texts(history(carol, f"CHATHISTORY BEFORE {CHAN} timestamp={stamp(ten[6])} 2")) == ["message 4", "message 5"]
    assert history(carol, f"CHATHISTORY BEFORE {CHAN} msgid={ten[0].msgid} 50") == []


def test_after(net, ten):
    """AFTER: "Request up to limit number of messages after and excluding the
    given timestamp or msgid.\""""
    carol = visitor(net)
    assert texts(history(carol, f"CHATHISTORY AFTER {CHAN} msgid={ten[3].msgid} 50")) == [p.text for p in ten[4:]]
    assert texts(history(carol, f"CHATHISTORY AFTER {CHAN} timestamp={stamp(ten[3])} 50")) == [p.text for p in ten[4:]]
    assert texts(history(carol, f"CHATHISTORY AFTER {CHAN} timestamp={stamp(ten[3])} 3")) == [p.text for p in ten[4:7]]
    assert history(carol, f"CHATHISTORY AFTER {CHAN} msgid={ten[9].msgid} 50") == []


def test_between_forwards_and_backwards(net, ten):
    """BETWEEN: "The returned messages MUST start from and exclude the first
    message selector, while finishing on and excluding the second - this may
    be forwards or backwards in time." With a limit, the messages nearest
    the first selector."""
    carol = visitor(net)
    first, last = ten[0], ten[-1]
    for a, b in ((f"msgid={first.msgid}", f"msgid={last.msgid}"), (f"timestamp={stamp(first)}", f"timestamp={stamp(last)}")):
        assert texts(history(carol, f"CHATHISTORY BETWEEN {CHAN} {a} {b} 50")) == [p.text for p in ten[1:-1]]
        assert texts(history(carol, f"CHATHISTORY BETWEEN {CHAN} {b} {a} 50")) == [p.text for p in ten[1:-1]]
        assert texts(history(carol, f"CHATHISTORY BETWEEN {CHAN} {a} {b} 3")) == [p.text for p in ten[1:4]]
        assert texts(history(carol, f"CHATHISTORY BETWEEN {CHAN} {b} {a} 3")) == [p.text for p in ten[-4:-1]]
    # The two kinds of selector mixed.
    mixed = f"CHATHISTORY BETWEEN {CHAN} msgid={ten[2].msgid} timestamp={stamp(ten[5])} 50"
    assert texts(history(carol, mixed)) == ["message 3", "message 4"]


def test_around(net, ten):
    """AROUND: "Request a number of messages before and after the timestamp
    or msgid with the total number of returned messages not exceeding
    limit." The message named is among them, in the middle."""
    carol = visitor(net)
    assert texts(history(carol, f"CHATHISTORY AROUND {CHAN} msgid={ten[7].msgid} 1")) == ["message 7"]
    assert texts(history(carol, f"CHATHISTORY AROUND {CHAN} msgid={ten[7].msgid} 3")) == [p.text for p in ten[6:9]]
    assert texts(history(carol, f"CHATHISTORY AROUND {CHAN} timestamp={stamp(ten[7])} 3")) == [p.text for p in ten[6:9]]
    # At the edges the window slides in, still `limit` long.
    assert texts(history(carol, f"CHATHISTORY AROUND {CHAN} msgid={ten[9].msgid} 4")) == [p.text for p in ten[6:]]
    assert texts(history(carol, f"CHATHISTORY AROUND {CHAN} msgid={ten[0].msgid} 4")) == [p.text for p in ten[:4]]


def test_subcommands_are_case_insensitive_and_selectors_too(net, ten):
    carol = visitor(net)
    assert texts(history(carol, f"chathistory after {CHAN} MSGID={ten[8].msgid} 5")) == ["message 9"]


def test_lines_are_replayed_as_they_were_published(net, moda):
    """"The msgid tag that identifies each individual message in a response
    MUST be the msgid tag as originally sent by the IRC server"; the time is
    the time it was received."""
    carol = visitor(net, caps=(*HISTORY, "echo-message"))
    mayor = login(net, "mayor")
    mayor.send(f"JOIN {CHAN}")
    net.advance(1)
    carol.send(f"PRIVMSG {CHAN} :How much will the tram cost?")
    item = net.server.conferences["#townhall"].queue.items[1]
    moda.send(f"QUEUE {CHAN} APPROVE {item.id}")
    net.advance(1)
    mayor.send(f"ANSWER {CHAN} {item.id} :About 120 million euros.")
    net.advance(1)
    moda.send(f"NOTICE {CHAN} :Thank you all")
    live = [m for m in carol.take() if m.command in ("PRIVMSG", "NOTICE") and m.source and "!" in m.source]
    assert len(live) == 3
    replayed = history(carol, f"CHATHISTORY LATEST {CHAN} * 10")
    assert [(m.command, m.source, m.params, m.tags) for m in replayed] == [
        (m.command, m.source, m.params, {**m.tags, "batch": replayed[0].tags["batch"]}) for m in live
    ]
    assert replayed[0].tags["confchat/item"] == str(item.id)
    assert replayed[1].tags["+draft/reply"] == replayed[0].tags["msgid"]
    assert replayed[2].command == "NOTICE"


def test_without_batch_the_lines_come_alone(net, ten):
    """"limited functionality is available without support for these CAPs"."""
    plain = visitor(net, "plain", caps=("draft/chathistory",))
    replies = plain.ask(f"CHATHISTORY LATEST {CHAN} * 2")
    assert [m.command for m in replies] == ["PRIVMSG", "PRIVMSG"]
    assert texts(replies) == ["message 8", "message 9"]
    assert all(not m.tags for m in replies)  # nor tags without message-tags


def test_a_labeled_request_nests_the_batch(net, ten):
    carol = visitor(net, caps=(*HISTORY, "labeled-response"))
    replies = carol.ask(f"@label=h1 CHATHISTORY LATEST {CHAN} * 2")
    outer, inner = replies[0], replies[1]
    assert outer.command == "BATCH" and outer.params[1] == "labeled-response" and outer.tags["label"] == "h1"
    assert inner.params[1:] == ("chathistory", CHAN) and inner.tags["batch"] == outer.params[0][1:]
    lines = [m for m in replies if m.command == "PRIVMSG"]
    assert [m.tags["batch"] for m in lines] == [inner.params[0][1:]] * 2
    assert replies[-1].params == ("-" + outer.params[0][1:],)


def test_the_limit_is_cut_to_the_server_s(net, moda):
    """"servers SHOULD set and enforce a reasonable maximum"."""
    limited = Net(make_config(limit=3))
    boss = login(limited, "moda")
    boss.send(f"JOIN {CHAN}")
    for i in range(6):
        say(limited, boss, f"m{i}")
    carol = visitor(limited)
    assert texts(history(carol, f"CHATHISTORY LATEST {CHAN} * 1000")) == ["m3", "m4", "m5"]
    assert texts(history(carol, f"CHATHISTORY AFTER {CHAN} timestamp=2000-01-01T00:00:00.000Z 1000")) == ["m0", "m1", "m2"]


def test_an_empty_history_is_an_empty_batch(net, moda):
    """"If no content exists to return, an empty batch SHOULD be returned"."""
    carol = visitor(net)
    assert history(carol, f"CHATHISTORY LATEST {CHAN} * 10") == []


def test_messages_in_the_same_millisecond_are_told_apart_by_msgid(net, moda):
    """"determinately orders any two messages (even if they share a
    timestamp)": msgids page exactly where timestamps cannot."""
    for i in range(4):
        moda.send(f"PRIVMSG {CHAN} :same {i}")  # the clock does not move
    carol = visitor(net)
    published = list(net.server.conferences["#townhall"].published.values())
    assert texts(history(carol, f"CHATHISTORY AFTER {CHAN} msgid={published[1].msgid} 10")) == ["same 2", "same 3"]
    assert texts(history(carol, f"CHATHISTORY BEFORE {CHAN} msgid={published[2].msgid} 10")) == ["same 0", "same 1"]
    assert history(carol, f"CHATHISTORY AFTER {CHAN} timestamp={stamp(published[0])} 10") == []


# ------------------------------------------------------------ who reads what


def test_a_visitor_gets_only_published_messages(net, moda):
    """Pending, held, forwarded and dropped questions are never history, for
    anyone: the live protocol shows them to nobody as a message."""
    carol = visitor(net)
    dave = visitor(net, "dave", ip="203.0.113.3")
    for text in ("pending one", "held one", "forwarded one", "dropped one", "published one"):
        net.advance(1)
        dave.send(f"PRIVMSG {CHAN} :{text}")
    moda.send(f"QUEUE {CHAN} HOLD 2")
    moda.send(f"QUEUE {CHAN} FORWARD 3")
    moda.send(f"QUEUE {CHAN} DROP 4 :no")
    moda.send(f"QUEUE {CHAN} APPROVE 5")
    states = {i.text: i.state.value for i in net.server.conferences["#townhall"].queue.items.values()}
    assert states == {"pending one": "pending", "held one": "held", "forwarded one": "forwarded",
                      "dropped one": "dropped", "published one": "published"}
    for reader in (carol, dave, moda):
        reader.take()
        if reader is moda:
            replies = reader.ask(f"CHATHISTORY LATEST {CHAN} * 50")
            lines = [m for m in replies if m.command == "PRIVMSG"]
        else:
            lines = history(reader, f"CHATHISTORY LATEST {CHAN} * 50")
        assert texts(lines) == ["published one"]


def test_an_approved_question_takes_its_place_at_publication(net, moda):
    """A question approved later is history from its publication, after what
    was published meanwhile (the order everyone saw it in)."""
    carol = visitor(net)
    net.advance(1)
    carol.send(f"PRIVMSG {CHAN} :my question")
    say(net, moda, "staff first")
    net.advance(1)
    moda.send(f"QUEUE {CHAN} APPROVE 1")
    assert texts(history(carol, f"CHATHISTORY LATEST {CHAN} * 10")) == ["staff first", "my question"]


def test_only_members_read_a_channel_s_history(net, ten):
    """"If a client requests content for a target that they do not have
    permission for [...]": one reply, INVALID_TARGET, for a channel one is
    not in and one that does not exist, so nothing tells which exist."""
    outsider = net.register("outsider", HISTORY, ip="203.0.113.9")
    for target in (CHAN, "#nowhere"):
        line = fail(outsider.ask(f"CHATHISTORY LATEST {target} * 10"), "INVALID_TARGET")
        assert line.params[2:4] == ("LATEST", target)
    assert find(outsider.ask(f"CHATHISTORY LATEST {CHAN} * 10"), "PRIVMSG") == []
    # Staff who have not joined are outsiders too: the live protocol showed them nothing.
    mayor = login(net, "mayor")
    fail(mayor.ask(f"CHATHISTORY LATEST {CHAN} * 10"), "INVALID_TARGET")
    # A visitor who left reads no more.
    carol = visitor(net)
    carol.send(f"PART {CHAN}")
    fail(carol.ask(f"CHATHISTORY LATEST {CHAN} * 10"), "INVALID_TARGET")


def test_a_plain_channel_and_a_nick_have_an_empty_history(net, ten):
    """Only conferences keep history; direct messages are not kept."""
    carol = visitor(net)
    carol.send("JOIN #chat")
    carol.take()
    replies = carol.ask("CHATHISTORY LATEST #chat * 10")
    assert [m.command for m in replies] == ["BATCH", "BATCH"] and replies[0].params[1:] == ("chathistory", "#chat")
    for target in ("moda", "*"):
        replies = carol.ask(f"CHATHISTORY LATEST {target} * 10")
        assert [m.command for m in replies] == ["BATCH", "BATCH"] and replies[0].params[2] == target


# ------------------------------------------------------------ redactions


def test_deleted_messages_are_left_out_and_their_place_kept(net, moda, ten):
    carol = visitor(net)
    moda.send(f"REDACT {CHAN} {ten[5].msgid} :oops")
    moda.send(f"REDACT {CHAN} {ten[9].msgid}")
    expected = [p.text for p in ten if p not in (ten[5], ten[9])]
    assert texts(history(carol, f"CHATHISTORY LATEST {CHAN} * 50")) == expected
    assert texts(history(carol, f"CHATHISTORY AROUND {CHAN} msgid={ten[6].msgid} 3")) == ["message 4", "message 6", "message 7"]
    # A selector naming a deleted message still finds its place.
    assert texts(history(carol, f"CHATHISTORY AFTER {CHAN} msgid={ten[5].msgid} 2")) == ["message 6", "message 7"]
    assert texts(history(carol, f"CHATHISTORY BEFORE {CHAN} msgid={ten[5].msgid} 1")) == ["message 4"]


def test_event_playback_replays_the_deletions(net, moda, ten):
    """With draft/event-playback "the server SHOULD send additional lines
    relevant to the chat history": a deletion is a REDACT in its place, for
    clients that have draft/message-redaction (the others cannot act on it);
    "If the client has not negotiated the event-playback capability, the
    server MUST NOT send any lines other than PRIVMSG and NOTICE"."""
    full = visitor(net, "full", caps=(*HISTORY, "draft/event-playback", "draft/message-redaction"))
    no_playback = visitor(net, "noplay", caps=(*HISTORY, "draft/message-redaction"), ip="203.0.113.4")
    no_redaction = visitor(net, "noredact", caps=(*HISTORY, "draft/event-playback"), ip="203.0.113.5")
    net.advance(1)
    moda.send(f"REDACT {CHAN} {ten[2].msgid} :oops")
    after = say(net, moda, "after the deletion")
    lines = history(full, f"CHATHISTORY AFTER {CHAN} msgid={ten[8].msgid} 10")
    assert [m.command for m in lines] == ["PRIVMSG", "REDACT", "PRIVMSG"]
    redact = lines[1]
    assert redact.params == (CHAN, ten[2].msgid) and redact.source == "moda"
    assert ten[8].at < parse_timestamp(redact.tags["time"]) / 1000 < after.at
    # The event's msgid is a place in the history like any other.
    assert texts(history(full, f"CHATHISTORY AFTER {CHAN} msgid={redact.tags['msgid']} 10")) == ["after the deletion"]
    for conn in (no_playback, no_redaction):
        lines = history(conn, f"CHATHISTORY AFTER {CHAN} msgid={ten[8].msgid} 10")
        assert [m.command for m in lines] == ["PRIVMSG", "PRIVMSG"]


# ------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "line, code, context",
    [
        ("CHATHISTORY", "NEED_MORE_PARAMS", ("*",)),
        ("CHATHISTORY LATEST #townhall *", "NEED_MORE_PARAMS", ("LATEST",)),
        ("CHATHISTORY BETWEEN #townhall timestamp=2026-01-01T00:00:00.000Z 10", "NEED_MORE_PARAMS", ("BETWEEN",)),
        ("CHATHISTORY TARGETS timestamp=2026-01-01T00:00:00.000Z 10", "NEED_MORE_PARAMS", ("TARGETS",)),
        ("CHATHISTORY SINCE #townhall * 10", "UNKNOWN_COMMAND", ("SINCE",)),
        ("CHATHISTORY LATEST #townhall * 0", "INVALID_PARAMS", ("LATEST", "0")),
        ("CHATHISTORY LATEST #townhall * -5", "INVALID_PARAMS", ("LATEST", "-5")),
        ("CHATHISTORY LATEST #townhall * many", "INVALID_PARAMS", ("LATEST", "many")),
        ("CHATHISTORY BEFORE #townhall * 10", "INVALID_PARAMS", ("BEFORE", "*")),
        ("CHATHISTORY BEFORE #townhall yesterday 10", "INVALID_PARAMS", ("BEFORE", "yesterday")),
        ("CHATHISTORY BEFORE #townhall timestamp=soon 10", "INVALID_PARAMS", ("BEFORE", "timestamp=soon")),
        ("CHATHISTORY BEFORE #townhall timestamp=2026-01-01T00:00:00 10", "INVALID_PARAMS",
         ("BEFORE", "timestamp=2026-01-01T00:00:00")),
        ("CHATHISTORY AFTER #townhall msgid= 10", "INVALID_PARAMS", ("AFTER", "msgid=")),
        ("CHATHISTORY AFTER #townhall msgid=nope 10", "MESSAGE_ERROR", ("AFTER", "#townhall", "msgid=nope")),
        ("CHATHISTORY TARGETS msgid=abc timestamp=2026-01-01T00:00:00.000Z 10", "INVALID_PARAMS",
         ("TARGETS", "msgid=abc")),
    ],
)
def test_bad_requests_get_a_clear_fail_and_change_nothing(net, ten, line, code, context):
    """Errors are standard replies (NEED_MORE_PARAMS, UNKNOWN_COMMAND,
    INVALID_PARAMS, MESSAGE_ERROR), sent as FAIL even to a client that did
    not ask for standard-replies."""
    carol = visitor(net)
    replies = carol.ask(line)
    assert len(replies) == 1, replies
    failed = fail(replies, code)
    assert failed.params[2:-1] == context
    # Nothing was lost: the next request is answered in full.
    assert len(history(carol, f"CHATHISTORY LATEST {CHAN} * 50")) == 10


def test_a_plain_channel_still_checks_the_syntax(net):
    carol = visitor(net)
    carol.send("JOIN #chat")
    carol.take()
    fail(carol.ask("CHATHISTORY BEFORE #chat timestamp=soon 10"), "INVALID_PARAMS")
    assert [m.command for m in carol.ask("CHATHISTORY AFTER #chat msgid=abc 10")] == ["BATCH", "BATCH"]


# ------------------------------------------------------------ TARGETS


def test_targets_lists_the_conferences_one_is_in_with_messages_in_the_span(net, moda):
    """TARGETS: the channels with messages between the two times, each with
    the time of its latest there, oldest first, at most `limit`."""
    moda.send(f"JOIN {OTHER}")
    start = say(net, moda, "in the town hall")
    net.advance(1)
    moda.send(f"PRIVMSG {OTHER} :in the library")
    net.advance(1)
    moda.send(f"PRIVMSG {CHAN} :again in the town hall")
    net.advance(1)
    carol = visitor(net)
    carol.send(f"JOIN {OTHER}")
    carol.take()
    begin, end = format_server_time(WALL_START), format_server_time(net.wall.now)
    replies = carol.ask(f"CHATHISTORY TARGETS timestamp={begin} timestamp={end} 10")
    assert replies[0].params[1:] == ("draft/chathistory-targets",)
    lines = replies[1:-1]
    conference = net.server.conferences
    assert [m.params for m in lines] == [
        ("TARGETS", OTHER, format_server_time(conference["#library"].published and list(conference["#library"].published.values())[-1].at)),
        ("TARGETS", CHAN, format_server_time(list(conference["#townhall"].published.values())[-1].at)),
    ]
    assert [m.params[1] for m in carol.ask(f"CHATHISTORY TARGETS timestamp={end} timestamp={begin} 1")[1:-1]] == [OTHER]
    # A span before the last messages: the library's is out of it.
    cut = format_server_time(start.at + 0.5)
    assert [m.params[1] for m in carol.ask(f"CHATHISTORY TARGETS timestamp={begin} timestamp={cut} 10")[1:-1]] == [CHAN]
    # A channel one is not in is not listed.
    carol.send(f"PART {OTHER}")
    assert [m.params[1] for m in carol.ask(f"CHATHISTORY TARGETS timestamp={begin} timestamp={end} 10")[1:-1]] == [CHAN]


# ------------------------------------------------------------ joining and reconnecting


def test_a_client_with_chathistory_gets_no_backlog_on_join(net, ten):
    """"This allows the server and client to act differently when delivering
    message history on connection": with the capability the client asks."""
    with_cap = visitor(net)
    without = net.register("old", ("batch", "message-tags", "server-time"), ip="203.0.113.8")
    assert find(with_cap.ask(f"JOIN {OTHER}"), "PRIVMSG") == []
    without.send(f"JOIN {CHAN}")
    assert len(find(without.take(), "PRIVMSG")) == 10
    fresh = net.register("fresh", HISTORY, ip="203.0.113.6")
    fresh.send(f"JOIN {CHAN}")
    assert find(fresh.take(), "PRIVMSG") == []


def test_a_reconnected_visitor_gets_exactly_what_it_missed(net, moda):
    carol = visitor(net)
    seen = [say(net, moda, f"before {i}") for i in range(3)]
    live = find(carol.take(), "PRIVMSG")
    assert [m.tags["msgid"] for m in live] == [p.msgid for p in seen]
    carol.send("QUIT :network down")
    missed = [say(net, moda, f"while away {i}") for i in range(5)]
    again = visitor(net)
    lines = history(again, f"CHATHISTORY AFTER {CHAN} msgid={live[-1].tags['msgid']} 100")
    assert [m.tags["msgid"] for m in lines] == [p.msgid for p in missed]


def test_chathistory_costs_flood_tokens(net, ten):
    """Up to a hundred lines for one: it costs what a WHO costs."""
    carol = visitor(net)
    before = carol.client.bucket.tokens
    carol.send(f"CHATHISTORY LATEST {CHAN} * 10")
    assert before - carol.client.bucket.tokens == pytest.approx(4)


# ------------------------------------------------------------ the timeline itself


def test_a_clock_stepping_back_does_not_reorder_the_history():
    timeline = Timeline()
    for i, at in enumerate((100.0, 101.0, 99.5, 102.0)):
        timeline.add(Publication(f"m{i}", "moda!~moda@h", f"t{i}", at))
    assert [p.msgid for p in timeline.latest(10)] == ["m0", "m1", "m2", "m3"]
    # m2's key is m1's: after 101 s, the later two.
    assert [p.msgid for p in timeline.after(Timeline.by_time(100_999), 10)] == ["m1", "m2", "m3"]
    assert [p.msgid for p in timeline.before(timeline.by_msgid("m3"), 10)] == ["m0", "m1", "m2"]


def test_timestamps_are_read_to_the_millisecond_exactly():
    assert parse_timestamp("2023-11-14T22:13:20.123Z") == 1_700_000_000_123
    assert parse_timestamp("2023-11-14T23:13:20.123+01:00") == 1_700_000_000_123
    assert parse_timestamp("2023-11-14T22:13:20Z") == 1_700_000_000_000
