"""Password checks over real sockets: argon2 runs in worker threads, so a
slow login holds up nobody but the client logging in."""

from __future__ import annotations

import base64
import time
import urllib.request

import pytest
from argon2 import PasswordHasher

from e2e_client import IRCClient

PASSWORD = "slow but sure"


@pytest.fixture(scope="module")
def slow_hash() -> str:
    # Deliberately slow argon2id parameters (verifying reads them from the
    # hash): one check takes about a second, about ten times the production
    # cost, so a check made on the event loop would hold everyone up plainly.
    return PasswordHasher(time_cost=30, memory_cost=65536, parallelism=1).hash(PASSWORD)


@pytest.fixture
def slow_server(start_server, slow_hash):
    quick = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
    return start_server({"accounts": [
        {"name": "slowpoke", "password_hash": slow_hash},
        {"name": "quick", "password_hash": quick},
    ]})


def start_sasl(server, nick: str = "slowpoke") -> IRCClient:
    """A client that has asked for SASL PLAIN and is about to send its
    credentials."""
    client = server.client()
    client.send("CAP LS 302")
    client.send("CAP REQ :sasl server-time")
    client.send(f"NICK {nick}")
    client.send(f"USER {nick} 0 * :{nick}")
    client.expect(lambda m: m.command == "CAP" and m.params[1] == "ACK")
    client.send("AUTHENTICATE PLAIN")
    client.expect("AUTHENTICATE")
    return client


def credentials(account: str = "slowpoke", password: str = PASSWORD) -> str:
    return base64.b64encode(f"{account}\0{account}\0{password}".encode()).decode()


def test_a_slow_login_does_not_hold_up_another_client(slow_server):
    viewer = slow_server.client("viewer", caps=("server-time",))
    staff = start_sasl(slow_server)
    # The lines after the credentials are pipelined: they must wait for the
    # result (no registration before the SASL outcome is known).
    staff.send_raw(f"AUTHENTICATE {credentials()}\r\nCAP END\r\nPING after-login\r\n".encode())
    # Let the server take the credentials first. This only matters for a
    # server that checks on its event loop: the PING must queue behind it.
    time.sleep(0.2)
    viewer.send("PING during-login")
    pong = viewer.expect(lambda m: m.command == "PONG" and m.params[-1] == "during-login")
    logged_in = staff.expect("903")
    # server-time stamps: the order in which the server sent them.
    assert pong.tags["time"] < logged_in.tags["time"], (pong, logged_in)
    staff.expect(lambda m: m.command == "PONG" and m.params[-1] == "after-login")
    order = [m.command for m in staff.received]
    assert order.index("900") < order.index("903") < order.index("001") < order.index("PONG")
    assert slow_server.proc.poll() is None


def test_a_client_gone_during_its_check_harms_nobody(slow_server):
    quitter = start_sasl(slow_server)
    quitter.send(f"AUTHENTICATE {credentials()}")
    time.sleep(0.2)  # the check has started
    quitter.close()
    # The next login's check runs after (or beside) the abandoned one, whose
    # result arrives for a connection that is gone.
    late = start_sasl(slow_server, "latecomer")
    late.send(f"AUTHENTICATE {credentials()}")
    late.expect("903")
    late.send("CAP END")
    late.expect("001")
    viewer = slow_server.client("viewer")
    viewer.roundtrip()
    assert slow_server.proc.poll() is None
    assert "Traceback" not in slow_server.log, slow_server.log


def test_pipelined_wrong_passwords_still_end_the_connection(slow_server):
    guesser = start_sasl(slow_server, "guesser")
    wrong = credentials("quick", "wrong")
    guesser.send(f"AUTHENTICATE {wrong}")
    guesser.expect("904")
    # Four more tries in one go: each waits for the one before it.
    guesser.send_raw(f"AUTHENTICATE PLAIN\r\nAUTHENTICATE {wrong}\r\n".encode() * 4)
    rest = guesser.wait_closed(timeout=30)
    assert [m.command for m in rest].count("904") == 3
    assert rest[-1].command == "ERROR" and "Too many failed login attempts" in rest[-1].params[0]


