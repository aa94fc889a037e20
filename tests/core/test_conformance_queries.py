"""Conformance: WHO with masks (who it lists, and what it costs), INFO,
LINKS and HELP, checked against the spec texts."""

from __future__ import annotations

import attrs

from confchat.core.handlers import queries
from confchat.core.handlers.queries import WHO_MAX_ROWS
from helpers import SERVER_NAME, Net, commands, find, one
from test_conference import CHAN, login, make_config


def who_nicks(conn, line: str) -> set[str]:
    return {m.params[5] for m in find(conn.ask(line), "352")}


# ---------------------------------------------------------------- WHO masks


def test_who_star_and_masks_list_visible_users_outside_conferences():
    """RFC 2812 3.6.1 WHO: "In the absence of the <mask> parameter, all
    visible (users who aren't invisible (user mode +i) and who don't have a
    common channel with the requesting client) are listed. The same result
    can be achieved by using a <mask> of "0" or any wildcard which will end
    up matching every visible user"; +i users are listed only to those who
    share a channel with them."""
    net = Net()
    alice, bob, carol = (net.register(n) for n in ("alice", "bob", "carol"))
    carol.send("MODE carol +i")
    assert who_nicks(alice, "WHO *") == {"alice", "bob"}
    assert who_nicks(alice, "WHO 0") == {"alice", "bob"}
    assert who_nicks(alice, "WHO b*") == {"bob"}
    assert who_nicks(alice, "WHO *!~bob@*") == {"bob"}
    alice.send("JOIN #room")
    carol.send("JOIN #room")
    assert who_nicks(alice, "WHO *") == {"alice", "bob", "carol"}  # a shared channel shows +i users
    assert who_nicks(bob, "WHO *") == {"alice", "bob"}


def test_who_mask_with_o_lists_operators_only():
    """RFC 2812 3.6.1: "If the "o" parameter is passed only operators are
    returned according to the <mask> supplied"."""
    from confchat.config import Config, Oper
    from test_conference import HASH, PASSWORD

    net = Net(attrs.evolve(Config(), opers=(Oper("root", HASH),)))
    alice, bob = net.register("alice"), net.register("bob")
    bob.send(f"OPER root :{PASSWORD}")
    assert who_nicks(alice, "WHO * o") == {"bob"}


def test_who_masks_keep_the_auditorium_rules():
    """protocol.md, Auditorium: visitors do not see one another. A mask
    finds, for a visitor, the staff it shares the conference with and the
    users in no conference; the staff find everyone."""
    net = Net(make_config())
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    visitors = [net.register(f"v{i}", ip=f"203.0.113.{i + 1}") for i in range(3)]
    for v in visitors:
        v.send(f"JOIN {CHAN}")
    outsider = net.register("outsider", ip="198.18.0.1")
    assert who_nicks(visitors[0], "WHO *") == {"moda", "v0", "outsider"}
    assert who_nicks(outsider, "WHO v*") == set()
    assert who_nicks(moda, "WHO v*") == {"v0", "v1", "v2"}
    visitors[1].send(f"PART {CHAN}")
    assert who_nicks(outsider, "WHO v*") == {"v1"}  # out of the conference: an ordinary user again


def test_a_visitors_who_star_walks_no_audience(monkeypatch):
    """Project rule: no visitor command costs time proportional to the
    whole audience. A visitor's WHO * in a conference of 1,500 looks at the
    few users it may see (itself, the staff, users in no conference)."""
    net = Net(make_config())
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    for i in range(1500):
        net.register(f"v{i}", ip=f"198.18.{i // 250}.{i % 250 + 1}").send(f"JOIN {CHAN}")
    troll = net.register("troll", ip="203.0.113.66")
    troll.send(f"JOIN {CHAN}")
    looked: list[str] = []
    real = queries._first_channel
    monkeypatch.setattr(queries, "_first_channel", lambda c, v: looked.append(c.nick) or real(c, v))
    assert who_nicks(troll, "WHO *") == {"moda", "troll"}
    assert sorted(looked) == ["moda", "troll"]


