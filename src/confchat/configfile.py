"""Writing a commented config.toml (``confchat init``, ``config.example.toml``).

tomli-w writes correct TOML but no comments, so each value is serialized by
tomli-w on its own (``tomli_w.dumps({key: value})``, which gets quoting and
escaping right) and the section headers and ``#`` comment lines are written
here. The keys come from the attrs schema in ``confchat.config``, so a new
field is written automatically; ``COMMENTS`` must gain its explanation too
(a test checks that every key has one).
"""

from __future__ import annotations

from typing import Any

import attrs
import tomli_w

from confchat.config import Config, to_dict

HEADER = """\
confchat configuration.

Every key is optional: a key left out takes the default shown here, and
`confchat serve` without --config runs with exactly these defaults.
The command-line options --tcp, --http, --name, --data-dir and --log-format
override what this file says."""

#: Explanation written above each section ("limits") and key ("limits.max_sendq").
COMMENTS: dict[str, str] = {
    "server": "How the server presents itself to clients.",
    "server.name": "The name clients see as the source of server messages (no spaces).",
    "server.network": "The network name advertised to clients (ISUPPORT NETWORK=).",
    "server.motd": 'Message of the day; "\\n" starts a new line. Empty: no MOTD.',
    "server.data_dir": (
        "Where the server keeps its state: the SQLite database and the\n"
        "transcripts (created at start)."
    ),
    "server.password": (
        "A password every connection must send with PASS before registering.\n"
        'Empty: no password. (Plain text: this file should not be world-readable.)'
    ),
    "server.timezone": (
        'The time zone of the times in transcripts, an IANA name such as\n'
        '"Europe/Paris" (daylight saving time included) or "UTC".'
    ),
    "server.cloak_hosts": (
        "Show a keyed hash of each connection's address (visitor-3f9a2c81d0.confchat)\n"
        "instead of the address, everywhere other users could see it; staff see how\n"
        "many share one. The key is kept in data_dir/cloak.key. false: addresses shown."
    ),
    "server.visitor_private_messages": (
        "Whether visitors (connections without a staff account or OPER) may send\n"
        "private messages to other users. Staff may always write to a visitor."
    ),
    "server.visitor_channels": (
        "Whether visitors may create channels by joining them (with\n"
        "channels.users_may_create). Operators always may."
    ),
    "listen": "Where the server accepts connections.",
    "listen.tcp": (
        'IRC over plain TCP: a list of "host:port" addresses. IPv6 goes in\n'
        'brackets: "[::1]:6667". "0.0.0.0:6667" listens on all IPv4 interfaces.'
    ),
    "listen.http": (
        'The HTTP address, "host:port": IRC over WebSocket at /ws, /healthz,\n'
        '/readyz, /metrics and the web pages (/, /moderator, /guest, /embed). "": HTTP disabled.'
    ),
    "listen.websocket_origins": (
        "Web pages allowed to open the WebSocket besides this server's own, as\n"
        'origins: ["https://www.city.example"]. Browsers always send their page\'s\n'
        "origin, so no other site can use a visitor's browser to connect."
    ),
    "listen.trusted_proxies": (
        "Reverse proxies whose word on a visitor's address is taken: addresses\n"
        'and CIDR ranges, ["127.0.0.1", "10.0.0.0/8"]. Their forwarding header\n'
        "(forwarded_header) on the HTTP port, and the PROXY header on proxy_protocol\n"
        "listeners, give the address every limit, ban and log line uses. From\n"
        "anyone else both are ignored. Empty: every address is the peer's own."
    ),
    "listen.forwarded_header": (
        'The header the trusted proxies set: "x-forwarded-for" (nginx, HAProxy\n'
        '"option forwardfor") or "forwarded" (RFC 7239). The other one is ignored:\n'
        "a visitor could have written it, and proxies pass it through."
    ),
    "listen.proxy_protocol": (
        'IRC over TCP behind a TCP proxy (HAProxy "send-proxy-v2"): "host:port"\n'
        "listeners, besides tcp, where every connection starts with a PROXY protocol\n"
        "header (version 1 or 2). Only trusted_proxies may connect to them; a peer\n"
        "without a valid header in time is disconnected. Needs trusted_proxies."
    ),
    "limits": (
        "Timeouts, buffers and protocol limits. Every number must be positive,\n"
        "except max_connections_per_ip, where 0 means no limit."
    ),
    "limits.registration_timeout": (
        "Seconds a new connection has to complete registration (NICK/USER/CAP END)."
    ),
    "limits.ping_interval": "Seconds of silence from a client before the server sends it a PING.",
    "limits.ping_timeout": "Seconds after that PING before the client is disconnected.",
    "limits.max_sendq": (
        "Bytes of output that may wait for a slow client before it is disconnected\n"
        'with "SendQ exceeded" (262144 = 256 KiB). Keep it above 64 KiB: a burst\n'
        "in a busy channel can queue that much before a prompt reader is served."
    ),
    "limits.staff_max_sendq": (
        "The send queue of staff connections (logged-in accounts, operators): a\n"
        "moderator's console gets every queue event of a busy event."
    ),
    "limits.names_audience_max": (
        "In an auditorium with more visitors than this, NAMES shows the staff too\n"
        "only the staff and a count; they page through the audience with\n"
        "CONF <channel> AUDIENCE."
    ),
    "limits.flood_burst": "Flood control, per connection: this many lines at once...",
    "limits.flood_rate": "...then this many lines per second; excess lines are delayed, not dropped.",
    "limits.max_connections_per_ip": "Simultaneous connections from one IP address (0: no limit).",
    "limits.connection_limit_exempt": (
        "Addresses exempt from max_connections_per_ip (e.g. a venue's Wi-Fi behind\n"
        "one address). A reverse proxy goes in listen.trusted_proxies instead."
    ),
    "limits.http_connections_per_ip": (
        "Open connections to the HTTP port from one address: requests in progress\n"
        "and idle keep-alive connections (a browser holds a few). Past it a new\n"
        "connection gets 503 and is closed; connection_limit_exempt addresses are\n"
        "not limited. A WebSocket, once upgraded, is an IRC client: it counts\n"
        "against max_connections_per_ip instead."
    ),
    "limits.http_connections": (
        "Open connections to the HTTP port from all addresses together (WebSockets\n"
        "aside), then 503. Keep it well below the file descriptor limit (ulimit -n)."
    ),
    "limits.http_header_timeout": (
        "Seconds a request's headers have to arrive whole, then 408 and close\n"
        "(slowloris); an idle keep-alive connection is closed after as long."
    ),
    "limits.http_body_timeout": "Seconds a request's body has to arrive whole once its headers are in, then 408.",
    "limits.proxy_header_timeout": (
        "Seconds a connection to a listen.proxy_protocol listener has to send its\n"
        "PROXY header before it is closed."
    ),
    "limits.nick_length": "Longest nickname, in bytes.",
    "limits.channel_length": "Longest channel name, in bytes.",
    "limits.topic_length": "Longest channel topic, in bytes.",
    "limits.away_length": "Longest AWAY message, in bytes.",
    "limits.kick_length": "Longest KICK reason, in bytes.",
    "limits.max_channels": "Channels one client may be in at once (ISUPPORT CHANLIMIT).",
    "limits.max_targets": "Targets in one PRIVMSG, NOTICE or JOIN (ISUPPORT TARGMAX).",
    "limits.monitor_limit": "Entries in one client's MONITOR list.",
    "limits.whowas_length": "Nick changes and quits remembered for WHOWAS.",
    "limits.login_failures_allowed": (
        "Password checks (SASL, PASS account:password, OPER) from one address, or\n"
        "on one account name, before each further attempt must wait..."
    ),
    "limits.login_backoff": (
        "...this many seconds after the latest check, doubled after each further\n"
        "one. An attempt during the wait is refused at once, without a check.\n"
        "Addresses in connection_limit_exempt count only by account name."
    ),
    "limits.login_backoff_max": "...up to this many seconds.",
    "limits.login_failure_memory": "Seconds without a check after which an address or name starts afresh.",
    "listen.tls": (
        'IRC over TLS: "host:port" addresses, 6697 by convention ("0.0.0.0:6697").\n'
        "Needs [tls] cert and key. Plain and TLS listeners run side by side."
    ),
    "listen.https": (
        'HTTPS, "host:port": what http serves (the web pages, IRC over WebSocket\n'
        'as wss://, /metrics), over TLS; "0.0.0.0:443" or "0.0.0.0:8443". Needs\n'
        '[tls] cert and key. "": HTTPS disabled.'
    ),
    "tls": (
        "The certificate of listen.tls and listen.https. See docs/deploy.md (TLS\n"
        "directly): certbot or the city's CA, file permissions, reloading."
    ),
    "tls.cert": (
        "The certificate chain, PEM: the server's certificate first, then the\n"
        "intermediates (certbot's fullchain.pem). Reloaded on SIGHUP\n"
        "(systemctl reload confchat): new connections get the new certificate,\n"
        "open ones keep theirs."
    ),
    "tls.key": (
        "The private key, PEM, without a passphrase (certbot's privkey.pem);\n"
        "readable by the server's user only."
    ),
    "tls.min_version": '"1.2" or "1.3": the oldest TLS version clients may use.',
    "tls.handshake_timeout": (
        "Seconds a client has to complete the TLS handshake; a stalled one costs\n"
        "only its own connection."
    ),
    "tls.sts": (
        "Advertise IRCv3 STS (strict transport security): plain IRC clients are\n"
        "told to reconnect over TLS (sts=port=...), TLS clients how long to insist\n"
        "on TLS (sts=duration=...). Not over WebSocket (browsers have HSTS)."
    ),
    "tls.sts_port": "The port plain clients are sent to (0: the first listen.tls port).",
    "tls.sts_duration": (
        "Seconds TLS clients keep to TLS for this host name. 0: nobody keeps the\n"
        "policy; raise it (2592000 = 30 days) once clients trust the certificate:\n"
        "a client that kept it refuses to connect without valid TLS."
    ),
    "tls.sts_preload": "Agree to be listed in STS preload lists (told to TLS clients).",
    "tls.sts_hosts": (
        "Host names (as clients ask for them, SNI) that TLS clients get the\n"
        "persistence policy for; []: any. A client connecting by address gets none."
    ),
    "channels": "Channel policy.",
    "channels.users_may_create": "Whether any registered client may create a channel by joining it.",
    "channels.default_modes": 'Modes a newly created channel gets ("nt": no outside messages,\n'
    "only operators set the topic).",
    "storage": (
        "Durable storage: every question, decision, publication, ban and setting\n"
        "is committed before the server acknowledges it, and restored at start."
    ),
    "storage.path": "The SQLite database file; a relative path is inside data_dir.",
    "storage.synchronous": (
        '"full": every commit is fsynced and survives a power cut (the default).\n'
        '"normal": survives a crash or kill -9 of the server, but the last\n'
        "commits may be lost if the machine loses power; faster on slow disks."
    ),
    "storage.retention_days": (
        "Personal data is purged after this many days: IP addresses (in authors'\n"
        "addresses and ban masks' records) and the text of dropped messages.\n"
        "Published questions and answers stay. 0: keep everything."
    ),
    "storage.transcripts": (
        'Transcripts written to data_dir/transcripts when a conference closes:\n'
        'any of "html", "md", "json", "txt", "csv". Empty: none.'
    ),
    "cluster": (
        "Several processes or hosts serving one audience, sharing conferences\n"
        "through Redis (docs/cluster.md). Leave redis_url empty for one process."
    ),
    "cluster.redis_url": 'Redis or Valkey, e.g. "redis://127.0.0.1:6379/0"; "": no cluster.',
    "cluster.node": "This node's name in logs, metrics and the node list; \"\": host name and pid.",
    "cluster.sentinels": (
        'Redis Sentinel: the sentinels ("host:port") that say where the primary is,\n'
        "asked again after a failover; redis_url then gives the database and password."
    ),
    "cluster.sentinel_master": "The name the sentinels monitor the primary under.",
    "cluster.log_retention": (
        "Seconds of the cluster's log kept in Redis (604800: a week). Older entries\n"
        "that every running node has carried out are removed; a node away longer\n"
        "refuses to start until given a copy of another node's database. 0: keep all."
    ),
    "cluster.worker_metrics": (
        "With workers: each also serves /metrics, /healthz and /readyz on a port of\n"
        'its own, this one for worker 1, the next for worker 2 ("127.0.0.1:9101").\n'
        "Through the shared HTTP port a scrape reaches any one worker. \"\": none."
    ),
    "cluster.workers": (
        "Processes on this host sharing the listening ports (SO_REUSEPORT), each a\n"
        "node of the cluster; more than 1 needs redis_url. `serve --workers N` sets it."
    ),
    "history": "What people who join late see.",
    "history.join_backlog": (
        "Published messages replayed (with their original time) to whoever\n"
        "joins a conference; 0: none. Clients with draft/chathistory get none\n"
        "on joining: they ask for what they need with CHATHISTORY."
    ),
    "history.chathistory_limit": (
        "The most messages one CHATHISTORY request returns (IRCv3 chathistory;\n"
        "clients page through longer spans)."
    ),
    "branding": "Your organisation's look, on the web pages and transcripts.",
    "branding.organisation": 'The organisation\'s name, e.g. "City of Lyon".',
    "branding.colour": "A CSS colour for headings and links.",
    "branding.logo": "A logo: an https:// URL, or an image file (embedded in the HTML).",
    "branding.language": '"en" or "fr".',
    "branding.public_url": (
        'The address visitors open to join, e.g. "https://chat.city.example": the\n'
        "QR code on the room screen (/screen) and the embed page leads there.\n"
        "Empty: the address the page was loaded from."
    ),
    "logging": "What the server logs, and how.",
    "logging.format": (
        '"console" (readable, coloured on a terminal) or "json" (one object a line).'
    ),
    "logging.level": '"debug", "info", "warning" or "error".',
    "logging.log_personal_data": (
        "Log message bodies and IP addresses at info level (false: only at debug)."
    ),
    "opers": (
        "Operator accounts, one [[opers]] table each, with the keys name (given\n"
        "to /OPER, no spaces) and password_hash (printed by `confchat passwd`).\n"
        "Operators log in with /OPER name password."
    ),
    "opers.name": "The name given to /OPER (no spaces).",
    "opers.password_hash": "An argon2id hash as printed by `confchat passwd`.",
    "accounts": (
        "Staff accounts (admins, moderators, guests), one [[accounts]] table each.\n"
        "They log in with SASL PLAIN, or PASS account:password for clients without\n"
        "SASL. An account's name is reserved as a nickname for that account.\n"
        "Visitors need no account."
    ),
    "accounts.name": "The account name, also its reserved nickname.",
    "accounts.password_hash": "An argon2id hash as printed by `confchat passwd`.",
    "accounts.admin": "Admins create and configure conferences and are staff in every one.",
    "conferences": (
        "Conferences: moderated channels with a guest, one [[conferences]] table\n"
        "each. Admins can create more at runtime (CONF CREATE, see protocol.md)."
    ),
    "conferences.channel": 'The channel, e.g. "#townhall".',
    "conferences.title": "The title shown to visitors.",
    "conferences.description": "A longer description shown to visitors.",
    "conferences.moderators": "Account names with the moderator role here.",
    "conferences.guests": "Account names with the guest role here (who answers).",
    "conferences.opens": (
        'When questions start to be collected, ISO 8601 with an offset\n'
        '("2026-12-01T17:30:00+01:00"), or "". Passing times move the state on.'
    ),
    "conferences.starts": "When the live session starts, or \"\".",
    "conferences.ends": "When the conference closes (read-only), or \"\".",
    "conferences.state": '"scheduled", "open" (lobby), "live" or "closed".',
    "conferences.mode": (
        '"moderated" (every visitor message is held for moderators), "open"\n'
        '(published at once) or "readonly" (visitors cannot send).'
    ),
    "conferences.show_decline_reasons": "Tell visitors why their message was declined.",
    "conferences.auditorium": (
        "Visitors do not see one another join, leave or change nick, and NAMES\n"
        "shows them the staff and an audience count (keeps big rooms fast)."
    ),
    "conferences.slow_mode": (
        "Seconds a visitor must wait between two messages (0: off). On by default,\n"
        "so that one visitor cannot flood the queue or the room; staff are never slowed."
    ),
    "conferences.sort": (
        'How the visitor page orders the questions at first: "recent" (as they\n'
        'were published) or "popular" (most votes first). Each visitor may switch.'
    ),
    "conferences.policies": (
        "Automatic policies for this conference, as for [moderation] policies:\n"
        'policies = [{ policy = "links", action = "hold", allow = ["ville.example"] }].'
    ),
    "conferences.inherit_policies": (
        "Run the [moderation] policies first, then this conference's own (false:\n"
        "only its own)."
    ),
    "moderation": (
        "Automatic moderation: policies run on every visitor message before the\n"
        "human queue; each publishes, holds (flagged, for the moderators) or drops\n"
        "it. Staff messages are never filtered. See docs/policies.md."
    ),
    "moderation.policies": (
        'The policies every conference runs, in order, as tables: { policy = "<name>", ...options }.\n'
        'For example: policies = [{ policy = "blocklist", lists = ["fr", "en"] },\n'
        '{ policy = "links", allow = ["ville.example"] }, { policy = "duplicate" }].\n'
        "The first drop wins; the flags of holds add up."
    ),
    "moderation.policy_timeout": (
        'Seconds a policy may take on one message; past it, the message is held\n'
        'for the moderators, flagged "policy-error".'
    ),
    "moderation.max_pending_per_visitor": (
        "Questions one visitor may have waiting for the moderators at once; the next\n"
        "is refused until one is decided, so nobody can fill the queue (0: no cap)."
    ),
    "moderation.max_pending_per_address": (
        "Questions waiting from one address, all its connections together; the next is\n"
        "refused until some are decided (0: no cap). Addresses in\n"
        "limits.connection_limit_exempt (a venue's Wi-Fi) have none."
    ),
    "moderation.shield_window": "Seconds over which the raid thresholds below are counted.",
    "moderation.shield_messages": (
        "Shield mode turns on by itself past this many visitor messages in one\n"
        "conference within shield_window (0: never by itself). The opening of a\n"
        "big event is a crowd too: set it above what the audience you expect sends.\n"
        'A "raid" policy raises the shield whatever this says.'
    ),
    "moderation.shield_joins": (
        "...or past this many new visitors joining within shield_window (0: never)."
    ),
}

