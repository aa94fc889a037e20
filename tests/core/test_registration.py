"""Connection registration: the welcome burst, CAP, NICK/USER, PASS, PING."""

from __future__ import annotations

import base64

import attrs
from argon2 import PasswordHasher

from helpers import cloak_of, SERVER_NAME, Conn, Net, commands, find, one, with_limits, with_server

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
    assert welcome.params[-1].endswith(f"alice!~al@{cloak_of('198.51.100.7')}")


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
        assert nick.source == f"alice!~alice@{cloak_of('192.0.2.1')}"
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
    assert set(myinfo.params[3]) == set("Biow")  # B: bot mode (test_conformance_messages.py)


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


def staff_net(**limits) -> Net:
    """A server with one staff account whose password checks wait until
    the test answers them (``net.run_verifications``), as the shell's
    worker threads would; ``limits`` changes [limits]."""
    net = Net(with_limits(attrs.evolve(Config(), accounts=(Account("moda", HASH),)), **limits))
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
    net = staff_net(login_failures_allowed=MAX_LOGIN_FAILURES)  # the back-off is tested below
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


def test_an_unknown_account_is_checked_against_the_decoy_and_fails():
    # Answered at once, an unknown name would tell which accounts exist.
    net = staff_net()
    conn = net.connect()
    assert conn.ask("PASS nobody:whatever") == []
    [request] = net.server.logins.pending
    assert request.decoy == "account" and request.stored_hash == ""
    net.run_verifications()
    assert "ACCOUNT_INVALID" in one(conn.take(), "NOTICE").params[-1]
    assert conn.client.failed_logins == 1 and conn.client.account is None


def test_a_decoy_check_fails_whatever_the_answer():
    net = staff_net()
    conn = sasl_started(net, nick="someone")
    conn.send(f"AUTHENTICATE {plain('nobody')}")
    request = net.server.logins.next()
    assert request is not None and request.decoy == "account"
    net.server.verified(request, True)  # a shell that got it wrong
    assert commands(conn.take()) == ["904"]
    assert conn.client.account is None
    assert net.server.stats.login_failures["unknown_name"] == 1


# ---------------------------------------------------------------- an account's nick is its own


def staff_login(net: Net, nick: str = "moda", password: str = PASSWORD) -> Conn:
    """A client that asks for ``nick``, logs in with SASL during its CAP
    negotiation, then ends it; the checks answered."""
    conn = sasl_started(net, nick=nick)
    conn.send(f"AUTHENTICATE {plain(password=password)}")
    conn.send("CAP END")
    net.run_verifications()
    return conn


def never_ending(net: Net, nick: str = "moda", ip: str = "198.51.100.66") -> Conn:
    """A connection that asks for ``nick`` and never ends its CAP
    negotiation (so never completes registration)."""
    conn = net.connect(ip)
    assert conn is not None
    conn.send("CAP LS 302")
    conn.send(f"NICK {nick}")
    conn.send(f"USER {nick} 0 * :{nick}")
    conn.take()
    return conn


def test_a_connection_that_never_ends_its_cap_negotiation_does_not_hold_an_account_nick():
    net = staff_net()
    squatters = [never_ending(net, ip=f"198.51.100.{i}") for i in (1, 2)]
    assert net.server.nicks.get("moda") is None
    moda = staff_login(net)
    got = moda.take()
    assert "433" not in commands(got)
    assert one(got, "001").params[0] == "moda"
    assert net.server.find_nick("moda") is moda.client
    for squatter in squatters:
        refused = one(squatter.ask("CAP END"), "433")
        assert refused.params[1:] == ("moda", "Nickname is reserved for a registered account")
        assert not squatter.client.registered and squatter.client.nick == "*"
    assert net.server.find_nick("moda") is moda.client


def test_a_client_that_logs_in_while_registering_keeps_the_account_nick():
    net = staff_net()
    got = staff_login(net).take()
    assert commands(got)[:3] == ["900", "903", "001"]
    assert got[0].params[:3] == ("moda", f"moda!~moda@{cloak_of('192.0.2.1')}", "moda")


