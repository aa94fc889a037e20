"""The visitor's real address behind trusted proxies, sans IO.

Behind a reverse proxy every connection comes from the proxy's address. The
proxy says whom it forwards in a header: ``X-Forwarded-For`` (nginx's
``$proxy_add_x_forwarded_for``, HAProxy's ``option forwardfor``) or
``Forwarded`` (RFC 7239). Anyone can write either header, so it is believed
only from a peer in ``listen.trusted_proxies``, and only the header the
proxies are configured to set (``listen.forwarded_header``): nginx passes a
visitor's own ``Forwarded`` through untouched.

Each proxy appends the address it received from, so the list reads from
the visitor (left) to the last proxy (right), and everything left of the
first proxy was written by the visitor. :func:`client_address` walks it from
the right, through trusted hops, and takes the first untrusted one: the
address the nearest trusted proxy saw. A hop that names no address
(``unknown``, an obfuscated ``_name``, garbage) stops the walk at the
trusted proxy that wrote it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterable, Mapping

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The headers ``listen.forwarded_header`` may name (lower case, as
#: :class:`~confchat.transport.http.Request` keeps them).
HEADERS = ("x-forwarded-for", "forwarded")

# RFC 7239 forwarded-pair: token "=" ( token / quoted-string )
_PAIR = re.compile(
    r'\s*(?P<name>[!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*'
    r'(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[!#$%&\'*+.^_`|~0-9A-Za-z-]+))\s*'
)
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+")


def address(text: str) -> Address | None:
    """``text`` as an IP address, IPv4-mapped IPv6 as IPv4; None if it is not one."""
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.scope_id is not None:
            return None
        if parsed.ipv4_mapped is not None:
            return parsed.ipv4_mapped
    return parsed


def canonical(text: str) -> str:
    """An address as every limit and ban sees it (``::ffff:192.0.2.1`` is
    ``192.0.2.1``); anything else unchanged."""
    parsed = address(text)
    return str(parsed) if parsed is not None else text


class TrustedProxies:
    """The peers whose forwarding headers and PROXY headers are believed:
    addresses and CIDR ranges (``"10.0.0.0/8"``, ``"::1"``)."""

    __slots__ = ("networks",)

    def __init__(self, entries: Iterable[str] = ()) -> None:
        # strict=False: "10.0.0.1/8" means the network it lies in.
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, peer: object) -> bool:
        if not isinstance(peer, str) or not self.networks:
            return False
        parsed = address(peer)
        if parsed is None:
            return False
        return any(parsed.version == net.version and parsed in net for net in self.networks)


def node_address(node: str) -> str | None:
    """The address in one hop, as X-Forwarded-For or RFC 7239 section 6
    write it: ``192.0.2.1``, ``192.0.2.1:4711``, ``2001:db8::1``,
    ``[2001:db8::1]:4711``; None for ``unknown``, an obfuscated ``_name``
    (with or without a port) or anything else."""
    node = node.strip()
    if node.startswith("["):
        inside, sep, rest = node[1:].partition("]")
        if not sep or (rest and not _port(rest)):
            return None
        parsed = address(inside)
        return str(parsed) if parsed is not None and ":" in inside else None
    parsed = address(node)
    if parsed is not None:
        return str(parsed)
    host, sep, port = node.rpartition(":")
    if sep and ":" not in host and _port(":" + port):
        parsed = address(host)
        if parsed is not None and parsed.version == 4:
            return str(parsed)
    return None


def _port(text: str) -> bool:
    """``:4711`` or an obfuscated port ``:_abc``."""
    if not text.startswith(":"):
        return False
    port = text[1:]
    return (port.isascii() and port.isdigit() and int(port) <= 65535) or bool(_OBFUSCATED.fullmatch(port))


def x_forwarded_for(value: str) -> list[str]:
    """The hops of an ``X-Forwarded-For`` value (repeated headers joined
    with commas), left to right."""
    return [hop.strip() for hop in value.split(",") if hop.strip()]


def forwarded_for(value: str) -> list[str]:
    """The ``for=`` node of each element of a ``Forwarded`` value (RFC 7239;
    repeated headers joined with commas), left to right. An element without
    ``for=`` or that does not parse gives ``""`` (no address): it stops the
    walk rather than being skipped. A visitor's unterminated quote cannot
    swallow the elements the proxies appended after it: where the value
    stops parsing, the rest is read again from the next comma."""
    hops: list[str] = []
    pos, end = 0, len(value)
    while pos < end:
        while pos < end and value[pos] in " \t":
            pos += 1
        if pos < end and value[pos] == ",":  # an empty element (RFC 9110 5.6.1: ignored)
            pos += 1
            continue
        if pos == end:
            break
        node, ok = "", True
        params: set[str] = set()
        while True:
            match = _PAIR.match(value, pos)
            if match is None:
                ok = False
                break
            name = match["name"].lower()
            if name in params:  # RFC 7239 4: each parameter at most once per element
                ok = False
            params.add(name)
            if name == "for":
                quoted = match["quoted"]
                node = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match["token"]
            pos = match.end()
            if pos < end and value[pos] == ";":
                pos += 1
                continue
            break
        if ok and (pos == end or value[pos] == ","):
            hops.append(node)
            pos += 1
            continue
        # Not an element: skip to the next comma and start again there.
        hops.append("")
        comma = value.find(",", pos)
        if comma < 0:
            break
        pos = comma + 1
    return hops


def client_address(peer: str, headers: Mapping[str, str], trusted: TrustedProxies, header: str = "x-forwarded-for") -> str:
    """The address a request from ``peer`` with ``headers`` (lower-case
    names) stands for: ``peer`` itself unless it is a trusted proxy; then
    the right-most untrusted hop of ``header``, walking back through
    trusted ones."""
    current = canonical(peer)
    if current not in trusted:
        return current
    value = headers.get(header)
    if not value:
        return current
    hops = forwarded_for(value) if header == "forwarded" else x_forwarded_for(value)
    for hop in reversed(hops):
        found = node_address(hop)
        if found is None:
            return current  # the trusted hop that wrote it is all we know
        if found not in trusted:
            return found
        current = found
    return current
