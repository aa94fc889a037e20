"""The configuration's sections: an attrs tree of frozen classes.

Every field has an embedded default, so ``Config()`` is a complete, working
configuration (``confchat serve`` with no file at all). TOML tables and keys
match the section and field names one to one (loading.py reads them).
"""
from __future__ import annotations

from typing import Any

import attrs

from ..vocab import ConferenceState, ExportFormat, RoomMode, SyncMode, values


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
class ClusterSection:
    # Redis (or Valkey) that the nodes of a cluster share, e.g.
    # "redis://127.0.0.1:6379/0"; "" (the default): one process on its own.
    redis_url: str = ""
    # This node's name in logs, metrics and the cluster's node list; "": the
    # host name and process id.
    node: str = ""
    # Redis Sentinel: the sentinels ("host:port") that say where the primary
    # is, asked again whenever it is lost (a failover); redis_url then gives
    # only the database and password. []: redis_url's host.
    sentinels: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    # The name the sentinels monitor the primary under.
    sentinel_master: str = "confchat"
    # Seconds of the cluster's log kept in Redis (entries older than this,
    # and that every node running has carried out, are removed); a node
    # away longer needs a copy of another's database. 0: keep all.
    log_retention: int = 604800
    # With workers: each worker also serves /metrics, /healthz and /readyz on
    # a port of its own, this one for worker 1, the next for worker 2, ...
    # ("127.0.0.1:9101"), so Prometheus scrapes each; "": only the shared port.
    worker_metrics: str = ""
    # Processes on this host sharing the listening ports (SO_REUSEPORT);
    # `confchat serve --workers N` sets it. More than 1 needs redis_url.
    workers: int = 1


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
    cluster: ClusterSection = attrs.field(factory=ClusterSection)
    opers: tuple[Oper, ...] = attrs.field(default=(), converter=tuple)
    accounts: tuple[Account, ...] = attrs.field(default=(), converter=tuple)
    conferences: tuple[ConferenceConfig, ...] = attrs.field(default=(), converter=tuple)


