"""The PROXY protocol, versions 1 and 2 (HAProxy's ``proxy-protocol.txt``), sans IO.

A TCP proxy (HAProxy's ``send-proxy`` / ``send-proxy-v2``) writes one header
in front of everything its client sends, giving the client's address. This
module only reads that header out of bytes: :func:`parse` is handed what the
connection has sent so far and answers

* ``None``: not enough bytes yet (keep reading, within the timeout);
* a :class:`ProxyHeader`: the header, and how many bytes it took (the rest
  is the client's first IRC bytes);
* or raises :class:`ProxyHeaderError`: not a valid header. The spec says to
  drop the connection then, never to guess that the header was left out.

Which listeners expect a header, from which peers, and how long they wait
for it is the transport's business (:mod:`.tcp`).
"""

from __future__ import annotations

import ipaddress

import attrs

#: Version 2 starts with these 12 bytes (a NUL inside: not a C string).
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX = b"PROXY "
#: The longest version 1 line, CRLF included (the spec's worst case,
#: "PROXY UNKNOWN" with two full IPv6 addresses and ports): past it without
#: a CRLF the line is invalid.
V1_MAX_LINE = 107
V2_FIXED = 16  # signature, version and command, family, length

_V2_LOCAL, _V2_PROXY = 0x0, 0x1
_AF_UNSPEC, _AF_INET, _AF_INET6, _AF_UNIX = 0x0, 0x1, 0x2, 0x3
_STREAM = 0x1
# Address bytes each family needs for TCP: two addresses and two ports.
_ADDRESS_BYTES = {_AF_INET: 4 + 4 + 2 + 2, _AF_INET6: 16 + 16 + 2 + 2}


class ProxyHeaderError(ValueError):
    """What was received is not a valid PROXY protocol header."""


@attrs.frozen
class ProxyHeader:
    version: int  # 1 or 2
    #: The client's (address, port), or None where the header says to use
    #: the connection's own endpoints: a v2 LOCAL command (the proxy's own
    #: health check), v1 UNKNOWN, an unspecified or Unix-socket family.
    source: tuple[str, int] | None
    destination: tuple[str, int] | None
    length: int  # bytes of the header, to skip


def parse(data: bytes) -> ProxyHeader | None:
    """The PROXY header at the start of ``data``; None if more bytes are
    needed. Raises :class:`ProxyHeaderError` as soon as ``data`` cannot be
    the start of a valid header."""
    if data[:12] == V2_SIGNATURE[: len(data)] and data[:1] == b"\r":
        return _parse_v2(data)
    if data[:6] == V1_PREFIX[: len(data)]:
        return _parse_v1(data)
    raise ProxyHeaderError("not a PROXY protocol header")


def _parse_v1(data: bytes) -> ProxyHeader | None:
    end = data.find(b"\n", 0, V1_MAX_LINE)
    if end < 0:
        if len(data) >= V1_MAX_LINE:
            raise ProxyHeaderError(f"version 1 line without CRLF in its first {V1_MAX_LINE} bytes")
        if b"\r" in data[:-1]:
            raise ProxyHeaderError("version 1 line ends with a lone CR")
        return None
    if end == 0 or data[end - 1 : end] != b"\r":
        raise ProxyHeaderError("version 1 line ends with a lone LF, not CRLF")
    line = data[: end - 1]
    if b"\r" in line:
        raise ProxyHeaderError("version 1 line holds a lone CR")
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise ProxyHeaderError("version 1 line is not US-ASCII") from None
    fields = text.split(" ")
    length = end + 1
    if len(fields) >= 2 and fields[1] == "UNKNOWN":
        # "the receiver must ignore anything presented before the CRLF"
        return ProxyHeader(1, None, None, length)
    if len(fields) != 6 or fields[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError(f"version 1 line is not PROXY TCP4|TCP6|UNKNOWN <src> <dst> <sport> <dport>: {text!r}")
    _, family, src, dst, sport, dport = fields
    version = 4 if family == "TCP4" else 6
    return ProxyHeader(1, (_v1_address(src, version), _v1_port(sport)), (_v1_address(dst, version), _v1_port(dport)), length)


def _v1_address(text: str, version: int) -> str:
    try:
        address = ipaddress.IPv4Address(text) if version == 4 else ipaddress.IPv6Address(text)
    except ValueError:  # leading zeros included: ipaddress refuses them (octal confusion)
        raise ProxyHeaderError(f"version 1 address {text!r} is not a canonical IPv{version} address") from None
    if version == 6 and "%" in text:
        raise ProxyHeaderError(f"version 1 address {text!r} carries a scope")
    return str(address)


def _v1_port(text: str) -> int:
    if not text.isdigit() or not text.isascii() or (len(text) > 1 and text[0] == "0") or int(text) > 65535:
        raise ProxyHeaderError(f"version 1 port {text!r} is not a decimal from 0 to 65535 without leading zeros")
    return int(text)


def _parse_v2(data: bytes) -> ProxyHeader | None:
    if len(data) < V2_FIXED:
        return None
    version, command = data[12] >> 4, data[12] & 0x0F
    if version != 2:
        raise ProxyHeaderError(f"version 2 signature with version {version}")
    if command not in (_V2_LOCAL, _V2_PROXY):
        raise ProxyHeaderError(f"version 2 command {command:#x} is neither LOCAL nor PROXY")
    family, protocol = data[13] >> 4, data[13] & 0x0F
    size = int.from_bytes(data[14:16], "big")
    length = V2_FIXED + size
    if len(data) < length:
        return None
    if command == _V2_LOCAL:
        # The proxy's own connection (a health check): the family and
        # addresses are ignored, the connection's endpoints stand.
        return ProxyHeader(2, None, None, length)
    if family > _AF_UNIX or protocol > 0x2:
        raise ProxyHeaderError(f"version 2 family and protocol {data[13]:#04x} are not defined")
    if family in (_AF_UNSPEC, _AF_UNIX) or protocol == 0:
        # Nothing an IRC server can use as an address: the endpoints stand.
        return ProxyHeader(2, None, None, length)
    if protocol != _STREAM:
        raise ProxyHeaderError("version 2 header forwards a datagram connection to a stream listener")
    need = _ADDRESS_BYTES[family]
    if size < need:
        raise ProxyHeaderError(f"version 2 address block of {size} bytes, {need} needed for its family")
    block = data[V2_FIXED : V2_FIXED + need]
    width = 4 if family == _AF_INET else 16
    make = ipaddress.IPv4Address if family == _AF_INET else ipaddress.IPv6Address
    src, dst = make(block[:width]), make(block[width : 2 * width])
    sport = int.from_bytes(block[2 * width : 2 * width + 2], "big")
    dport = int.from_bytes(block[2 * width + 2 : 2 * width + 4], "big")
    # What follows the addresses (TLVs: ALPN, authority, SSL details, ...)
    # is skipped: the spec lets a receiver ignore it.
    return ProxyHeader(2, (str(src), sport), (str(dst), dport), length)
