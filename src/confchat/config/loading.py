"""Loading and checking the configuration: TOML in, a :class:`Config` out,
or a :class:`ConfigError` that names the key and the problem."""
from __future__ import annotations

import datetime
import difflib
import ipaddress
import json
import math
import os
import re
import tomllib
import typing
from collections.abc import Sequence
from typing import Any

from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError

import attrs

from ..proto.casemap import casefold, is_valid_channel, is_valid_nick
from ..vocab import QuestionOrder, values


from .sections import (
    CONFERENCE_STATES,
    ROOM_MODES,
    SYNCHRONOUS,
    TRANSCRIPT_FORMATS,
    Account,
    BrandingSection,
    Config,
    ConferenceConfig,
    HistorySection,
    LimitsSection,
    ListenSection,
    LoggingSection,
    Oper,
    ServerSection,
    StorageSection,
    ClusterSection,
    TlsSection,
)
# --------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------
#
# The walker below is generic: it reads the attrs fields and their resolved
# type annotations, so a field added to a section above is loadable from TOML
# with no further code. Only value rules that types cannot express (positive
# limits, enumerations, "host:port") are listed by hand, in ``_what`` and
# ``_check_value``.


class ConfigError(Exception):
    """A configuration the server cannot run with.

    The message names the offending key and the problem, and is meant to be
    shown to the operator as is (``confchat: config error: <message>``),
    never with a traceback.
    """


