"""The visitor's address from forwarding headers (confchat.transport.forwarded):
RFC 7239 ``Forwarded`` (its own examples, quoted, IPv6, obfuscated), the
``X-Forwarded-For`` chains nginx and HAProxy write, and who is believed."""

from __future__ import annotations

import pytest

from confchat.transport.forwarded import (
    TrustedProxies,
    canonical,
    client_address,
    forwarded_for,
    node_address,
    x_forwarded_for,
)

PROXIES = TrustedProxies(["127.0.0.1", "10.0.0.0/8", "2001:db8:ffff::/48"])


# ------------------------------------------------------------------ trusted proxies


@pytest.mark.parametrize("peer", ["127.0.0.1", "10.1.2.3", "10.255.255.255", "2001:db8:ffff::7", "::ffff:10.0.0.5"])
def test_trusted_addresses_and_ranges(peer):
    assert peer in PROXIES


@pytest.mark.parametrize("peer", ["127.0.0.2", "11.0.0.1", "2001:db8:fffe::1", "::1", "", "unknown", "10.0.0.1:80"])
def test_everyone_else_is_untrusted(peer):
    assert peer not in PROXIES


def test_no_trusted_proxies_trusts_nobody():
    nobody = TrustedProxies([])
    assert not nobody and "127.0.0.1" not in nobody


def test_a_host_address_with_a_prefix_means_its_network():
    assert "192.168.1.200" in TrustedProxies(["192.168.1.7/24"])


# ------------------------------------------------------------------ RFC 7239 Forwarded


def test_rfc7239_examples():
    # Section 4 and 7.1.
    assert forwarded_for('for="_gazonk"') == ["_gazonk"]
    assert forwarded_for('For="[2001:db8:cafe::17]:4711"') == ["[2001:db8:cafe::17]:4711"]
    assert forwarded_for("for=192.0.2.60;proto=http;by=203.0.113.43") == ["192.0.2.60"]
    assert forwarded_for("for=192.0.2.43, for=198.51.100.17") == ["192.0.2.43", "198.51.100.17"]
    assert forwarded_for('for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown') == [
        "192.0.2.43", "[2001:db8:cafe::17]", "unknown",
    ]


def test_quoted_values_keep_commas_semicolons_and_escapes():
    value = 'for="198.51.100.9";host="a,b;c", for="\\"x\\"", for=192.0.2.1'
    assert forwarded_for(value) == ["198.51.100.9", '"x"', "192.0.2.1"]


def test_an_element_without_for_or_with_a_repeated_parameter_names_nobody():
    assert forwarded_for("proto=https;by=10.0.0.1, for=1.1.1.1;for=2.2.2.2, for=3.3.3.3") == ["", "", "3.3.3.3"]


def test_empty_elements_are_skipped():
    assert forwarded_for(" , for=192.0.2.1 ,, for=192.0.2.2, ") == ["192.0.2.1", "192.0.2.2"]


def test_a_visitor_s_unterminated_quote_does_not_swallow_the_proxy_s_element():
    # The visitor sent `Forwarded: for="[`; its proxy appended its own element.
    assert forwarded_for('for="[, for=203.0.113.5') == ["", "203.0.113.5"]
    assert forwarded_for('for=1.2.3.4;junk, for=203.0.113.5') == ["", "203.0.113.5"]