def test_without_a_login_the_account_nick_is_refused_at_registration_and_after():
    net = staff_net()
    conn = net.connect()
    conn.send("NICK MODA")
    refused = one(conn.ask("USER x 0 * :X"), "433")
    assert refused.params[1:] == ("MODA", "Nickname is reserved for a registered account")
    assert "001" in commands(conn.ask("NICK carol"))
    refused = one(conn.ask("NICK moda"), "433")
    assert refused.params[1:] == ("moda", "Nickname is reserved for a registered account")
    assert net.server.nicks.get("moda") is None and conn.client.nick == "carol"


def holder_without_the_account(net: Net, registered: bool = True) -> Conn:
    """A client holding the account's nick without being logged in to it.
    The rules above no longer let this happen (an unregistered connection
    used to hold it until its registration timeout), so it is made here
    with the accounts out of the way; a login repairs it all the same."""
    accounts, net.server.accounts = net.server.accounts, {}
    try:
        conn = net.register("moda", ip="198.51.100.7") if registered else never_ending(net, ip="198.51.100.7")
    finally:
        net.server.accounts = accounts
    assert net.server.nicks["moda"] is conn.client
    return conn


def test_a_staff_login_takes_its_nick_back_from_a_registered_holder():
    net = staff_net()
    holder = holder_without_the_account(net)
    peer = net.register("peer")
    holder.send("JOIN #room")
    peer.send("JOIN #room")
    holder.take(), peer.take()
    moda = staff_login(net)
    got = holder.take()
    renamed = one(got, "NICK")
    assert renamed.source == f"moda!~moda@{cloak_of('198.51.100.7')}"
    guest = renamed.params[0]
    assert guest.startswith("Guest")
    assert "NICK_RESERVED" in one(got, "NOTICE").params[-1]
    assert one(peer.take(), "NICK").params == (guest,)
    assert net.server.find_nick(guest) is holder.client
    assert one(moda.take(), "001").params[0] == "moda"
    assert net.server.find_nick("moda") is moda.client


def test_a_staff_login_takes_its_nick_back_from_an_unregistered_holder():
    net = staff_net()
    holder = holder_without_the_account(net, registered=False)
    moda = staff_login(net)
    refused = one(holder.take(), "433")
    assert refused.params[1:] == ("moda", "Nickname is reserved for a registered account")
    assert holder.client.nick == "*"
    assert one(moda.take(), "001").params[0] == "moda"
    assert "001" not in commands(holder.ask("CAP END"))  # no nick: registration waits for one
    assert "001" in commands(holder.ask("NICK carol"))


def test_a_second_connection_to_the_account_does_not_take_the_nick_from_the_first():
    net = staff_net()
    first = staff_login(net)
    first.take()
    second = sasl_started(net, nick="moda")  # its NICK got 433: in use
    second.send(f"AUTHENTICATE {plain()}")
    second.send("CAP END")
    net.run_verifications()
    assert "001" not in commands(second.take()) and second.client.account == "moda"
    assert first.take() == [] and net.server.find_nick("moda") is first.client
    assert one(second.ask("NICK moda_"), "001").params[0] == "moda_"


# ---------------------------------------------------------------- guesses back off


def guess(net: Net, account: str = "moda", password: str = "wrong", ip: str = "192.0.2.1") -> tuple[Conn, list, int]:
    """One SASL attempt on a new connection, as a guesser that reconnects
    each time: (the connection, its replies, the checks it took)."""
    conn = net.connect(ip)
    assert conn is not None
    conn.send("CAP REQ :sasl standard-replies")
    conn.send("AUTHENTICATE PLAIN")
    conn.send(f"AUTHENTICATE {plain(account, password)}")
    checks = net.run_verifications()
    return conn, [m for m in conn.take() if m.command not in ("CAP", "AUTHENTICATE")], checks