LOG_FORMATS = ("console", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")

_PORT = re.compile(r"[0-9]{1,5}")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_TOML_POSITION = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$", re.S)


def parse_hostport(text: str) -> tuple[str, int]:
    """Split ``"host:port"`` into ``(host, port)``; IPv6 hosts go in brackets.

    ``"[::1]:6667"`` gives ``("::1", 6667)``. Port 0 is accepted (the system
    picks a free port, which tests rely on). Raises ``ValueError`` whose
    message is the problem alone (``expected "host:port", got "x"``) so that
    callers can prefix it with the key or option it came from.
    """
    shown = _show(text)
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ValueError(f'expected "host:port", got {shown}')
    if host.startswith("[") or host.endswith("]"):
        inner = host[1:-1] if host.startswith("[") and host.endswith("]") else ""
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise ValueError(f'expected "[IPv6 address]:port", got {shown}') from None
        host = inner
    elif ":" in host:
        raise ValueError(
            f'expected "host:port" with an IPv6 address in brackets, like "[::1]:6667", got {shown}'
        )
    elif not host:
        raise ValueError(
            'expected "host:port" with a host ("0.0.0.0" or "[::]" for all interfaces), '
            f"got {shown}"
        )
    elif not _is_host(host):
        raise ValueError(f'expected "host:port" with a valid host name or address, got {shown}')
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise ValueError(f'expected "host:port" with a port from 0 to 65535, got {shown}')
    return host, int(port_text)


def _is_host(host: str) -> bool:
    """A host name or a dotted IPv4 address (digits and dots must be valid IPv4)."""
    if not _HOSTNAME.fullmatch(host):
        return False
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
    return True


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML config file.

    Every failure (missing file, TOML syntax, a bad value) becomes a
    ``ConfigError`` whose message starts with the file name, so the CLI can
    print it without a traceback.
    """
    name = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: is a directory, not a config file") from None
    except OSError as e:
        raise ConfigError(f"{name}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        line = e.object[: e.start].count(b"\n") + 1
        raise ConfigError(f"{name}:{line}: not UTF-8 text; save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{name}{_toml_position(e)}: invalid TOML: {_toml_message(e)}") from None
    try:
        return from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{name}: {e}") from None


def _toml_position(error: tomllib.TOMLDecodeError) -> str:
    """``":LINE:COLUMN"`` for a TOML syntax error, the way editors jump to it."""
    line = getattr(error, "lineno", None)  # Python 3.14+
    col = getattr(error, "colno", None)
    if line is None:
        m = _TOML_POSITION.match(str(error))
        if m is None:
            return ""
        line, col = m["line"], m["col"]
    return f":{line}:{col}"


def _toml_message(error: tomllib.TOMLDecodeError) -> str:
    """The syntax error without the position, which ``_toml_position`` gives."""
    msg = getattr(error, "msg", None)
    if isinstance(msg, str):
        return msg
    m = _TOML_POSITION.match(str(error))
    return m["msg"] if m else str(error)


def from_dict(data: dict[str, Any]) -> Config:
    """Build a validated ``Config`` from parsed TOML (nested dicts and lists).

    Missing keys take their defaults; unknown keys are errors, since a typo
    would otherwise silently leave a setting at its default.
    """
    return _build(Config, data, "")


def with_overrides(
    config: Config,
    *,
    tcp: Sequence[str] | None = None,
    http: str | None = None,
    name: str | None = None,
    data_dir: str | None = None,
    log_format: str | None = None,
) -> Config:
    """Return ``config`` with command-line overrides applied (``None``: keep).

    ``tcp`` replaces the configured list rather than adding to it. The
    result is validated like a loaded file, so a bad override raises
    ``ConfigError`` naming the key it would have set.
    """
    if isinstance(tcp, str):
        raise TypeError("tcp must be a sequence of strings, not a string")
    listen, server, logging_ = config.listen, config.server, config.logging
    if tcp is not None:
        listen = attrs.evolve(listen, tcp=tuple(tcp))
    if http is not None:
        listen = attrs.evolve(listen, http=http)
    if name is not None:
        server = attrs.evolve(server, name=name)
    if data_dir is not None:
        server = attrs.evolve(server, data_dir=data_dir)
    if log_format is not None:
        logging_ = attrs.evolve(logging_, format=log_format)
    result = attrs.evolve(config, listen=listen, server=server, logging=logging_)
    return from_dict(to_dict(result))


def to_dict(obj: Any) -> Any:
    """An attrs config (or section) as plain TOML data: dicts, lists, scalars.

    The inverse of ``from_dict``: ``from_dict(to_dict(c)) == c``.
    """
    if attrs.has(type(obj)):
        return {f.name: to_dict(getattr(obj, f.name)) for f in attrs.fields(type(obj))}
    if isinstance(obj, (tuple, list)):
        return [to_dict(item) for item in obj]
    return obj


def _build(cls: type[Any], data: object, path: str) -> Any:
    """Instantiate the attrs class ``cls`` from the TOML table ``data``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{_prefix(path)}expected a table, got {_show(data)}")
    fields = attrs.fields(attrs.resolve_types(cls))
    known = [f.name for f in fields]
    for key in data:
        if key not in known:
            hint = difflib.get_close_matches(key, known, n=1)
            did_you_mean = f'; did you mean "{hint[0]}"?' if hint else ""
            raise ConfigError(
                f'{_prefix(path)}unknown key {_show(key)} (known: {", ".join(known)}){did_you_mean}'
            )
    kwargs: dict[str, Any] = {}
    for field in fields:
        key_path = _join(path, field.name)
        if field.name not in data:
            if field.default is attrs.NOTHING:
                raise ConfigError(f"{key_path}: missing")
            continue
        what = _what(cls, field.name, field.type)
        raw = data[field.name]
        value = _convert(field.type, raw, key_path, what)
        _check_value(cls, field.name, value, key_path, f"expected {what}, got {_show(raw)}")
        kwargs[field.name] = value
    obj = cls(**kwargs)
    _check_object(obj, path)
    return obj


def _convert(tp: Any, value: object, path: str, what: str | None = None) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert it."""
    what = what or _describe(tp)
    if attrs.has(tp):
        return _build(tp, value, path)
    if typing.get_origin(tp) is dict:
        # A table whose keys its user defines (a policy's options): checked
        # where it is used, kept as TOML gave it.
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected {what}, got {_show(value)}")
        return dict(value)
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"unsupported config annotation {tp!r} at {path}")
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected {what}, got {_show(value)}")
        return tuple(_convert(args[0], item, f"{path}[{i}]") for i, item in enumerate(value))
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)  # type: ignore[arg-type]
            ok = math.isfinite(value)
    elif tp is str:
        ok = isinstance(value, str)
    else:
        raise TypeError(f"unsupported config annotation {tp!r} at {path}")
    if not ok:
        raise ConfigError(f"{path}: expected {what}, got {_show(value)}")
    return value


def _describe(tp: Any) -> str:
    """How an error message names what a type expects ("an integer")."""
    if attrs.has(tp) or typing.get_origin(tp) is dict:
        return "a table"
    if typing.get_origin(tp) is tuple:
        item = typing.get_args(tp)[0]
        if attrs.has(item):
            return "an array of tables"
        if typing.get_origin(item) is dict:
            return "an array of tables"
        return {str: "an array of strings", int: "an array of integers"}.get(item, "an array")
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        tp, repr(tp)
    )


# Fields that take one of a closed list of values.
CHOICES: dict[tuple[type[Any], str], tuple[str, ...]] = {
    (StorageSection, "synchronous"): SYNCHRONOUS,
    (LoggingSection, "format"): LOG_FORMATS,
    (LoggingSection, "level"): LOG_LEVELS,
    (BrandingSection, "language"): ("en", "fr"),
    (ListenSection, "forwarded_header"): ("x-forwarded-for", "forwarded"),
    (ConferenceConfig, "state"): CONFERENCE_STATES,
    (ConferenceConfig, "mode"): ROOM_MODES,
    (ConferenceConfig, "sort"): values(QuestionOrder),
    (TlsSection, "min_version"): ("1.2", "1.3"),
}


def _what(cls: type[Any], name: str, tp: Any) -> str | None:
    """A field-specific description of valid values, used for type errors too.

    So ``max_sendq = "big"`` and ``max_sendq = -5`` both say "expected a
    positive integer", which tells the operator everything at once.
    """
    choices = CHOICES.get((cls, name))
    if choices is not None:
        return "one of " + ", ".join(f'"{v}"' for v in choices)
    if cls is LimitsSection and tp in (int, float):
        if name == "max_connections_per_ip":
            return "a non-negative integer (0: no limit)"
        return "a positive integer" if tp is int else "a positive number"
    if cls is ClusterSection and name == "redis_url":
        return 'a Redis URL like "redis://127.0.0.1:6379/0" or ""'
    if cls is ClusterSection and name == "sentinels":
        return 'an array of "host:port" strings'
    if cls is ClusterSection and name == "worker_metrics":
        return '"host:port" (worker 1\'s; the next ones follow) or ""'
    if cls is ClusterSection and name == "log_retention":
        return "a number of seconds (0: keep the whole log)"
    if cls is ClusterSection and name == "workers":
        return "a number of processes from 1 to 64"
    if cls is StorageSection and name == "transcripts":
        return "an array of " + ", ".join(f'"{v}"' for v in TRANSCRIPT_FORMATS)
    if cls is StorageSection and name == "retention_days":
        return "a number of days (0: keep forever)"
    if cls is StorageSection and name == "path":
        return "a file path"
    if cls is HistorySection and name == "join_backlog":
        return "a number of messages (0: none)"
    if cls is HistorySection and name == "chathistory_limit":
        return "a positive number of messages"
    if cls is ListenSection and name == "http":
        return '"host:port" or "" (disabled)'
    if cls is ListenSection and name == "websocket_origins":
        return 'an array of origins like "https://www.example.org"'
    if cls is BrandingSection and name == "public_url":
        return 'an address like "https://chat.city.example" or ""'
    if cls is ListenSection and name == "tcp":
        return 'an array of "host:port" strings'
    if cls is ListenSection and name == "proxy_protocol":
        return 'an array of "host:port" strings'
    if cls is ListenSection and name == "trusted_proxies":
        return 'an array of addresses or CIDR ranges like "10.0.0.0/8"'
    if cls in (Oper, Account) and name == "password_hash":
        return 'an argon2id hash as printed by "confchat passwd"'
    if cls is Oper and name == "name":
        return "a name without spaces"
    if cls is Account and name == "name":
        return "an account name that is a valid nickname"
    if cls is ConferenceConfig and name == "channel":
        return 'a channel name starting with "#"'
    if cls is ConferenceConfig and name in ("opens", "starts", "ends"):
        return 'an ISO 8601 time with a UTC offset ("2026-12-01T18:00:00+01:00") or ""'
    if cls is ConferenceConfig and name == "slow_mode":
        return "a number of seconds (0: off)"
    if cls is Config and name in ("accounts", "conferences"):
        return f"an array of tables ([[{name}]])"
    if cls is ServerSection and name == "name":
        return "a server name without spaces"
    if cls is ServerSection and name == "timezone":
        return 'an IANA time zone name such as "Europe/Paris" or "UTC"'
    if cls is Config and name == "opers":
        return "an array of tables ([[opers]])"
    if cls is ListenSection and name == "tls":
        return 'an array of "host:port" strings'
    if cls is ListenSection and name == "https":
        return '"host:port" or "" (disabled)'
    if cls is TlsSection and name in ("cert", "key"):
        return 'a PEM file path or ""'
    if cls is TlsSection and name == "handshake_timeout":
        return "a positive number of seconds"
    if cls is TlsSection and name == "sts_port":
        return "a port from 1 to 65535, or 0 (the first listen.tls port)"
    if cls is TlsSection and name == "sts_duration":
        return "a number of seconds (0: no persistence)"
    if cls is TlsSection and name == "sts_hosts":
        return "an array of host names"
    return None


def _check_value(cls: type[Any], name: str, value: Any, path: str, problem: str) -> None:
    """Rules on one converted value that its type cannot express.

    ``problem`` is the message for a value out of range ("expected a positive
    integer, got -5"), with the value shown as written, not as converted.
    """
    bad = f"{path}: {problem}"
    choices = CHOICES.get((cls, name))
    if choices is not None:
        if value not in choices:
            raise ConfigError(bad)
    elif cls is LimitsSection and isinstance(value, (int, float)):
        if value < 0 or (value == 0 and name != "max_connections_per_ip"):
            raise ConfigError(bad)
    elif cls is StorageSection and name == "transcripts" and any(v not in TRANSCRIPT_FORMATS for v in value):
        raise ConfigError(bad)
    elif cls is StorageSection and name == "path" and not value:
        raise ConfigError(bad)
    elif cls is ClusterSection and name == "redis_url" and value and not value.startswith(
        ("redis://", "rediss://", "unix://")
    ):
        raise ConfigError(bad)
    elif cls is ClusterSection and name == "workers" and not 1 <= value <= 64:
        raise ConfigError(bad)
    elif cls is ClusterSection and name == "worker_metrics" and value:
        _check_hostport(value, path)
    elif cls is ClusterSection and name == "log_retention" and value < 0:
        raise ConfigError(bad)
    elif cls is ClusterSection and name == "sentinels":
        for i, item in enumerate(value):
            _check_hostport(item, f"{path}[{i}]")
    elif cls is HistorySection and name == "chathistory_limit" and value < 1:
        raise ConfigError(bad)
    elif cls in (StorageSection, HistorySection) and isinstance(value, int) and value < 0:
        raise ConfigError(bad)
    elif cls is ListenSection and name in ("tcp", "proxy_protocol"):
        for i, item in enumerate(value):
            _check_hostport(item, f"{path}[{i}]")
    elif cls is ListenSection and name == "trusted_proxies":
        for i, item in enumerate(value):
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ConfigError(
                    f'{path}[{i}]: expected an address or a CIDR range like "10.0.0.0/8", got {_show(item)}'
                ) from None
    elif cls is ListenSection and name == "http" and value != "":
        _check_hostport(value, path)
    elif cls is BrandingSection and name == "public_url" and value:
        if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value):
            raise ConfigError(bad)
    elif cls is ListenSection and name == "websocket_origins":
        for origin in value:
            if not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ConfigError(bad)
    elif cls in (ServerSection, Oper) and name == "name":
        if not value or any(c.isspace() for c in value):
            raise ConfigError(bad)
    elif cls is ServerSection and name == "timezone" and time_zone(value) is None:
        raise ConfigError(bad)
    elif cls is Account and name == "name" and not is_valid_nick(value, 30):
        raise ConfigError(bad)
    elif cls is ConferenceConfig and name == "channel" and not (
        value.startswith("#") and is_valid_channel(value, 64)
    ):
        raise ConfigError(bad)
    elif cls is ConferenceConfig and name in ("opens", "starts", "ends") and value:
        if parse_time(value) is None:
            raise ConfigError(bad)
    elif cls is ConferenceConfig and name == "slow_mode" and value < 0:
        raise ConfigError(bad)
    elif cls in (Oper, Account) and name == "password_hash" and not _is_argon2_hash(value):
        # Never echo the value: it may be a plain-text password pasted by mistake.
        raise ConfigError(bad.rsplit(", got ", 1)[0] + ", got something else")
    elif cls is ListenSection and name == "tls":
        for i, item in enumerate(value):
            _check_hostport(item, f"{path}[{i}]")
    elif cls is ListenSection and name == "https" and value != "":
        _check_hostport(value, path)
    elif cls is TlsSection and name == "handshake_timeout" and value <= 0:
        raise ConfigError(bad)
    elif cls is TlsSection and name == "sts_port" and not 0 <= value <= 65535:
        raise ConfigError(bad)
    elif cls is TlsSection and name == "sts_duration" and value < 0:
        raise ConfigError(bad)
    elif cls is TlsSection and name == "sts_hosts" and any(not _HOSTNAME.fullmatch(h) for h in value):
        raise ConfigError(bad)


def _is_argon2_hash(text: str) -> bool:
    """Whether ``text`` is an argon2 hash that ``PasswordHasher.verify`` can check."""
    try:
        extract_parameters(text)
    except (InvalidHashError, ValueError):
        return False
    return True


def _check_object(obj: object, path: str) -> None:
    """Rules across the fields of one section."""
    if isinstance(obj, ListenSection) and not (obj.tcp or obj.http or obj.proxy_protocol or obj.tls or obj.https):
        raise ConfigError(
            f'{_prefix(path)}nothing to listen on (tcp and tls are empty, http and https are "")'
        )
    if isinstance(obj, ListenSection) and obj.proxy_protocol and not obj.trusted_proxies:
        raise ConfigError(
            f"{_prefix(path)}proxy_protocol listeners need trusted_proxies: the addresses "
            "of the proxies allowed to send a PROXY header"
        )
    if isinstance(obj, Config):
        if (obj.listen.tls or obj.listen.https) and not (obj.tls.cert and obj.tls.key):
            which = "listen.tls" if obj.listen.tls else "listen.https"
            missing = "tls.cert" if not obj.tls.cert else "tls.key"
            raise ConfigError(f"{missing}: {which} is a TLS listener and needs [tls] cert and key (PEM files)")
        seen: set[str] = set()
        for i, oper in enumerate(obj.opers):
            if oper.name in seen:
                raise ConfigError(f"opers[{i}].name: duplicate oper name {_show(oper.name)}")
            seen.add(oper.name)
        names: set[str] = set()
        for i, account in enumerate(obj.accounts):
            if casefold(account.name) in names:
                raise ConfigError(f"accounts[{i}].name: duplicate account {_show(account.name)}")
            names.add(casefold(account.name))
        channels: set[str] = set()
        for i, conf in enumerate(obj.conferences):
            if casefold(conf.channel) in channels:
                raise ConfigError(f"conferences[{i}].channel: duplicate conference {_show(conf.channel)}")
            channels.add(casefold(conf.channel))
            for role in ("moderators", "guests"):
                for j, name in enumerate(getattr(conf, role)):
                    if casefold(name) not in names:
                        raise ConfigError(
                            f"conferences[{i}].{role}[{j}]: no account named {_show(name)} in [[accounts]]"
                        )


def parse_time(text: str) -> float | None:
    """Seconds since the epoch for an ISO 8601 time with a UTC offset, or None."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def time_zone(name: str) -> datetime.tzinfo | None:
    """The time zone called ``name`` ("UTC", "Europe/Paris"), or None if
    there is none of that name (from the system's zoneinfo or the tzdata
    package)."""
    import zoneinfo

    if name == "UTC":
        return datetime.timezone.utc
    if len(name) > 64 or not re.fullmatch(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*", name):
        return None  # not a zone name: no path is looked up
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory ("Europe")
        return None


def _check_hostport(text: str, path: str) -> None:
    try:
        parse_hostport(text)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prefix(path: str) -> str:
    return f"{path}: " if path else ""


def _show(value: object) -> str:
    """Render a value as the operator wrote it in TOML, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"{type(value).__name__} {value}"  # TOML dates and times

