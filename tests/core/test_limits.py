"""Timeouts, flood control, connection limits, slow readers, shutdown, bad input."""

from __future__ import annotations

from helpers import SERVER_NAME, Net, commands, find, one, with_limits

from confchat.core.outbox import Outbox
from confchat.proto.codec import LineTooLong


def last_line(conn) -> bytes:
    return conn.take_raw().split(b"\r\n")[-2]


# ---------------------------------------------------------------- registration timeout


def test_registration_timeout():
    net = Net(with_limits(registration_timeout=10.0))
    conn = net.connect()
    conn.send("NICK slow")
    registered = net.register("quick")
    net.advance(9.5)
    net.server.tick()
    assert not conn.closed
    net.advance(1.0)
    net.server.tick()
    assert conn.closed
    line = last_line(conn)
    assert line.startswith(b"ERROR :") and b"Registration timed out" in line
    assert conn.client.id not in net.server.clients
    # the nick it held is free again, the registered client is untouched
    assert "slow" not in net.server.nicks
    assert not registered.closed


def test_cap_negotiation_does_not_escape_the_registration_timeout():
    net = Net(with_limits(registration_timeout=10.0))
    conn = net.connect()
    conn.send("CAP LS 302")
    conn.send("NICK stuck")
    conn.send("USER stuck 0 * :Stuck")
    net.advance(10.0)
    net.server.tick()
    assert conn.closed


# ---------------------------------------------------------------- ping


def ping_room():
    net = Net(with_limits(ping_interval=90.0, ping_timeout=60.0))
    alice, bob = net.register("alice"), net.register("bob")
    alice.send("JOIN #room")
    bob.send("JOIN #room")
    alice.take(), bob.take()
    return net, alice, bob


def test_idle_client_gets_ping_then_ping_timeout():
    net, alice, bob = ping_room()
    net.advance(89)
    net.server.tick()
    assert alice.take() == []
    net.advance(1)
    net.server.tick()
    ping = one(alice.take(), "PING")
    assert ping.params == (SERVER_NAME,)
    one(bob.take(), "PING")
    bob.send(f"PONG :{SERVER_NAME}")
    net.advance(59)
    net.server.tick()
    assert not alice.closed
    net.advance(1)
    net.server.tick()
    assert alice.closed
    assert b"Ping timeout" in last_line(alice)
    quit_ = one(bob.take(), "QUIT")
    assert quit_.source.startswith("alice!")
    assert quit_.params == ("Ping timeout: 150 seconds",)
    assert not bob.closed
    assert net.server.find_nick("alice") is None


def test_any_line_resets_the_ping_timer():
    net, alice, bob = ping_room()
    net.advance(90)
    net.server.tick()
    one(alice.take(), "PING")
    alice.send("PRIVMSG bob :still here")  # not a PONG, but a line
    net.advance(60)
    net.server.tick()
    assert not alice.closed
    assert find(alice.take(), "PING") == []  # only 60 s since the last line
    net.advance(30)
    net.server.tick()
    assert one(alice.take(), "PING")
    assert not alice.closed


def test_lines_before_the_interval_prevent_any_ping():
    net, alice, bob = ping_room()
    for _ in range(5):
        net.advance(80)
        alice.send("PING :keepalive")
        bob.send("PING :keepalive")
        net.server.tick()
    assert find(alice.take(), "PING") == []
    assert not alice.closed


# ---------------------------------------------------------------- flood


def test_flood_burst_is_free_then_delay_grows():
    net = Net(with_limits(flood_burst=5, flood_rate=2.0))
    alice = net.register("alice")
    # registration used 2 lines of the burst; refill it
    net.advance(10)
    delays = [alice.send("PING x") for _ in range(8)]
    assert delays[:5] == [0.0] * 5
    assert all(d > 0 for d in delays[5:])
    assert delays[5] < delays[6] < delays[7]
    assert delays[5] == 0.5  # 1 token short at 2 lines/s


def test_flooded_lines_are_still_handled():
    net = Net(with_limits(flood_burst=2, flood_rate=1.0))
    alice = net.register("alice")
    for i in range(10):
        alice.send(f"PING t{i}")
    assert [m.params[-1] for m in find(alice.take(), "PONG")] == [f"t{i}" for i in range(10)]


def test_flood_delay_recovers_with_time():
    net = Net(with_limits(flood_burst=3, flood_rate=1.0))
    alice = net.register("alice")
    for _ in range(6):
        alice.send("PING x")
    net.advance(60)
    assert alice.send("PING x") == 0.0


# ---------------------------------------------------------------- connections per IP


def test_max_connections_per_ip():
    net = Net(with_limits(max_connections_per_ip=2, connection_limit_exempt=("10.0.0.1",)))
    first = net.connect("203.0.113.5")
    second = net.connect("203.0.113.5")
    assert first is not None and second is not None
    refused = Outbox(1024)
    assert net.server.connect("203.0.113.5", refused) is None
    assert refused.closed
    assert refused.take().startswith(b"ERROR :")
    # other addresses are unaffected, the exempt one is never refused
    assert net.connect("203.0.113.6") is not None
    assert all(net.connect("10.0.0.1") is not None for _ in range(5))
    # a slot frees up when a connection goes away
    net.server.connection_lost(first.client)
    assert net.connect("203.0.113.5") is not None


