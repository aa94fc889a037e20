"""Cloaked hosts and visitor identities: what others see instead of an address.

A public body must not publish its citizens' IP addresses, and a ban aimed
at one visitor must not remove everyone behind the same address (a venue's
Wi-Fi, a school, a mobile carrier). So, as IRC networks do, the host shown
in prefixes, WHO, WHOIS and the rest is a keyed hash of the address
(``visitor-3f9a2c81d0.confchat``): stable for one address under one key, so
the staff can still see who shares an address and ban it on purpose, and
worthless to anyone without the key (a plain hash of an IPv4 address is
reversed by trying all four billion).

A web visitor also sends a random token it keeps between visits (``VISITOR
<token>``, protocol.md): the identity the server derives from it, under the
same key, keys that visitor's votes and the bans aimed at them. The token
itself is never shown; the derived identity is shown to the staff only.

Pure: the shell reads or creates the key (``app.py``, a file in the data
directory) and passes it in; without one the server makes a random key that
lasts as long as the process.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re

# The key's size: the output size of the hash (RFC 2104's recommendation).
KEY_BYTES = 32
# Hex digits of a cloak: 40 bits, so two addresses of a city's audience
# (100,000 addresses) share one with odds of about 1 in 200.
CLOAK_DIGITS = 10
CLOAK_SUFFIX = ".confchat"
# Hex digits of a visitor identity: 64 bits, never the same by chance.
IDENTITY_DIGITS = 16
# A visitor token: 16 to 64 characters of the base64url alphabet (the page
# sends 22, 128 random bits).
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _digest(key: bytes, purpose: bytes, value: str) -> str:
    return hmac.new(key, purpose + b"\0" + value.encode(), hashlib.sha256).hexdigest()


def canonical_address(ip: str) -> str:
    """One spelling per address (``2001:DB8::1`` and ``2001:db8:0::1`` are
    one), so one address gets one cloak; anything else as it is."""
    try:
        return ipaddress.ip_address(ip).compressed
    except ValueError:
        return ip


def cloak_host(key: bytes, ip: str) -> str:
    """The host shown for a connection from ``ip``."""
    return f"visitor-{_digest(key, b'host', canonical_address(ip))[:CLOAK_DIGITS]}{CLOAK_SUFFIX}"


def valid_token(token: str) -> bool:
    return TOKEN.fullmatch(token) is not None


def visitor_identity(key: bytes, token: str) -> str:
    """The identity derived from a visitor's token (``v`` and 16 hex
    digits): what bans and votes are keyed on, shown to the staff. Knowing
    it does not give the token."""
    return "v" + _digest(key, b"visitor", token)[:IDENTITY_DIGITS]
