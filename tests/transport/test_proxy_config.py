"""Configuring trusted proxies (listen.trusted_proxies, forwarded_header,
proxy_protocol, limits.proxy_header_timeout): what is accepted, what is
refused with the key named, and the startup banner for proxied listeners and
listeners on all interfaces."""

from __future__ import annotations

import socket

import pytest

from confchat.app import Running, _announce, machine_addresses
from confchat.config import Config, ConfigError, from_dict


def test_the_defaults_trust_nobody():
    listen = Config().listen
    assert listen.trusted_proxies == () and listen.proxy_protocol == ()
    assert listen.forwarded_header == "x-forwarded-for"
    assert Config().limits.proxy_header_timeout == 5.0


def test_addresses_ranges_and_proxy_listeners_are_accepted():
    config = from_dict({
        "listen": {
            "trusted_proxies": ["127.0.0.1", "10.0.0.0/8", "2001:db8::/32", "::1"],
            "forwarded_header": "forwarded",
            "proxy_protocol": ["127.0.0.1:6668", "[::1]:6668"],
        },
        "limits": {"proxy_header_timeout": 3},
    })
    assert config.listen.proxy_protocol == ("127.0.0.1:6668", "[::1]:6668")
    assert config.listen.forwarded_header == "forwarded"


@pytest.mark.parametrize(
    "listen, message",
    [
        ({"trusted_proxies": ["10.0.0.0/33"]}, 'listen.trusted_proxies[0]: expected an address or a CIDR range like "10.0.0.0/8", got "10.0.0.0/33"'),
        ({"trusted_proxies": ["127.0.0.1", "nginx.local"]}, 'listen.trusted_proxies[1]: expected an address or a CIDR range'),
        ({"trusted_proxies": "127.0.0.1"}, "listen.trusted_proxies: expected an array of addresses or CIDR ranges"),
        ({"forwarded_header": "x-real-ip"}, 'listen.forwarded_header: expected one of "x-forwarded-for", "forwarded"'),
        ({"trusted_proxies": ["127.0.0.1"], "proxy_protocol": ["6668"]}, 'listen.proxy_protocol[0]: expected "host:port"'),
        ({"proxy_protocol": ["127.0.0.1:6668"]}, "listen: proxy_protocol listeners need trusted_proxies"),
    ],
)
def test_mistakes_name_the_key(listen, message):
    with pytest.raises(ConfigError) as caught:
        from_dict({"listen": listen})
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_zero_proxy_header_timeout_is_refused():
    with pytest.raises(ConfigError, match="limits.proxy_header_timeout: expected a positive number"):
        from_dict({"limits": {"proxy_header_timeout": 0}})


def test_only_proxy_listeners_is_something_to_listen_on():
    config = from_dict({"listen": {"tcp": [], "http": "", "trusted_proxies": ["127.0.0.1"], "proxy_protocol": ["127.0.0.1:6668"]}})
    assert config.listen.tcp == ()


# ---------------------------------------------------------------- the banner


def banner(capsys, **addresses) -> str:
    running = Running(None, addresses.pop("tcp", []), None, None, addresses.pop("http", []), addresses.pop("proxy", []))
    _announce(running, Config())
    return capsys.readouterr().out


def test_the_banner_names_the_proxy_listener(capsys):
    out = banner(capsys, tcp=[("127.0.0.1", 6667)], proxy=[("127.0.0.1", 6668)])
    assert "  IRC over TCP:        irc://127.0.0.1:6667" in out
    assert "  IRC via TCP proxy:   irc://127.0.0.1:6668   (PROXY protocol, from listen.trusted_proxies only)" in out


def test_a_listener_on_all_interfaces_is_shown_by_name_and_addresses_never_0_0_0_0(capsys):
    out = banner(capsys, tcp=[("0.0.0.0", 6667)], http=[("0.0.0.0", 8080)])
    assert "0.0.0.0" not in out
    name = socket.gethostname()
    assert f"irc://{name}:6667" in out and f"http://{name}:8080/" in out and f"ws://{name}:8080/ws" in out
    addresses = machine_addresses(socket.AF_INET)
    assert "127.0.0.1" in addresses
    assert "all addresses of this machine: " + "  ".join(f"http://{a}:8080/" for a in addresses) in out


def test_machine_addresses_are_of_the_family_asked_and_never_link_local():
    for family, loopback in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        found = machine_addresses(family)
        assert found[-1] == loopback or loopback in found
        assert all((":" in a) == (family == socket.AF_INET6) for a in found)
        assert not any(a.startswith("fe80") or a.startswith("169.254.") for a in found)
