"""Config loading: defaults, the TOML walker, and every validation message."""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest
from argon2 import PasswordHasher

from confchat.config import (
    Config,
    ConfigError,
    LimitsSection,
    ListenSection,
    Oper,
    from_dict,
    load,
    parse_hostport,
    to_dict,
    with_overrides,
)
from confchat.configfile import COMMENTS, render

REPO = Path(__file__).resolve().parents[1]
HASH = PasswordHasher().hash("correct horse")


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        from_dict(data)
    return str(info.value)


# --- defaults and round trips ----------------------------------------------


def test_empty_document_gives_the_defaults() -> None:
    assert from_dict({}) == Config()


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("")
    assert load(path) == Config()


def test_file_values_are_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[server]\nname = "irc.example.org"\n'
        '[listen]\ntcp = ["0.0.0.0:6667", "[::]:6667"]\nhttp = ""\n'
        "[limits]\nmax_sendq = 1024\nping_timeout = 5\n"
        "[channels]\nusers_may_create = false\n"
        f'[[opers]]\nname = "alice"\npassword_hash = "{HASH}"\n'
    )
    config = load(path)
    assert config.server.name == "irc.example.org"
    assert config.server.network == "confchat"  # untouched keys keep defaults
    assert config.listen.tcp == ("0.0.0.0:6667", "[::]:6667")
    assert config.listen.http == ""
    assert config.limits.max_sendq == 1024
    assert config.limits.ping_timeout == 5.0
    assert isinstance(config.limits.ping_timeout, float)
    assert config.channels.users_may_create is False
    assert config.opers == (Oper(name="alice", password_hash=HASH),)


def test_to_dict_and_from_dict_are_inverse() -> None:
    config = Config(opers=(Oper("a", HASH), Oper("b", HASH)))
    data = to_dict(config)
    assert data["listen"]["tcp"] == ["127.0.0.1:6667"]
    assert data["opers"][1] == {"name": "b", "password_hash": HASH}
    assert from_dict(data) == config


# --- the example file and the commented renderer -----------------------------


def test_example_file_loads_to_the_defaults() -> None:
    assert load(REPO / "config.example.toml") == Config()


def test_example_file_is_what_the_renderer_writes() -> None:
    """Regenerate with: python -c 'from confchat.configfile import render;
    from confchat.config import Config; print(render(Config()), end="")' > config.example.toml"""
    assert (REPO / "config.example.toml").read_text() == render(Config())


def test_example_file_shows_every_key_with_its_comment() -> None:
    text = render(Config())
    for section, values in to_dict(Config()).items():
        if section in ("opers", "accounts", "conferences"):  # arrays of tables
            continue
        assert f"\n[{section}]\n" in text
        for key in values:
            comment = COMMENTS[f"{section}.{key}"].splitlines()[-1]
            assert f"# {comment}\n{key} = " in text


def test_every_schema_key_has_a_comment() -> None:
    """A field added to the schema needs its explanation in COMMENTS too."""
    attrs.resolve_types(Config)
    for field in attrs.fields(Config):
        assert field.name in COMMENTS
        is_array = typing.get_origin(field.type) is tuple
        section = typing.get_args(field.type)[0] if is_array else field.type
        for sub in attrs.fields(attrs.resolve_types(section)):
            assert f"{field.name}.{sub.name}" in COMMENTS, f"{field.name}.{sub.name}"


def test_rendered_opers_load_back() -> None:
    config = Config(opers=(Oper("admin", HASH),))
    text = render(config)
    assert "\n[[opers]]\n" in text
    assert from_dict(tomllib.loads(text)) == config


def test_placeholder_oper_is_commented_out_and_rejected_if_uncommented() -> None:
    text = render(Config())
    assert "# [[opers]]\n" in text
    assert "\n[[opers]]" not in text
    uncommented = text.replace("# [[opers]]", "[[opers]]").replace('# name = "admin"', 'name = "admin"')
    uncommented = uncommented.replace("# password_hash", "password_hash", 1)
    with pytest.raises(ConfigError, match=r"^opers\[0\]\.password_hash: expected an argon2id hash"):
        from_dict(tomllib.loads(uncommented))


