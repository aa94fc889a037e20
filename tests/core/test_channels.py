"""Channels: JOIN/PART, modes +k +i +l +b +t, KICK, TOPIC, MODE, LIST."""

from __future__ import annotations

import pytest

from helpers import WALL_START, Net, cloak_of, commands, find, one, with_channels, with_limits

# Others see a cloak of the address (core/cloak.py), never the address.
ALICE = f"alice!~alice@{cloak_of('192.0.2.1')}"
BOB = f"bob!~bob@{cloak_of('192.0.2.1')}"


def room(*nicks, net=None, channel="#room"):
    """A Net where the first nick created ``channel`` and the others joined it."""
    net = net or Net()
    conns = [net.register(n) for n in nicks]
    for c in conns:
        c.send(f"JOIN {channel}")
    for c in conns:
        c.take()
    return (net, *conns)


def test_join_creates_channel_with_creator_as_op():
    net = Net()
    alice = net.register("alice")
    replies = alice.ask("JOIN #Room")
    assert commands(replies) == ["JOIN", "353", "366"]
    join = replies[0]
    assert join.source == ALICE and join.params == ("#Room",)
    names = replies[1]
    assert names.params == ("alice", "=", "#Room", "@alice")
    assert replies[2].params[:2] == ("alice", "#Room")
    assert net.server.find_channel("#room").name == "#Room"


def test_second_joiner_sees_topic_and_names_and_creator_sees_join():
    net, alice = room("alice")
    alice.send("TOPIC #room :Welcome to the keynote")
    alice.take()
    net.advance(30)
    bob = net.register("bob")
    replies = bob.ask("JOIN #room")
    assert commands(replies) == ["JOIN", "332", "333", "353", "366"]
    assert replies[1].params == ("bob", "#room", "Welcome to the keynote")
    assert replies[2].params == ("bob", "#room", ALICE, str(int(WALL_START)))
    assert replies[3].params[-1].split() == ["@alice", "bob"]
    join = one(alice.take(), "JOIN")
    assert join.source == BOB and join.params == ("#room",)


def test_join_twice_is_a_no_op():
    net, alice = room("alice")
    assert alice.ask("JOIN #room") == []


def test_join_invalid_channel_name():
    net = Net()
    alice = net.register("alice")
    err = one(alice.ask("JOIN nochan"), "403")
    assert err.params[1] == "nochan"
    assert net.server.channels == {}


def test_join_zero_parts_every_channel():
    net = Net()
    alice = net.register("alice")
    bob = net.register("bob")
    alice.send("JOIN #a,#b")
    bob.send("JOIN #a")
    alice.take(), bob.take()
    replies = alice.ask("JOIN 0")
    parts = find(replies, "PART")
    assert sorted(p.params[0] for p in parts) == ["#a", "#b"]
    assert alice.client.channels == {}
    assert one(bob.take(), "PART").params[0] == "#a"
    assert net.server.find_channel("#b") is None


def test_part_with_reason_is_relayed_to_all_members():
    net, alice, bob = room("alice", "bob")
    bob.send("PART #room :off to lunch")
    for c in (alice, bob):
        part = one(c.take(), "PART")
        assert part.source == BOB
        assert part.params == ("#room", "off to lunch")
    assert bob.client not in net.server.find_channel("#room").members


def test_part_errors():
    net, alice = room("alice")
    bob = net.register("bob")
    assert one(bob.ask("PART #room"), "442").params[1] == "#room"
    assert one(bob.ask("PART #nowhere"), "403").params[1] == "#nowhere"


def test_key_mode():
    net, alice = room("alice")
    bob = net.register("bob")
    alice.send("MODE #room +k sesame")
    assert one(bob.ask("JOIN #room"), "475").params[1] == "#room"
    assert one(bob.ask("JOIN #room wrong"), "475")
    assert "JOIN" in commands(bob.ask("JOIN #room sesame"))


def test_invite_only_and_invite_bypass():
    net, alice = room("alice")
    bob = net.register("bob")
    carol = net.register("carol")
    alice.send("MODE #room +i")
    assert one(bob.ask("JOIN #room"), "473").params[1] == "#room"
    inviting = one(alice.ask("INVITE bob #room"), "341")
    assert inviting.params == ("alice", "bob", "#room")
    invite = one(bob.take(), "INVITE")
    assert invite.source == ALICE and invite.params == ("bob", "#room")
    assert "JOIN" in commands(bob.ask("JOIN #room"))
    # the invite was for bob only
    assert one(carol.ask("JOIN #room"), "473")


def test_invite_by_non_op_to_invite_only_channel_is_refused():
    net, alice, bob = room("alice", "bob")
    carol = net.register("carol")
    alice.send("MODE #room +i")
    assert one(bob.ask("INVITE carol #room"), "482")
    assert one(carol.ask("JOIN #room"), "473")


