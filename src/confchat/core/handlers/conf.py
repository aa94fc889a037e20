"""CONF: a conference's settings, state, roles, restrictions, the guest
stage's markers, its records and exports; and CONF LIST / CONF CREATE for
the server's conferences (protocol.md, "CONF")."""

from __future__ import annotations

import json
from collections import Counter
from functools import partial
from typing import TYPE_CHECKING

from ...config import ConferenceConfig
from ...moderation.conference import MODERATING, STAFF, Conference, Role
from ...proto import numerics as N
from ...proto.casemap import casefold, is_valid_channel
from ...proto.message import Message
from ...proto.numbers import is_number
from ...vocab import ConferenceState, ExportFormat, values
from ..exports import EXPORT_TTL
from ..presence import refresh_status, welcome_to_conference
from ..subcommands import ADMINS, PAGE, Context, ServerSubcommand, Subcommand, dispatch, more, page
from .admin import conf_roles
from ..members import Member, remote_visitor, remote_visitors
from ..ops import Op, decide
from .conference import actor_of, parse_item_id
from .modes import normalize_mask
from .visitors import conf_votes, conf_withdraw

if TYPE_CHECKING:
    from ..channel import Channel
    from ..client import Client
    from ..server import Server

ROLES_GIVEN = (Role.ADMIN, Role.MODERATOR, Role.GUEST, Role.VISITOR)


def conf_info(ctx: Context) -> None:
    server, client, channel, conference = ctx.server, ctx.client, ctx.channel, ctx.conference
    role = server.role(client, channel)
    info = conference.info()
    info["audience"] = str(server.visitors_present(channel))
    info["now_answering"] = str(conference.now_answering or "")
    if role in STAFF:
        info["queue"] = str(len(conference.queue.order))
        oldest = min((conference.queue.items[i].submitted_at for i in conference.queue.order), default=None)
        info["oldest_waiting"] = str(int(server.wallclock() - oldest)) if oldest is not None else ""
    if role in STAFF:
        shield = conference.shield
        info["shield"] = ("closed" if shield.closed else "on") if shield.on else "off"
        info["shield_reason"] = shield.reason
        info["shield_by"] = shield.by
    info["role"] = role.value
    for key, value in info.items():
        server.reply(client, "CONF", channel.name, "INFO", key, value)
    server.reply(client, "CONF", channel.name, "END", "End of conference info")


def conf_state(ctx: Context) -> None:
    server, client, channel = ctx.server, ctx.client, ctx.channel
    text = ctx.args[0].lower()
    if text not in values(ConferenceState):
        server.fail(client, "CONF", "INVALID_STATE", f"State must be one of {', '.join(values(ConferenceState))}",
                    channel.name, ctx.args[0])
        return
    state = ConferenceState(text)
    decide(server, client, channel, "state", state.value,
           done=("CONF", "STATE", f"{channel.name} is now {state.value}", channel.name, state.value))


def conf_set(ctx: Context) -> None:
    server, client, channel = ctx.server, ctx.client, ctx.channel
    key, value = ctx.args[0].lower(), ctx.args[1]
    decide(server, client, channel, "set", key, value, done=("CONF", "SET", f"{key} is now {value}", channel.name, key))


def conf_role(ctx: Context) -> None:
    server, client, channel = ctx.server, ctx.client, ctx.channel
    account, role_name = ctx.args[0], ctx.args[1].lower()
    if casefold(account) not in server.accounts:
        server.fail(client, "CONF", "NO_SUCH_ACCOUNT", f"No account named {account}", channel.name, account)
        return
    if role_name not in (r.value for r in ROLES_GIVEN):
        server.fail(client, "CONF", "INVALID_ROLE", "Role must be admin, moderator, guest or visitor", channel.name, role_name)
        return
    decide(server, client, channel, "role", account, role_name,
           done=("CONF", "ROLE", f"{account} is now {role_name} in {channel.name}", channel.name, account, role_name))