# --- unknown and missing keys ------------------------------------------------


def test_unknown_top_level_key_lists_the_known_ones() -> None:
    assert error_of({"limtis": {}}) == (
        'unknown key "limtis" (known: server, listen, tls, limits, channels, logging, storage, history, branding, moderation, cluster, opers, accounts, conferences); '
        'did you mean "limits"?'
    )


def test_unknown_key_without_a_close_match_has_no_suggestion() -> None:
    assert error_of({"zzz": 1}) == (
        'unknown key "zzz" (known: server, listen, tls, limits, channels, logging, storage, history, branding, moderation, cluster, opers, accounts, conferences)'
    )


def test_unknown_key_in_a_section_names_the_section() -> None:
    message = error_of({"logging": {"formatt": "json"}})
    assert message == (
        'logging: unknown key "formatt" (known: format, level, log_personal_data); '
        'did you mean "format"?'
    )


def test_unknown_key_in_an_oper_names_its_index() -> None:
    message = error_of({"opers": [{"name": "a", "password_hash": HASH, "pw": "x"}]})
    assert message.startswith('opers[0]: unknown key "pw" (known: name, password_hash)')


def test_missing_required_key() -> None:
    assert error_of({"opers": [{"name": "admin"}]}) == "opers[0].password_hash: missing"
    assert error_of({"opers": [{"name": "a", "password_hash": HASH}, {}]}) == "opers[1].name: missing"


# --- types ---------------------------------------------------------------------


def test_section_must_be_a_table() -> None:
    assert error_of({"limits": 5}) == "limits: expected a table, got 5"


def test_string_for_an_integer() -> None:
    assert error_of({"limits": {"max_sendq": "256k"}}) == (
        'limits.max_sendq: expected a positive integer, got "256k"'
    )


def test_bool_is_not_an_integer() -> None:
    assert error_of({"limits": {"flood_burst": True}}) == (
        "limits.flood_burst: expected a positive integer, got true"
    )


def test_float_is_not_an_integer() -> None:
    assert error_of({"limits": {"nick_length": 30.5}}) == (
        "limits.nick_length: expected a positive integer, got 30.5"
    )


def test_integer_is_accepted_for_a_float() -> None:
    config = from_dict({"limits": {"flood_rate": 2}})
    assert config.limits.flood_rate == 2.0
    assert type(config.limits.flood_rate) is float


def test_bool_is_not_a_float() -> None:
    assert error_of({"limits": {"flood_rate": False}}) == (
        "limits.flood_rate: expected a positive number, got false"
    )


@pytest.mark.parametrize("value, shown", [(float("inf"), "inf"), (float("nan"), "nan")])
def test_non_finite_float_is_rejected(value: float, shown: str) -> None:
    assert error_of({"limits": {"ping_interval": value}}) == (
        f"limits.ping_interval: expected a positive number, got {shown}"
    )


def test_string_field_rejects_a_number() -> None:
    assert error_of({"server": {"motd": 42}}) == "server.motd: expected a string, got 42"


def test_bool_field_rejects_a_string() -> None:
    assert error_of({"channels": {"users_may_create": "yes"}}) == (
        'channels.users_may_create: expected true or false, got "yes"'
    )


def test_array_of_strings_rejects_a_number_item() -> None:
    assert error_of({"limits": {"connection_limit_exempt": ["10.0.0.1", 7]}}) == (
        "limits.connection_limit_exempt[1]: expected a string, got 7"
    )


def test_array_field_rejects_a_string() -> None:
    assert error_of({"listen": {"tcp": "127.0.0.1:6667"}}) == (
        'listen.tcp: expected an array of "host:port" strings, got "127.0.0.1:6667"'
    )


def test_toml_dates_are_shown_readably(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server]\nmotd = 1979-05-27\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: server.motd: expected a string, got date 1979-05-27"


