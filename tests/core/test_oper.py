"""OPER, KILL, WALLOPS."""

from __future__ import annotations

import pytest

from helpers import cloak_of, Net, commands, find, one

from confchat.config import Config, Oper
from confchat.core.passwords import hash_password


@pytest.fixture(scope="module")
def oper_config():
    # argon2 hashing is slow-ish: once per module
    return Config(opers=(Oper("boss", hash_password("correct horse")),))


def test_oper_success(oper_config):
    net = Net(oper_config)
    alice = net.register("alice")
    replies = alice.ask("OPER boss :correct horse")
    assert one(replies, "381").params[0] == "alice"
    mode = one(replies, "MODE")
    assert mode.params == ("alice", "+o")
    assert alice.client.oper == "boss"
    assert one(alice.ask("MODE alice"), "221").params[1] == "+o"


@pytest.mark.parametrize("line", ["OPER boss wrong", "OPER nobody :correct horse", "OPER Boss :correct horse"])
def test_oper_failure(oper_config, line):
    net = Net(oper_config)
    alice = net.register("alice")
    replies = alice.ask(line)
    assert commands(replies) == ["464"]
    assert alice.client.oper is None
    assert "o" not in alice.client.modes


def test_oper_answer_waits_for_the_password_check(oper_config):
    net = Net(oper_config)
    alice = net.register("alice")
    net.verify_at_once = False  # answered when the test says, as by the shell
    alice.send("OPER boss :correct horse")
    alice.send("PING after")
    assert alice.take() == [] and alice.client.oper is None
    assert net.run_verifications() == 1
    assert commands(alice.take()) == ["381", "MODE", "PONG"]
    assert alice.client.oper == "boss"


def test_an_unknown_oper_name_is_checked_against_the_decoy_and_fails(oper_config):
    # Answered at once, an unknown name would tell which operators exist.
    net = Net(oper_config)
    alice = net.register("alice")
    net.verify_at_once = False
    assert alice.ask("OPER nobody :correct horse") == []
    [request] = net.server.logins.pending
    assert request.decoy == "oper" and request.stored_hash == ""
    net.run_verifications()
    assert commands(alice.take()) == ["464"]
    assert alice.client.oper is None


def test_oper_guesses_back_off(oper_config):
    net = Net(oper_config)
    net.verify_at_once = False
    for i in range(3):  # three connections from one address, one guess each
        guesser = net.register(f"guesser{i}")
        guesser.send("OPER boss wrong")
        assert net.run_verifications() == 1
        assert commands(guesser.take()) == ["464"]
    guesser = net.register("guesser3", caps=("standard-replies",))
    got = guesser.ask("OPER boss :correct horse")  # even the right password
    assert not net.server.logins.pending
    assert commands(got) == ["FAIL", "464"]
    assert got[0].params[:3] == ("OPER", "RATE_LIMITED", "1")
    assert guesser.client.oper is None
    net.advance(1)
    guesser.send("OPER boss :correct horse")
    assert net.run_verifications() == 1
    assert guesser.client.oper == "boss"
    assert net.server.stats.login_failures == {"wrong_password": 3, "throttled": 1}


def test_repeated_wrong_oper_passwords_end_the_connection(oper_config):
    net = Net(oper_config)
    alice = net.register("alice")
    for _ in range(5):
        alice.send("OPER boss wrong")
    assert alice.closed
    assert b"Too many failed login attempts" in alice.take_raw()


def test_oper_without_any_configured_opers():
    net = Net()
    alice = net.register("alice")
    assert commands(alice.ask("OPER boss :correct horse")) == ["464"]


def test_kill_by_non_oper(oper_config):
    net = Net(oper_config)
    alice, bob = net.register("alice"), net.register("bob")
    err = one(alice.ask("KILL bob :go away"), "481")
    assert err.params[0] == "alice"
    assert not bob.closed
    assert net.server.find_nick("bob") is bob.client


def test_kill_by_oper(oper_config):
    net = Net(oper_config)
    boss, bob, carol = net.register("boss"), net.register("bob"), net.register("carol")
    bob.send("JOIN #room")
    carol.send("JOIN #room")
    boss.send("OPER boss :correct horse")
    for c in (boss, bob, carol):
        c.take()
    boss.send("KILL bob :spamming")
    assert bob.closed
    last = bob.take_raw().split(b"\r\n")[-2]
    assert last.startswith(b"ERROR :")
    assert b"Killed (boss (spamming))" in last
    quit_ = one(carol.take(), "QUIT")
    assert quit_.source == f"bob!~bob@{cloak_of('192.0.2.1')}"
    assert "spamming" in quit_.params[0]
    assert net.server.find_nick("bob") is None
    assert bob.client not in net.server.find_channel("#room").members


def test_kill_missing_nick(oper_config):
    net = Net(oper_config)
    boss = net.register("boss")
    boss.send("OPER boss :correct horse")
    assert one(boss.ask("KILL ghost :x"), "401").params[1] == "ghost"


def test_wallops_reaches_only_w_users(oper_config):
    net = Net(oper_config)
    boss, watcher, plain = net.register("boss"), net.register("watcher"), net.register("plain")
    boss.send("OPER boss :correct horse")
    assert one(watcher.ask("MODE watcher +w"), "MODE").params == ("watcher", "+w")
    boss.take(), plain.take()
    boss.send("WALLOPS :maintenance at noon")
    wallops = one(watcher.take(), "WALLOPS")
    assert wallops.source.startswith("boss!")
    assert wallops.params == ("maintenance at noon",)
    assert plain.take() == []
    assert find(boss.take(), "WALLOPS") == []  # boss itself is not +w


def test_wallops_by_non_oper(oper_config):
    net = Net(oper_config)
    alice, watcher = net.register("alice"), net.register("watcher")
    watcher.send("MODE watcher +w")
    watcher.take()
    assert commands(alice.ask("WALLOPS :hi")) == ["481"]
    assert watcher.take() == []


def test_deoper(oper_config):
    net = Net(oper_config)
    boss = net.register("boss")
    boss.send("OPER boss :correct horse")
    mode = one(boss.ask("MODE boss -o"), "MODE")
    assert mode.params == ("boss", "-o")
    assert boss.client.oper is None
    assert commands(boss.ask("KILL boss :x")) == ["481"]


def test_user_cannot_set_o_on_themselves():
    net = Net()
    alice = net.register("alice")
    assert find(alice.ask("MODE alice +o"), "MODE") == []
    assert alice.client.oper is None
    assert "o" not in alice.client.modes