def restriction_mask(server: Server, text: str, channel: Channel | None = None) -> str:
    """What a ban or mute by nick aims at: that person, never everyone
    behind their address (a venue's Wi-Fi, a school, a mobile carrier).
    Someone present with an account: the account; a web visitor: their
    visitor identity and the nick; any other connection: that connection
    and the nick. An address is banned only by a mask naming it
    (``*!*@visitor-3f9a2c81d0.confchat``): a choice made on purpose."""
    if text.startswith("$"):
        return text
    if "!" in text or "@" in text or "*" in text or "?" in text:
        return normalize_mask(text)
    target: Client | Member | None = server.find_nick(text)
    if target is None and channel is not None:  # a visitor on another node of the cluster
        target = remote_visitor(server, channel, text)
    if target is not None:
        if target.account:
            return f"$a:{target.account}"
        who = f"$v:{target.visitor}" if target.visitor else f"$c:{target.connection_key}"
        return f"{who},{target.nick}!*@*"
    return normalize_mask(text)


def valid_mask_text(text: str) -> bool:
    """A nick or mask as CONF BAN and MUTE take it: not empty, no spaces
    and no control characters (a trailing parameter could carry them, and
    such a mask would match nobody and list unreadably)."""
    return bool(text) and not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text)


def conf_restrict(kind: str, ctx: Context) -> None:
    """BAN and MUTE: ``<mask|nick> [seconds] [reason]``."""
    server, client, channel = ctx.server, ctx.client, ctx.channel
    if not valid_mask_text(ctx.args[0]):
        server.fail(client, "CONF", "INVALID_MASK", "A mask or nick has no spaces or control characters",
                    channel.name, "*")
        return
    mask = restriction_mask(server, ctx.args[0], channel)
    rest = ctx.args[1:]
    duration = 0
    if rest and is_number(rest[0]):
        duration = int(rest[0])
        rest = rest[1:]
    reason = rest[0] if rest else ""
    # The confirmation counts the visitors it covers (core/ops.py).
    decide(server, client, channel, "restrict", kind, mask, duration, reason, done="restricted")


def conf_unrestrict(kind: str, ctx: Context) -> None:
    server, client, channel = ctx.server, ctx.client, ctx.channel
    mask = restriction_mask(server, ctx.args[0], channel)
    decide(server, client, channel, "unrestrict", kind, mask,
           done=("CONF", "UN" + kind.upper(), f"{kind} on {mask} lifted", channel.name, mask))


def conf_bans(ctx: Context) -> None:
    server, client, channel, conference = ctx.server, ctx.client, ctx.channel, ctx.conference
    conference.expire(server.wallclock())
    for r in conference.restrictions:
        expires = str(int(r.expires)) if r.expires else "0"
        server.reply(client, "CONF", channel.name, "RESTRICTION", r.kind, r.mask, r.by, expires, r.reason)
    server.reply(client, "CONF", channel.name, "END", f"{len(conference.restrictions)} restrictions")


def conf_disconnect(ctx: Context) -> None:
    server, client, channel = ctx.server, ctx.client, ctx.channel
    target: Client | Member | None = server.find_nick(ctx.args[0])
    if target is None or target not in channel.members:
        target = remote_visitor(server, channel, ctx.args[0])  # on another node: disconnected there
    if target is None:
        server.numeric(client, N.ERR_USERNOTINCHANNEL, ctx.args[0], channel.name, "They aren't on that channel")
        return
    if target in channel.staff:
        server.fail(client, "CONF", "CANNOT_DISCONNECT_STAFF", "Staff cannot be disconnected this way", channel.name, target.nick)
        return
    reason = ctx.args[1] if len(ctx.args) > 1 else "Disconnected by a moderator"
    nick = target.nick
    decide(server, client, channel, "disconnect", target.id, nick, reason,
           done=("CONF", "DISCONNECTED", f"{nick} was disconnected", channel.name, nick))


def conf_marker(method: str, ctx: Context) -> None:
    """ANSWERING and ANSWERED: the guest stage's "now answering" marker."""
    server, client, channel = ctx.server, ctx.client, ctx.channel
    item_id = parse_item_id(server, client, "CONF", ctx.args[0])
    if item_id is not None:
        decide(server, client, channel, method, item_id, context=(ctx.args[0],))


def conf_shield(ctx: Context) -> None:
    """``SHIELD ON [CLOSED] [reason]`` or ``SHIELD OFF``: shield mode."""
    server, client, channel = ctx.server, ctx.client, ctx.channel
    switch, rest = ctx.args[0].upper(), ctx.args[1:]
    if switch not in ("ON", "OFF"):
        server.fail(client, "CONF", "INVALID_SETTING", "SHIELD takes ON or OFF", channel.name, "shield")
        return
    closed = bool(rest) and rest[0].upper() == "CLOSED"
    reason = " ".join(rest[1:] if closed else rest)
    decide(server, client, channel, "shield", switch == "ON", reason, closed,
           done=("CONF", "SHIELD", f"Shield mode is {switch.lower()} in {channel.name}", channel.name, switch.lower()))


