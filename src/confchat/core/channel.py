"""A channel: members with their status, topic, modes, bans, invites."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from ..proto.casemap import mask_match

if TYPE_CHECKING:
    from ..moderation.conference import Conference
    from .client import Client

# Membership prefixes in rank order (ISUPPORT PREFIX=(ov)@+).
PREFIX_MODES = "ov"
PREFIX_CHARS = {"o": "@", "v": "+"}
# ISUPPORT CHANMODES=A,B,C,D: list modes, always-arg, arg-when-set, flags.
# b: bans; e: ban exceptions (ISUPPORT EXCEPTS); I: invite exceptions (INVEX).
LIST_MODES = "beI"
ARG_MODES = "k"
SET_ARG_MODES = "l"
# p: private, s: secret (RFC 1459 4.2.3.1): hidden from LIST, WHOIS and
# NAMES for non-members; NAMES shows them as "*" and "@".
FLAG_MODES = "imnpst"
MAX_BANS = 100  # entries in each of a channel's lists (ISUPPORT MAXLIST)
# Messages of a plain channel that REDACT can still find, latest kept
# (draft/message-redaction lets a server refuse older ones with UNKNOWN_MSGID).
REDACT_WINDOW = 1000
# User modes: bot, invisible, operator (set by OPER only), wallops.
USER_MODES = "Biow"


def isupport_modes() -> list[str]:
    """The ISUPPORT tokens that describe the modes above."""
    prefix = "".join(PREFIX_CHARS[m] for m in PREFIX_MODES)
    return [
        f"CHANMODES={LIST_MODES},{ARG_MODES},{SET_ARG_MODES},{FLAG_MODES}",
        "EXCEPTS=e",
        "INVEX=I",
        "MAXLIST=" + ",".join(f"{mode}:{MAX_BANS}" for mode in LIST_MODES),
        f"PREFIX=({PREFIX_MODES}){prefix}",
        f"STATUSMSG={prefix}",
    ]


def myinfo_modes() -> tuple[str, str, str]:
    """RPL_MYINFO's user modes, channel modes, and channel modes with a
    parameter."""
    channel = "".join(sorted(LIST_MODES + ARG_MODES + SET_ARG_MODES + FLAG_MODES + PREFIX_MODES))
    with_param = "".join(sorted(LIST_MODES + ARG_MODES + SET_ARG_MODES + PREFIX_MODES))
    return USER_MODES, channel, with_param


@attrs.define
class Ban:
    mask: str
    setter: str
    set_at: int


class Channel:
    def __init__(self, name: str, folded: str, created: int) -> None:
        self.name = name
        self.folded = folded
        self.created = created
        # member -> its prefix modes ("o", "v", "ov" or "")
        self.members: dict[Client, str] = {}
        self.modes: set[str] = set()
        self.key = ""
        self.limit = 0
        self.topic = ""
        self.topic_by = ""
        self.topic_at = 0
        # The list modes' entries, by mode: bans, exceptions, invite exceptions.
        self.lists: dict[str, list[Ban]] = {mode: [] for mode in LIST_MODES}
        # Set when the channel is a conference; then ``staff`` holds the
        # members with a staff role (admin, moderator, guest).
        self.conference: Conference | None = None
        self.staff: set[Client] = set()
        # Plain channels: msgid -> (sender's connection id, account) of the
        # latest REDACT_WINDOW messages, for REDACT (core/handlers/redaction.py).
        self.sent: dict[str, tuple[int, str | None]] = {}

    def remember(self, msgid: str, sender: Client) -> None:
        sent = self.sent
        sent[msgid] = (sender.id, sender.account)
        if len(sent) > REDACT_WINDOW:
            del sent[next(iter(sent))]

    @property
    def auditorium(self) -> bool:
        return self.conference is not None and self.conference.auditorium

    def is_op(self, client: Client) -> bool:
        return "o" in self.members.get(client, "")

    def can_speak(self, client: Client) -> bool:
        status = self.members.get(client)
        if status:  # op or voice
            return True
        if status is None and "n" in self.modes:
            return False
        if "m" in self.modes:
            return False
        return not self.is_banned(client)

    @property
    def bans(self) -> list[Ban]:
        return self.lists["b"]

    def matches(self, mode: str, client: Client) -> bool:
        """Whether an entry of the list ``mode`` matches ``client``."""
        prefix = client.prefix
        return any(mask_match(entry.mask, prefix) for entry in self.lists[mode])

    def is_banned(self, client: Client) -> bool:
        """Banned (+b) and not excepted (+e)."""
        return self.matches("b", client) and not self.matches("e", client)

    @property
    def hidden(self) -> bool:
        """Secret or private: non-members do not see it (LIST, WHOIS, NAMES)."""
        return "s" in self.modes or "p" in self.modes

    def names_symbol(self) -> str:
        """RPL_NAMREPLY's channel type (RFC 2812 5.1): @ secret, * private, = public."""
        return "@" if "s" in self.modes else "*" if "p" in self.modes else "="

    def prefixes(self, client: Client, multi: bool) -> str:
        return status_prefixes(self.members.get(client, ""), multi)

    def mode_string(self, show_key: bool) -> tuple[str, ...]:
        flags = "+" + "".join(sorted(self.modes))
        args = []
        if self.key:
            flags += "k"
            args.append(self.key if show_key else "*")
        if self.limit:
            flags += "l"
            args.append(str(self.limit))
        return (flags, *args)


def status_prefixes(status: str, multi: bool) -> str:
    """NAMES/WHO prefixes of a channel status ("ov" -> "@+", or "@" without multi-prefix)."""
    chars = [PREFIX_CHARS[m] for m in PREFIX_MODES if m in status]
    return "".join(chars) if multi else "".join(chars[:1])