def test_zero_means_no_connection_limit():
    net = Net(with_limits(max_connections_per_ip=0))
    assert all(net.connect("203.0.113.5") is not None for _ in range(50))


# ---------------------------------------------------------------- slow readers


def test_slow_reader_is_dropped_others_keep_receiving():
    net = Net()
    slow, talker, reader = net.register("slow"), net.register("talker"), net.register("reader")
    for c in (slow, talker, reader):
        c.send("JOIN #room")
    for c in (slow, talker, reader):
        c.take()
    slow.outbox.limit = 500  # a tiny send queue, never drained below
    for i in range(20):
        talker.send(f"PRIVMSG #room :message number {i} with some padding to fill the queue")
    assert slow.closed
    assert slow.take_raw() == b"ERROR :SendQ exceeded\r\n"
    got = reader.take()
    texts = [m.params[1] for m in find(got, "PRIVMSG")]
    assert len(texts) == 20
    quit_ = one(got, "QUIT")
    assert quit_.source.startswith("slow!") and quit_.params == ("SendQ exceeded",)
    assert one(talker.take(), "QUIT").params == ("SendQ exceeded",)
    assert net.server.find_nick("slow") is None
    assert slow.client not in net.server.find_channel("#room").members


def test_slow_reader_overflowing_on_its_own_replies():
    net = Net()
    slow, peer = net.register("slow"), net.register("peer")
    slow.send("JOIN #room")
    peer.send("JOIN #room")
    slow.take(), peer.take()
    slow.outbox.limit = 300
    for _ in range(20):
        slow.send("PING :a fairly long token that fills the send queue quickly")
    assert slow.closed
    assert one(peer.take(), "QUIT").params == ("SendQ exceeded",)


# ---------------------------------------------------------------- shutdown


def test_shutdown_closes_every_outbox():
    net = Net()
    alice, bob = net.register("alice"), net.register("bob")
    unregistered = net.connect()
    net.server.shutdown()
    for c in (alice, bob, unregistered):
        assert c.closed
        assert last_line(c) == b"ERROR :Server shutting down"
    assert net.server.clients == {}


# ---------------------------------------------------------------- bad input


def test_invalid_utf8_gets_a_reply_and_the_client_stays():
    # The UTF8ONLY spec's reply is a FAIL line even without standard-replies
    # (see tests/core/test_conformance_input.py).
    net = Net()
    alice = net.register("alice")
    replies = alice.ask(b"PRIVMSG #a :\xff\xfe")
    fail = one(replies, "FAIL")
    assert fail.params[:2] == ("PRIVMSG", "INVALID_UTF8")
    assert not alice.closed
    assert one(alice.ask("PING ok"), "PONG")


def test_invalid_utf8_with_standard_replies():
    net = Net()
    alice = net.register("alice", caps=["standard-replies"])
    fail = one(alice.ask(b"PRIVMSG #a :\xff"), "FAIL")
    assert fail.params[:2] == ("PRIVMSG", "INVALID_UTF8")
    assert not alice.closed


def test_too_long_body_gets_417_and_the_client_stays():
    net = Net()
    alice = net.register("alice")
    bob = net.register("bob")
    replies = alice.ask("PRIVMSG bob :" + "x" * 600)
    err = one(replies, "417")
    assert err.params[0] == "alice"
    assert bob.take() == []  # not truncated and delivered: rejected
    assert not alice.closed
    assert one(alice.ask("PING ok"), "PONG")


def test_too_long_tags_get_417():
    net = Net()
    alice = net.register("alice", caps=["message-tags"])
    assert one(alice.ask("@+x=" + "y" * 5000 + " TAGMSG #a"), "417")
    assert not alice.closed


def test_line_too_long_from_the_decoder_gets_417():
    net = Net()
    alice = net.register("alice")
    alice.take()
    net.server.receive(alice.client, LineTooLong("Input line was too long"))
    assert commands(alice.take()) == ["417"]
    assert not alice.closed


def test_nul_byte_gets_a_reply_and_the_client_stays():
    net = Net()
    alice = net.register("alice")
    replies = alice.ask(b"PRIVMSG bob :a\x00b")
    assert len(replies) == 1 and replies[0].command == "NOTICE"
    assert not alice.closed


def test_blank_lines_are_ignored():
    net = Net()
    alice = net.register("alice")
    assert alice.ask(b"") == [] and alice.ask(b"   \r") == []


# ---------------------------------------------------------------- connection lost


def test_connection_lost_relays_quit_and_frees_the_nick():
    net = Net()
    alice, bob = net.register("alice"), net.register("bob")
    alice.send("JOIN #room")
    bob.send("JOIN #room")
    bob.take()
    net.server.connection_lost(alice.client, "Connection reset by peer")
    assert one(bob.take(), "QUIT").params == ("Connection reset by peer",)
    net.register("alice")
    # input after the loss is ignored
    assert net.server.receive(alice.client, b"PRIVMSG bob :ghost") == 0.0
    assert bob.take() == []