@pytest.mark.parametrize(
    "node, found",
    [
        ("192.0.2.60", "192.0.2.60"),
        ("192.0.2.60:4711", "192.0.2.60"),
        ("192.0.2.60:_port", "192.0.2.60"),  # an obfuscated port
        ("[2001:db8:cafe::17]:4711", "2001:db8:cafe::17"),
        ("[2001:DB8:CAFE::17]", "2001:db8:cafe::17"),
        ("2001:db8:cafe::17", "2001:db8:cafe::17"),  # X-Forwarded-For writes IPv6 bare
        ("[::ffff:192.0.2.7]", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("unknown", None),
        ("_gazonk", None),
        ("_hidden:_port", None),
        ("[_hidden]", None),
        ("[192.0.2.60]", None),
        ("[2001:db8::1", None),
        ("[2001:db8::1]:99999", None),
        ("192.0.2.60:", None),
        ("192.0.2.060", None),
        ("fe80::1%eth0", None),
        ("example.org", None),
        ("", None),
    ],
)
def test_node_addresses(node, found):
    assert node_address(node) == found


# ------------------------------------------------------------------ X-Forwarded-For


def test_x_forwarded_for_hops():
    assert x_forwarded_for("203.0.113.7, 10.0.0.2,10.0.0.3") == ["203.0.113.7", "10.0.0.2", "10.0.0.3"]
    assert x_forwarded_for("203.0.113.7, , 10.0.0.2") == ["203.0.113.7", "10.0.0.2"]


# ------------------------------------------------------------------ whom a request is for


def xff(value: str) -> dict[str, str]:
    return {"x-forwarded-for": value}


def test_an_untrusted_peer_is_itself_whatever_it_claims():
    assert client_address("198.51.100.1", xff("203.0.113.7"), PROXIES) == "198.51.100.1"
    assert client_address("198.51.100.1", {"forwarded": "for=203.0.113.7"}, PROXIES, "forwarded") == "198.51.100.1"


def test_one_trusted_proxy_gives_the_address_it_saw():
    # nginx: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for
    assert client_address("127.0.0.1", xff("203.0.113.7"), PROXIES) == "203.0.113.7"


def test_what_the_visitor_wrote_left_of_the_proxy_s_hop_is_ignored():
    # The visitor sent "X-Forwarded-For: 1.2.3.4, 10.0.0.9"; nginx appended
    # the address it received from.
    assert client_address("127.0.0.1", xff("1.2.3.4, 10.0.0.9, 203.0.113.7"), PROXIES) == "203.0.113.7"


def test_the_walk_goes_back_through_trusted_hops_only():
    # visitor -> 10.0.0.2 (a CDN edge, trusted) -> 127.0.0.1 (local nginx)
    assert client_address("127.0.0.1", xff("203.0.113.7, 10.0.0.2"), PROXIES) == "203.0.113.7"
    # A forged "trusted" hop to the left of the real client is never reached.
    assert client_address("127.0.0.1", xff("10.0.0.3, 203.0.113.7, 10.0.0.2"), PROXIES) == "203.0.113.7"


def test_every_hop_trusted_gives_the_left_most():
    assert client_address("127.0.0.1", xff("10.0.0.4, 10.0.0.2"), PROXIES) == "10.0.0.4"


def test_a_hop_without_an_address_stops_at_the_proxy_that_wrote_it():
    assert client_address("127.0.0.1", xff("203.0.113.7, unknown"), PROXIES) == "127.0.0.1"
    assert client_address("127.0.0.1", xff("203.0.113.7, garbage, 10.0.0.2"), PROXIES) == "10.0.0.2"


def test_no_header_or_an_empty_one_is_the_proxy_itself():
    assert client_address("127.0.0.1", {}, PROXIES) == "127.0.0.1"
    assert client_address("127.0.0.1", xff(""), PROXIES) == "127.0.0.1"


def test_only_the_configured_header_counts():
    # nginx passes a visitor's own Forwarded through untouched.
    headers = {"x-forwarded-for": "203.0.113.7", "forwarded": "for=192.0.2.99"}
    assert client_address("127.0.0.1", headers, PROXIES) == "203.0.113.7"
    headers = {"x-forwarded-for": "192.0.2.99", "forwarded": 'for="[2001:db8:cafe::17]:4711"'}
    assert client_address("127.0.0.1", headers, PROXIES, "forwarded") == "2001:db8:cafe::17"


def test_forwarded_chain_with_obfuscated_and_trusted_hops():
    value = 'for=203.0.113.7;proto=https, for="[2001:db8:ffff::2]:443";by=_edge'
    assert client_address("127.0.0.1", {"forwarded": value}, PROXIES, "forwarded") == "203.0.113.7"
    value = 'for=_hidden, for="[2001:db8:ffff::2]"'
    assert client_address("127.0.0.1", {"forwarded": value}, PROXIES, "forwarded") == "2001:db8:ffff::2"


def test_ipv4_mapped_peers_and_hops_are_plain_ipv4():
    assert canonical("::ffff:127.0.0.1") == "127.0.0.1"
    assert client_address("::ffff:127.0.0.1", xff("::ffff:203.0.113.7"), PROXIES) == "203.0.113.7"
    assert client_address("::ffff:198.51.100.1", {}, PROXIES) == "198.51.100.1"
