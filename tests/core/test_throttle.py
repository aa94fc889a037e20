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
    assert t.wait("192.0.2.1", "account:c", 0.0) == (1.0, "address")  # the address, whatever the name
    assert t.wait("192.0.2.9", "account:a", 0.0) == (0.0, "")
    t.attempt("192.0.2.9", "account:a", 0.5)
    t.attempt("192.0.2.9", "account:a", 0.5)
    assert t.wait("192.0.2.9", "account:a", 0.5)[0] == 1.0  # .9 waits for a (address and pair alike)
    assert t.wait("192.0.2.8", "account:a", 0.5) == (0.0, "")  # another address is not held up by .9


def test_a_shared_address_counts_only_by_name():
    t = LoginThrottle(1, 1.0, 60.0, 900.0, shared=("192.0.2.50",))
    t.attempt("192.0.2.50", "account:a", 0.0)
    assert t.wait("192.0.2.50", "account:b", 0.0) == (0.0, "")
    assert t.wait("192.0.2.50", "account:a", 0.0) == (1.0, "account")
    assert len(t) == 2  # the pair and the name, no address entry


def test_a_guesser_on_one_address_does_not_lock_the_owner_out():
    """The attack bench/attacks.py measured: one address guesses an
    account's password as fast as answers come. It is backed off (by
    address and by the pair), while the owner, signing in from another
    address, is checked at once."""
    t = LoginThrottle(3, 1.0, 60.0, 900.0)
    now = 0.0
    checked = 0
    while now < 60.0:  # a minute of guesses, one whenever the wait allows
        wait, _ = t.wait("198.51.100.66", "account:moda", now)
        if wait <= 0:
            t.attempt("198.51.100.66", "account:moda", now)
            checked += 1
        now += 0.01
    assert checked < 10
    assert t.wait("198.51.100.66", "account:moda", now)[0] > 0
    assert t.wait("203.0.113.7", "account:moda", now) == (0.0, "")


def test_a_guess_spread_over_many_addresses_meets_the_name_table():
    t = LoginThrottle(2, 1.0, 60.0, 900.0)
    for n in range(20):  # 2 x 10 free checks of one name, from 20 addresses
        ip = f"198.51.100.{n + 1}"
        assert t.wait(ip, "account:moda", 0.0) == (0.0, "")
        t.attempt(ip, "account:moda", 0.0)
    assert t.wait("203.0.113.7", "account:moda", 0.0) == (1.0, "account")


def test_the_owner_s_known_address_is_never_held_up_by_the_name_table():
    t = LoginThrottle(2, 1.0, 60.0, 900.0)
    t.attempt("203.0.113.7", "account:moda", 0.0)
    t.forgive("203.0.113.7", "account:moda", 0.0)  # the owner signed in from here
    for n in range(40):
        t.attempt(f"198.51.100.{n + 1}", "account:moda", 1.0)
    assert t.wait("203.0.113.8", "account:moda", 1.0)[1] == "account"  # a stranger waits
    assert t.wait("203.0.113.7", "account:moda", 1.0) == (0.0, "")  # the owner does not
    t.prune(1000.0)  # past the memory: no longer known
    assert not t.known
