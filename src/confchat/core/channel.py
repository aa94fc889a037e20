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
LIST_MODES = "b"
ARG_MODES = "k"
SET_ARG_MODES = "l"
FLAG_MODES = "imnt"
MAX_BANS = 100  # entries in a channel's ban list (ISUPPORT MAXLIST)
# User modes: invisible, operator (set by OPER only), wallops.
USER_MODES = "iow"


def isupport_modes() -> list[str]:
    """The ISUPPORT tokens that describe the modes above."""
    prefix = "".join(PREFIX_CHARS[m] for m in PREFIX_MODES)
    return [
        f"CHANMODES={LIST_MODES},{ARG_MODES},{SET_ARG_MODES},{FLAG_MODES}",
        f"MAXLIST={LIST_MODES}:{MAX_BANS}",
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
        self.bans: list[Ban] = []
        # Set when the channel is a conference; then ``staff`` holds the
        # members with a staff role (admin, moderator, guest).
        self.conference: Conference | None = None
        self.staff: set[Client] = set()

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

    def is_banned(self, client: Client) -> bool:
        prefix = client.prefix
        return any(mask_match(ban.mask, prefix) for ban in self.bans)

    def prefixes(self, client: Client, multi: bool) -> str:
        status = self.members.get(client, "")
        chars = [PREFIX_CHARS[m] for m in PREFIX_MODES if m in status]
        return "".join(chars) if multi else "".join(chars[:1])

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
