"""Configuration: an attrs tree of frozen sections, loaded from TOML.

Every field has an embedded default, so ``Config()`` is a complete, working
configuration (``confchat serve`` with no file at all). TOML tables and keys
match the section and field names below one to one.
"""

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

from .proto.casemap import casefold, is_valid_channel, is_valid_nick
from .vocab import ConferenceState, ExportFormat, QuestionOrder, RoomMode, SyncMode, values


@attrs.frozen
class ServerSection:
    # The name clients see as the source of server messages (RPL_WELCOME etc.).
    name: str = "confchat.local"
    # The network name advertised in ISUPPORT NETWORK=.
    network: str = "confchat"
    # Message of the day, one string; lines split on newlines. Empty: ERR_NOMOTD.
    motd: str = "Welcome to confchat, a chat server for moderated live events."
    # Where the server keeps its state: the database and the transcripts.
    data_dir: str = "data"
    # Password every connection must send with PASS before registering; empty: none.
    password: str = ""
    # The time zone of the times in transcripts: an IANA name ("Europe/Paris").
    timezone: str = "UTC"
    # Show a keyed hash of each connection's address (visitor-3f9a2c81d0.confchat)
    # instead of the address, in every prefix, WHO, WHOIS and the rest; the
    # key is kept in data_dir/cloak.key. Off: the address itself (plain IRC).
    cloak_hosts: bool = True
    # Whether visitors (connections without a staff account or OPER) may send
    # private messages (PRIVMSG, NOTICE, TAGMSG to a nick); staff always may.
    visitor_private_messages: bool = False
    # Whether visitors may create channels by joining them (with
    # channels.users_may_create); operators always may.
    visitor_channels: bool = False


