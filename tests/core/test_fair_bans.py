"""An event server's fairness and closed side routes, through the core (no
sockets): a ban by nick removes one person, not everyone behind their
address; banning an address is explicit and counted; one vote per visitor
identity; visitors cannot message privately or open channels; a visitor's
WHO lists the staff only."""

from __future__ import annotations

import pytest

from confchat.config import Config
from helpers import Conn, Net, cloak_of, find, one, with_server
from test_conference import CAPS, CHAN, fails, login, make_config, notes

SHARED = "203.0.113.50"  # a venue's Wi-Fi: four visitors behind one address
TOKENS = [f"token-of-visitor-{n:04d}" for n in range(8)]


def event_net(**server) -> Net:
    """The conference of test_conference, on an event server's defaults
    (side routes closed) unless ``server`` says otherwise."""
    config = make_config()
    if server:
        config = with_server(config, **server)
    return Net(config, event_defaults=True)


def visitor(net: Net, nick: str, token: str | None = None, ip: str = SHARED, join: bool = True) -> Conn:
    """A visitor; a web visitor (its page's token) when ``token`` is given."""
    conn = net.connect(ip)
    assert conn is not None
    conn.send("CAP LS 302")
    conn.send("CAP REQ :" + " ".join(CAPS))
    if token is not None:
        conn.send(f"VISITOR {token}")
    conn.send(f"NICK {nick}")
    conn.send(f"USER {nick} 0 * :{nick}")
    conn.send("CAP END")
    if join:
        conn.send(f"JOIN {CHAN}")
    conn.take()
    assert conn.client.registered
    return conn


def audience(net: Net) -> list[str]:
    channel = net.server.find_channel(CHAN)
    return sorted(m.nick for m in channel.members if m not in channel.staff)


@pytest.fixture
def venue():
    """A moderator and four web visitors on one address."""
    net = event_net()
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    crowd = [visitor(net, f"v{n}", TOKENS[n]) for n in range(4)]
    moda.take()
    return net, moda, crowd


# ------------------------------------------------------------ fair bans


def test_a_ban_by_nick_removes_that_visitor_only_among_four_on_one_address(venue):
    net, moda, crowd = venue
    assert audience(net) == ["v0", "v1", "v2", "v3"]
    (note,) = notes(moda.ask(f"CONF {CHAN} BAN v2 0 :trolling"), "BAN")
    assert audience(net) == ["v0", "v1", "v3"]
    assert note.params[-2] == "1"  # the visitors it removed
    assert [m.params for m in find(crowd[2].take(), "KICK")] == [(CHAN, "v2", "trolling")]
    for other in (crowd[0], crowd[1], crowd[3]):
        assert find(other.take(), "KICK") == []
        assert notes(other.ask(f"PRIVMSG {CHAN} :still here"), "HELD")


def test_a_web_visitor_banned_by_nick_stays_out_under_another_nick_and_address(venue):
    net, moda, crowd = venue
    moda.send(f"CONF {CHAN} BAN v2")
    crowd[2].send("QUIT")
    again = visitor(net, "someone", TOKENS[2], ip="198.51.100.77", join=False)
    assert [m.command for m in again.ask(f"JOIN {CHAN}")] == ["474"]
    # A newcomer behind the same address, with its own identity, is welcome.
    newcomer = visitor(net, "newcomer", TOKENS[5], join=False)
    assert "JOIN" in [m.command for m in newcomer.ask(f"JOIN {CHAN}")]


def test_a_plain_irc_visitor_is_banned_by_connection_and_nick_not_by_address():
    net = event_net()
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    troll = visitor(net, "troll")
    neighbour = visitor(net, "neighbour")
    moda.take()
    (note,) = notes(moda.ask(f"CONF {CHAN} BAN troll"), "BAN")
    mask = note.params[3]
    assert mask.endswith(",troll!*@*") and mask.startswith("$c:")
    assert audience(net) == ["neighbour"]
    assert neighbour.client in net.server.find_channel(CHAN).members
    # The same nick is refused; the same address under another nick is not.
    troll.send("QUIT")
    assert [m.command for m in visitor(net, "troll", join=False).ask(f"JOIN {CHAN}")] == ["474"]
    assert "JOIN" in [m.command for m in visitor(net, "other", join=False).ask(f"JOIN {CHAN}")]