#: Shown commented out when an array of tables is empty, so the file still
#: shows its shape. The hash is a placeholder that fails validation if
#: uncommented as is, so the operator is told to replace it.
EXAMPLES: dict[str, dict[str, Any]] = {
    "accounts": {
        "name": "mayor",
        "password_hash": "PASTE THE OUTPUT OF confchat passwd HERE",
        "admin": False,
    },
    "conferences": {
        "channel": "#townhall",
        "title": "Ask the mayor",
        "moderators": ["alice"],
        "guests": ["mayor"],
        "starts": "2026-12-01T18:00:00+01:00",
        "ends": "2026-12-01T19:00:00+01:00",
    },
    "opers": {
        "name": "admin",
        "password_hash": "PASTE THE OUTPUT OF confchat passwd HERE",
    },
}


def render(config: Config) -> str:
    """The whole config file for ``config``, with a comment above every key."""
    parts = [_comment(HEADER) + "\n"]
    for field in attrs.fields(Config):
        value = getattr(config, field.name)
        if attrs.has(type(value)):
            parts.append(_section(field.name, value))
        elif isinstance(value, tuple):
            parts.append(_array_of_tables(field.name, value))
        else:  # a top-level scalar, should the schema ever grow one
            parts.append(_key(field.name, field.name, value))
    return "\n".join(parts)