def refusal(replies: list) -> str:
    """The wait a throttled attempt was told, in seconds; its replies are
    the FAIL then the 904, at once."""
    assert commands(replies) == ["FAIL", "904"], replies
    fail = replies[0]
    assert fail.params[:2] == ("AUTHENTICATE", "RATE_LIMITED")
    assert fail.params[3] == f"Too many failed logins: wait {fail.params[2]} s before trying again"
    return fail.params[2]


def test_guesses_from_one_address_back_off_across_connections():
    net = staff_net(login_backoff_max=5.0)
    for name in ("moda", "nobody", "someone"):  # three names: the address counts them all
        _, replies, checks = guess(net, name)
        assert checks == 1 and commands(replies) == ["904"]
    told = []
    for _ in range(5):
        _, replies, checks = guess(net, "another")
        assert checks == 0  # refused without a hash
        told.append(refusal(replies))
        net.advance(int(told[-1]))
        _, replies, checks = guess(net, "another")
        assert checks == 1 and commands(replies) == ["904"]
    assert told == ["1", "2", "4", "5", "5"]  # doubling, up to login_backoff_max


def test_refused_attempts_do_not_make_the_wait_longer():
    net = staff_net()
    for _ in range(3):
        guess(net)
    for _ in range(20):
        assert refusal(guess(net)[1]) == "1"
    net.advance(0.5)
    assert refusal(guess(net)[1]) == "1"  # rounded up
    net.advance(0.5)
    assert guess(net)[2] == 1


def test_guesses_on_one_account_back_off_whatever_the_address():
    """Spread over many addresses, one name gets ten times the free checks
    of one address, then waits."""
    net = staff_net()
    for i in range(30):
        assert guess(net, ip=f"203.0.113.{i}")[2] == 1
    _, replies, checks = guess(net, ip="203.0.113.99")
    assert checks == 0 and refusal(replies) == "1"
    assert guess(net, "other", ip="203.0.113.99")[2] == 1  # other names are not held up


def test_a_guesser_on_one_address_does_not_keep_the_account_s_owner_out():
    """bench/attacks.py: someone guessing moda's password as fast as the
    answers come used to hold the name's back-off, and moda's own sign-ins
    were refused. The guesser waits; moda, from elsewhere, signs in."""
    net = staff_net(login_backoff_max=60.0)
    checked = 0
    for _ in range(40):
        _, replies, checks = guess(net, ip="198.51.100.66")
        checked += checks
        net.advance(0.5)
    assert checked < 10
    conn, replies, checks = guess(net, password=PASSWORD, ip="203.0.113.7")
    assert checks == 1 and commands(replies) == ["900", "903"] and conn.client.account == "moda"


def test_during_the_wait_even_the_right_password_is_refused_unchecked():
    net = staff_net()
    for _ in range(3):
        guess(net)
    conn, replies, checks = guess(net, password=PASSWORD)
    assert checks == 0 and refusal(replies) == "1" and conn.client.account is None
    net.advance(1)
    conn, replies, checks = guess(net, password=PASSWORD)
    assert checks == 1 and commands(replies) == ["900", "903"] and conn.client.account == "moda"


def test_logins_that_succeed_are_not_counted():
    net = staff_net()
    for _ in range(10):
        conn, replies, checks = guess(net, password=PASSWORD)
        assert checks == 1 and conn.client.account == "moda"


def test_guesses_sent_at_once_from_many_connections_get_no_more_checks():
    net = staff_net()
    conns = []
    for _ in range(10):
        conn = net.connect()
        conn.send("CAP REQ :sasl")
        conn.send("AUTHENTICATE PLAIN")
        conn.send(f"AUTHENTICATE {plain(password='wrong')}")  # not answered yet
        conns.append(conn)
    assert len(net.server.logins.pending) == 3
    assert sum("904" in commands(conn.take()) for conn in conns) == 7


