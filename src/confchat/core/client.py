"""One connected client, as the core sees it: identity, capabilities, state."""

from __future__ import annotations

from typing import TYPE_CHECKING, AbstractSet

from .flood import TokenBucket
from .outbox import Outbox

if TYPE_CHECKING:
    from .channel import Channel
    from collections import deque

    from ..proto.codec import LineTooLong
    from .logins import Verification

# The capabilities of a client that negotiated none: one shared empty set
# (``caps`` is only ever replaced, through ``set_caps``, never changed in place).
NO_CAPS: frozenset[str] = frozenset()

# Bits of Client.tagmask: which optional tags this client receives.
TAGS_MESSAGE = 1  # message-tags: msgid and client-only (+) tags
TAGS_TIME = 2  # server-time
TAGS_ACCOUNT = 4  # account-tag: the sender's account on its messages


class Client:
    """Mutable per-connection state. Only the core changes it."""

    # Slots: a large audience is many clients; no per-instance dict.
    __slots__ = (
        "id", "ip", "transport", "tls", "outbox", "bucket", "nick", "folded", "user", "realname",
        "registered", "password_ok", "cap_negotiating", "cap_version", "caps", "tagmask", "modes",
        "away", "oper", "account", "sasl", "failed_logins", "verifying", "channels", "invites",
        "_monitoring", "connected_at", "last_active", "last_spoke", "signon", "ping_sent", "throttled",
        "gone", "welcomed", "cloak", "visitor", "connection_key", "answerable", "awaiting", "held", "held_bytes",
    )

    def __init__(
        self, cid: int, ip: str, outbox: Outbox, now: float, bucket: TokenBucket, transport: str
    ) -> None:
        self.id = cid
        self.ip = ip
        self.transport = transport
        # None on a plain connection; on a TLS one the name the client asked
        # for (SNI), "" if none. The shell says (core/caps.py: STS).
        self.tls: str | None = None
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
        self.caps: AbstractSet[str] = NO_CAPS
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
        self._monitoring: set[str] | None = None  # made by the first MONITOR (see ``monitoring``)
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
        # Privacy (core/cloak.py): the host others see instead of the
        # address ("" shows the address), and the identity derived from a web
        # visitor's token ("" for none); ``connection_key`` names this very
        # connection across restarts (a ban of one connection).
        self.cloak = ""
        self.visitor = ""
        self.connection_key = str(cid)
        # Staff who wrote to this visitor privately (connection ids, unique
        # in a cluster): it may answer them even where visitors' private
        # messages are off (None: nobody yet).
        self.answerable: set[int] | None = None
        # In a cluster: its commands whose ops are out in the log, and the
        # lines it sent meanwhile, which wait for them (core/inflight.py).
        self.awaiting = 0
        self.held: deque[bytes | LineTooLong] | None = None
        self.held_bytes = 0

    @property
    def monitoring(self) -> set[str]:
        """The folded nicks this client MONITORs; made when first asked for
        (few clients monitor anyone, and an empty set is 216 bytes)."""
        monitoring = self._monitoring
        if monitoring is None:
            monitoring = self._monitoring = set()
        return monitoring

    @property
    def host(self) -> str:
        """The host shown in prefixes, WHO and bans: the cloak (no reverse
        DNS lookups), or the address when hosts are not cloaked."""
        return self.cloak or self.ip

    @property
    def is_visitor(self) -> bool:
        """A visitor: no staff account, not an operator (the side routes
        of an event server are closed to visitors)."""
        return self.account is None and self.oper is None

    @property
    def marks(self) -> tuple[str, ...]:
        """What a conference's bans and mutes may name this client by besides
        its prefix and account (moderation/conference.py): this connection,
        its visitor identity, and its prefix with the real address (staff
        may ban an address they know)."""
        out = [f"$c:{self.connection_key}"]
        if self.visitor:
            out.append(f"$v:{self.visitor}")
        if self.cloak:
            out.append(f"{self.nick}!{self.user}@{self.ip}")
        return tuple(out)

    @property
    def prefix(self) -> str:
        return f"{self.nick}!{self.user}@{self.host}"

    def set_caps(self, caps: AbstractSet[str]) -> None:
        self.caps = caps
        self.tagmask = (
            (TAGS_MESSAGE if "message-tags" in caps else 0)
            | (TAGS_TIME if "server-time" in caps else 0)
            | (TAGS_ACCOUNT if "account-tag" in caps else 0)
        )

    def __repr__(self) -> str:
        return f"<Client {self.id} {self.nick}>"
