"""PRIVMSG, NOTICE, TAGMSG, AWAY and the IRCv3 tags and caps around them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from helpers import cloak_of, SERVER_NAME, WALL_START, Net, commands, find, one

from confchat.proto.servertime import format_server_time

ALICE = f"alice!~alice@{cloak_of('192.0.2.1')}"
# WALL_START as an IRCv3 server-time value.
START_TIME = "2023-11-14T22:13:20.000Z"


def joined(net, *conns, channel="#room"):
    for c in conns:
        c.send(f"JOIN {channel}")
    for c in conns:
        c.take()


def test_channel_message_reaches_others_but_not_the_sender():
    net = Net()
    alice, bob, carol = (net.register(n) for n in ("alice", "bob", "carol"))
    joined(net, alice, bob, carol)
    alice.send("PRIVMSG #room :hello all")
    assert alice.take() == []
    for c in (bob, carol):
        msg = one(c.take(), "PRIVMSG")
        assert msg.source == ALICE
        assert msg.params == ("#room", "hello all")
        assert msg.tags == {}  # no caps, no tags


def test_tags_follow_each_recipients_caps_and_msgid_is_shared():
    net = Net()
    alice = net.register("alice")
    plain = net.register("plain")
    tagged = net.register("tagged", caps=["message-tags"])
    timed = net.register("timed", caps=["server-time"])
    both = net.register("both", caps=["message-tags", "server-time"])
    joined(net, alice, plain, tagged, timed, both)
    alice.send("PRIVMSG #room :hi")
    got = {c.nick: one(c.take(), "PRIVMSG") for c in (plain, tagged, timed, both)}
    assert got["plain"].tags == {}
    assert set(got["tagged"].tags) == {"msgid"}
    assert got["timed"].tags == {"time": START_TIME}
    assert set(got["both"].tags) == {"msgid", "time"}
    assert got["both"].tags["time"] == START_TIME
    msgid = got["tagged"].tags["msgid"]
    assert msgid and got["both"].tags["msgid"] == msgid


def test_each_message_gets_a_new_msgid():
    net = Net()
    alice = net.register("alice")
    bob = net.register("bob", caps=["message-tags"])
    joined(net, alice, bob)
    ids = set()
    for i in range(5):
        alice.send(f"PRIVMSG #room :{i}")
        alice.send(f"PRIVMSG bob :{i}")
    for msg in find(bob.take(), "PRIVMSG"):
        ids.add(msg.tags["msgid"])
    assert len(ids) == 10


def test_server_time_follows_the_wall_clock():
    net = Net()
    alice = net.register("alice")
    bob = net.register("bob", caps=["server-time"])
    net.wall.now = WALL_START + 61.25
    alice.send("PRIVMSG bob :later")
    assert one(bob.take(), "PRIVMSG").tags["time"] == "2023-11-14T22:14:21.250Z"


def test_server_time_on_numerics_only_for_server_time_clients():
    net = Net()
    plain = net.register("plain")
    timed = net.register("timed", caps=["server-time"])
    assert one(plain.ask("PING x"), "PONG").tags == {}
    assert one(timed.ask("PING x"), "PONG").tags == {"time": START_TIME}


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1700000000.5, "2023-11-14T22:13:20.500Z"),
        (1700000000.25, "2023-11-14T22:13:20.250Z"),
    ],
)
def test_format_server_time(ts, expected):
    assert format_server_time(ts) == expected


@pytest.mark.parametrize("ts", [1700000000.9999995, 59.9999996])
def test_format_server_time_never_runs_ahead(ts):
    text = format_server_time(ts)
    parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs(parsed.timestamp() - ts) < 0.001


def test_echo_message_returns_the_message_to_the_sender_with_the_same_msgid():
    net = Net()
    alice = net.register("alice", caps=["echo-message", "message-tags"])
    bob = net.register("bob", caps=["message-tags"])
    joined(net, alice, bob)
    alice.send("PRIVMSG #room :echo me")
    echoed = one(alice.take(), "PRIVMSG")
    delivered = one(bob.take(), "PRIVMSG")
    assert echoed.source == ALICE and echoed.params == ("#room", "echo me")
    assert echoed.tags["msgid"] == delivered.tags["msgid"]
    alice.send("PRIVMSG bob :direct")
    assert one(alice.take(), "PRIVMSG").params == ("bob", "direct")
    assert one(bob.take(), "PRIVMSG").params == ("bob", "direct")


def test_private_message():
    net = Net()
    alice = net.register("alice")
    bob = net.register("Bob")
    alice.send("PRIVMSG bob :hi there")  # nick lookup is case-insensitive
    msg = one(bob.take(), "PRIVMSG")
    assert msg.source == ALICE and msg.params == ("Bob", "hi there")
    assert alice.take() == []


def test_no_external_messages():
    net = Net()
    alice = net.register("alice")
    outsider = net.register("outsider")
    joined(net, alice)  # default modes: +nt
    err = one(outsider.ask("PRIVMSG #room :let me in"), "404")
    assert err.params[:2] == ("outsider", "#room")
    assert alice.take() == []
    alice.send("MODE #room -n")
    alice.take()
    outsider.send("PRIVMSG #room :now ok")
    assert one(alice.take(), "PRIVMSG").params == ("#room", "now ok")


def test_moderated_channel_blocks_unvoiced_but_not_voiced_or_ops():
    net = Net()
    alice, bob, carol = (net.register(n) for n in ("alice", "bob", "carol"))
    joined(net, alice, bob, carol)
    alice.send("MODE #room +m")
    alice.send("MODE #room +v bob")
    for c in (alice, bob, carol):
        c.take()
    assert one(carol.ask("PRIVMSG #room :can I?"), "404").params[1] == "#room"
    assert alice.take() == [] and bob.take() == []
    bob.send("PRIVMSG #room :voiced")
    assert one(carol.take(), "PRIVMSG").params[1] == "voiced"
    alice.send("PRIVMSG #room :op")
    assert one(carol.take(), "PRIVMSG").params[1] == "op"


def test_banned_member_cannot_speak():
    net = Net()
    alice, bob = net.register("alice"), net.register("bob")
    joined(net, alice, bob)
    alice.send("MODE #room +b bob")
    alice.take()
    assert one(bob.ask("PRIVMSG #room :hi"), "404")
    assert alice.take() == []


def test_notice_never_gets_an_error_reply():
    net = Net()
    alice = net.register("alice")
    bob = net.register("bob")
    joined(net, bob)
    assert alice.ask("NOTICE nobody :hello?") == []
    assert alice.ask("NOTICE #nowhere :hello?") == []
    assert alice.ask("NOTICE #room :outsider") == []  # +n
    assert alice.ask("NOTICE bob :") == []
    assert bob.take() == []


def test_notice_is_delivered():
    net = Net()
    alice, bob = net.register("alice"), net.register("bob")
    alice.send("NOTICE bob :psst")
    assert one(bob.take(), "NOTICE").params == ("bob", "psst")


def test_privmsg_to_missing_nick_and_channel():
    net = Net()
    alice = net.register("alice")
    err = one(alice.ask("PRIVMSG nobody :hello?"), "401")
    assert err.params[:2] == ("alice", "nobody")
    assert one(alice.ask("PRIVMSG #nowhere :x"), "403").params[1] == "#nowhere"


def test_no_recipient_and_no_text():
    net = Net()
    alice = net.register("alice")
    net.register("bob")
    assert commands(alice.ask("PRIVMSG")) == ["411"]
    assert commands(alice.ask("PRIVMSG bob")) == ["412"]
    assert commands(alice.ask("PRIVMSG bob :")) == ["412"]


def test_multiple_targets():
    net = Net()
    alice, bob, carol = (net.register(n) for n in ("alice", "bob", "carol"))
    alice.send("PRIVMSG bob,carol :both")
    assert one(bob.take(), "PRIVMSG").params == ("bob", "both")
    assert one(carol.take(), "PRIVMSG").params == ("carol", "both")


def test_statusmsg_reaches_only_ops():
    net = Net()
    alice, bob, carol, dave = (net.register(n) for n in ("alice", "bob", "carol", "dave"))
    joined(net, alice, bob, carol, dave)
    alice.send("MODE #room +o bob")
    alice.send("MODE #room +v carol")
    for c in (alice, bob, carol, dave):
        c.take()
    dave.send("PRIVMSG @#room :ops only")
    msg = one(alice.take(), "PRIVMSG")
    assert msg.params == ("@#room", "ops only")
    assert one(bob.take(), "PRIVMSG").params == ("@#room", "ops only")
    assert carol.take() == []
    assert dave.take() == []


def test_statusmsg_plus_reaches_voiced_and_ops():
    net = Net()
    alice, bob, carol = (net.register(n) for n in ("alice", "bob", "carol"))
    joined(net, alice, bob, carol)
    alice.send("MODE #room +v bob")
    for c in (alice, bob, carol):
        c.take()
    carol.send("PRIVMSG +#room :voices")
    assert one(alice.take(), "PRIVMSG").params[0] == "+#room"
    assert one(bob.take(), "PRIVMSG").params[0] == "+#room"


def test_tagmsg_only_to_message_tags_clients_with_client_only_tags():
    net = Net()
    alice = net.register("alice", caps=["message-tags"])
    bob = net.register("bob", caps=["message-tags"])
    plain = net.register("plain")
    joined(net, alice, bob, plain)
    alice.send("@+draft/react=\\:thumbsup\\:;+example.com/x;secret=1;msgid=forged TAGMSG #room")
    msg = one(bob.take(), "TAGMSG")
    assert msg.source == ALICE and msg.params == ("#room",)
    assert msg.tags["+draft/react"] == ";thumbsup;"
    assert msg.tags["+example.com/x"] == ""
    assert "secret" not in msg.tags
    assert msg.tags["msgid"] != "forged"
    assert plain.take() == []
    assert alice.take() == []


def test_client_only_tags_on_privmsg_only_for_message_tags_clients():
    net = Net()
    alice = net.register("alice", caps=["message-tags"])
    bob = net.register("bob", caps=["message-tags"])
    plain = net.register("plain")
    joined(net, alice, bob, plain)
    alice.send("@+typing=done;time=2000-01-01T00:00:00.000Z PRIVMSG #room :hi")
    assert one(bob.take(), "PRIVMSG").tags["+typing"] == "done"
    plain_msg = one(plain.take(), "PRIVMSG")
    assert plain_msg.tags == {}


def test_client_supplied_time_is_not_relayed():
    net = Net()
    alice = net.register("alice")
    bob = net.register("bob", caps=["server-time", "message-tags"])
    alice.send("@time=2000-01-01T00:00:00.000Z PRIVMSG bob :hi")
    assert one(bob.take(), "PRIVMSG").tags["time"] == START_TIME


def test_away_replies_and_rpl_away():
    net = Net()
    alice, bob = net.register("alice"), net.register("bob")
    assert one(bob.ask("AWAY :at lunch"), "306").params[0] == "bob"
    away = one(alice.ask("PRIVMSG bob :you there?"), "301")
    assert away.params == ("alice", "bob", "at lunch")
    assert one(bob.take(), "PRIVMSG")  # still delivered
    assert alice.ask("NOTICE bob :fyi") == []  # no RPL_AWAY for NOTICE
    assert one(bob.ask("AWAY"), "305").params[0] == "bob"
    assert alice.ask("PRIVMSG bob :back?") == []


def test_away_notify():
    net = Net()
    alice = net.register("alice", caps=["away-notify"])
    bob = net.register("bob")
    carol = net.register("carol")
    stranger = net.register("stranger", caps=["away-notify"])  # shares no channel
    joined(net, alice, bob, carol)
    bob.send("AWAY :brb")
    away = one(alice.take(), "AWAY")
    assert away.source == f"bob!~bob@{cloak_of('192.0.2.1')}" and away.params == ("brb",)
    assert carol.take() == []
    assert stranger.take() == []
    bob.send("AWAY")
    back = one(alice.take(), "AWAY")
    assert back.params == ()


def test_away_notify_on_join_of_an_away_user():
    net = Net()
    alice = net.register("alice", caps=["away-notify"])
    bob = net.register("bob")
    joined(net, alice)
    bob.send("AWAY :busy")
    bob.send("JOIN #room")
    got = alice.take()
    assert commands(got) == ["JOIN", "AWAY"]
    assert got[1].params == ("busy",)


# ---------------------------------------------------------------- labeled-response

LABELED = ["labeled-response", "batch"]


def test_labeled_single_reply_carries_the_label():
    net = Net()
    alice = net.register("alice", caps=LABELED)
    pong = one(alice.ask("@label=abc123 PING tok"), "PONG")
    assert pong.tags == {"label": "abc123"}
    assert pong.params[-1] == "tok"


def test_labeled_several_replies_are_batched():
    net = Net()
    alice = net.register("alice", caps=LABELED)
    net.register("bob")
    replies = alice.ask("@label=w1 WHOIS bob")
    start, *body, end = replies
    assert start.command == "BATCH" and start.source == SERVER_NAME
    assert start.tags == {"label": "w1"}
    assert start.params[0].startswith("+") and start.params[1] == "labeled-response"
    ref = start.params[0][1:]
    assert end.command == "BATCH" and end.params == ("-" + ref,)
    assert "label" not in end.tags
    assert [m.command for m in body][0] == "311" and body[-1].command == "318"
    for m in body:
        assert m.tags.get("batch") == ref
        assert "label" not in m.tags


def test_labeled_command_without_reply_gets_ack():
    net = Net()
    alice = net.register("alice", caps=LABELED)
    net.register("bob")
    replies = alice.ask("@label=x9 PRIVMSG bob :hi")
    assert len(replies) == 1
    ack = replies[0]
    assert ack.command == "ACK" and ack.source == SERVER_NAME
    assert ack.tags == {"label": "x9"} and ack.params == ()


def test_labeled_echo_message_is_the_labeled_response():
    net = Net()
    alice = net.register("alice", caps=LABELED + ["echo-message"])
    bob = net.register("bob", caps=["message-tags"])
    replies = alice.ask("@label=e1 PRIVMSG bob :hi")
    echoed = one(replies, "PRIVMSG")
    assert echoed.tags.get("label") == "e1"
    assert "label" not in one(bob.take(), "PRIVMSG").tags


def test_label_is_ignored_without_the_cap():
    net = Net()
    alice = net.register("alice", caps=["batch", "message-tags"])
    pong = one(alice.ask("@label=abc PING tok"), "PONG")
    assert "label" not in pong.tags


@pytest.mark.parametrize(("line", "numeric"), [("@label=u1 FOOBAR", "421"), ("@label=u2 JOIN", "461")])
def test_labeled_error_reply_from_dispatch_carries_the_label(line, numeric):
    net = Net()
    alice = net.register("alice", caps=LABELED)
    reply = one(alice.ask(line), numeric)
    assert reply.tags.get("label") == line.split()[0].split("=")[1]


# ---------------------------------------------------------------- line injection


def stray_cr_or_lf(data: bytes) -> bool:
    """True if ``data`` holds a CR or LF that is not part of a CRLF line end."""
    stripped = data.replace(b"\r\n", b"")
    return b"\r" in stripped or b"\n" in stripped


@pytest.mark.parametrize(
    "line",
    [
        b"PRIVMSG bob :hi\r:confchat.local 381 bob :You are now an IRC operator",
        b"TOPIC #room :news\r:confchat.local NOTICE bob :spoofed",
        b"AWAY :out\r:confchat.local NOTICE bob :spoofed",
        b"@+x\ry=1 TAGMSG bob",
    ],
    ids=["privmsg", "topic", "away", "tag-key"],
)
def test_cr_in_client_input_never_reaches_other_clients(line):
    net = Net()
    alice = net.register("alice", caps=["message-tags"])
    bob = net.register("bob", caps=["message-tags", "away-notify"])
    joined(net, alice, bob)
    alice.send(line)
    data = bob.take_raw()
    assert not stray_cr_or_lf(data), data


def test_stray_cr_helper():
    assert stray_cr_or_lf(b"A\rB\r\n")
    assert stray_cr_or_lf(b"A\nB\r\n")
    assert not stray_cr_or_lf(b"A B\r\nC\r\n")
