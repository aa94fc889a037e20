"""Connection registration: the welcome burst, CAP, NICK/USER, PASS, PING."""

from __future__ import annotations

import base64

import attrs
import pytest
from argon2 import PasswordHasher

from helpers import SERVER_NAME, Conn, Net, commands, find, one, with_limits, with_server

from confchat.config import Account, Config
from confchat.core.handlers.registration import MAX_LOGIN_FAILURES
from confchat.core.outbox import Outbox


def test_welcome_burst_order():
    net = Net()
    conn = net.connect()
    conn.send("NICK alice")
    assert conn.take() == []  # nothing until USER
    conn.send("USER alice 0 * :Alice Liddell")
    got = commands(conn.take())
    assert got[:4] == ["001", "002", "003", "004"]
    isupport_end = max(i for i, c in enumerate(got) if c == "005")
    assert set(got[4 : isupport_end + 1]) == {"005"}
    lusers = got[isupport_end + 1 : isupport_end + 8]
    assert lusers == ["251", "252", "253", "254", "255", "265", "266"]
    motd = got[isupport_end + 8 :]
    assert motd[0] == "375" and motd[-1] == "376"
    assert set(motd[1:-1]) == {"372"}


def test_welcome_names_the_client():
    net = Net()
    conn = net.connect(ip="198.51.100.7")
    conn.send("NICK alice")
    conn.send("USER al 0 * :Alice")
    welcome = one(conn.take(), "001")
    assert welcome.source == SERVER_NAME
    assert welcome.params[0] == "alice"
    assert welcome.params[-1].endswith("alice!~al@198.51.100.7")


def isupport_tokens(messages):
    tokens = {}
    for msg in find(messages, "005"):
        # 005 <nick> <token>... :are supported by this server
        for token in msg.params[1:-1]:
            key, _, value = token.partition("=")
            tokens[key] = value
    return tokens


def test_isupport_matches_config():
    net = Net(with_limits(nick_length=17, channel_length=40))
    conn = net.connect()
    conn.send("NICK alice")
    conn.send("USER alice 0 * :Alice")
    replies = conn.take()
    for msg in find(replies, "005"):
        assert 2 <= len(msg.params) - 2 <= 13  # 1-13 tokens a line
        assert msg.params[-1] == "are supported by this server"
    tokens = isupport_tokens(replies)
    assert tokens["CASEMAPPING"] == "rfc1459"
    assert tokens["PREFIX"] == "(ov)@+"
    assert tokens["CHANTYPES"] == "#&"
    assert tokens["NICKLEN"] == "17"
    assert tokens["CHANNELLEN"] == "40"


def test_nicklen_is_enforced():
    net = Net(with_limits(nick_length=5))
    conn = net.connect()
    assert one(conn.ask("NICK abcdef"), "432").params[1] == "abcdef"
    conn.send("NICK abcde")
    conn.send("USER a 0 * :A")
    assert "001" in commands(conn.take())


def test_cap_ls_302_holds_registration_until_cap_end():
    net = Net()
    conn = net.connect()
    ls = one(conn.ask("CAP LS 302"), "CAP")
    assert ls.params[:2] == ("*", "LS")
    assert "message-tags" in ls.params[2].split()
    conn.send("NICK alice")
    conn.send("USER alice 0 * :Alice")
    assert "001" not in commands(conn.take())
    assert not conn.client.registered
    assert "001" in commands(conn.ask("CAP END"))
    assert conn.client.registered


def test_cap_req_ack_and_list():
    net = Net()
    conn = net.connect()
    conn.send("CAP LS 302")
    ack = one(conn.ask("CAP REQ :server-time message-tags"), "CAP")
    assert ack.params[1:] == ("ACK", "server-time message-tags")
    listed = one(conn.ask("CAP LIST"), "CAP")
    assert listed.params[1] == "LIST"
    assert {"server-time", "message-tags"} <= set(listed.params[2].split())


def test_cap_req_unknown_cap_gets_nak_and_changes_nothing():
    net = Net()
    conn = net.connect()
    conn.send("CAP LS")
    conn.send("CAP REQ :server-time")
    nak = one(conn.ask("CAP REQ :message-tags foo-bar-unknown"), "CAP")
    assert nak.params[1:] == ("NAK", "message-tags foo-bar-unknown")
    listed = one(conn.ask("CAP LIST"), "CAP")
    assert listed.params[2].split() == ["server-time"]  # message-tags not added either


