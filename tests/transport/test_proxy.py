"""The PROXY protocol header parser (confchat.transport.proxy), on bytes alone.

The examples marked "HAProxy 2.6" are what Debian's haproxy wrote to a
capturing socket (``send-proxy``, ``send-proxy-v2``, a ``check-send-proxy``
health check, ``proxy-v2-options unique-id``); the others are the spec's
(haproxy ``doc/proxy-protocol.txt``) or built field by field from it.
"""

from __future__ import annotations

import pytest

from confchat.transport.proxy import V1_MAX_LINE, V2_SIGNATURE, ProxyHeader, ProxyHeaderError, parse

# HAProxy 2.6, send-proxy-v2: TCP over IPv4 from 127.0.0.9:32791 to 127.0.0.1:17803.
HAPROXY_V2_TCP4 = bytes.fromhex("0d0a0d0a000d0a515549540a" "2111000c" "7f000009" "7f000001" "8017" "458b")
# HAProxy 2.6, send-proxy-v2 with proxy-v2-options unique-id: TCP over IPv6
# from [::1]:35253 to [::1]:17801, then an empty UNIQUE_ID TLV (type 5), then IRC.
HAPROXY_V2_TCP6_TLV = bytes.fromhex(
    "0d0a0d0a000d0a515549540a" "21210027"
    "00000000000000000000000000000001" "00000000000000000000000000000001" "89b5" "4589"
    "050000"
) + b"NICK a\r\n"
# HAProxy 2.6, check-send-proxy with send-proxy-v2: a health check (LOCAL).
HAPROXY_V2_LOCAL = bytes.fromhex("0d0a0d0a000d0a515549540a" "20000000")
# HAProxy 2.6, send-proxy (version 1).
HAPROXY_V1_TCP4 = b"PROXY TCP4 127.0.0.9 127.0.0.1 41329 17803\r\nNICK b\r\n"
HAPROXY_V1_TCP6 = b"PROXY TCP6 ::1 ::1 39777 17801\r\nNICK a\r\n"
# The spec's example (section 2.1), before an HTTP request.
SPEC_V1 = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"


def v2(command: int, family: int, block: bytes) -> bytes:
    return V2_SIGNATURE + bytes((0x20 | command, family)) + len(block).to_bytes(2, "big") + block


# ------------------------------------------------------------------ version 1


def test_haproxy_v1_tcp4_gives_the_source_and_leaves_the_irc_bytes():
    header = parse(HAPROXY_V1_TCP4)
    assert header == ProxyHeader(1, ("127.0.0.9", 41329), ("127.0.0.1", 17803), 44)
    assert HAPROXY_V1_TCP4[header.length :] == b"NICK b\r\n"


def test_haproxy_v1_tcp6():
    header = parse(HAPROXY_V1_TCP6)
    assert header.source == ("::1", 39777) and header.destination == ("::1", 17801)
    assert HAPROXY_V1_TCP6[header.length :] == b"NICK a\r\n"


def test_the_spec_example():
    header = parse(SPEC_V1)
    assert header.source == ("192.168.0.1", 56324)
    assert SPEC_V1[header.length :].startswith(b"GET / HTTP/1.1\r\n")


def test_v1_longest_tcp6_line_is_accepted():
    full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    line = f"PROXY TCP6 {full} {full} 65535 65535\r\n".encode()
    assert len(line) == 104
    assert parse(line).source == (full, 65535)


@pytest.mark.parametrize("line", [b"PROXY UNKNOWN\r\n", b"PROXY UNKNOWN ffff::1 ffff::2 65535 65535\r\n"])
def test_v1_unknown_keeps_the_connection_s_own_address(line):
    header = parse(line + b"NICK x\r\n")
    assert header.source is None and header.destination is None
    assert header.length == len(line)


@pytest.mark.parametrize("cut", [1, 5, 6, 20, len(HAPROXY_V1_TCP4) - 10, 43])
def test_v1_incomplete_line_asks_for_more(cut):
    # 43 bytes: the CR is there, the LF not yet.
    assert parse(HAPROXY_V1_TCP4[:cut]) is None


@pytest.mark.parametrize(
    "data, why",
    [
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n", "lone LF"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rX\r\n", "lone CR"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n", "PROXY TCP4|TCP6|UNKNOWN"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 9\r\n", "PROXY TCP4|TCP6|UNKNOWN"),
        (b"PROXY  TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", "PROXY TCP4|TCP6|UNKNOWN"),
        (b"PROXY UDP4 192.168.0.1 192.168.0.11 56324 443\r\n", "PROXY TCP4|TCP6|UNKNOWN"),
        (b"PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n", "canonical IPv4"),  # leading zero: octal?
        (b"PROXY TCP4 ::1 ::1 56324 443\r\n", "canonical IPv4"),  # the family dictates the format
        (b"PROXY TCP6 192.168.0.1 ::1 56324 443\r\n", "canonical IPv6"),
        (b"PROXY TCP6 fe80::1%eth0 ::1 56324 443\r\n", "scope"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n", "leading zeros"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n", "0 to 65535"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n", "0 to 65535"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 \xd9\xa1 443\r\n", "US-ASCII"),  # an Arabic-Indic digit
        (b"PROXY TCP4 " + b"1" * 200, f"first {V1_MAX_LINE} bytes"),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 1" + b" " * 80 + b"\r\n", f"first {V1_MAX_LINE} bytes"),
        (b"proxy TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", "not a PROXY protocol header"),
        (b"NICK visitor\r\n", "not a PROXY protocol header"),
        (b"GET / HTTP/1.1\r\n", "not a PROXY protocol header"),
    ],
)
def test_bogus_v1_lines_are_refused_with_the_reason(data, why):
    with pytest.raises(ProxyHeaderError, match=why.replace("|", r"\|")):
        parse(data)


