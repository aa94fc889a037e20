"""One connected client, as the core sees it: identity, capabilities, state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .flood import TokenBucket
from .outbox import Outbox

if TYPE_CHECKING:
    from .channel import Channel
    from .logins import Verification

# Bits of Client.tagmask: which optional tags this client receives.
TAGS_MESSAGE = 1  # message-tags: msgid and client-only (+) tags
TAGS_TIME = 2  # server-time
TAGS_ACCOUNT = 4  # account-tag: the sender's account on its messages


class Client:
    """Mutable per-connection state. Only the core changes it."""

    # Slots: a large audience is many clients; no per-instance dict.
    __slots__ = (
        "id", "ip", "transport", "outbox", "bucket", "nick", "folded", "user", "realname",
        "registered", "password_ok", "cap_negotiating", "cap_version", "caps", "tagmask", "modes",
        "away", "oper", "account", "sasl", "failed_logins", "verifying", "channels", "invites",
        "monitoring", "connected_at", "last_active", "last_spoke", "signon", "ping_sent", "throttled",
        "gone", "welcomed",
    )

    def __init__(
        self, cid: int, ip: str, outbox: Outbox, now: float, bucket: TokenBucket, transport: str
    ) -> None:
        self.id = cid
        self.ip = ip
        self.transport = transport
        self.outbox = outbox
        self.bucket = bucket
        self.nick = "*"
        self.folded = ""
        self.user = ""
        self.realname = ""
        self.registered = False
        self.password_ok = False
        self.cap_negotiating = False
        self.cap_version = 0
        self.caps: set[str] = set()
        self.tagmask = 0
        self.modes: set[str] = set()
        self.away: str | None = None
        self.oper: str | None = None
        self.account: str | None = None
        self.sasl: str | None = None  # AUTHENTICATE payload being received
        self.failed_logins = 0
        # A password check in flight (core/logins.py): the client's next
        # lines wait in it until the answer is in.
        self.verifying: Verification | None = None
        self.channels: dict[str, Channel] = {}
        # Folded names of channels this client was invited to: an invite
        # belongs to the person, not to the nick, and ends with the connection.
        self.invites: set[str] = set()
        self.monitoring: set[str] = set()
        self.connected_at = now
        self.last_active = now  # any line received
        self.last_spoke = now  # PRIVMSG/NOTICE sent, for WHOIS idle
        self.signon = 0.0  # wall-clock time of registration
        self.ping_sent: float | None = None
        self.throttled = False  # told that flood control delays it
        self.gone = False
        # Until its welcome burst is out, a connection is told nothing that
        # depends on stored state (CAP, SASL, 001-005, LUSERS, MOTD): its
        # output does not wait for commits, so a storage stall does not keep
        # newcomers from connecting.
        self.welcomed = False

    @property
    def host(self) -> str:
        """The host shown in prefixes, WHO and bans: the address (no reverse
        DNS lookups, no cloaks)."""
        return self.ip

    @property
    def prefix(self) -> str:
        return f"{self.nick}!{self.user}@{self.host}"

    def set_caps(self, caps: set[str]) -> None:
        self.caps = caps
        self.tagmask = (
            (TAGS_MESSAGE if "message-tags" in caps else 0)
            | (TAGS_TIME if "server-time" in caps else 0)
            | (TAGS_ACCOUNT if "account-tag" in caps else 0)
        )

    def __repr__(self) -> str:
        return f"<Client {self.id} {self.nick}>"
