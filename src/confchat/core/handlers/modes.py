"""MODE for users (+i +w, -o) and channels (+b +i +k +l +m +n +t +o +v)."""

from __future__ import annotations

from ...proto import numerics as N
from ...proto.casemap import casefold
from ...proto.message import Message
from ..channel import ARG_MODES, FLAG_MODES, LIST_MODES, MAX_BANS, PREFIX_MODES, SET_ARG_MODES, Ban, Channel
from ..client import Client
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..server import Server
from ...proto.numbers import is_number

USER_MODES_SETTABLE = "Biw"  # B: a bot (IRCv3 bot mode, ISUPPORT BOT=B)


def handle_mode(server: Server, client: Client, msg: Message) -> None:
    target = msg.params[0]
    if target[:1] in "#&":
        channel = server.find_channel(target)
        if channel is None:
            server.numeric(client, N.ERR_NOSUCHCHANNEL, target, "No such channel")
        elif len(msg.params) == 1:
            server.numeric(client, N.RPL_CHANNELMODEIS, channel.name, *channel.mode_string(client in channel.members))
            server.numeric(client, N.RPL_CREATIONTIME, channel.name, str(channel.created))
        else:
            channel_mode(server, client, channel, msg.params[1], list(msg.params[2:]))
    else:
        user_mode(server, client, msg)