def test_cap_req_removal():
    net = Net()
    conn = net.connect()
    conn.send("CAP REQ :server-time echo-message")
    one(conn.ask("CAP REQ :-echo-message"), "CAP")
    assert one(conn.ask("CAP LIST"), "CAP").params[2].split() == ["server-time"]


def test_nick_in_use_is_case_insensitive():
    net = Net()
    net.register("Alice")
    net.register("[x]")
    conn = net.connect()
    assert one(conn.ask("NICK alice"), "433").params[1] == "alice"
    assert one(conn.ask("NICK ALICE"), "433").params[1] == "ALICE"
    assert one(conn.ask("NICK {x}"), "433").params[1] == "{x}"
    assert one(conn.ask("NICK {X}"), "433").params[1] == "{X}"
    conn.send("NICK bob")
    conn.send("USER bob 0 * :Bob")
    assert "001" in commands(conn.take())


def test_nick_case_change_of_own_nick_is_allowed():
    net = Net()
    alice = net.register("alice")
    nick = one(alice.ask("NICK Alice"), "NICK")
    assert nick.params == ("Alice",)
    assert net.server.find_nick("ALICE") is alice.client


def test_erroneous_nick():
    net = Net()
    conn = net.connect()
    for bad in ["1abc", "#chan", "a!b", "-x"]:
        err = one(conn.ask(f"NICK {bad}"), "432")
        assert err.params[:2] == ("*", bad)
    assert one(conn.ask("NICK"), "431")


def test_join_before_registration_is_refused():
    net = Net()
    conn = net.connect()
    conn.send("NICK alice")
    err = one(conn.ask("JOIN #chan"), "451")
    assert err.params[0] == "alice"
    assert net.server.channels == {}


def test_unknown_command_before_registration_gets_451():
    net = Net()
    conn = net.connect()
    assert commands(conn.ask("FOOBAR x")) == ["451"]


def test_second_user_is_refused():
    net = Net()
    alice = net.register("alice")
    assert commands(alice.ask("USER other 0 * :Other")) == ["462"]
    assert alice.client.user == "~alice"
    conn = net.connect()
    conn.send("USER one 0 * :One")
    assert commands(conn.ask("USER two 0 * :Two")) == ["462"]


def test_user_needs_four_params():
    net = Net()
    conn = net.connect()
    err = one(conn.ask("USER alice 0 *"), "461")
    assert err.params[1] == "USER"


def test_password_required_wrong_password():
    net = Net(with_server(password="s3cret"))
    conn = net.connect()
    conn.send("PASS wrong")
    conn.send("NICK alice")
    conn.send("USER alice 0 * :Alice")
    replies = conn.take()
    assert "464" in commands(replies)
    assert "001" not in commands(replies)
    assert replies[-1].command == "ERROR"
    assert conn.closed
    assert not conn.client.registered
    assert net.server.find_nick("alice") is None


def test_password_required_missing_password():
    net = Net(with_server(password="s3cret"))
    conn = net.connect()
    conn.send("NICK alice")
    conn.send("USER alice 0 * :Alice")
    replies = conn.take()
    assert "464" in commands(replies) and "001" not in commands(replies)
    assert conn.closed


def test_password_required_right_password():
    net = Net(with_server(password="s3cret"))
    conn = net.connect()
    conn.send("PASS s3cret")
    conn.send("NICK alice")
    conn.send("USER alice 0 * :Alice")
    assert "001" in commands(conn.take())
    assert not conn.closed


def test_pass_after_registration_is_refused():
    net = Net()
    alice = net.register("alice")
    assert commands(alice.ask("PASS x")) == ["462"]


def test_ping_pong_with_token():
    net = Net()
    alice = net.register("alice")
    pong = one(alice.ask("PING :some token"), "PONG")
    assert pong.source == SERVER_NAME
    assert pong.params[-1] == "some token"


def test_ping_works_before_registration():
    net = Net()
    conn = net.connect()
    assert one(conn.ask("PING abc"), "PONG").params[-1] == "abc"