# ---------------------------------------------------------------- staff nicks, guesses, unknown names


def test_a_connection_that_never_ends_cap_does_not_hold_a_staff_nick(slow_server):
    # It used to keep the nick until its registration timed out, and the
    # moderator's own sign-in failed meanwhile.
    squatter = slow_server.client()
    squatter.send("CAP LS 302")
    squatter.send("NICK quick")
    squatter.send("USER quick 0 * :quick")
    squatter.roundtrip()  # the server has taken its NICK
    staff = slow_server.client()
    staff.send("CAP LS 302")
    staff.send("CAP REQ :sasl")
    staff.send("NICK quick")
    staff.send("USER quick 0 * :quick")
    staff.send("AUTHENTICATE PLAIN")
    staff.expect("AUTHENTICATE")
    staff.send(f"AUTHENTICATE {credentials('quick')}")
    staff.send("CAP END")
    answer = staff.expect(lambda m: m.command in ("001", "433"))
    assert answer.command == "001" and answer.params[0] == "quick"
    squatter.send("CAP END")
    refused = squatter.expect("433")
    assert refused.params[1:] == ("quick", "Nickname is reserved for a registered account")
    assert not [m for m in squatter.received if m.command == "001"]


@pytest.fixture
def patient_server(start_server):
    """A server whose back-off makes the first wait an hour, so that the
    attempt after the allowed ones is surely within it."""
    quick = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
    return start_server({
        "accounts": [{"name": "quick", "password_hash": quick}],
        "limits": {"login_backoff": 3600.0, "login_backoff_max": 3600.0},
    })


def metric(server, name: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    return next(line.rsplit(" ", 1)[1] for line in lines if line.startswith(name + " "))


def test_after_three_wrong_passwords_from_an_address_the_next_attempt_is_refused_unchecked(patient_server):
    for n in range(3):  # a guesser that reconnects for each guess
        guesser = start_sasl(patient_server, f"guesser{n}")
        guesser.send(f"AUTHENTICATE {credentials('quick', 'wrong')}")
        guesser.expect("904")
        guesser.close()
    guesser = start_sasl(patient_server, "guesser3")
    guesser.send(f"AUTHENTICATE {credentials('quick')}")  # the right password, now
    guesser.expect("904")
    commands = [m.command for m in guesser.received]
    assert "903" not in commands and "900" not in commands  # no check was run
    [told] = [m.params[-1] for m in guesser.received if m.command == "NOTICE" and "RATE_LIMITED" in m.params[-1]]
    assert told == "AUTHENTICATE RATE_LIMITED: Too many failed logins: wait 3600 s before trying again"
    assert commands.index("NOTICE") < commands.index("904")
    assert metric(patient_server, 'confchat_login_failures_total{reason="wrong_password"}') == "3.0"
    assert metric(patient_server, 'confchat_login_failures_total{reason="throttled"}') == "1.0"
    assert "account.login_throttled" in patient_server.log


@pytest.fixture
def lone_slow_server(start_server, slow_hash):
    """One account, with the slow hash: the decoy shares its parameters."""
    return start_server({"accounts": [{"name": "slowpoke", "password_hash": slow_hash}]})


@pytest.mark.parametrize("account", ["slowpoke", "nobody"])
def test_an_unknown_account_is_answered_no_sooner_than_a_known_one(lone_slow_server, account):
    # Both wait for a check (about a second with the slow hash): a viewer's
    # PING sent after the credentials is answered before either.
    viewer = lone_slow_server.client("viewer", caps=("server-time",))
    guesser = start_sasl(lone_slow_server, "guesser")
    guesser.send(f"AUTHENTICATE {credentials(account, 'wrong')}")
    time.sleep(0.2)  # let the server take the credentials first, as above
    viewer.send("PING during-check")
    pong = viewer.expect(lambda m: m.command == "PONG" and m.params[-1] == "during-check")
    failed = guesser.expect("904")
    assert pong.tags["time"] < failed.tags["time"], (pong, failed)
