"""Configuration: an attrs tree of frozen sections, loaded from TOML.

Every field has an embedded default, so ``Config()`` is a complete, working
configuration (``confchat serve`` with no file at all). TOML tables and keys
match the section and field names below one to one.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class ServerSection:
    # The name clients see as the source of server messages (RPL_WELCOME etc.).
    name: str = "confchat.local"
    # The network name advertised in ISUPPORT NETWORK=.
    network: str = "confchat"
    # Message of the day, one string; lines split on newlines. Empty: ERR_NOMOTD.
    motd: str = "Welcome to confchat, a chat server for moderated live events."
    # Where the server keeps its state (SQLite database, transcripts).
    data_dir: str = "data"
    # Password every connection must send with PASS before registering; empty: none.
    password: str = ""


@attrs.frozen
class ListenSection:
    # IRC over plain TCP: a list of "host:port" addresses.
    tcp: tuple[str, ...] = attrs.field(default=("127.0.0.1:6667",), converter=tuple)
    # The HTTP port (WebSocket, web client, metrics); empty string: disabled.
    http: str = "127.0.0.1:8080"


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
    # Flood control, a token bucket per connection: this many lines at once...
    flood_burst: int = 20
    # ...then this many lines per second; excess lines are delayed, not dropped.
    flood_rate: float = 5.0
    # Simultaneous connections from one IP address (0: no limit).
    max_connections_per_ip: int = 100
    # Addresses exempt from max_connections_per_ip (e.g. a reverse proxy).
    connection_limit_exempt: tuple[str, ...] = attrs.field(default=(), converter=tuple)
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
class LoggingSection:
    # "console" (readable, coloured on a terminal) or "json" (one object a line).
    format: str = "console"
    # debug, info, warning, error.
    level: str = "info"
    # Log message bodies and IP addresses at info level (off: only at debug).
    log_personal_data: bool = False


@attrs.frozen
class Config:
    server: ServerSection = attrs.field(factory=ServerSection)
    listen: ListenSection = attrs.field(factory=ListenSection)
    limits: LimitsSection = attrs.field(factory=LimitsSection)
    channels: ChannelsSection = attrs.field(factory=ChannelsSection)
    logging: LoggingSection = attrs.field(factory=LoggingSection)
    opers: tuple[Oper, ...] = attrs.field(default=(), converter=tuple)
