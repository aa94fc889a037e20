"""core/throttle.py on its own: the back-off of password guesses, with
times given by the test."""

from __future__ import annotations

from confchat.core.throttle import Backoff, LoginThrottle, address_key


def backoff(**changes) -> Backoff:
    settings = {"allowed": 3, "first": 1.0, "longest": 10.0, "memory": 100.0, **changes}
    return Backoff(**settings)


def test_the_first_checks_are_free_then_the_wait_doubles_up_to_the_cap():
    b = backoff()
    waits = []
    now = 0.0
    for _ in range(8):
        assert b.wait("k", now) == 0.0
        b.attempt("k", now)
        waits.append(b.wait("k", now))
        now += waits[-1]
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_the_wait_counts_from_the_latest_check():
    b = backoff()
    for t in (0.0, 0.25, 0.5):
        b.attempt("k", t)
    assert b.wait("k", 1.0) == 0.5
    assert b.wait("k", 1.5) == 0.0
    assert b.wait("other", 0.5) == 0.0  # keys are counted apart


def test_a_forgiven_check_does_not_count():
    b = backoff()
    for t in range(5):
        b.attempt("k", float(t))
        b.forgive("k")
    assert b.wait("k", 5.0) == 0.0 and "k" not in b.entries
    b.forgive("never seen")  # a key forgotten meanwhile: nothing to do


def test_memory_is_bounded_least_recently_tried_first():
    b = backoff(max_entries=3)
    for key in ("a", "b", "c"):
        b.attempt(key, 0.0)
    b.attempt("a", 1.0)  # a is now the most recent
    b.attempt("d", 2.0)
    assert list(b.entries) == ["c", "a", "d"]


def test_prune_forgets_keys_quiet_for_the_memory():
    b = backoff(memory=100.0)
    b.attempt("old", 0.0)
    b.attempt("new", 50.0)
    assert b.prune(99.0) == 0
    assert b.prune(100.0) == 1
    assert list(b.entries) == ["new"]
    assert b.prune(1000.0) == 1 and not b.entries


def test_a_huge_count_still_waits_the_cap():
    b = backoff(allowed=1, longest=60.0)
    for _ in range(5000):
        b.attempt("k", 0.0)
    assert b.wait("k", 0.0) == 60.0


def test_ipv6_addresses_count_by_64():
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("not an address") == "not an address"


def test_the_longer_wait_of_address_and_name_applies():
    t = LoginThrottle(2, 1.0, 60.0, 900.0)
    t.attempt("192.0.2.1", "account:a", 0.0)
    t.attempt("192.0.2.1", "account:b", 0.0)
    assert t.wait("192.0.2.1", "account:c", 0.0) == (1.0, "address")
    assert t.wait("192.0.2.9", "account:a", 0.0) == (0.0, "")
    t.attempt("192.0.2.9", "account:a", 0.5)
    t.attempt("192.0.2.9", "account:a", 0.5)
    assert t.wait("192.0.2.8", "account:a", 0.5) == (2.0, "account")


def test_a_shared_address_counts_only_by_name():
    t = LoginThrottle(1, 1.0, 60.0, 900.0, shared=("192.0.2.50",))
    t.attempt("192.0.2.50", "account:a", 0.0)
    assert t.wait("192.0.2.50", "account:b", 0.0) == (0.0, "")
    assert t.wait("192.0.2.50", "account:a", 0.0) == (1.0, "account")
    assert len(t) == 1
