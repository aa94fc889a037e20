"""Administration over plain IRC lines on real TCP sockets (protocol.md,
"Administration"): an admin creates an account and gives it a role, the
account logs in and moderates; the accounts survive a restart (they are in
the database) and a kill -9 after the acknowledgement; the operator
that `confchat init` writes is an admin here."""

from __future__ import annotations

import json
import signal

from argon2 import PasswordHasher

from confchat.cli import main as cli_main

_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
BOSS_PW = "boss-secret-pw"
CAPS = ("message-tags", "standard-replies", "labeled-response")
CONFIG = {
    "accounts": [{"name": "boss", "password_hash": _hasher.hash(BOSS_PW), "admin": True}],
    "conferences": [{"channel": "#townhall", "title": "Ask the mayor", "state": "live"}],
}


def note(client, command, code):
    return client.expect(lambda m: m.command in ("NOTE", "FAIL") and m.params[:2] == (command, code))


def listing(client, line, command="ACCOUNTS"):
    """Every row of a paged listing (all pages), then its END."""
    rows = []
    client.send(line)
    while True:
        msg = client.expect(lambda m: m.command in (command, "FAIL"))
        assert msg.command != "FAIL", msg
        if msg.params[1] == "END":
            return rows
        if msg.params[1] != "MORE":
            rows.append(msg.params[1:])


def test_an_account_made_over_irc_logs_in_moderates_and_survives_restarts(start_server, tmp_path):
    data = str(tmp_path / "data")
    server = start_server(CONFIG, "--data-dir", data)
    boss = server.client("boss", caps=CAPS, sasl=("boss", BOSS_PW))
    boss.send("ACCOUNTS CREATE alice staff :alice has a long password")
    created = note(boss, "ACCOUNTS", "CREATED")
    assert created.command == "NOTE" and created.params[2] == "alice"
    boss.send("CONF #townhall ROLE alice moderator")
    assert note(boss, "CONF", "ROLE").command == "NOTE"

    alice = server.client("alice", caps=CAPS, sasl=("alice", "alice has a long password"))
    assert alice.received[-1].command in ("376", "422")
    assert any(m.command == "903" for m in alice.received)
    alice.send("JOIN #townhall")
    alice.expect("366")
    carol = server.client("carol", caps=CAPS)
    carol.send("JOIN #townhall")
    carol.expect("366")
    carol.send("PRIVMSG #townhall :When does the tram come?")
    item = carol.expect(lambda m: m.command == "NOTE" and m.params[1] == "HELD").params[3]
    alice.send(f"QUEUE #townhall APPROVE {item}")
    carol.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == "When does the tram come?")
    boss.send("ACCOUNTS PASSWD alice :a second long password")
    assert note(boss, "ACCOUNTS", "PASSWD").command == "NOTE"
    # Acknowledged means stored: a kill -9 right after the note loses nothing.
    server.signal(signal.SIGKILL)
    server.wait()

    again = start_server(CONFIG, "--data-dir", data)
    wrong = again.client()
    wrong.send("CAP LS 302")
    wrong.send("NICK alice")
    wrong.send("USER alice 0 * :alice")
    wrong.send("CAP REQ :sasl")
    wrong.expect("CAP")
    wrong.expect("CAP")
    import base64

    wrong.send("AUTHENTICATE PLAIN")
    wrong.expect("AUTHENTICATE")
    wrong.send("AUTHENTICATE " + base64.b64encode(b"alice\0alice\0alice has a long password").decode())
    wrong.expect("904")  # the old password no longer works
    wrong.close()
    alice = again.client("alice", caps=CAPS, sasl=("alice", "a second long password"))
    alice.send("CONF #townhall INFO")
    role = alice.expect(lambda m: m.command == "CONF" and m.params[1:3] == ("INFO", "role"))
    assert role.params[3] == "moderator"
    boss = again.client("boss", caps=CAPS, sasl=("boss", BOSS_PW))
    rows = listing(boss, "ACCOUNTS LIST")
    assert [r[1:4] for r in rows] == [("alice", "database", "staff"), ("boss", "config", "admin")]
    audit = listing(boss, "ACCOUNTS AUDIT")
    assert [(r[2], r[3], r[4]) for r in audit] == [("boss", "create", "alice"), ("boss", "passwd", "alice")]
    assert json.loads(audit[0][5]) == {"admin": False}
    assert "long password" not in again.log and "long password" not in "".join(server.output)


def test_refusals_over_tcp_are_fail_lines_and_the_connection_stays(start_server):
    server = start_server(CONFIG)
    visitor = server.client("carol", caps=CAPS)
    visitor.send("ACCOUNTS LIST")
    assert note(visitor, "ACCOUNTS", "NEED_ROLE").command == "FAIL"
    boss = server.client("boss", caps=CAPS, sasl=("boss", BOSS_PW))
    boss.send("ACCOUNTS CREATE boss staff :some long password")
    assert note(boss, "ACCOUNTS", "ALREADY_EXISTS").command == "FAIL"
    boss.send("ACCOUNTS CREATE eve staff :short")
    assert note(boss, "ACCOUNTS", "INVALID_PASSWORD").command == "FAIL"
    boss.send("ACCOUNTS DELETE boss")
    assert note(boss, "ACCOUNTS", "READ_ONLY").command == "FAIL"
    boss.send("ACCOUNTS")
    boss.expect(lambda m: m.command == "ACCOUNTS" and m.params[1] == "END")  # LIST by default
    boss.roundtrip()
    visitor.roundtrip()


def test_the_operator_confchat_init_writes_is_an_admin_here(start_server, tmp_path, capsys):
    path = tmp_path / "config.toml"
    assert cli_main(["init", "--path", str(path)]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    password = lines[lines.index("") + 1]
    server = start_server(None, "--config", str(path), "--no-demo")
    root = server.client("root", caps=CAPS)
    root.send(f"OPER admin {password}")
    root.expect("381")
    root.send("ACCOUNTS CREATE chief admin :chief has a password")
    assert note(root, "ACCOUNTS", "CREATED").command == "NOTE"
    root.send("CONF CREATE #first :The first conference")
    assert note(root, "CONF", "CREATED").command == "NOTE"
    root.send("CONF #first ROLE chief moderator")
    assert note(root, "CONF", "ROLE").command == "NOTE"
    chief = server.client("chief", caps=CAPS, sasl=("chief", "chief has a password"))
    rows = listing(chief, "ACCOUNTS LIST")
    assert [r[1:5] for r in rows] == [("chief", "database", "admin", rows[0][4])]
    assert rows[0][5] == "root"  # who made it: the operator's nick