def test_limit_mode():
    net, alice = room("alice")
    bob = net.register("bob")
    alice.send("MODE #room +l 1")
    assert one(bob.ask("JOIN #room"), "471").params[1] == "#room"
    alice.send("MODE #room +l 2")
    assert "JOIN" in commands(bob.ask("JOIN #room"))


def test_ban_mode():
    net, alice = room("alice")
    bob = net.register("bob")
    carol = net.register("carol")
    mode = one(alice.ask("MODE #room +b bob"), "MODE")
    assert mode.params == ("#room", "+b", "bob!*@*")  # completed like other servers do
    assert one(bob.ask("JOIN #room"), "474").params[1] == "#room"
    assert "JOIN" in commands(carol.ask("JOIN #room"))
    alice.send("MODE #room -b bob!*@*")
    assert "JOIN" in commands(bob.ask("JOIN #room"))


def test_ban_by_host_mask_is_case_insensitive():
    net, alice = room("alice")
    bob = net.register("Bob")
    # The host a channel ban names is the one shown: the cloak.
    shown = cloak_of("192.0.2.1").upper()
    alice.send(f"MODE #room +b *!*@{shown}")
    assert one(bob.ask("JOIN #room"), "474")
    alice.send(f"MODE #room -b *!*@{shown}")
    alice.send("MODE #room +b BOB")
    assert one(bob.ask("JOIN #room"), "474")


def test_invite_bypasses_ban():
    net, alice = room("alice")
    bob = net.register("bob")
    alice.send("MODE #room +b bob")
    alice.send("INVITE bob #room")
    assert "JOIN" in commands(bob.ask("JOIN #room"))


def test_kick_by_non_op_is_refused():
    net, alice, bob = room("alice", "bob")
    err = one(bob.ask("KICK #room alice :go"), "482")
    assert err.params[:2] == ("bob", "#room")
    assert alice.client in net.server.find_channel("#room").members


def test_kick_by_op_is_relayed_and_removes_target():
    net, alice, bob, carol = room("alice", "bob", "carol")
    alice.send("KICK #room bob :be nice")
    for c in (alice, bob, carol):
        kick = one(c.take(), "KICK")
        assert kick.source == ALICE
        assert kick.params == ("#room", "bob", "be nice")
    channel = net.server.find_channel("#room")
    assert bob.client not in channel.members
    assert "#room" not in bob.client.channels
    # bob no longer gets channel traffic
    alice.send("PRIVMSG #room :hello")
    assert bob.take() == []
    assert find(carol.take(), "PRIVMSG")


def test_kick_of_someone_not_in_channel():
    net, alice = room("alice")
    net.register("bob")
    err = one(alice.ask("KICK #room bob"), "441")
    assert err.params[1:3] == ("bob", "#room")


def test_topic_with_t_needs_op():
    net, alice, bob = room("alice", "bob")
    assert one(bob.ask("TOPIC #room :mine now"), "482").params[1] == "#room"
    assert net.server.find_channel("#room").topic == ""
    alice.send("TOPIC #room :official")
    topic = one(bob.take(), "TOPIC")
    assert topic.source == ALICE and topic.params == ("#room", "official")
    alice.send("MODE #room -t")
    alice.take(), bob.take()
    bob.send("TOPIC #room :anyone may")
    assert one(alice.take(), "TOPIC").params == ("#room", "anyone may")


def test_topic_query():
    net, alice = room("alice")
    assert one(alice.ask("TOPIC #room"), "331").params[1] == "#room"
    alice.send("TOPIC #room :hi")
    replies = alice.ask("TOPIC #room")
    assert commands(replies) == ["332", "333"]
    assert replies[0].params == ("alice", "#room", "hi")


def test_topic_is_truncated_to_topiclen():
    net, alice = room("alice", net=Net(with_limits(topic_length=10)))
    alice.send("TOPIC #room :" + "x" * 50)
    assert net.server.find_channel("#room").topic == "x" * 10


def test_mode_query():
    net, alice = room("alice")
    bob = net.register("bob")
    alice.send("MODE #room +k sesame")
    replies = alice.ask("MODE #room")
    assert commands(replies) == ["324", "329"]
    assert replies[0].params == ("alice", "#room", "+ntk", "sesame")
    assert replies[1].params == ("alice", "#room", str(int(WALL_START)))
    # outsiders do not see the key
    assert one(bob.ask("MODE #room"), "324").params == ("bob", "#room", "+ntk", "*")


def test_mode_changes_by_non_op_are_refused():
    net, alice, bob = room("alice", "bob")
    assert one(bob.ask("MODE #room +m"), "482")
    assert "m" not in net.server.find_channel("#room").modes
    assert alice.take() == []


