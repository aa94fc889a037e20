"""IRCv3 STS in the core (core/caps.py): which ``sts`` value each connection
is offered, plain or TLS, by SNI name, over TCP or WebSocket; and that a
client cannot request it."""

from __future__ import annotations

import pytest

from confchat.core.caps import StsPolicy, ls_string
from confchat.core.outbox import Outbox

from helpers import Conn, Net, one


def connect(net: Net, tls: str | None, transport: str = "tcp") -> Conn:
    outbox = Outbox(net.config.limits.max_sendq)
    client = net.server.connect("192.0.2.7", outbox, transport, tls)
    assert client is not None
    return Conn(net, client, outbox)


def caps_offered(conn: Conn, version: str = "302") -> dict[str, str]:
    reply = one(conn.ask(f"CAP LS {version}"), "CAP")
    assert reply.params[1] == "LS"
    offered: dict[str, str] = {}
    for token in reply.params[-1].split():
        name, _, value = token.partition("=")
        offered[name] = value
    return offered


def test_the_policy_parts_follow_the_connection() -> None:
    policy = StsPolicy(6697, 2592000)
    assert policy.value(None) == "port=6697"  # plain: the upgrade policy
    assert policy.value("chat.city.example") == "duration=2592000"  # TLS, named: persistence
    assert policy.value("") is None  # TLS by address, no SNI: none (the spec's SHOULD NOT)


def test_preload_and_the_host_list() -> None:
    policy = StsPolicy(6697, 60, preload=True, hosts=frozenset({"Chat.City.Example"}))
    assert policy.value("chat.city.example") == "duration=60,preload"
    assert policy.value("CHAT.city.example") == "duration=60,preload"
    assert policy.value("other.city.example") is None
    assert policy.value(None) == "port=6697"  # no SNI on a plain connection: the port still


def test_ls_string_lists_sts_with_its_value_for_302_only() -> None:
    assert ls_string(302, "port=6697").split()[-1] == "sts=port=6697"
    assert "sts" not in ls_string(301, "port=6697").split()
    assert not any(token.startswith("sts") for token in ls_string(302).split())


def test_plain_tcp_client_is_sent_to_the_tls_port() -> None:
    net = Net()
    net.server.sts = StsPolicy(6697, 300)
    assert caps_offered(connect(net, None))["sts"] == "port=6697"


def test_tls_client_gets_the_persistence_policy() -> None:
    net = Net()
    net.server.sts = StsPolicy(6697, 300)
    assert caps_offered(connect(net, "chat.city.example"))["sts"] == "duration=300"


def test_tls_client_without_a_name_gets_no_policy() -> None:
    net = Net()
    net.server.sts = StsPolicy(6697, 300)
    assert "sts" not in caps_offered(connect(net, ""))


@pytest.mark.parametrize("tls", [None, "chat.city.example"])
def test_websocket_clients_get_no_sts(tls: str | None) -> None:
    net = Net()
    net.server.sts = StsPolicy(6697, 300)
    assert "sts" not in caps_offered(connect(net, tls, "websocket"))


def test_no_policy_no_sts() -> None:
    net = Net()  # the shell sets none without TLS listeners or with tls.sts = false
    assert "sts" not in caps_offered(connect(net, None))


def test_cap_ls_without_302_has_no_sts() -> None:
    net = Net()
    net.server.sts = StsPolicy(6697, 300)
    assert "sts" not in caps_offered(connect(net, None), version="")


def test_requesting_sts_is_refused() -> None:
    net = Net()
    net.server.sts = StsPolicy(6697, 300)
    conn = connect(net, None)
    conn.ask("CAP LS 302")
    reply = one(conn.ask("CAP REQ :sts"), "CAP")
    assert reply.params[1:] == ("NAK", "sts")
    assert "sts" not in conn.client.caps
