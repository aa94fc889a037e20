"""Conformance: channel modes and commands (secret and private channels,
ban and invite exceptions, KICK with several targets, ELIST, the invite
list, draft/no-implicit-names), checked against the spec texts."""

from __future__ import annotations

from helpers import Net, commands, find, one
from test_conference import CHAN, login, make_config


def room(net: Net, *modes: str):
    """alice (channel operator) and bob in #room; carol outside."""
    alice, bob, carol = (net.register(n) for n in ("alice", "bob", "carol"))
    alice.send("JOIN #room")
    for mode in modes:
        alice.send(f"MODE #room {mode}")
    bob.send("JOIN #room")
    for c in (alice, bob, carol):
        c.take()
    return alice, bob, carol


# ---------------------------------------------------------------- +s and +p


def test_secret_and_private_channels_are_left_out_of_list_for_non_members():
    """RFC 1459 4.2.6 LIST: "Private channels are listed (without their
    topics) as channel "Prv" unless the client generating the query is
    actually on that channel. Likewise, secret channels are not listed at
    all unless the client is a member". Both are hidden here (as Ergo and
    InspIRCd hide +s); members still see them."""
    for mode in ("+s", "+p"):
        net = Net()
        alice, bob, carol = room(net, mode)
        carol.send("JOIN #open")
        listed = [m.params[1] for m in find(carol.ask("LIST"), "322")]
        assert listed == ["#open"]
        assert [m.params[1] for m in find(carol.ask("LIST #room"), "322")] == []
        assert "#room" in [m.params[1] for m in find(bob.ask("LIST"), "322")]


def test_names_marks_secret_channels_with_at_and_private_with_star():
    """RFC 2812 5.1 RPL_NAMREPLY: "( "=" / "*" / "@" ) <channel> [...] "@"
    is used for secret channels, "*" for private channels, and "=" for
    others (public channels)"."""
    for mode, symbol in (("+s", "@"), ("+p", "*"), ("-t", "=")):
        net = Net()
        alice, bob, carol = room(net, mode)
        assert one(bob.ask("NAMES #room"), "353").params[1] == symbol


def test_a_secret_channels_names_who_and_whois_hide_it_from_non_members():
    """RFC 2812 3.2.5 NAMES: the names of "private or secret" channels are
    listed only "if the user is on that channel"; 3.6.2 WHOIS lists only the
    channels the asker may see."""
    net = Net()
    alice, bob, carol = room(net, "+s")
    assert commands(carol.ask("NAMES #room")) == ["366"]
    assert find(carol.ask("WHO #room"), "352") == []
    assert find(carol.ask("WHOIS bob"), "319") == []
    assert one(alice.ask("WHOIS bob"), "319").params[2] == "#room"
    row = one(carol.ask("WHO bob"), "352")
    assert row.params[1] == "*"  # the channel a WHO row names is one carol may see
    alice.send("TOPIC #room :hidden plans")
    assert commands(carol.ask("TOPIC #room")) == ["442"]  # Modern IRC TOPIC: "MAY return ERR_NOTONCHANNEL"
    assert one(bob.ask("TOPIC #room"), "332").params[2] == "hidden plans"


# ---------------------------------------------------------------- +e and +I


def test_a_ban_exception_lets_a_banned_user_join_and_speak():
    """Modern IRC, Ban Exception channel mode (+e, ISUPPORT EXCEPTS): "a
    user who matches [an exception mask] is allowed to join the channel even
    if they also match an entry in the ban list"."""
    net = Net()
    alice, bob, carol = room(net, "+b carol!*@*", "+e *!~carol@*")
    replies = carol.ask("JOIN #room")
    assert "474" not in commands(replies) and find(replies, "JOIN")
    carol.ask("PRIVMSG #room :hello")
    assert [m.params[1] for m in find(bob.take(), "PRIVMSG")] == ["hello"]
    alice.send("MODE #room -e *!~carol@*")
    assert one(carol.ask("PRIVMSG #room :again"), "404")


def test_an_invite_exception_lets_a_user_past_invite_only():
    """Modern IRC, Invite Exception channel mode (+I, ISUPPORT INVEX): "a
    user who matches [an invite-exception mask] is allowed to join the
    channel even if it is set to invite-only mode (+i)"."""
    net = Net()
    alice, bob, carol = room(net, "+i", "+I carol!*@*")
    dave = net.register("dave")
    assert one(dave.ask("JOIN #room"), "473")
    assert find(carol.ask("JOIN #room"), "JOIN")


def test_exception_lists_are_listed_with_their_numerics():
    """Modern IRC: RPL_EXCEPTLIST (348) / RPL_ENDOFEXCEPTLIST (349) and
    RPL_INVEXLIST (346) / RPL_ENDOFINVEXLIST (347) answer "MODE <channel>
    e" and "MODE <channel> I"; the masks are completed like bans."""
    net = Net()
    alice, bob, carol = room(net, "+e carol", "+I dave")
    exceptions = alice.ask("MODE #room e")
    assert [m.params[2] for m in find(exceptions, "348")] == ["carol!*@*"]
    assert one(exceptions, "349")
    invexes = alice.ask("MODE #room I")
    assert [m.params[2] for m in find(invexes, "346")] == ["dave!*@*"]
    assert one(invexes, "347")
    assert one(bob.ask("MODE #room e"), "482")  # the operators' business