def test_voice_and_op_changes_are_relayed():
    net, alice, bob, carol = room("alice", "bob", "carol")
    alice.send("MODE #room +v bob")
    for c in (alice, bob, carol):
        mode = one(c.take(), "MODE")
        assert mode.source == ALICE
        assert mode.params == ("#room", "+v", "bob")
    alice.send("MODE #room +o-v bob bob")
    mode = one(carol.take(), "MODE")
    assert mode.params == ("#room", "+o-v", "bob", "bob")
    channel = net.server.find_channel("#room")
    assert channel.members[bob.client] == "o"
    names = one(carol.ask("NAMES #room"), "353").params[-1].split()
    assert sorted(names) == ["@alice", "@bob", "carol"]


def test_voice_for_nick_not_in_channel():
    net, alice = room("alice")
    net.register("bob")
    err = one(alice.ask("MODE #room +v bob"), "441")
    assert err.params[1:3] == ("bob", "#room")
    assert one(alice.ask("MODE #room +v nobody"), "401")


def test_ban_list():
    net, alice = room("alice")
    net.advance(5)
    alice.send("MODE #room +b spammer")
    alice.send("MODE #room +b *!*@evil.example")
    replies = alice.ask("MODE #room +b")
    assert commands(replies) == ["367", "367", "368"]
    assert replies[0].params == ("alice", "#room", "spammer!*@*", ALICE, str(int(WALL_START + 5)))
    assert replies[1].params[2] == "*!*@evil.example"
    assert replies[2].params[:2] == ("alice", "#room")


def test_unknown_mode():
    net, alice = room("alice")
    err = one(alice.ask("MODE #room +z"), "472")
    assert err.params[:2] == ("alice", "z")


def test_channel_is_removed_when_empty():
    net, alice, bob = room("alice", "bob")
    names = [m.params[1] for m in find(alice.ask("LIST"), "322")]
    assert names == ["#room"]
    alice.send("PART #room")
    bob.send("PART #room")
    replies = alice.ask("LIST")
    assert commands(replies) == ["321", "323"]
    assert net.server.channels == {}
    # the next joiner creates it afresh and is op
    assert one(bob.ask("JOIN #room"), "353").params[-1] == "@bob"


def test_list_shows_users_and_topic():
    net, alice, bob = room("alice", "bob")
    alice.send("TOPIC #room :talks")
    entry = one(bob.ask("LIST"), "322")
    assert entry.params == ("bob", "#room", "2", "talks")


def test_max_channels():
    net = Net(with_limits(max_channels=2))
    alice = net.register("alice")
    alice.send("JOIN #a,#b")
    alice.take()
    err = one(alice.ask("JOIN #c"), "405")
    assert err.params[1] == "#c"
    assert set(alice.client.channels) == {"#a", "#b"}


def test_users_may_not_create_channels():
    net = Net(with_channels(users_may_create=False))
    alice = net.register("alice")
    err = one(alice.ask("JOIN #new"), "403")
    assert err.params[1] == "#new"
    assert net.server.channels == {}


def test_default_modes_apply_to_new_channels():
    net, alice = room("alice", net=Net(with_channels(default_modes="ntm")))
    assert one(alice.ask("MODE #room"), "324").params[2] == "+mnt"


# ---------------------------------------------------------------- bugs found


@pytest.mark.parametrize("how", ["QUIT", "NICK robert"])
def test_invite_does_not_pass_to_the_next_holder_of_the_nick(how):
    net, alice = room("alice")
    bob = net.register("bob")
    alice.send("MODE #room +i")
    alice.send(f"MODE #room +b *!*@{cloak_of('203.0.113.9')}")
    alice.send("INVITE bob #room")
    bob.send(how)
    impostor = net.register("bob", ip="203.0.113.9")
    replies = impostor.ask("JOIN #room")
    assert "JOIN" not in commands(replies)


def test_ban_mask_with_a_space_does_not_break_the_ban_list():
    net, alice, bob = room("alice", "bob")
    alice.send("MODE #room +b :bad mask")
    replies = bob.ask("MODE #room +b")
    assert replies[-1].command == "368"
    assert not [m for m in replies if "INTERNAL_ERROR" in " ".join(m.params)]


def test_names_lines_fit_in_512_bytes_at_the_configured_maxima():
    import itertools
    import string

    net = Net(with_limits(max_connections_per_ip=0))
    channel = "#" + "c" * 63
    me = net.register("m" + "x" * 29)
    for letters in itertools.islice(itertools.product(string.ascii_lowercase, repeat=2), 140):
        member = net.register("".join(letters))
        member.send("JOIN " + channel)
    me.send("JOIN " + channel)
    lines = me.take_raw().split(b"\r\n")[:-1]
    names = [line for line in lines if b" 353 " in line]
    assert len(names) >= 2
    assert max(len(line) + 2 for line in names) <= 512