def test_nick_change_is_relayed_to_self_and_channel_peers_only():
    net = Net()
    alice = net.register("alice")
    bob = net.register("bob")
    carol = net.register("carol")  # shares no channel with alice
    alice.send("JOIN #room")
    bob.send("JOIN #room")
    for c in (alice, bob, carol):
        c.take()
    alice.send("NICK alicia")
    for c in (alice, bob):
        nick = one(c.take(), "NICK")
        assert nick.source == "alice!~alice@192.0.2.1"
        assert nick.params == ("alicia",)
    assert carol.take() == []
    assert net.server.find_nick("alice") is None
    assert net.server.find_nick("alicia") is alice.client


def test_old_nick_is_free_after_a_change():
    net = Net()
    alice = net.register("alice")
    alice.send("NICK alicia")
    net.register("alice")


def test_unknown_command_after_registration_gets_421():
    net = Net()
    alice = net.register("alice")
    err = one(alice.ask("FROBNICATE x y"), "421")
    assert err.params[:2] == ("alice", "FROBNICATE")


def test_quit_closes_with_error_and_is_relayed():
    net = Net()
    alice = net.register("alice")
    bob = net.register("bob")
    alice.send("JOIN #room")
    bob.send("JOIN #room")
    bob.take()
    replies = alice.ask("QUIT :see you")
    assert replies[-1].command == "ERROR"
    assert alice.closed
    quit_ = one(bob.take(), "QUIT")
    assert quit_.source.startswith("alice!")
    assert quit_.params == ("Quit: see you",)


def test_myinfo_user_modes_are_real():
    net = Net()
    conn = net.connect()
    conn.send("NICK alice")
    conn.send("USER alice 0 * :Alice")
    myinfo = one(conn.take(), "004")
    assert myinfo.params[1] == SERVER_NAME
    assert set(myinfo.params[3]) == set("iow")


def test_myinfo_channel_modes_match_isupport():
    net = Net()
    conn = net.connect()
    conn.send("NICK alice")
    conn.send("USER alice 0 * :Alice")
    replies = conn.take()
    tokens = isupport_tokens(replies)
    advertised = set(tokens["CHANMODES"].replace(",", "")) | set("ov")
    assert set(one(replies, "004").params[4]) == advertised


# ---------------------------------------------------------------- logins: the password check is an effect

PASSWORD = "correct horse"
# Cheap argon2id parameters (verifying reads them from the hash).
HASH = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)


def staff_net() -> Net:
    """A server with one staff account whose password checks wait until
    the test answers them (``net.run_verifications``), as the shell's
    worker threads would."""
    net = Net(attrs.evolve(Config(), accounts=(Account("moda", HASH),)))
    net.verify_at_once = False
    return net


def plain(account: str = "moda", password: str = PASSWORD) -> str:
    return base64.b64encode(f"{account}\0{account}\0{password}".encode()).decode()


def sasl_started(net: Net, nick: str = "moda", caps: tuple[str, ...] = ("sasl",)) -> Conn:
    """A client about to send its SASL PLAIN credentials; output drained."""
    conn = net.connect()
    assert conn is not None
    conn.send("CAP LS 302")
    conn.send("CAP REQ :" + " ".join(caps))
    conn.send(f"NICK {nick}")
    conn.send(f"USER {nick} 0 * :{nick}")
    conn.send("AUTHENTICATE PLAIN")
    assert one(conn.take(), "AUTHENTICATE").params == ("+",)
    return conn


def test_sasl_waits_for_the_password_check_and_so_do_the_lines_after_it():
    net = staff_net()
    conn = sasl_started(net)
    conn.send(f"AUTHENTICATE {plain()}")
    conn.send("CAP END")
    conn.send("PING after")
    assert conn.take() == []
    assert not conn.client.registered
    assert len(net.server.logins.pending) == 1
    assert net.run_verifications() == 1
    got = commands(conn.take())
    assert got[:2] == ["900", "903"]
    assert got.index("001") == 2 and got[-1] == "PONG"
    assert conn.client.registered and conn.client.account == "moda"


def test_other_clients_are_served_while_a_check_is_pending():
    net = staff_net()
    viewer = net.register("viewer")
    conn = sasl_started(net)
    conn.send(f"AUTHENTICATE {plain()}")
    assert one(viewer.ask("PING during"), "PONG").params[-1] == "during"
    assert conn.take() == []
    net.run_verifications()
    assert "903" in commands(conn.take())


