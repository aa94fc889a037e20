"""WHO (and WHOX), WHOIS, WHOWAS, ISON, USERHOST, MONITOR."""

from __future__ import annotations

from helpers import cloak_of, SERVER_NAME, WALL_START, Net, commands, find, one, with_limits

HOST = cloak_of("192.0.2.1")  # the host others see


def setup_room():
    net = Net()
    alice, bob, carol = (net.register(n) for n in ("alice", "bob", "carol"))
    alice.send("JOIN #room")
    bob.send("JOIN #room")
    bob.send("AWAY :lunch")
    for c in (alice, bob, carol):
        c.take()
    return net, alice, bob, carol


def test_who_channel():
    net, alice, bob, carol = setup_room()
    replies = carol.ask("WHO #room")
    assert commands(replies) == ["352", "352", "315"]
    rows = {m.params[5]: m for m in replies[:2]}
    assert rows["alice"].params == (
        "carol", "#room", "~alice", HOST, SERVER_NAME, "alice", "H@", "0 alice Realname",
    )
    assert rows["bob"].params[6] == "G"  # away, no status
    assert replies[2].params == ("carol", "#room", "End of /WHO list")


def test_who_flags_show_voice_and_oper_like_status():
    net, alice, bob, carol = setup_room()
    alice.send("MODE #room +v bob")
    flags = {m.params[5]: m.params[6] for m in find(alice.ask("WHO #room"), "352")}
    assert flags == {"alice": "H@", "bob": "G+"}


def test_who_nick():
    net, alice, bob, carol = setup_room()
    row = one(alice.ask("WHO carol"), "352")
    assert row.params[1] == "*"  # carol is in no channel
    assert row.params[5:7] == ("carol", "H")
    assert one(alice.ask("WHO bob"), "352").params[1] == "#room"


def test_who_nobody():
    net, alice, bob, carol = setup_room()
    assert commands(alice.ask("WHO nobody")) == ["315"]


def test_whox_fields_in_spec_order_and_token():
    net, alice, bob, carol = setup_room()
    # fields requested out of order; replies use the fixed order t c u i h s n f d l a o r
    replies = carol.ask("WHO #room %rafnhuct,42")
    rows = {m.params[5]: m for m in find(replies, "354")}
    assert rows["alice"].params == (
        "carol", "42", "#room", "~alice", HOST, "alice", "H@", "0", "alice Realname",
    )
    assert rows["bob"].params[6] == "G"
    assert one(replies, "315")


def test_whox_subset():
    net, alice, bob, carol = setup_room()
    rows = find(alice.ask("WHO carol %na"), "354")
    assert [r.params for r in rows] == [("alice", "carol", "0")]


def test_whois():
    net, alice, bob, carol = setup_room()
    net.advance(42)
    replies = carol.ask("WHOIS bob")
    got = commands(replies)
    # RFC 2812 fixes only the first (311) and the last (318) reply
    assert got[0] == "311" and got[-1] == "318"
    assert sorted(got) == ["301", "311", "312", "317", "318", "319"]
    byc = {m.command: m for m in replies}
    assert byc["311"].params == ("carol", "bob", "~bob", HOST, "*", "bob Realname")
    assert byc["319"].params == ("carol", "bob", "#room")
    assert byc["312"].params[:3] == ("carol", "bob", SERVER_NAME)
    assert byc["301"].params == ("carol", "bob", "lunch")
    assert byc["317"].params[:4] == ("carol", "bob", "42", str(int(WALL_START)))
    assert byc["318"].params[:2] == ("carol", "bob")


def test_whois_idle_resets_when_the_user_speaks():
    net, alice, bob, carol = setup_room()
    net.advance(100)
    alice.send("PRIVMSG #room :hi")
    net.advance(3)
    assert one(carol.ask("WHOIS alice"), "317").params[2] == "3"
    assert one(carol.ask("WHOIS alice"), "319").params[2] == "@#room"


def test_whois_missing_nick():
    net, alice, bob, carol = setup_room()
    replies = alice.ask("WHOIS nobody")
    assert commands(replies) == ["401", "318"]
    assert replies[0].params[:2] == ("alice", "nobody")


def test_whois_oper():
    from confchat.config import Config, Oper
    from confchat.core.passwords import hash_password

    net = Net(Config(opers=(Oper("boss", hash_password("pw")),)))
    alice, boss = net.register("alice"), net.register("boss")
    boss.send("OPER boss pw")
    assert one(alice.ask("WHOIS boss"), "313").params[1] == "boss"