def test_banning_the_address_is_explicit_and_counted(venue):
    net, moda, crowd = venue
    rows = [m for m in moda.ask(f"CONF {CHAN} AUDIENCE") if m.command == "CONF" and m.params[1] == "MEMBER"]
    assert len(rows) == 4
    nick, userhost, account, identity, sharing = rows[0].params[2:]
    assert userhost.endswith("@" + cloak_of(SHARED)) and sharing == "4" and identity.startswith("v")
    (note,) = notes(moda.ask(f"CONF {CHAN} BAN *!*@{cloak_of(SHARED)} 600 :raid"), "BAN")
    assert note.params[-2] == "4" and "(4 present)" in note.params[-1]
    assert audience(net) == []


def test_staff_may_ban_a_real_address_they_know(venue):
    net, moda, crowd = venue
    outsider = visitor(net, "outsider", TOKENS[6], ip="198.51.100.1")
    (note,) = notes(moda.ask(f"CONF {CHAN} BAN *!*@203.0.113.*"), "BAN")
    assert note.params[-2] == "4"
    assert audience(net) == ["outsider"]
    assert outsider.client in net.server.find_channel(CHAN).members


def test_unban_by_nick_lifts_the_ban_on_the_identity_too(venue):
    net, moda, crowd = venue
    moda.send(f"CONF {CHAN} BAN v1")
    assert notes(moda.ask(f"CONF {CHAN} UNBAN v1"), "UNBAN")
    assert net.server.conferences[CHAN].restrictions == []
    back = visitor(net, "v1b", TOKENS[1], join=False)
    assert "JOIN" in [m.command for m in back.ask(f"JOIN {CHAN}")]


def test_a_mute_by_nick_silences_that_visitor_only(venue):
    net, moda, crowd = venue
    (note,) = notes(moda.ask(f"CONF {CHAN} MUTE v0 60"), "MUTE")
    assert note.params[-2] == "1"
    assert fails(crowd[0].ask(f"PRIVMSG {CHAN} :let me speak"), "MUTED")
    assert notes(crowd[1].ask(f"PRIVMSG {CHAN} :a question"), "HELD")


# ------------------------------------------------------------ votes


def published(net: Net, moda: Conn, author: Conn) -> int:
    replies = author.ask(f"PRIVMSG {CHAN} :When does the pool reopen?")
    item = int(notes(replies, "HELD")[0].params[3])
    moda.send(f"QUEUE {CHAN} APPROVE {item}")
    return item


def test_votes_from_a_reconnection_with_the_same_identity_do_not_stack(venue):
    net, moda, crowd = venue
    item = published(net, moda, crowd[0])
    assert notes(crowd[1].ask(f"VOTE {CHAN} {item}"), "COUNTED")
    crowd[1].send("QUIT")
    again = visitor(net, "v1again", TOKENS[1], ip="198.51.100.20")
    assert fails(again.ask(f"VOTE {CHAN} {item}"), "ALREADY_VOTED")
    # Two tabs of one visitor at once: one vote too.
    tab = visitor(net, "v1tab", TOKENS[1])
    assert fails(tab.ask(f"VOTE {CHAN} {item}"), "ALREADY_VOTED")
    # Others behind the same address each have their vote.
    for other in (crowd[2], crowd[3]):
        assert notes(other.ask(f"VOTE {CHAN} {item}"), "COUNTED")
    assert len(net.server.conferences[CHAN].queue.items[item].votes) == 3


def test_a_plain_irc_visitor_votes_once_per_connection():
    net = event_net()
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    author, voter = visitor(net, "author"), visitor(net, "voter")
    item = published(net, moda, author)
    assert notes(voter.ask(f"VOTE {CHAN} {item}"), "COUNTED")
    assert fails(voter.ask(f"VOTE {CHAN} {item}"), "ALREADY_VOTED")


# ------------------------------------------------------------ side routes