def test_pass_logins_back_off_too():
    net = staff_net()
    for _ in range(3):
        net.connect().send("PASS moda:wrong")
        net.run_verifications()
    conn = net.connect()
    replies = conn.ask("PASS moda:wrong")
    assert not net.server.logins.pending
    assert [m.params[-1] for m in replies] == [
        "PASS RATE_LIMITED: Too many failed logins: wait 1 s before trying again",
        "PASS ACCOUNT_INVALID: Invalid account name or password",
    ]
    assert conn.client.failed_logins == 1


def test_an_exempt_address_counts_only_by_account():
    # limits.connection_limit_exempt: a proxy or a venue's Wi-Fi, many
    # people behind one address; one of them guessing does not hold up the rest.
    net = staff_net(connection_limit_exempt=("192.0.2.50",))
    for n in range(6):
        assert guess(net, f"name{n}", ip="192.0.2.50")[2] == 1
    for _ in range(3):
        guess(net, ip="192.0.2.50")
    assert refusal(guess(net, ip="192.0.2.50")[1]) == "1"


def test_failures_are_forgotten_after_the_memory_and_memory_is_freed_on_tick():
    net = staff_net(login_failure_memory=600.0)
    for _ in range(3):
        guess(net)
    throttle = net.server.login_throttle
    assert len(throttle) == 3  # the address, the name from it, the name
    net.advance(599)
    net.server.tick()
    assert len(throttle) == 3
    net.advance(1)
    net.server.tick()
    assert len(throttle) == 0
    for _ in range(3):
        assert guess(net)[2] == 1


def recording(net: Net) -> list:
    events: list = []
    net.server.log = lambda event, level="info", **fields: events.append((event, level, fields))
    return events


def test_failed_logins_are_logged_and_counted_by_reason():
    net = staff_net()
    events = recording(net)
    guess(net, "nobody")
    guess(net)
    guess(net)
    guess(net)
    assert net.server.stats.login_failures == {"unknown_name": 1, "wrong_password": 2, "throttled": 1}
    failed = [fields["reason"] for event, level, fields in events if event == "account.login_failed"]
    assert failed == ["unknown_name", "wrong_password", "wrong_password"]
    [(level, fields)] = [(level, fields) for event, level, fields in events if event == "account.login_throttled"]
    assert level == "warning"
    assert fields["by"] == "address" and fields["wait"] == 1 and fields["command"] == "AUTHENTICATE"
    assert "address" not in fields  # personal data, see below


def test_the_throttled_address_is_logged_only_with_log_personal_data():
    config = attrs.evolve(Config(), accounts=(Account("moda", HASH),))
    net = Net(attrs.evolve(config, logging=attrs.evolve(config.logging, log_personal_data=True)))
    events = recording(net)
    for _ in range(4):
        guess(net, ip="198.51.100.4")
    [fields] = [fields for event, _, fields in events if event == "account.login_throttled"]
    assert fields["address"] == "198.51.100.4" and fields["by"] == "address"


# ---------------------------------------------------------------- counters and derived state


def test_lines_received_are_counted_per_transport():
    net = Net()
    alice = net.register("alice")  # NICK, USER
    alice.send("PING a")
    web = net.server.connect("192.0.2.9", Outbox(10_000), "websocket")
    assert web is not None
    net.server.receive(web, b"PING b")
    assert net.server.stats.lines_in == {"tcp": 3, "websocket": 1}


def test_the_host_shown_is_a_cloak_of_the_address():
    net = Net()
    alice = net.register("alice", ip="198.51.100.20")
    assert alice.client.host == cloak_of("198.51.100.20")
    assert alice.client.host.startswith("visitor-") and "198" not in alice.client.host
    assert alice.client.prefix == f"alice!~alice@{cloak_of('198.51.100.20')}"


def test_without_cloaks_the_host_shown_is_the_address():
    net = Net(with_server(cloak_hosts=False))
    alice = net.register("alice", ip="198.51.100.20")
    assert alice.client.host == "198.51.100.20"
    assert alice.client.prefix == "alice!~alice@198.51.100.20"