@attrs.frozen
class ListenSection:
    # IRC over plain TCP: a list of "host:port" addresses.
    tcp: tuple[str, ...] = attrs.field(default=("127.0.0.1:6667",), converter=tuple)
    # The HTTP port: WebSocket (/ws), health (/healthz, /readyz), metrics
    # (/metrics) and the web pages. "" disables it.
    http: str = "127.0.0.1:8080"
    # IRC over TLS (6697 by convention): "host:port" addresses; needs [tls].
    tls: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    # HTTPS: what http serves (pages, the WebSocket as wss://, metrics) over
    # TLS, "host:port"; "" disables it. Needs [tls].
    https: str = ""
    # Web pages (origins such as "https://www.city.example") allowed to open
    # the WebSocket besides this server's own; browsers send their origin.
    websocket_origins: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    # Reverse proxies (addresses and CIDR ranges) whose word on the visitor's
    # address is taken: the forwarding header on the HTTP port, the PROXY
    # protocol header on proxy_protocol listeners. From anyone else both are
    # ignored (and a PROXY header closes the connection).
    trusted_proxies: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    # The header the trusted proxies set on HTTP requests and WebSocket
    # upgrades: "x-forwarded-for" (nginx, HAProxy) or "forwarded" (RFC 7239).
    forwarded_header: str = "x-forwarded-for"
    # IRC over TCP behind a TCP proxy (HAProxy send-proxy / send-proxy-v2):
    # "host:port" listeners, besides tcp, where each connection starts with a
    # PROXY protocol header (version 1 or 2) from a trusted proxy.
    proxy_protocol: tuple[str, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen
class TlsSection:
    # The certificate chain (PEM, the server's certificate first) and its
    # private key (PEM, no passphrase), for listen.tls and listen.https.
    # Reloaded on SIGHUP: new connections get the new certificate.
    cert: str = ""
    key: str = ""
    # The oldest TLS version clients may use: "1.2" or "1.3".
    min_version: str = "1.2"
    # Seconds a client has to complete the TLS handshake.
    handshake_timeout: float = 10.0
    # IRCv3 STS (strict transport security): plain IRC connections are told
    # to reconnect over TLS on sts_port (0: the first listen.tls port)...
    sts: bool = True
    sts_port: int = 0
    # ...and TLS connections for how many seconds to insist on TLS (0: the
    # policy is advertised but kept by nobody; raise it once the certificate
    # is one that clients trust).
    sts_duration: int = 0
    # Opt in to STS preload lists (on TLS connections).
    sts_preload: bool = False
    # The host names (SNI) TLS clients get the policy for; empty: any name a
    # client asks for. A client that names none (connects by address) gets none.
    sts_hosts: tuple[str, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen
class LimitsSection:
    # Seconds a new connection has to complete registration (NICK/USER/CAP END).
    registration_timeout: float = 30.0
    # Seconds of silence from a client before the server sends it a PING.
    ping_interval: float = 90.0
    # Seconds after that PING before the client is disconnected (Ping timeout).
    ping_timeout: float = 60.0
    # Bytes of output that may wait for a slow client before it is disconnected
    # with "SendQ exceeded" (Ergo and InspIRCd default to 96 KiB / 1 MiB).
    max_sendq: int = 256 * 1024
    # The same for staff (logged-in accounts and operators): a moderator's
    # console takes the queue, the audit log and the audience in pages, but
    # a burst of item events in a busy event is larger than a viewer's.
    staff_max_sendq: int = 4 * 1024 * 1024
    # In an auditorium with more visitors than this, NAMES lists the staff and
    # the audience count to the staff too; they page through the audience
    # with CONF <channel> AUDIENCE (a full NAMES of 10,000 is ~600 KB).
    names_audience_max: int = 500
    # Flood control, a token bucket per connection: this many lines at once...
    flood_burst: int = 20
    # ...then this many lines per second; excess lines are delayed, not dropped.
    flood_rate: float = 5.0
    # Simultaneous connections from one IP address (0: no limit).
    max_connections_per_ip: int = 100
    # Addresses exempt from max_connections_per_ip (e.g. a venue's Wi-Fi behind
    # one address; a reverse proxy goes in listen.trusted_proxies instead).
    connection_limit_exempt: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    # The HTTP port (web pages, downloads, /metrics, /healthz, WebSocket
    # upgrades): requests in progress and idle keep-alive connections from one
    # address (connection_limit_exempt aside); past it a newcomer gets 503.
    # A WebSocket, once upgraded, is an IRC client and counts against
    # max_connections_per_ip instead.
    http_connections_per_ip: int = 64
    # The same, from all addresses together; keep it well below the process's
    # file descriptor limit (ulimit -n), which IRC connections share.
    http_connections: int = 2048
    # Seconds a request's headers have to arrive whole (slowloris), then 408
    # and close; an idle keep-alive connection is closed after as long.
    http_header_timeout: float = 10.0
    # Seconds a request's body has to arrive whole once its headers are in.
    http_body_timeout: float = 10.0
    # Seconds a connection to a listen.proxy_protocol listener has to send its
    # PROXY header (the spec asks for at least 3, a TCP retransmission).
    proxy_header_timeout: float = 5.0
    nick_length: int = 30
    channel_length: int = 64
    topic_length: int = 390
    away_length: int = 390
    kick_length: int = 390
    # Channels one client may be in at once (ISUPPORT CHANLIMIT).
    max_channels: int = 50
    # Targets in one PRIVMSG/NOTICE/JOIN (ISUPPORT TARGMAX).
    max_targets: int = 4
    # Entries in one client's MONITOR list (ISUPPORT MONITOR).
    monitor_limit: int = 100
    # Nick changes and quits remembered for WHOWAS.
    whowas_length: int = 1000
    # Password checks (SASL, PASS account:password, OPER) from one address, or
    # on one account name, before each further attempt must wait (Ergo's
    # login-throttling allows 3 a minute per account)...
    login_failures_allowed: int = 3
    # ...this many seconds after the latest check, doubled after each further
    # one; an attempt during the wait is refused at once, without a check...
    login_backoff: float = 1.0
    # ...up to this many seconds.
    login_backoff_max: float = 60.0
    # Seconds without a check after which an address or name starts afresh.
    login_failure_memory: float = 900.0


@attrs.frozen
class ChannelsSection:
    # Whether any registered client may create a channel by joining it.
    users_may_create: bool = True
    # Modes a newly created channel gets.
    default_modes: str = "nt"


@attrs.frozen
class Oper:
    name: str
    # An argon2id hash as printed by `confchat passwd`.
    password_hash: str


@attrs.frozen
class Account:
    """A staff account: logs in with SASL PLAIN (or PASS account:password)."""

    name: str
    # An argon2id hash as printed by `confchat passwd`.
    password_hash: str
    # Admins create and configure conferences and are staff in every one.
    admin: bool = False


CONFERENCE_STATES = values(ConferenceState)
ROOM_MODES = values(RoomMode)


@attrs.frozen
class ConferenceConfig:
    """A conference declared in the config; admins add more at runtime."""

    channel: str
    title: str
    description: str = ""
    # Account names with the moderator or guest role in this conference.
    moderators: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    guests: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    # Schedule, ISO 8601 with a UTC offset ("2026-12-01T18:00:00+01:00") or "".
    # When a time passes, the state moves forward by itself.
    opens: str = ""
    starts: str = ""
    ends: str = ""
    state: str = "scheduled"
    # moderated: every visitor message is held; open: published at once;
    # readonly: visitors cannot send.
    mode: str = "moderated"
    # Tell visitors why their message was declined.
    show_decline_reasons: bool = True
    # Visitors do not see one another join, leave or change nick.
    auditorium: bool = True
    # Seconds a visitor must wait between two messages (0: no slow mode).
    # On by default: one visitor cannot flood the queue or the room.
    slow_mode: int = 10
    # The visitor page's default order of the questions: "recent" (as they
    # were published) or "popular" (most votes first); each visitor may switch.
    sort: str = "recent"
    # Automatic moderation for this conference, run on every visitor message
    # before the human queue: an array of tables, each {policy = "<name>", ...
    # its options} (docs/policies.md). With inherit_policies (the default),
    # [moderation] policies run first, then these.
    policies: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=tuple)
    inherit_policies: bool = True


SYNCHRONOUS = values(SyncMode)
TRANSCRIPT_FORMATS = values(ExportFormat)


@attrs.frozen
class StorageSection:
    # The SQLite database; relative paths are inside data_dir.
    path: str = "confchat.sqlite3"
    # "full": each commit is fsynced (survives a power cut); "normal": survives
    # a crash or kill -9 of the server, may lose the last commits on power loss.
    synchronous: str = "full"
    # Days after which personal data is purged: IP addresses and the text of
    # dropped messages (0: keep forever).
    retention_days: int = 0
    # Transcript formats written to data_dir/transcripts when a conference closes.
    transcripts: tuple[str, ...] = attrs.field(default=("html", "json"), converter=tuple)


@attrs.frozen
class HistorySection:
    # Published messages replayed to whoever joins a conference (0: none).
    join_backlog: int = 50
    # CHATHISTORY: the most lines one request returns (ISUPPORT CHATHISTORY).
    chathistory_limit: int = 100


@attrs.frozen
class BrandingSection:
    # Shown on the web pages and transcripts.
    organisation: str = ""
    # A CSS colour for headings and links.
    colour: str = "#1d4f91"
    # An image URL (https://…) or a file path; a file is embedded in the HTML.
    logo: str = ""
    # Language of the transcripts: "en" or "fr".
    language: str = "en"
    # The address visitors open to join ("https://chat.city.example"): the QR
    # code of the room screen and of the embed page leads there. Empty: the
    # address the page itself was loaded from.
    public_url: str = ""


@attrs.frozen
class LoggingSection:
    # "console" (readable, coloured on a terminal) or "json" (one object a line).
    format: str = "console"
    # debug, info, warning, error.
    level: str = "info"
    # Log message bodies and IP addresses at info level (off: only at debug).
    log_personal_data: bool = False


@attrs.frozen
class ModerationSection:
    # The automatic policies every conference runs (see [[conferences]]
    # policies and docs/policies.md), in order: the first "drop" wins, the
    # flags of "hold"s add up. Staff messages are never filtered.
    policies: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=tuple)
    # Seconds an automatic policy may take on one message; past it, the
    # message goes to the human queue flagged "policy-error".
    policy_timeout: float = 2.0
    # Questions one visitor connection may have waiting for the moderators at
    # once; the next is refused until one is decided (0: no cap).
    max_pending_per_visitor: int = 5
    # And from one address, all its connections together (0: no cap); the
    # addresses in limits.connection_limit_exempt (a venue's Wi-Fi)
    # have none.
    max_pending_per_address: int = 50
    # Shield mode turns on by itself when, within shield_window seconds, a
    # conference receives more visitor messages or more new visitors than
    # these (0: never by itself). Off by default: the opening of a big event
    # is a crowd too; set them above the audience you expect.
    shield_window: float = 10.0
    shield_messages: int = 0
    shield_joins: int = 0


@attrs.frozen
class Config:
    server: ServerSection = attrs.field(factory=ServerSection)
    listen: ListenSection = attrs.field(factory=ListenSection)
    tls: TlsSection = attrs.field(factory=TlsSection)
    limits: LimitsSection = attrs.field(factory=LimitsSection)
    channels: ChannelsSection = attrs.field(factory=ChannelsSection)
    logging: LoggingSection = attrs.field(factory=LoggingSection)
    storage: StorageSection = attrs.field(factory=StorageSection)
    history: HistorySection = attrs.field(factory=HistorySection)
    branding: BrandingSection = attrs.field(factory=BrandingSection)
    moderation: ModerationSection = attrs.field(factory=ModerationSection)
    opers: tuple[Oper, ...] = attrs.field(default=(), converter=tuple)
    accounts: tuple[Account, ...] = attrs.field(default=(), converter=tuple)
    conferences: tuple[ConferenceConfig, ...] = attrs.field(default=(), converter=tuple)


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