def test_pipelined_wrong_passwords_are_answered_in_turn_up_to_the_limit():
    net = staff_net()
    conn = sasl_started(net)
    wrong = plain(password="wrong")
    conn.send(f"AUTHENTICATE {wrong}")
    for _ in range(MAX_LOGIN_FAILURES - 1):
        conn.send("AUTHENTICATE PLAIN")
        conn.send(f"AUTHENTICATE {wrong}")
    conn.send("PING never")
    assert conn.take() == []
    assert net.run_verifications() == MAX_LOGIN_FAILURES  # one at a time
    got = conn.take()
    assert commands(got).count("904") == MAX_LOGIN_FAILURES - 1  # the last one ends the connection
    assert "PONG" not in commands(got)
    assert got[-1].command == "ERROR" and "Too many failed login attempts" in got[-1].params[0]
    assert conn.closed and conn.client.failed_logins == MAX_LOGIN_FAILURES


def test_an_answer_for_a_client_gone_meanwhile_is_dropped():
    net = staff_net()
    viewer = net.register("viewer")
    conn = sasl_started(net)
    conn.send(f"AUTHENTICATE {plain()}")
    conn.send("CAP END")
    net.server.connection_lost(conn.client)
    assert net.run_verifications() == 1
    assert conn.client.account is None and not conn.client.registered
    assert conn.client.id not in net.server.clients and net.server.find_nick("moda") is None
    assert one(viewer.ask("PING still"), "PONG").params[-1] == "still"


def test_a_client_that_floods_while_its_check_runs_is_disconnected():
    net = staff_net()
    conn = sasl_started(net)
    conn.send(f"AUTHENTICATE {plain()}")
    for _ in range(1000):
        if conn.closed:
            break
        conn.send("PRIVMSG nobody :" + "x" * 400)
    assert conn.closed
    assert b"Excess Flood" in conn.take_raw()
    assert net.server.stats.connections_closed["excess_flood"] == 1
    assert net.run_verifications() == 1  # its answer finds nobody


def test_a_labeled_authenticate_gets_its_label_on_the_answer():
    net = staff_net()
    conn = sasl_started(net, caps=("sasl", "labeled-response", "batch"))
    conn.send(f"@label=L1 AUTHENTICATE {plain()}")
    conn.send("@label=L2 PING held")
    assert conn.take() == []  # no ACK: the answer is still to come
    net.run_verifications()
    got = conn.take()
    assert commands(got) == ["BATCH", "900", "903", "BATCH", "PONG"]
    assert got[0].tags["label"] == "L1" and got[0].params[1] == "labeled-response"
    assert got[1].tags["batch"] == got[2].tags["batch"] == got[0].params[0][1:]
    assert got[4].tags["label"] == "L2"


def test_pass_account_login_waits_for_its_check():
    net = staff_net()
    conn = net.connect()
    conn.send(f"PASS :moda:{PASSWORD}")
    conn.send("NICK moda")
    conn.send("USER moda 0 * :Mod A")
    assert conn.take() == [] and not conn.client.registered
    net.run_verifications()
    got = conn.take()
    assert got[0].command == "NOTICE" and "LOGGED_IN" in got[0].params[-1]
    assert "001" in commands(got) and conn.client.account == "moda"


def test_an_unknown_account_fails_at_once_without_a_check():
    net = staff_net()
    conn = net.connect()
    replies = conn.ask("PASS nobody:whatever")
    assert not net.server.logins.pending
    assert "ACCOUNT_INVALID" in one(replies, "NOTICE").params[-1]
    assert conn.client.failed_logins == 1


# ---------------------------------------------------------------- counters and derived state


def test_lines_received_are_counted_per_transport():
    net = Net()
    alice = net.register("alice")  # NICK, USER
    alice.send("PING a")
    web = net.server.connect("192.0.2.9", Outbox(10_000), "websocket")
    assert web is not None
    net.server.receive(web, b"PING b")
    assert net.server.stats.lines_in == {"tcp": 3, "websocket": 1}


def test_the_host_shown_is_the_address():
    net = Net()
    alice = net.register("alice", ip="198.51.100.20")
    assert alice.client.host == "198.51.100.20"
    assert alice.client.prefix == "alice!~alice@198.51.100.20"
