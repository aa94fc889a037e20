"""Back-off for password guesses, per address and per account name: pure.

Each password check is a guess, and costs an argon2 hash (core/logins.py).
The cap of failed logins on one connection (``MAX_LOGIN_FAILURES``) only
makes a guesser reconnect; this counts checks across connections, per
address and per name tried: after ``allowed`` of them, each further attempt
must wait ``first`` seconds after the latest check, then twice that, and so
on up to ``longest``. An attempt made during the wait is refused at once,
without a check, and does not make the wait longer: refusing costs nothing,
and cheap refused requests cannot lock an account out for more than
``longest`` after the last real guess.

A check counts from the moment it is asked for, not when it is answered: a
guesser that pipelines attempts or opens many connections gets no more
checks than one that waits for each answer. A check that succeeds is taken
back (:meth:`Backoff.forgive`).

Names are counted whether or not an account has them, so that a refusal
says nothing about which accounts exist. Memory is bounded: at most
``MAX_ENTRIES`` keys per table (the least recently tried go first), and
:meth:`LoginThrottle.prune`, on the core's tick, forgets keys that have seen
no check for ``memory`` seconds.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict

# Keys one table remembers. An entry is a few hundred bytes, so a table at
# its limit holds a few megabytes. New keys come only with real checks,
# which this very back-off slows down, so filling a table takes many
# addresses; when one is full, the key tried least recently goes.
MAX_ENTRIES = 10_000

# Doublings past which the wait is ``longest`` anyway (2**62 s is longer
# than any cap); keeps the arithmetic in floats.
_MAX_DOUBLINGS = 62


def address_key(ip: str) -> str:
    """What one guesser is: an IPv4 address, or an IPv6 /64 (one host gets
    a whole /64, and could try from each of its addresses)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class _Entry:
    __slots__ = ("checks", "last")

    def __init__(self) -> None:
        self.checks = 0  # checks counted (asked for, not forgiven)
        self.last = 0.0  # when the latest one was asked for


class Backoff:
    """Exponential back-off per key, with a bounded memory."""

    __slots__ = ("allowed", "first", "longest", "memory", "max_entries", "entries")

    def __init__(
        self, allowed: int, first: float, longest: float, memory: float, max_entries: int = MAX_ENTRIES
    ) -> None:
        self.allowed = allowed
        self.first = first
        self.longest = longest
        self.memory = memory
        self.max_entries = max_entries
        # Least recently tried first: attempt() moves a key to the end.
        self.entries: OrderedDict[str, _Entry] = OrderedDict()

    def delay(self, checks: int) -> float:
        """Seconds to wait after the latest of ``checks`` checks."""
        if checks < self.allowed:
            return 0.0
        return min(self.longest, self.first * 2.0 ** min(checks - self.allowed, _MAX_DOUBLINGS))

    def wait(self, key: str, now: float) -> float:
        """Seconds before ``key`` may try again (0: now)."""
        entry = self.entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.last + self.delay(entry.checks) - now)

    def attempt(self, key: str, now: float) -> None:
        """A check for ``key`` starts now."""
        entry = self.entries.pop(key, None)
        if entry is None:
            entry = _Entry()
            while len(self.entries) >= self.max_entries:
                self.entries.popitem(last=False)
        entry.checks += 1
        entry.last = now
        self.entries[key] = entry

    def forgive(self, key: str) -> None:
        """A check for ``key`` succeeded: it does not count."""
        entry = self.entries.get(key)
        if entry is None:
            return  # forgotten meanwhile
        entry.checks -= 1
        if entry.checks <= 0:
            del self.entries[key]

    def prune(self, now: float) -> int:
        """Forget keys without a check for ``memory`` seconds; how many."""
        entries = self.entries
        forgotten = 0
        while entries:
            key, entry = next(iter(entries.items()))
            if now - entry.last < self.memory:
                break  # the rest were tried later
            del entries[key]
            forgotten += 1
        return forgotten