def conf_questions(ctx: Context) -> None:
    """Published questions, most votes first (ties: oldest first)."""
    server, client, channel, conference = ctx.server, ctx.client, ctx.channel, ctx.conference
    items = sorted((i for i in conference.queue.published() if not i.redacted), key=lambda i: (-len(i.votes), i.id))
    start, stop = page(ctx, len(items))
    for item in items[start:stop]:
        server.reply(
            client, "CONF", channel.name, "QUESTION", str(item.id), str(len(item.votes)),
            "answered" if item.answered else "open", item.msgid or "*", item.author, item.text,
        )
    more(ctx, stop, len(items))
    server.reply(client, "CONF", channel.name, "END", f"{len(items)} questions")


def conf_audit(ctx: Context) -> None:
    """The audit log, a page at a time. Positions count from the event's
    first entry; the oldest ones, once let go from memory, are in the
    internal archive only, and a page asked there starts at the first entry
    still held (its AUDIT lines carry their own positions)."""
    server, client, channel, conference = ctx.server, ctx.client, ctx.channel, ctx.conference
    total, base = conference.audit_total, conference.audit_base
    start, stop = page(ctx, total)
    if start < base:
        start, stop = base, min(total, base + PAGE)
        server.reply(
            client, "CONF", channel.name, "ARCHIVED", str(base),
            f"The first {base} entries are in the internal archive (CONF EXPORT)",
        )
    for entry in conference.audit[start - base : stop - base]:
        detail = json.dumps(entry.detail, ensure_ascii=False, separators=(",", ":"))
        server.reply(
            client, "CONF", channel.name, "AUDIT", str(int(entry.at)), entry.actor, entry.action,
            str(entry.item) if entry.item is not None else "*", detail,
        )
    more(ctx, stop, total)
    server.reply(client, "CONF", channel.name, "END", f"{total} entries")


def conf_audience(ctx: Context) -> None:
    """``AUDIENCE [<from>] [<search>]``: the visitors present, by nick, a
    page at a time; ``search`` keeps those whose nick or account contains it.
    Each row says how many visitors present share the member's address
    (what a ban of the address would remove) and its visitor identity."""
    server, client, channel = ctx.server, ctx.client, ctx.channel
    # This node's visitors and, in a cluster, the other nodes' (core/members.py).
    present: list[Client | Member] = [m for m in channel.members if m not in channel.staff]
    present.extend(remote_visitors(server, channel))
    sharing = Counter(m.ip for m in present)
    args = ctx.args[1:] if ctx.args and ctx.args[0].isdigit() else ctx.args
    wanted = casefold(args[0]) if args else ""
    visitors = sorted(
        (m for m in present
         if not wanted or wanted in m.folded or (m.account is not None and wanted in casefold(m.account))),
        key=lambda m: m.folded,
    )
    start, stop = page(ctx, len(visitors))
    for member in visitors[start:stop]:
        server.reply(client, "CONF", channel.name, "MEMBER", member.nick, f"{member.user}@{member.host}",
                     member.account or "*", member.visitor or "*", str(sharing[member.ip]))
    more(ctx, stop, len(visitors))
    server.reply(client, "CONF", channel.name, "END", f"{len(visitors)} visitors")


def conf_export(ctx: Context) -> None:
    """A one-time download link for the transcript (public, or the internal
    archive with ``internal``), valid five minutes: no password in any URL."""
    server, client, channel, conference = ctx.server, ctx.client, ctx.channel, ctx.conference
    fmt = (ctx.args[0] if ctx.args else "html").lower()
    internal = len(ctx.args) > 1 and ctx.args[1].lower() == "internal"
    if fmt not in values(ExportFormat):
        server.fail(client, "CONF", "INVALID_FORMAT", f"Format must be one of {', '.join(values(ExportFormat))}",
                    channel.name, fmt)
        return
    token = server.exports.new(conference.folded, fmt, internal)
    if server.cluster is not None:  # the download may reach another node
        server.cluster.propose(Op(conference.folded, "token", None, (token, fmt, internal), node=server.node_number))
    decide(server, client, channel, "log", actor_of(client).name, "export", {"format": fmt, "internal": internal})
    server.reply(client, "CONF", channel.name, "EXPORT", fmt, "internal" if internal else "public",
                 f"/export/{token}", f"Download link, valid {int(EXPORT_TTL // 60)} minutes, once")


