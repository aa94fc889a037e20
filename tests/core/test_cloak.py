"""Cloaked hosts and visitor identities (core/cloak.py), alone and as
clients see them: what a visitor shows of its address, and VISITOR."""

from __future__ import annotations

import pytest

from confchat.config import Config, Oper
from confchat.core.cloak import cloak_host, valid_token, visitor_identity
from helpers import TEST_CLOAK_KEY, Net, cloak_of, find, one

from test_conference import HASH, PASSWORD

KEY_A = b"a" * 32
KEY_B = b"b" * 32


# ------------------------------------------------------------ the functions


def test_a_cloak_is_stable_for_one_key_and_address():
    assert cloak_host(KEY_A, "203.0.113.7") == cloak_host(KEY_A, "203.0.113.7")
    assert cloak_host(KEY_A, "203.0.113.7").startswith("visitor-")
    assert cloak_host(KEY_A, "203.0.113.7").endswith(".confchat")


def test_cloaks_differ_across_keys_and_addresses():
    assert cloak_host(KEY_A, "203.0.113.7") != cloak_host(KEY_B, "203.0.113.7")
    assert cloak_host(KEY_A, "203.0.113.7") != cloak_host(KEY_A, "203.0.113.8")


def test_a_cloak_shows_nothing_of_the_address():
    for ip in ("203.0.113.7", "2001:db8::7", "10.1.2.3"):
        cloak = cloak_host(KEY_A, ip)
        assert ip not in cloak
        assert not any(part in cloak.split("-", 1)[1] for part in ip.replace(":", ".").split(".") if len(part) > 2)


def test_one_ipv6_address_spelled_two_ways_has_one_cloak():
    assert cloak_host(KEY_A, "2001:DB8:0::7") == cloak_host(KEY_A, "2001:db8::7")


def test_a_visitor_identity_is_stable_per_key_and_token():
    token = "Zm9vYmFyYmF6cXV4MTIz"
    assert visitor_identity(KEY_A, token) == visitor_identity(KEY_A, token)
    assert visitor_identity(KEY_A, token) != visitor_identity(KEY_B, token)
    assert visitor_identity(KEY_A, token) != visitor_identity(KEY_A, token + "x")
    assert token not in visitor_identity(KEY_A, token)


@pytest.mark.parametrize("token,ok", [
    ("a" * 16, True), ("A-b_c" * 5, True), ("x" * 64, True),
    ("a" * 15, False), ("x" * 65, False), ("abc def ghi jklmnop", False), ("é" * 20, False), ("", False),
])
def test_visitor_tokens_are_checked(token, ok):
    assert valid_token(token) is ok


# ------------------------------------------------------------ through the server


TOKEN = "n2Vh7o0Yc3wWx9QkZr1T4A"


def web_visitor(net: Net, nick: str, token: str = TOKEN, ip: str = "203.0.113.5"):
    conn = net.connect(ip)
    assert conn is not None
    conn.send("CAP LS 302")
    conn.send("CAP REQ :standard-replies")
    conn.send(f"VISITOR {token}")
    conn.send(f"NICK {nick}")
    conn.send(f"USER {nick} 0 * :{nick}")
    conn.send("CAP END")
    replies = conn.take()
    assert "001" in [m.command for m in replies], replies
    return conn


def test_visitor_before_registration_gives_the_identity_silently():
    net = Net()
    conn = web_visitor(net, "ann")
    assert conn.client.visitor == visitor_identity(TEST_CLOAK_KEY, TOKEN)


def test_visitor_after_registration_is_refused_and_changes_nothing():
    net = Net()
    conn = web_visitor(net, "ann")
    before = conn.client.visitor
    fail = one(conn.ask("VISITOR " + "z" * 22), "FAIL")
    assert fail.params[:2] == ("VISITOR", "ALREADY_REGISTERED")
    assert conn.client.visitor == before


def test_an_invalid_visitor_token_gets_a_fail_and_the_connection_goes_on():
    net = Net()
    conn = net.connect("203.0.113.5")
    conn.send("CAP LS 302")
    conn.send("CAP REQ :standard-replies")
    fail = one(conn.ask("VISITOR short"), "FAIL")
    assert fail.params[:2] == ("VISITOR", "INVALID_TOKEN")
    assert one(conn.ask("VISITOR"), "461")
    conn.send("NICK ann")
    conn.send("USER ann 0 * :Ann")
    conn.send("CAP END")
    assert conn.client.registered and conn.client.visitor == ""


def test_the_host_in_every_reply_is_the_cloak_and_whois_shows_the_address_to_its_owner_only():
    config = Config(opers=(Oper("root", HASH),))
    net = Net(config)
    ann = net.register("ann", ip="203.0.113.5")
    bob = net.register("bob", ip="198.51.100.9")
    root = net.register("root", ip="192.0.2.80")
    root.send(f"OPER root :{PASSWORD}")
    root.take()
    seen_by_bob = bob.ask("WHOIS ann")
    assert one(seen_by_bob, "311").params[3] == cloak_of("203.0.113.5")
    assert find(seen_by_bob, "338") == []
    assert "203.0.113.5" not in str(seen_by_bob)
    assert one(ann.ask("WHOIS ann"), "338").params[2:4] == ("~ann@203.0.113.5", "203.0.113.5")
    assert one(root.ask("WHOIS ann"), "338").params[3] == "203.0.113.5"