def test_whowas_after_quit():
    net, alice, bob, carol = setup_room()
    carol.send("QUIT :bye")
    replies = alice.ask("WHOWAS carol")
    assert commands(replies) == ["314", "312", "369"]
    assert replies[0].params == ("alice", "carol", "~carol", HOST, "*", "carol Realname")
    assert replies[1].params[:3] == ("alice", "carol", SERVER_NAME)
    assert replies[2].params[:2] == ("alice", "carol")


def test_whowas_after_nick_change():
    net, alice, bob, carol = setup_room()
    carol.send("NICK caroline")
    assert one(alice.ask("WHOWAS CAROL"), "314").params[1] == "carol"


def test_whowas_unknown():
    net, alice, bob, carol = setup_room()
    assert commands(alice.ask("WHOWAS ghost")) == ["406", "369"]


def test_whowas_is_bounded():
    net = Net(with_limits(whowas_length=2))
    alice = net.register("alice")
    for nick in ("u1", "u2", "u3"):
        net.register(nick).send("QUIT")
    assert commands(alice.ask("WHOWAS u1")) == ["406", "369"]
    assert "314" in commands(alice.ask("WHOWAS u3"))


def test_ison():
    net, alice, bob, carol = setup_room()
    assert one(alice.ask("ISON bob nobody CAROL"), "303").params == ("alice", "bob carol")
    assert one(alice.ask("ISON :nobody ghost"), "303").params == ("alice", "")


def test_userhost():
    net, alice, bob, carol = setup_room()
    reply = one(alice.ask("USERHOST alice bob nobody"), "302")
    assert reply.params[1].split() == [f"alice=+~alice@{HOST}", f"bob=-~bob@{HOST}"]


def test_monitor_add_reports_online_and_offline():
    net, alice, bob, carol = setup_room()
    replies = alice.ask("MONITOR + bob,dave")
    assert one(replies, "730").params == ("alice", f"bob!~bob@{HOST}")
    assert one(replies, "731").params == ("alice", "dave")


def test_monitor_notifies_on_register_and_quit():
    net, alice, bob, carol = setup_room()
    alice.send("MONITOR + dave")
    alice.take()
    dave = net.connect()
    dave.send("NICK dave")
    assert alice.take() == []  # not online until registered
    dave.send("USER dave 0 * :Dave")
    assert one(alice.take(), "730").params == ("alice", f"dave!~dave@{HOST}")
    dave.send("QUIT :gone")
    assert one(alice.take(), "731").params == ("alice", "dave")


def test_monitor_notifies_on_nick_change():
    net, alice, bob, carol = setup_room()
    alice.send("MONITOR + carol,caroline")
    alice.take()
    carol.send("NICK caroline")
    replies = alice.take()
    assert one(replies, "731").params == ("alice", "carol")
    assert one(replies, "730").params == ("alice", f"caroline!~carol@{HOST}")


def test_monitor_list_remove_and_clear():
    net, alice, bob, carol = setup_room()
    alice.send("MONITOR + bob,dave,erin")
    replies = alice.ask("MONITOR L")
    assert commands(replies) == ["732", "733"]
    assert sorted(replies[0].params[1].split(",")) == ["bob", "dave", "erin"]
    assert alice.ask("MONITOR - dave") == []
    assert sorted(one(alice.ask("MONITOR L"), "732").params[1].split(",")) == ["bob", "erin"]
    assert alice.ask("MONITOR C") == []
    assert commands(alice.ask("MONITOR L")) == ["733"]
    # removed targets no longer notify
    net.register("dave")
    assert alice.take() == []


def test_monitor_status():
    net, alice, bob, carol = setup_room()
    alice.send("MONITOR + bob,dave")
    replies = alice.ask("MONITOR S")
    assert one(replies, "730").params[1] == f"bob!~bob@{HOST}"
    assert one(replies, "731").params[1] == "dave"


def test_monitor_list_full():
    net = Net(with_limits(monitor_limit=2))
    alice = net.register("alice")
    replies = alice.ask("MONITOR + aa,bb,cc,dd")
    full = one(replies, "734")
    assert full.params == ("alice", "2", "cc,dd", "Monitor list is full.")
    assert one(replies, "731").params[1] == "aa,bb"
    assert len(alice.client.monitoring) == 2
    # re-adding a target already in the list is not a new entry
    assert "734" not in commands(alice.ask("MONITOR + aa"))


def test_monitor_by_departed_watcher_is_forgotten():
    net, alice, bob, carol = setup_room()
    alice.send("MONITOR + dave")
    alice.send("QUIT")
    net.register("dave")
    assert "dave" not in net.server.monitors