# ---------------------------------------------------------------- the server's conferences


def conf_list(server: Server, client: Client, args: list[str]) -> None:
    for conference in server.conferences.values():
        server.reply(client, "CONF", "*", "LIST", conference.channel, conference.state.value,
                     conference.mode.value, conference.title)
    server.reply(client, "CONF", "*", "END", f"{len(server.conferences)} conferences")


def conf_create(server: Server, client: Client, args: list[str]) -> None:
    if not server.is_admin(client):
        server.fail(client, "CONF", "NEED_ROLE", "Only admins create conferences")
        return
    if len(args) < 2:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "CONF", "Not enough parameters")
        return
    name, title = args[0], args[1]
    if not name.startswith("#") or not is_valid_channel(name, server.limits.channel_length):
        server.fail(client, "CONF", "INVALID_CHANNEL", f"{name!r} is not a valid channel name", name or "*")
        return
    if casefold(name) in server.conferences:
        server.fail(client, "CONF", "ALREADY_EXISTS", f"{name} is already a conference", name)
        return
    decide(server, client, casefold(name), "create", name, title)


def create_conference(server: Server, client: Client | None, actor: str, name: str, title: str) -> None:
    """CONF CREATE carried out (core/ops.py): on every node of a cluster,
    where two admins may have raced for the name."""
    if casefold(name) in server.conferences:
        if client is not None:
            server.fail(client, "CONF", "ALREADY_EXISTS", f"{name} is already a conference", name)
        return
    existed = server.find_channel(name) is not None
    conference = Conference(ConferenceConfig(channel=name, title=title))
    channel = server.add_conference(conference)
    server.engine.log(conference, actor, "create", title=title)
    # Members already in the channel keep their place, see the new topic,
    # and their status follows their conference role.
    if existed:
        server.relay(list(channel.members), server.name, "TOPIC", (channel.name, title))
        for member in list(channel.members):
            refresh_status(server, channel, member)
            welcome_to_conference(server, member, channel)
    if client is not None:
        server.note(client, "CONF", "CREATED", f"Conference {name} created", name)


CONF_SUBCOMMANDS: dict[str, Subcommand | ServerSubcommand] = {
    "LIST": ServerSubcommand(conf_list),
    "CREATE": ServerSubcommand(conf_create),
    "INFO": Subcommand(conf_info),
    "STATE": Subcommand(conf_state, MODERATING, 1),
    "SET": Subcommand(conf_set, MODERATING, 2),
    "ROLE": Subcommand(conf_role, ADMINS, 2),
    "ROLES": Subcommand(conf_roles, ADMINS),
    "BAN": Subcommand(partial(conf_restrict, "ban"), MODERATING, 1),
    "UNBAN": Subcommand(partial(conf_unrestrict, "ban"), MODERATING, 1),
    "MUTE": Subcommand(partial(conf_restrict, "mute"), MODERATING, 1),
    "UNMUTE": Subcommand(partial(conf_unrestrict, "mute"), MODERATING, 1),
    "BANS": Subcommand(conf_bans, MODERATING),
    "DISCONNECT": Subcommand(conf_disconnect, MODERATING, 1),
    "SHIELD": Subcommand(conf_shield, MODERATING, 1),
    "ANSWERING": Subcommand(partial(conf_marker, "answering"), STAFF, 1),
    "ANSWERED": Subcommand(partial(conf_marker, "answered"), STAFF, 1),
    "QUESTIONS": Subcommand(conf_questions, STAFF),
    "AUDIT": Subcommand(conf_audit, MODERATING),
    "AUDIENCE": Subcommand(conf_audience, MODERATING),
    "EXPORT": Subcommand(conf_export, MODERATING),
    "WITHDRAW": Subcommand(conf_withdraw, None, 1),  # the author's own items only (the engine checks)
    "VOTES": Subcommand(conf_votes),
}


def handle_conf(server: Server, client: Client, msg: Message) -> None:
    dispatch(server, client, msg, CONF_SUBCOMMANDS, default="INFO")