# --- limits ----------------------------------------------------------------------


def test_negative_limit() -> None:
    assert error_of({"limits": {"max_sendq": -5}}) == (
        "limits.max_sendq: expected a positive integer, got -5"
    )


NUMERIC_LIMITS = [
    name
    for name, default in to_dict(LimitsSection()).items()
    if isinstance(default, (int, float)) and name != "max_connections_per_ip"
]


def test_numeric_limits_are_found() -> None:
    assert {"max_sendq", "flood_rate", "ping_timeout", "whowas_length"} <= set(NUMERIC_LIMITS)


@pytest.mark.parametrize("field", NUMERIC_LIMITS)
def test_zero_is_rejected_for_every_numeric_limit(field: str) -> None:
    kind = "integer" if isinstance(getattr(LimitsSection(), field), int) else "number"
    assert error_of({"limits": {field: 0}}) == f"limits.{field}: expected a positive {kind}, got 0"


def test_negative_float_limit() -> None:
    assert error_of({"limits": {"ping_timeout": -1.5}}) == (
        "limits.ping_timeout: expected a positive number, got -1.5"
    )


def test_zero_connections_per_ip_means_no_limit() -> None:
    assert from_dict({"limits": {"max_connections_per_ip": 0}}).limits.max_connections_per_ip == 0


def test_negative_connections_per_ip() -> None:
    assert error_of({"limits": {"max_connections_per_ip": -1}}) == (
        "limits.max_connections_per_ip: expected a non-negative integer (0: no limit), got -1"
    )


# --- logging ----------------------------------------------------------------------


def test_log_format_must_be_known() -> None:
    assert error_of({"logging": {"format": "xml"}}) == (
        'logging.format: expected one of "console", "json", got "xml"'
    )


def test_log_level_must_be_known() -> None:
    assert error_of({"logging": {"level": "verbose"}}) == (
        'logging.level: expected one of "debug", "info", "warning", "error", got "verbose"'
    )


@pytest.mark.parametrize("level", ["debug", "info", "warning", "error"])
def test_every_log_level_is_accepted(level: str) -> None:
    assert from_dict({"logging": {"level": level, "format": "json"}}).logging.level == level


# --- listen -------------------------------------------------------------------------


def test_bad_tcp_address_names_its_index() -> None:
    assert error_of({"listen": {"tcp": ["127.0.0.1:6667", "nonsense"]}}) == (
        'listen.tcp[1]: expected "host:port", got "nonsense"'
    )


def test_unbracketed_ipv6_tcp_address() -> None:
    assert error_of({"listen": {"tcp": ["::1:6667"]}}) == (
        'listen.tcp[0]: expected "host:port" with an IPv6 address in brackets, '
        'like "[::1]:6667", got "::1:6667"'
    )


def test_port_out_of_range() -> None:
    assert error_of({"listen": {"tcp": ["localhost:70000"]}}) == (
        'listen.tcp[0]: expected "host:port" with a port from 0 to 65535, got "localhost:70000"'
    )


def test_ipv6_addresses_are_accepted() -> None:
    config = from_dict({"listen": {"tcp": ["[::1]:6667", "[::]:6697"], "http": "[::1]:8080"}})
    assert config.listen.tcp == ("[::1]:6667", "[::]:6697")
    assert config.listen.http == "[::1]:8080"


def test_http_may_be_disabled() -> None:
    assert from_dict({"listen": {"http": ""}}).listen.http == ""


def test_bad_http_address() -> None:
    assert error_of({"listen": {"http": "8080"}}) == 'listen.http: expected "host:port", got "8080"'


def test_http_type_error_mentions_that_empty_disables() -> None:
    assert error_of({"listen": {"http": 8080}}) == (
        'listen.http: expected "host:port" or "" (disabled), got 8080'
    )


def test_nothing_to_listen_on() -> None:
    assert error_of({"listen": {"tcp": [], "http": ""}}) == (
        'listen: nothing to listen on (tcp and tls are empty, http and https are "")'
    )