def test_who_mask_replies_are_capped_and_say_so():
    """Modern IRC ERR_TOOMANYMATCHES (416), ircu's ERR_QUERYTOOLONG: a WHO
    that would list more than the server sends is cut, said so, and ended
    with RPL_ENDOFWHO; a visitor's reply is at most WHO_MAX_ROWS rows."""
    net = Net()
    asker = net.register("asker")
    for i in range(WHO_MAX_ROWS + 20):
        net.register(f"u{i}", ip=f"198.18.{i // 250}.{i % 250 + 1}")
    replies = asker.ask("WHO u*")
    assert len(find(replies, "352")) == WHO_MAX_ROWS
    assert commands(replies)[-2:] == ["416", "315"]
    assert one(replies, "416").params[1:3] == ("WHO", "u*")
    assert find(asker.ask("WHO u1*"), "416") == []  # u1, u1x, u1xx: 111 rows, all of them


def test_who_of_a_crowded_channel_is_capped_too():
    """A channel's WHO is bounded as a mask's (a conference's audience is
    paged with CONF AUDIENCE instead)."""
    net = Net()
    crowd = [net.register(f"u{i}", ip=f"198.18.{i // 250}.{i % 250 + 1}") for i in range(WHO_MAX_ROWS + 5)]
    for member in crowd:
        member.send("JOIN #big")
    replies = crowd[0].ask("WHO #big")
    assert len(find(replies, "352")) == WHO_MAX_ROWS
    assert commands(replies)[-2:] == ["416", "315"]


# ---------------------------------------------------------------- INFO, LINKS, HELP


def test_info_answers_info_lines_and_their_end():
    """RFC 2812 3.4.10 INFO: "a reply which is terminated by
    RPL_ENDOFINFO" after RPL_INFO (371) lines."""
    net = Net()
    alice = net.register("alice")
    replies = alice.ask("INFO")
    assert commands(replies)[-1] == "374"
    assert len(find(replies, "371")) >= 1 and set(commands(replies)) == {"371", "374"}


def test_links_lists_this_one_server():
    """RFC 2812 3.4.5 LINKS, Modern IRC RPL_LINKS (364) "<client> * <server>
    :<hopcount> <server info>" and RPL_ENDOFLINKS (365)."""
    net = Net()
    alice = net.register("alice")
    replies = alice.ask("LINKS")
    assert commands(replies) == ["364", "365"]
    assert replies[0].params[2] == SERVER_NAME and replies[0].params[3].startswith("0 ")


def test_help_and_helpop_describe_commands_moderation_included():
    """Modern IRC HELP: "RPL_HELPSTART (704) [...] RPL_HELPTXT (705) [...]
    RPL_ENDOFHELP (706)", each naming the subject; "ERR_HELPNOTFOUND (524)"
    for an unknown one (irctest HelpTestCase)."""
    net = Net(attrs.evolve(Net().config, limits=attrs.evolve(Net().config.limits, flood_burst=100)))
    alice = net.register("alice")
    for command in ("HELP", "HELPOP"):
        index = alice.ask(command)
        assert index[0].command == "704" and index[-1].command == "706"
        assert all(m.command == "705" for m in index[1:-1])
        assert any("QUEUE" in m.params[-1] for m in index)
        for subject in ("privmsg", "QUEUE", "CONF", "REDACT"):
            replies = alice.ask(f"{command} {subject}")
            assert replies[0].command == "704" and replies[-1].command == "706"
            assert {m.params[1] for m in replies} == {subject}
        queue = " ".join(m.params[-1] for m in alice.ask(f"{command} QUEUE"))
        assert "APPROVE" in queue and "DROP" in queue
        missing = alice.ask(f"{command} THISISNOTACOMMAND")
        assert commands(missing) == ["524"] and missing[0].params[1] == "THISISNOTACOMMAND"