def _section(name: str, section: Any) -> str:
    lines = [_comment(COMMENTS.get(name, "")), f"[{name}]"]
    for key, value in to_dict(section).items():
        lines.append(_key(f"{name}.{key}", key, value))
    return "\n".join(line for line in lines if line) + "\n"


def _array_of_tables(name: str, items: tuple[Any, ...]) -> str:
    lines = [_comment(COMMENTS.get(name, ""))]
    for item in items:
        lines.append(f"[[{name}]]")
        for key, value in to_dict(item).items():
            lines.append(_key(f"{name}.{key}", key, value))
    if not items and name in EXAMPLES:
        example = [f"[[{name}]]"]
        example += [tomli_w.dumps({k: v}).rstrip("\n") for k, v in EXAMPLES[name].items()]
        lines.append(_comment("\n".join(example)))
    return "\n".join(line for line in lines if line) + "\n"


def _key(path: str, key: str, value: Any) -> str:
    """One ``key = value`` (serialized by tomli-w) with its comment above."""
    return _comment(COMMENTS.get(path, "")) + "\n" + tomli_w.dumps({key: value}).rstrip("\n")


def _comment(text: str) -> str:
    """Prefix every line with "# " ("#" alone for blank lines)."""
    return "\n".join("# " + line if line else "#" for line in text.splitlines())