def test_http_only_is_allowed() -> None:
    assert from_dict({"listen": {"tcp": []}}).listen.tcp == ()


# --- server and opers ---------------------------------------------------------------


def test_server_name_without_spaces() -> None:
    assert error_of({"server": {"name": "my server"}}) == (
        'server.name: expected a server name without spaces, got "my server"'
    )
    assert error_of({"server": {"name": ""}}) == (
        'server.name: expected a server name without spaces, got ""'
    )


def test_opers_must_be_an_array_of_tables() -> None:
    assert error_of({"opers": {"name": "admin", "password_hash": HASH}}) == (
        "opers: expected an array of tables ([[opers]]), got a table"
    )


def test_oper_entry_must_be_a_table() -> None:
    assert error_of({"opers": ["admin"]}) == 'opers[0]: expected a table, got "admin"'


def test_plain_text_password_hash_is_rejected_without_echoing_it() -> None:
    message = error_of({"opers": [{"name": "admin", "password_hash": "hunter2"}]})
    assert message == (
        'opers[0].password_hash: expected an argon2id hash as printed by "confchat passwd", '
        "got something else"
    )
    assert "hunter2" not in message


def test_duplicate_oper_names() -> None:
    oper = {"name": "admin", "password_hash": HASH}
    assert error_of({"opers": [oper, oper]}) == 'opers[1].name: duplicate oper name "admin"'


def test_oper_name_without_spaces() -> None:
    assert error_of({"opers": [{"name": "the admin", "password_hash": HASH}]}) == (
        'opers[0].name: expected a name without spaces, got "the admin"'
    )


# --- load(): files -----------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a config file"


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[server]\nname = "ok"\nmotd = \n')
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}:3:8: invalid TOML: Invalid value"


def test_toml_duplicate_key_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[limits]\nmax_sendq = 1\n\nmax_sendq = 2\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}:4:")
    assert "invalid TOML" in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b'[server]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}:2: not UTF-8 text; save the file as UTF-8"


def test_validation_errors_from_a_file_start_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[limits]\nmax_sendq = -5\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: limits.max_sendq: expected a positive integer, got -5"
    assert info.value.__cause__ is None and info.value.__suppress_context__


