"""Subcommand tables for the moderation extension (CONF, QUEUE, PREPARED).

Each subcommand declares who may use it and how many parameters it needs,
like the main command table (``commands.py``); :func:`dispatch` checks both
once, so each handler holds only its subcommand's meaning. Order of checks,
for every table alike: the conference exists, the subcommand is known, the
role allows it, enough parameters were given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import attrs

from ..moderation.conference import MODERATING, STAFF, Conference, Role
from ..proto import numerics as N

if TYPE_CHECKING:
    from ..proto.message import Message
    from .channel import Channel
    from .client import Client
    from .server import Server

ADMINS = frozenset({Role.ADMIN})

# Lines one listing sends at most (QUEUE LIST, CONF AUDIT, QUESTIONS,
# AUDIENCE): a page of 200 queue items is about 80 KB, well inside a staff
# send queue; the client asks for the next page with the position the MORE
# line gives.
PAGE = 200
ROLE_NAMES = {MODERATING: "moderator", STAFF: "staff", ADMINS: "admin"}


@attrs.frozen
class Context:
    """What a subcommand handler gets: who asks, where, with what."""

    server: Server
    client: Client
    channel: Channel
    conference: Conference
    command: str  # CONF, QUEUE or PREPARED, for replies
    args: list[str]


@attrs.frozen
class Subcommand:
    handler: Callable[[Context], None]
    roles: frozenset[Role] | None = None  # None: anyone
    min_params: int = 0


@attrs.frozen
class ServerSubcommand:
    """A subcommand about the server's conferences, not one of them
    (``CONF LIST``, ``CONF CREATE``): it takes the channel's place."""

    handler: Callable[[Server, Client, list[str]], None]


def page(ctx: Context, total: int) -> tuple[int, int]:
    """The slice ``[start, stop)`` of a listing of ``total`` rows that this
    request asks for: its first argument, if a number, is the 1-based
    position to start from."""
    first = ctx.args[0] if ctx.args else ""
    start = max(1, int(first)) - 1 if first.isdigit() and first.isascii() else 0
    return start, min(total, start + PAGE)


def more(ctx: Context, stop: int, total: int) -> None:
    """After a page: where the next one starts, if there is one."""
    if stop < total:
        ctx.server.reply(ctx.client, ctx.command, ctx.channel.name, "MORE", str(stop + 1), f"{total - stop} more")


def find_conference(server: Server, client: Client, command: str, name: str) -> tuple[Channel, Conference] | None:
    channel = server.find_channel(name)
    if channel is None or channel.conference is None:
        server.fail(client, command, "NO_SUCH_CONFERENCE", f"{name} is not a conference", name)
        return None
    return channel, channel.conference


def require(server: Server, client: Client, command: str, channel: Channel, roles: frozenset[Role]) -> bool:
    if server.role(client, channel) in roles:
        return True
    needed = ROLE_NAMES.get(roles, "admin")
    server.fail(client, command, "NEED_ROLE", f"You need the {needed} role in {channel.name}", channel.name)
    return False


def dispatch(
    server: Server,
    client: Client,
    msg: Message,
    table: dict[str, Subcommand | ServerSubcommand],
    default: str | None = None,
) -> None:
    """``<COMMAND> <channel> <SUB> args...`` (or ``<COMMAND> <SUB> args...``
    for a server subcommand), through ``table``."""
    command = msg.command.upper()
    first = msg.params[0]
    entry = table.get(first.upper())
    if isinstance(entry, ServerSubcommand):
        entry.handler(server, client, list(msg.params[1:]))
        return
    found = find_conference(server, client, command, first)
    if found is None:
        return
    channel, conference = found
    sub = msg.param(1, default or "").upper()
    entry = table.get(sub)
    if not isinstance(entry, Subcommand):
        server.fail(client, command, "UNKNOWN_SUBCOMMAND", f"Unknown {command} subcommand {sub!r}", channel.name)
        return
    if entry.roles is not None and not require(server, client, command, channel, entry.roles):
        return
    args = list(msg.params[2:])
    if len(args) < entry.min_params:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, command, "Not enough parameters")
        return
    entry.handler(Context(server, client, channel, conference, command, args))