# The name table allows this many times the checks of the others: it stops a
# guess spread over many addresses, while a guesser on one address is
# stopped long before by the address and the pair tables.
NAME_ALLOWANCE = 10

# Addresses remembered per name as its owner's (a login from there
# succeeded): at most this many per name, for ``memory`` seconds.
KNOWN_PER_NAME = 4


class LoginThrottle:
    """The tables the core consults before each password check:

    - **addresses**: the checks from one address, whatever the names;
    - **pairs**: the checks of one name from one address;
    - **names** (``account:<folded name>``, ``oper:<name>``): the checks of
      one name from everywhere, with ``NAME_ALLOWANCE`` times the free
      checks, and never in the way of an address the name's owner signed in
      from (``known``).

    So someone guessing an account's password from one address is stopped
    by the first two tables, and its owner, from another address (or from
    one it signed in from before), still signs in; a guess spread over many
    addresses meets the name table. Addresses in ``shared``
    (limits.connection_limit_exempt: a proxy or a venue's Wi-Fi, many people
    behind one address) are not counted in the address table, so that one
    guesser there does not hold up everyone else's login; the names tried
    there still are."""

    __slots__ = ("addresses", "pairs", "names", "shared", "known", "memory")

    def __init__(
        self, allowed: int, first: float, longest: float, memory: float, shared: tuple[str, ...] = ()
    ) -> None:
        self.addresses = Backoff(allowed, first, longest, memory)
        self.pairs = Backoff(allowed, first, longest, memory)
        self.names = Backoff(allowed * NAME_ALLOWANCE, first, longest, memory)
        self.shared = frozenset(shared)
        self.memory = memory
        # name -> {address key: when its owner last signed in from there}
        self.known: OrderedDict[str, dict[str, float]] = OrderedDict()

    def _address(self, ip: str) -> str | None:
        return None if ip in self.shared else address_key(ip)

    def _known(self, name: str, ip: str, now: float) -> bool:
        at = self.known.get(name, {}).get(address_key(ip))
        return at is not None and now - at < self.memory

    def wait(self, ip: str, name: str, now: float) -> tuple[float, str]:
        """(seconds before the next attempt may be checked, "address" or
        "account": which table says so); (0, "") when it may be now."""
        address = self._address(ip)
        by_address = self.addresses.wait(address, now) if address is not None else 0.0
        by_name = self.pairs.wait(f"{name} {address_key(ip)}", now)
        if not self._known(name, ip, now):
            by_name = max(by_name, self.names.wait(name, now))
        if by_address <= 0 and by_name <= 0:
            return 0.0, ""
        return (by_address, "address") if by_address >= by_name else (by_name, "account")

    def attempt(self, ip: str, name: str, now: float) -> None:
        address = self._address(ip)
        if address is not None:
            self.addresses.attempt(address, now)
        self.pairs.attempt(f"{name} {address_key(ip)}", now)
        self.names.attempt(name, now)

    def forgive(self, ip: str, name: str, now: float | None = None) -> None:
        """A check succeeded: it does not count, and the address is the
        owner's (``now``: when; without it, only forgiven)."""
        address = self._address(ip)
        if address is not None:
            self.addresses.forgive(address)
        self.pairs.forgive(f"{name} {address_key(ip)}")
        self.names.forgive(name)
        if now is None:
            return
        places = self.known.pop(name, {})
        places.pop(address_key(ip), None)
        places[address_key(ip)] = now
        while len(places) > KNOWN_PER_NAME:
            del places[next(iter(places))]
        self.known[name] = places
        while len(self.known) > MAX_ENTRIES:
            self.known.popitem(last=False)

    def prune(self, now: float) -> int:
        for name in [n for n, places in self.known.items() if all(now - at >= self.memory for at in places.values())]:
            del self.known[name]
        return self.addresses.prune(now) + self.pairs.prune(now) + self.names.prune(now)

    def __len__(self) -> int:
        return len(self.addresses.entries) + len(self.pairs.entries) + len(self.names.entries)