# --- parse_hostport -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("127.0.0.1:6667", ("127.0.0.1", 6667)),
        ("localhost:0", ("localhost", 0)),
        ("irc.example.org:65535", ("irc.example.org", 65535)),
        ("[::1]:6667", ("::1", 6667)),
        ("[::]:80", ("::", 80)),
        ("[fe80::1%eth0]:6667", ("fe80::1%eth0", 6667)),
    ],
)
def test_parse_hostport_accepts(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize(
    "text, problem",
    [
        ("nonsense", 'expected "host:port", got "nonsense"'),
        ("", 'expected "host:port", got ""'),
        (":6667", 'expected "host:port" with a host ("0.0.0.0" or "[::]" for all interfaces)'),
        ("host:", 'expected "host:port" with a port from 0 to 65535'),
        ("host:port", 'expected "host:port" with a port from 0 to 65535'),
        ("host:-1", 'expected "host:port" with a port from 0 to 65535'),
        ("host:123456", 'expected "host:port" with a port from 0 to 65535'),
        ("::1:6667", 'expected "host:port" with an IPv6 address in brackets'),
        ("[::1]", 'expected "[IPv6 address]:port", got "[::1]"'),
        ("[nope]:6667", 'expected "[IPv6 address]:port", got "[nope]:6667"'),
        ("[127.0.0.1]:6667", 'expected "[IPv6 address]:port"'),
        ("300.1.2.3:6667", 'expected "host:port" with a valid host name or address'),
        ("bad host:6667", 'expected "host:port" with a valid host name or address'),
        ("*:6667", 'expected "host:port" with a valid host name or address'),
    ],
)
def test_parse_hostport_rejects(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_hostport(text)
    assert str(info.value).startswith(problem)


# --- with_overrides ------------------------------------------------------------------------


def test_overrides_replace_values() -> None:
    base = Config(listen=ListenSection(tcp=("127.0.0.1:6667", "127.0.0.1:6668")))
    config = with_overrides(
        base,
        tcp=["0.0.0.0:7000"],
        http="",
        name="irc.example.org",
        data_dir="/var/lib/confchat",
        log_format="json",
    )
    assert config.listen.tcp == ("0.0.0.0:7000",)  # replaced, not extended
    assert config.listen.http == ""
    assert config.server.name == "irc.example.org"
    assert config.server.data_dir == "/var/lib/confchat"
    assert config.logging.format == "json"
    assert base.listen.tcp == ("127.0.0.1:6667", "127.0.0.1:6668")  # frozen original untouched


def test_no_overrides_keep_the_config() -> None:
    base = Config(opers=(Oper("admin", HASH),))
    assert with_overrides(base) == base


def test_bad_override_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        with_overrides(Config(), tcp=["127.0.0.1:1", "bogus"])
    assert str(info.value) == 'listen.tcp[1]: expected "host:port", got "bogus"'
    with pytest.raises(ConfigError) as info:
        with_overrides(Config(), log_format="xml")
    assert str(info.value) == 'logging.format: expected one of "console", "json", got "xml"'


def test_tcp_override_must_not_be_a_bare_string() -> None:
    with pytest.raises(TypeError):
        with_overrides(Config(), tcp="127.0.0.1:6667")  # type: ignore[arg-type]


# --- accounts and conferences -----------------------------------------------


def test_accounts_and_conferences_load() -> None:
    config = from_dict(
        {
            "accounts": [{"name": "alice", "password_hash": HASH}, {"name": "mayor", "password_hash": HASH}],
            "conferences": [
                {"channel": "#townhall", "title": "Ask the mayor", "moderators": ["alice"], "guests": ["Mayor"],
                 "starts": "2026-12-01T18:00:00+01:00"}
            ],
        }
    )
    conf = config.conferences[0]
    assert (conf.channel, conf.moderators, conf.guests, conf.mode, conf.auditorium) == (
        "#townhall", ("alice",), ("Mayor",), "moderated", True
    )


@pytest.mark.parametrize(
    "conference, message",
    [
        ({"channel": "townhall", "title": "t"}, 'conferences[0].channel: expected a channel name starting with "#"'),
        ({"channel": "#a", "title": "t", "mode": "loose"}, "conferences[0].mode: expected one of"),
        ({"channel": "#a", "title": "t", "state": "done"}, "conferences[0].state: expected one of"),
        ({"channel": "#a", "title": "t", "starts": "18:00"}, "conferences[0].starts: expected an ISO 8601 time"),
        ({"channel": "#a", "title": "t", "starts": "2026-12-01T18:00:00"}, "conferences[0].starts: expected an ISO"),
        ({"channel": "#a", "title": "t", "guests": ["bob"]}, 'conferences[0].guests[0]: no account named "bob"'),
        ({"title": "t"}, "conferences[0].channel: missing"),
    ],
)
def test_bad_conference_names_the_key(conference: dict, message: str) -> None:
    assert error_of({"accounts": [{"name": "alice", "password_hash": HASH}], "conferences": [conference]}).startswith(
        message
    )


def test_duplicate_accounts_are_refused_case_insensitively() -> None:
    message = error_of({"accounts": [{"name": "Bob", "password_hash": HASH}, {"name": "bob", "password_hash": HASH}]})
    assert message == 'accounts[1].name: duplicate account "bob"'


def test_cluster_section_checks_its_values() -> None:
    assert from_dict({"cluster": {"redis_url": "redis://127.0.0.1:6390/0", "workers": 2}}).cluster.workers == 2
    assert "redis_url" in error_of({"cluster": {"redis_url": "http://x"}})
    assert "from 1 to 64" in error_of({"cluster": {"workers": 0}})