def user_mode(server: Server, client: Client, msg: Message) -> None:
    if casefold(msg.params[0]) != client.folded:
        if server.find_nick(msg.params[0]) is None:
            server.numeric(client, N.ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
        else:
            server.numeric(client, N.ERR_USERSDONTMATCH, "Cant change mode for other users")
        return
    if len(msg.params) == 1:
        server.numeric(client, N.RPL_UMODEIS, "+" + "".join(sorted(client.modes)))
        return
    adding = True
    added, removed = [], []
    unknown = False
    for ch in msg.params[1]:
        if ch in "+-":
            adding = ch == "+"
        elif ch in USER_MODES_SETTABLE:
            if adding and ch not in client.modes:
                client.modes.add(ch)
                added.append(ch)
            elif not adding and ch in client.modes:
                client.modes.discard(ch)
                removed.append(ch)
        elif ch == "o" and not adding and client.oper:
            client.oper = None
            client.modes.discard("o")
            removed.append("o")
        elif ch != "o":
            unknown = True
    if unknown:
        server.numeric(client, N.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
    change = ("+" + "".join(added) if added else "") + ("-" + "".join(removed) if removed else "")
    server.census.update(client)
    if change:
        server.send(client, Message("MODE", (client.nick, change), client.nick))


def channel_mode(server: Server, client: Client, channel: Channel, modestring: str, args: list[str]) -> None:
    is_op = channel.is_op(client) or client.oper is not None
    adding = True
    applied: list[tuple[str, str, str | None]] = []  # (sign, mode, arg)
    needs_op_reported = False

    def deny() -> bool:
        nonlocal needs_op_reported
        if is_op:
            return False
        if not needs_op_reported:
            server.numeric(client, N.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
            needs_op_reported = True
        return True

    for ch in modestring:
        if ch in "+-":
            adding = ch == "+"
            continue
        sign = "+" if adding else "-"
        if ch in LIST_MODES:
            if not args:
                send_mode_list(server, client, channel, ch)
                continue
            mask = normalize_mask(args.pop(0))
            if deny():
                continue
            if " " in mask or mask.startswith(":") or len(mask) > 200:
                server.numeric(client, N.ERR_INVALIDMODEPARAM, channel.name, ch, "*", "Invalid mask")
                continue
            entries = channel.lists[ch]
            existing = next((b for b in entries if casefold(b.mask) == casefold(mask)), None)
            if adding and existing is None:
                if len(entries) >= MAX_BANS:
                    server.numeric(client, N.ERR_BANLISTFULL, channel.name, mask, f"Channel {LIST_NAMES[ch]} list is full")
                    continue
                entries.append(Ban(mask, client.prefix, int(server.wallclock())))
                applied.append((sign, ch, mask))
            elif not adding and existing is not None:
                entries.remove(existing)
                applied.append((sign, ch, existing.mask))
        elif ch in PREFIX_MODES:
            if not args:
                server.numeric(client, N.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
                continue
            nick = args.pop(0)
            if deny():
                continue
            target = server.find_nick(nick)
            if target is None:
                server.numeric(client, N.ERR_NOSUCHNICK, nick, "No such nick/channel")
                continue
            if target not in channel.members:
                server.numeric(client, N.ERR_USERNOTINCHANNEL, target.nick, channel.name, "They aren't on that channel")
                continue
            status = channel.members[target]
            if adding and ch not in status:
                channel.members[target] = "".join(m for m in PREFIX_MODES if m in status + ch)
                applied.append((sign, ch, target.nick))
            elif not adding and ch in status:
                channel.members[target] = status.replace(ch, "")
                applied.append((sign, ch, target.nick))
        elif ch in ARG_MODES:  # k
            if adding and not args:
                server.numeric(client, N.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
                continue
            key = args.pop(0) if args else ""
            if deny():
                continue
            if adding:
                if not key or " " in key or "," in key:
                    server.numeric(client, N.ERR_INVALIDMODEPARAM, channel.name, "k", key, "Invalid key")
                    continue
                channel.key = key[:32]
                applied.append((sign, ch, channel.key))
            elif channel.key:
                channel.key = ""
                applied.append((sign, ch, "*"))
        elif ch in SET_ARG_MODES:  # l
            if adding:
                if not args:
                    server.numeric(client, N.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
                    continue
                raw = args.pop(0)
                if deny():
                    continue
                if not is_number(raw) or int(raw) <= 0:
                    server.numeric(client, N.ERR_INVALIDMODEPARAM, channel.name, "l", raw, "Invalid limit")
                    continue
                channel.limit = int(raw)
                applied.append((sign, ch, raw))
            elif not deny() and channel.limit:
                channel.limit = 0
                applied.append((sign, ch, None))
        elif ch in FLAG_MODES:
            if deny():
                continue
            if adding and ch not in channel.modes:
                channel.modes.add(ch)
                applied.append((sign, ch, None))
            elif not adding and ch in channel.modes:
                channel.modes.discard(ch)
                applied.append((sign, ch, None))
        else:
            server.numeric(client, N.ERR_UNKNOWNMODE, ch, "is unknown mode char to me")
    if applied:
        server.relay(list(channel.members), client.prefix, "MODE", (channel.name, *format_changes(applied)))


def format_changes(applied: list[tuple[str, str, str | None]]) -> tuple[str, ...]:
    out = ""
    sign = ""
    args = []
    for s, mode, arg in applied:
        if s != sign:
            out += s
            sign = s
        out += mode
        if arg is not None:
            args.append(arg)
    return (out, *args)


def normalize_mask(mask: str) -> str:
    """Complete a partial ban mask the way other servers do: ``nick`` becomes
    ``nick!*@*`` and ``user@host`` becomes ``*!user@host``."""
    if "!" not in mask and "@" not in mask:
        return mask + "!*@*"
    if "!" not in mask:
        return "*!" + mask
    if "@" not in mask:
        return mask + "@*"
    return mask


# Each list mode's name and its numerics (entry, end), Modern IRC's
# RPL_BANLIST, RPL_EXCEPTLIST and RPL_INVEXLIST.
LIST_NAMES = {"b": "ban", "e": "exception", "I": "invite exception"}
LIST_NUMERICS = {
    "b": (N.RPL_BANLIST, N.RPL_ENDOFBANLIST),
    "e": (N.RPL_EXCEPTLIST, N.RPL_ENDOFEXCEPTLIST),
    "I": (N.RPL_INVEXLIST, N.RPL_ENDOFINVEXLIST),
}


def send_mode_list(server: Server, client: Client, channel: Channel, mode: str) -> None:
    entry, end = LIST_NUMERICS[mode]
    if mode != "b" and not channel.is_op(client) and client.oper is None:
        # Exception lists are the operators' business (as in InspIRCd and Ergo).
        server.numeric(client, N.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    for ban in channel.lists[mode]:
        server.numeric(client, entry, channel.name, ban.mask, ban.setter, str(ban.set_at))
    server.numeric(client, end, channel.name, f"End of channel {LIST_NAMES[mode]} list")


def send_ban_list(server: Server, client: Client, channel: Channel) -> None:
    send_mode_list(server, client, channel, "b")