def test_isupport_advertises_the_exception_modes():
    """Modern IRC ISUPPORT: EXCEPTS and INVEX name the modes; CHANMODES
    lists them as type A (list) modes, with +p and +s as flags."""
    net = Net()
    conn = net.connect()
    conn.send("NICK alice")
    conn.send("USER alice 0 * :Alice")
    tokens = {}
    for m in find(conn.take(), "005"):
        for token in m.params[1:-1]:
            key, _, value = token.partition("=")
            tokens[key] = value
    assert tokens["EXCEPTS"] == "e" and tokens["INVEX"] == "I"
    lists, _, _, flags = tokens["CHANMODES"].split(",")
    assert set(lists) == set("beI") and {"p", "s"} <= set(flags)


# ---------------------------------------------------------------- KICK


def test_kick_with_as_many_channels_as_nicks_kicks_each_pair():
    """RFC 2812 3.2.8: "there MUST be either one channel parameter and
    multiple user parameter, or as many channel parameters as there are
    user parameters" and "The server MUST NOT send KICK messages with
    multiple channels or users to clients" (irctest testDoubleKickMessages)."""
    net = Net()
    foo, bar, baz, qux = (net.register(n) for n in ("foo", "bar", "baz", "qux"))
    for c in (foo, bar, baz, qux):
        c.send("JOIN #chan")
    for c in (foo, bar, baz, qux):
        c.take()
    for line in ("KICK #chan,#chan bar,baz :bye", "KICK #chan bar,baz :bye"):
        foo.ask(line)
        kicks = find(qux.take(), "KICK")
        assert sorted(k.params for k in kicks) == [("#chan", "bar", "bye"), ("#chan", "baz", "bye")]
        for c in (bar, baz):
            c.send("JOIN #chan")
        qux.take()
        foo.take()


def test_kick_with_mismatched_channel_and_nick_counts_is_refused():
    """RFC 2812 3.2.8 (the same rule): two channels and three nicks is
    neither form; the server answers ERR_NEEDMOREPARAMS and kicks nobody."""
    net = Net()
    alice, bob, carol = room(net)
    replies = alice.ask("KICK #room,#room bob,carol,dave")
    assert one(replies, "461")
    assert bob.client in net.server.find_channel("#room").members


# ---------------------------------------------------------------- ELIST


def test_elist_filters_by_member_count_and_age():
    """Modern IRC ISUPPORT ELIST: "U: Searching based on user count", "C:
    Searching based on channel creation time, via the "C<val" and "C>val"
    modifiers to search for a channel that was created either less than
    `val` minutes ago, or more than `val` minutes ago, respectively"."""
    net = Net()
    alice, bob, carol = room(net)
    net.advance(600)
    carol.send("JOIN #new")
    listed = lambda line: sorted(m.params[1] for m in find(carol.ask(line), "322"))  # noqa: E731
    assert listed("LIST >1") == ["#room"]
    assert listed("LIST <2") == ["#new"]
    assert listed("LIST C>5") == ["#room"]
    assert listed("LIST C<5") == ["#new"]
    assert one(carol.ask("LIST ~x"), "400")  # not a condition: said so, the listing still ends
    assert "ELIST=CU" in net.server.isupport


# ---------------------------------------------------------------- the INVITE list


def test_invite_alone_lists_the_channels_one_is_invited_to():
    """Modern IRC INVITE: "If the INVITE command is sent without parameters,
    the server MUST reply with a list of channels the client is invited to:
    RPL_INVITELIST (336) [...] followed by RPL_ENDOFINVITELIST (337)"."""
    net = Net()
    alice, bob, carol = room(net, "+i")
    assert commands(carol.ask("INVITE")) == ["337"]
    alice.send("INVITE carol #room")
    replies = carol.ask("INVITE")
    assert [m.params[1] for m in find(replies, "336")] == ["#room"]
    assert one(replies, "337")
    carol.send("JOIN #room")
    assert commands(carol.ask("INVITE")) == ["337"]  # used up by the JOIN
    assert one(carol.ask("INVITE bob"), "461")


# ---------------------------------------------------------------- draft/no-implicit-names


def test_no_implicit_names_leaves_names_out_of_join():
    """IRCv3 draft/no-implicit-names: "the server MUST NOT send [RPL_NAMREPLY
    and RPL_ENDOFNAMES] in response to JOIN" for a client with the
    capability; NAMES still answers. In a large conference it spares the
    joiner the staff list and the server its formatting."""
    net = Net(make_config())
    quiet = net.register("quiet", ["draft/no-implicit-names"])
    loud = net.register("loud")
    for channel in ("#room", CHAN):
        replies = quiet.ask(f"JOIN {channel}")
        assert find(replies, "JOIN") and not find(replies, "353") and not find(replies, "366")
        assert find(loud.ask(f"JOIN {channel}"), "366")
        assert find(quiet.ask(f"NAMES {channel}"), "366")
    moda = login(net, "moda")
    assert "draft/no-implicit-names" in moda.ask("CAP LS 302")[0].params[-1]