def test_visitors_cannot_message_each_other_or_the_staff_privately(venue):
    net, moda, crowd = venue
    for target in ("v1", "moda"):
        replies = crowd[0].ask(f"PRIVMSG {target} :psst")
        assert one(replies, "531").params[1] == target
    assert one(crowd[0].ask("TAGMSG v1"), "531")
    assert crowd[0].ask("NOTICE v1 :psst") == []  # NOTICE: no automatic reply (RFC 2812 3.3.2)
    assert [m for m in crowd[1].take() + moda.take() if m.command in ("PRIVMSG", "NOTICE", "TAGMSG")] == []


def test_staff_may_write_to_a_visitor_who_may_answer_them(venue):
    net, moda, crowd = venue
    moda.send("PRIVMSG v3 :Please stay on topic")
    moda.take()  # its echo
    (got,) = find(crowd[3].take(), "PRIVMSG")
    assert got.params == ("v3", "Please stay on topic") and got.source.startswith("moda!")
    crowd[3].send("PRIVMSG moda :Sorry")
    assert [m.params for m in find(moda.take(), "PRIVMSG")] == [("moda", "Sorry")]
    # The answer goes to that moderator only.
    modb = login(net, "modb")
    assert one(crowd[3].ask("PRIVMSG modb :hello?"), "531")
    assert find(modb.take(), "PRIVMSG") == []


def test_visitors_cannot_create_channels_on_an_event_server(venue):
    net, moda, crowd = venue
    reply = one(crowd[0].ask("JOIN #backroom"), "403")
    assert "visitors cannot create channels" in reply.params[-1]
    assert net.server.find_channel("#backroom") is None
    assert "JOIN" in [m.command for m in moda.ask("JOIN #staffroom")]
    # A channel the staff opened, visitors may join.
    assert "JOIN" in [m.command for m in crowd[0].ask("JOIN #staffroom")]


def test_a_plain_irc_server_turns_the_side_routes_back_on():
    net = event_net(visitor_private_messages=True, visitor_channels=True)
    ann, bob = visitor(net, "ann", ip="198.51.100.1"), visitor(net, "bob", ip="198.51.100.2")
    ann.send("PRIVMSG bob :hi")
    assert [m.params for m in find(bob.take(), "PRIVMSG")] == [("bob", "hi")]
    assert "JOIN" in [m.command for m in ann.ask("JOIN #garden")]


def test_the_defaults_close_the_side_routes():
    assert Config().server.visitor_private_messages is False
    assert Config().server.visitor_channels is False
    assert Config().server.cloak_hosts is True


# ------------------------------------------------------------ enumerating the audience


@pytest.mark.parametrize("mask", ["*", "0", "*.*", "?*", "*!*@*", "v*", "*.confchat", f"*{cloak_of(SHARED)[:12]}*"])
def test_a_visitor_who_lists_staff_only_in_an_auditorium(venue, mask):
    net, moda, crowd = venue
    rows = find(crowd[0].ask(f"WHO {mask}"), "352")
    nicks = {m.params[5] for m in rows}
    assert nicks <= {"moda", "v0"}, nicks  # the staff, and itself
    assert not nicks & {"v1", "v2", "v3"}


def test_staff_who_finds_the_audience(venue):
    net, moda, crowd = venue
    nicks = {m.params[5] for m in find(moda.ask("WHO *.confchat"), "352")}
    assert {"v0", "v1", "v2", "v3"} <= nicks


def test_nothing_a_visitor_asks_about_another_shows_its_address():
    net = event_net()
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    ann = visitor(net, "ann", TOKENS[0], ip="198.51.100.31")
    bob = visitor(net, "bob", TOKENS[1], ip="198.51.100.32")
    bob.send("NICK robert")
    got = []
    for line in ("WHOIS ann", "WHO ann", "WHO ann %tcuihsnfdlaor,7", "USERHOST ann", "MONITOR + ann,robert",
                 "WHOWAS bob", f"NAMES {CHAN}", "LIST", "ISON ann robert"):
        got += ann.ask(line) if line.startswith("MONITOR") else bob.ask(line)
    bob.send("QUIT :bye")
    got += ann.take()
    text = str(got)
    assert "198.51.100.31" not in text and "198.51.100.32" not in text
    assert cloak_of("198.51.100.31") in text  # what is shown instead
