"""The links policy: what is a link, and the allow-list of sites."""

from __future__ import annotations

import pytest

from confchat.moderation.policies import Message, Verdict, build_policy

CITY = build_policy({"policy": "links", "allow": ["ville.fr", "https://www.concarneau.bzh/agenda"]})


def check(text: str, policy=CITY):
    return policy.check(Message(text, "visitor", 0.0))


@pytest.mark.parametrize(
    "text, hosts",
    [
        ("Allez sur evil.com", "evil.com"),
        ("Allez sur evil.com.", "evil.com"),
        ("http://evil.example.org/path?x=1", "evil.example.org"),
        ("hxxp://evil.site", "evil.site"),
        ("www.x.com/y", "www.x.com"),
        ("WWW.EVIL.NET", "www.evil.net"),
        ("evil[.]com", "evil.com"),  # defanged
        ("ｅｖｉｌ．ｃｏｍ", "evil.com"),  # full-width, as a browser reads it
        ("ville.fr.evil.com", "ville.fr.evil.com"),  # the allowed name is not the end
        ("maville.fr", "maville.fr"),  # nor a suffix of another label
        ("v\u0456lle.fr", "v\u0456lle.fr"),  # a Cyrillic i: not the allowed site
        ("http://user@evil.com:8080/", "evil.com"),
        ("192.168.0.1:8080/admin", "192.168.0.1"),
        ("http://[::1]/", "[::1]"),
        ("deux liens: a.io et b.xyz", "a.io, b.xyz"),
    ],
)
def test_links_are_held_with_their_hosts(text, hosts):
    decision = check(text)
    assert decision is not None and decision.verdict is Verdict.HOLD, text
    assert decision.reason == f"links: {hosts}"
    assert decision.flags == ("links",)


@pytest.mark.parametrize(
    "text",
    [
        "Le programme: https://www.ville.fr/agenda",
        "piscine.ville.fr",
        "ville.fr",
        "http://VILLE.FR",
    ],
)
def test_allowed_sites_get_an_explicit_pass(text):
    decision = check(text)
    assert decision is not None and decision.verdict is Verdict.PUBLISH
    assert decision.reason.startswith("allowed links: ")


def test_allow_is_the_host_given_and_below_it():
    assert check("www.concarneau.bzh/x").verdict is Verdict.PUBLISH
    assert check("piscine.www.concarneau.bzh").verdict is Verdict.PUBLISH
    assert check("concarneau.bzh").verdict is Verdict.HOLD  # the parent was not allowed


def test_one_bad_link_among_good_ones():
    assert check("ville.fr et evil.com").reason == "links: evil.com"


@pytest.mark.parametrize(
    "text",
    [
        "M.Dupont a raison",
        "1.5 million d'euros, soit 3.2 %",
        "etc.Et voilà",
        "Bonjour. Merci.",
        "écrivez à contact@evil.com",  # an address is not a link
        "Quand rouvre la piscine ?",
        "version 2.0.1",
    ],
)
def test_not_links(text):
    assert check(text) is None


def test_drop_and_tlds_options():
    strict = build_policy({"policy": "links", "action": "drop", "tlds": ["bzh"]})
    assert check("concarneau.bzh", strict).verdict is Verdict.DROP
    assert check("evil.com", strict) is None  # .com is not a domain ending for this one
    assert check("https://evil.com", strict).verdict is Verdict.DROP  # a scheme always is
