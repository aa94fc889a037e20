"""Slow mode is on by default for visitors in a conference (10 s between two
messages of one visitor), never for the staff; a conference sets its own,
0 turns it off. Over real sockets, against the real server."""

from __future__ import annotations

import tomli_w
from argon2 import PasswordHasher

PASSWORD = "slow-mode-pw"
HASH = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
CAPS = ("message-tags", "standard-replies", "echo-message")


def config(**conference) -> dict:
    hall = {"channel": "#hall", "title": "Hall", "state": "live", "moderators": ["moda"], **conference}
    return {"accounts": [{"name": "moda", "password_hash": HASH}], "conferences": [hall]}


def joined(server, nick, sasl=None):
    client = server.client(nick, caps=CAPS, sasl=sasl)
    client.send("JOIN #hall")
    client.expect("366")
    return client


def reply(client, text):
    client.send(f"PRIVMSG #hall :{text}")
    return client.expect(lambda m: m.command in ("NOTE", "FAIL") and m.params[0] == "PRIVMSG")


def test_visitors_wait_ten_seconds_by_default_and_staff_never(start_server, tmp_path):
    # The e2e fixture sets slow_mode = 0 in the configs it is given; this
    # file reaches the server as it is, so the server's own default applies.
    path = tmp_path / "default.toml"
    path.write_text(tomli_w.dumps(config()))
    server = start_server(None, "--config", str(path))
    carol = joined(server, "carol")
    first = reply(carol, "When will the tram reach the north?")
    assert first.command == "NOTE" and first.params[1] == "HELD"
    second = reply(carol, "And the pool?")
    assert second.command == "FAIL" and second.params[1:3] == ("SLOW_MODE", "#hall")
    assert 9 <= int(second.params[3]) <= 10
    moda = joined(server, "moda", sasl=("moda", PASSWORD))
    for n in range(3):  # the staff are never slowed
        moda.send(f"PRIVMSG #hall :announcement {n}")
    echoed = [moda.expect(lambda m: m.command == "PRIVMSG").params[1] for _ in range(3)]
    assert echoed == ["announcement 0", "announcement 1", "announcement 2"]
    moda.send("CONF #hall INFO")
    info = moda.expect(lambda m: m.command == "CONF" and m.params[1:3] == ("INFO", "slow_mode"))
    assert info.params[3] == "10"


def test_a_conference_sets_its_own_and_zero_turns_it_off(start_server):
    server = start_server(config(slow_mode=0))
    carol = joined(server, "carol")
    for text in ("one", "two", "three"):
        note = reply(carol, text)
        assert note.command == "NOTE" and note.params[1] == "HELD"