def test_a_client_that_talks_irc_first_is_refused_from_its_first_byte():
    with pytest.raises(ProxyHeaderError):
        parse(b"N")


# ------------------------------------------------------------------ version 2


def test_haproxy_v2_tcp4():
    assert parse(HAPROXY_V2_TCP4) == ProxyHeader(2, ("127.0.0.9", 32791), ("127.0.0.1", 17803), 28)


def test_haproxy_v2_tcp6_with_a_tlv_skips_the_tlv_and_leaves_the_irc_bytes():
    header = parse(HAPROXY_V2_TCP6_TLV)
    assert header.source == ("::1", 35253) and header.destination == ("::1", 17801)
    assert header.length == 16 + 0x27
    assert HAPROXY_V2_TCP6_TLV[header.length :] == b"NICK a\r\n"


def test_haproxy_v2_local_health_check_keeps_the_connection_s_own_address():
    assert parse(HAPROXY_V2_LOCAL) == ProxyHeader(2, None, None, 16)


def test_v2_local_ignores_whatever_family_and_addresses_it_carries():
    # "must not assume zero is presented for LOCAL connections"
    data = v2(0x0, 0x11, bytes(12)) + b"NICK x\r\n"
    assert parse(data) == ProxyHeader(2, None, None, 28)


@pytest.mark.parametrize(
    "family, block",
    [
        (0x00, b""),  # UNSPEC
        (0x00, b"ignored"),
        (0x31, bytes(216)),  # a Unix stream socket: no address an IRC server can use
    ],
)
def test_v2_proxy_without_an_ip_address_keeps_the_connection_s_own(family, block):
    header = parse(v2(0x1, family, block))
    assert header.source is None and header.length == 16 + len(block)


def test_v2_the_spec_s_ipv6_layout():
    src = bytes.fromhex("20010db8000000000000000000000001")
    dst = bytes.fromhex("20010db8000000000000000000000002")
    header = parse(v2(0x1, 0x21, src + dst + (4711).to_bytes(2, "big") + (6668).to_bytes(2, "big")))
    assert header.source == ("2001:db8::1", 4711) and header.destination == ("2001:db8::2", 6668)


@pytest.mark.parametrize("cut", [1, 11, 12, 13, 15, 16, 27])
def test_v2_incomplete_header_asks_for_more(cut):
    assert parse(HAPROXY_V2_TCP4[:cut]) is None


def test_v2_header_that_announces_more_than_arrived_asks_for_more():
    assert parse(HAPROXY_V2_TCP6_TLV[: 16 + 0x27 - 1]) is None


@pytest.mark.parametrize(
    "data, why",
    [
        (V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12), "version 1"),  # version nibble must be 2
        (V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12), "version 3"),
        (V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12), "neither LOCAL nor PROXY"),
        (v2(0x1, 0x41, bytes(12)), "not defined"),  # family 4
        (v2(0x1, 0x13, bytes(12)), "not defined"),  # protocol 3
        (v2(0x1, 0x12, bytes(12)), "datagram"),  # UDP over IPv4
        (v2(0x1, 0x11, bytes(11)), "12 needed"),  # too short for two IPv4 addresses and ports
        (v2(0x1, 0x21, bytes(12)), "36 needed"),  # an IPv4-sized block for IPv6
        (b"\r\n\r\n\x00\r\nQUIX\n!\x11\x00\x0c", "not a PROXY protocol header"),
        (b"\r\nNICK x\r\n", "not a PROXY protocol header"),
    ],
)
def test_bogus_v2_headers_are_refused_with_the_reason(data, why):
    with pytest.raises(ProxyHeaderError, match=why):
        parse(data)


def test_a_v2_header_is_at_most_its_16_bytes_plus_its_length():
    # Whatever the length field says, the header ends there: the rest is IRC.
    data = v2(0x1, 0x11, bytes.fromhex("c0000201c0000202") + b"\x12\x67\x1a\x0c" + b"\x04\x00\x02ab") + b"PING x\r\n"
    header = parse(data)
    assert header.source == ("192.0.2.1", 4711) and header.length == 16 + 17
    assert data[header.length :] == b"PING x\r\n"


def test_nothing_yet_asks_for_more():
    assert parse(b"") is None
