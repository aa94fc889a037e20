"""Information about users and the server: WHO (with WHOX), WHOIS, WHOWAS,
ISON, USERHOST, MONITOR, LUSERS, MOTD, VERSION, TIME."""

from __future__ import annotations

import time as _time

from ...proto import numerics as N
from ...proto.casemap import casefold, is_valid_nick, mask_match
from ...proto.message import Message
from ..channel import Channel, status_prefixes
from ..client import Client
from ..members import Member, remote_member, remote_staff, remote_visitors, taken_elsewhere
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from ..server import Server
from .registration import send_isupport, send_lusers, send_motd
from ...proto.numbers import is_number

WHOX_FIELDS = "tcuihsnfdlaor"  # the fixed order of WHOX reply fields


# WHO with a mask answers at most this many rows, then 416 (ircu answers
# ERR_QUERYTOOLONG past its limit, IRCnet ERR_TOOMANYMATCHES): a reply that
# fits in a send queue, and costs its sender what it can see. Staff and
# operators, with the larger send queue, may see more; to walk a whole
# audience they page with CONF AUDIENCE.
WHO_MAX_ROWS = 200
WHO_MAX_ROWS_STAFF = 5000


def _flags(client: Client, channel: Channel | None, multi: bool) -> str:
    flags = "G" if client.away is not None else "H"
    if client.oper:
        flags += "*"
    if "B" in client.modes:
        flags += "B"  # IRCv3 bot mode: ISUPPORT BOT=B
    if channel is not None:
        flags += channel.prefixes(client, multi)
    return flags


def handle_who(server: Server, client: Client, msg: Message) -> None:
    mask = msg.params[0]
    fields, _, token = msg.param(1).partition(",")
    whox = fields.startswith("%")
    opers_only = "o" in fields.partition("%")[0]  # WHO <mask> o (RFC 2812 3.6.1)
    multi = "multi-prefix" in client.caps
    rows: list[tuple[Client, Channel | None]] = []
    remote: list[Member] = []  # a conference's members on the cluster's other nodes
    truncated = False
    channel = server.find_channel(mask) if mask[:1] in "#&" else None
    if channel is not None:
        member = client in channel.members
        if member or not channel.hidden:
            shown = channel.staff if channel.auditorium and client not in channel.staff else channel.members
            rows = [(c, channel) for c in shown if member or "i" not in c.modes]
            remote = remote_staff(server, channel) + (remote_visitors(server, channel) if shown is channel.members else [])
            # Bounded like a mask's: past it, CONF AUDIENCE pages through an audience.
            limit = WHO_MAX_ROWS_STAFF if client.oper is not None or client.account is not None else WHO_MAX_ROWS
            truncated = len(rows) + len(remote) > limit
            del rows[limit:]
            del remote[max(0, limit - len(rows)):]
    elif mask[:1] not in "#&":
        target = server.find_nick(mask)
        if target is not None:
            rows = [(target, _first_channel(target, client))]
        else:
            rows, truncated = _who_mask(server, client, mask)
    if opers_only:
        rows = [(c, chan) for c, chan in rows if c.oper]
        remote = []  # another node's operators are not known here
    for other, chan in rows:
        flags = _flags(other, chan, multi)
        channame = chan.name if chan is not None else "*"
        if whox:
            values = {
                "t": token or "0",
                "c": channame,
                "u": other.user,
                "i": "255.255.255.255",
                "h": other.host,
                "s": server.name,
                "n": other.nick,
                "f": flags,
                "d": "0",
                "l": str(int(server.clock() - other.last_spoke)),
                "a": other.account or "0",
                "o": "n/a",
                "r": other.realname,
            }
            server.numeric(client, N.RPL_WHOSPCRPL, *[values[f] for f in WHOX_FIELDS if f in fields])
        else:
            server.numeric(
                client, N.RPL_WHOREPLY, channame, other.user, other.host, server.name, other.nick, flags,
                f"0 {other.realname}",
            )
    for m in remote:  # what their presence tells: no idle time, no away
        flags = "H" + status_prefixes(m.status, multi)
        if whox:
            values = {"t": token or "0", "c": channel.name if channel else "*", "u": m.user, "i": "255.255.255.255",
                      "h": m.host, "s": server.name, "n": m.nick, "f": flags, "d": "0", "l": "0",
                      "a": m.account or "0", "o": "n/a", "r": m.realname}
            server.numeric(client, N.RPL_WHOSPCRPL, *[values[f] for f in WHOX_FIELDS if f in fields])
        else:
            server.numeric(client, N.RPL_WHOREPLY, channel.name if channel else "*", m.user, m.host, server.name,
                           m.nick, flags, f"0 {m.realname}")
    if truncated:
        server.numeric(client, N.ERR_TOOMANYMATCHES, "WHO", mask, "Too many matches, restrict your query")
    server.numeric(client, N.RPL_ENDOFWHO, mask, "End of /WHO list")


def _who_mask(server: Server, client: Client, mask: str) -> tuple[list[tuple[Client, Channel | None]], bool]:
    """The users a WHO mask (``*`` and ``0`` for all, RFC 2812 3.6.1)
    lists to ``client``, and whether the list was cut at its limit.

    Anyone sees the users it shares a channel with (in an auditorium, a
    visitor shares it with the staff only) and the public ones (not +i, in
    no conference: core/census.py), so a visitor's WHO walks what it may
    see, never an audience. Staff and operators search every user not +i
    and everyone they share a channel with."""
    everything = mask in ("*", "0")
    shared = server.peers(client) | {client}
    staff = client.oper is not None or client.account is not None
    if staff:
        pool: Iterable[Client] = server.clients.values()
        limit = WHO_MAX_ROWS_STAFF
    else:
        pool = shared | server.census.public
        limit = WHO_MAX_ROWS
    rows: list[tuple[Client, Channel | None]] = []
    for other in pool:
        if not other.registered or (other not in shared and "i" in other.modes):
            continue
        if everything or mask_match(mask, other.nick) or mask_match(mask, other.prefix) or mask_match(mask, other.realname):
            if len(rows) >= limit:
                return rows, True
            rows.append((other, _first_channel(other, client)))
    return rows, False


def _first_channel(client: Client, viewer: Client) -> Channel | None:
    """The channel a WHO row names: the first one ``viewer`` may see."""
    return next((c for c in client.channels.values() if not c.hidden or viewer in c.members), None)


def handle_whois(server: Server, client: Client, msg: Message) -> None:
    # WHOIS [server] nick: the one-server network answers for itself either way.
    nick = msg.params[-1].split(",")[0]
    target = server.find_nick(nick)
    if target is None:
        elsewhere = remote_member(server, casefold(nick))  # on another node of the cluster
        if elsewhere is not None:
            _whois_elsewhere(server, client, *elsewhere)
            return
        server.numeric(client, N.ERR_NOSUCHNICK, nick, "No such nick/channel")
        server.numeric(client, N.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
        return
    multi = "multi-prefix" in client.caps
    server.numeric(client, N.RPL_WHOISUSER, target.nick, target.user, target.host, "*", target.realname)
    chans = [
        c.prefixes(target, multi) + c.name for c in target.channels.values()
        if not c.hidden or client in c.members or client is target
    ]
    if chans:
        server.numeric(client, N.RPL_WHOISCHANNELS, target.nick, " ".join(chans))
    server.numeric(client, N.RPL_WHOISSERVER, target.nick, server.name, server.config.server.network)
    if target.oper:
        server.numeric(client, N.RPL_WHOISOPERATOR, target.nick, "is an IRC operator")
    if "B" in target.modes:
        server.numeric(client, N.RPL_WHOISBOT, target.nick, f"is a bot on {server.config.server.network}")
    if target.account:
        server.numeric(client, N.RPL_WHOISACCOUNT, target.nick, target.account, "is logged in as")
    if target.cloak and (client is target or server.sees_addresses(client)):
        # The address behind the cloak: to its owner, operators and admins only.
        server.numeric(client, N.RPL_WHOISACTUALLY, target.nick, f"{target.user}@{target.ip}", target.ip,
                       "Actual user@host, actual IP")
    if target.away is not None:
        server.numeric(client, N.RPL_AWAY, target.nick, target.away)
    idle = int(server.clock() - target.last_spoke)
    server.numeric(client, N.RPL_WHOISIDLE, target.nick, str(idle), str(int(target.signon)), "seconds idle, signon time")
    server.numeric(client, N.RPL_ENDOFWHOIS, target.nick, "End of /WHOIS list")


def _whois_elsewhere(server: Server, client: Client, member: Member, places: list[tuple[str, str]]) -> None:
    """WHOIS of a member of a conference connected to another node: what
    its presence tells (core/members.py); no idle time, no away."""
    multi = "multi-prefix" in client.caps
    server.numeric(client, N.RPL_WHOISUSER, member.nick, member.user, member.host, "*", member.realname)
    server.numeric(client, N.RPL_WHOISCHANNELS, member.nick,
                   " ".join(status_prefixes(status, multi) + name for name, status in places))
    server.numeric(client, N.RPL_WHOISSERVER, member.nick, server.name, server.config.server.network)
    if member.account:
        server.numeric(client, N.RPL_WHOISACCOUNT, member.nick, member.account, "is logged in as")
    if member.host != member.ip and server.sees_addresses(client):
        server.numeric(client, N.RPL_WHOISACTUALLY, member.nick, f"{member.user}@{member.ip}", member.ip,
                       "Actual user@host, actual IP")
    server.numeric(client, N.RPL_ENDOFWHOIS, member.nick, "End of /WHOIS list")


def handle_whowas(server: Server, client: Client, msg: Message) -> None:
    nick = msg.params[0]
    count = int(msg.param(1)) if is_number(msg.param(1)) else 0
    folded = casefold(nick)
    found = 0
    for entry_folded, entry_nick, user, host, realname, when in server.whowas:
        if entry_folded != folded:
            continue
        server.numeric(client, N.RPL_WHOWASUSER, entry_nick, user, host, "*", realname)
        stamp = _time.strftime("%Y-%m-%d %H:%M:%S UTC", _time.gmtime(when))
        server.numeric(client, N.RPL_WHOISSERVER, entry_nick, server.name, stamp)
        found += 1
        if count and found >= count:
            break
    if not found:
        server.numeric(client, N.ERR_WASNOSUCHNICK, nick, "There was no such nickname")
    server.numeric(client, N.RPL_ENDOFWHOWAS, nick, "End of WHOWAS")


def handle_ison(server: Server, client: Client, msg: Message) -> None:
    nicks = " ".join(msg.params).split()
    online = [c.nick for c in (server.find_nick(n) for n in nicks) if c is not None]
    online += [n for n in nicks if server.find_nick(n) is None and taken_elsewhere(server, casefold(n))]
    server.numeric(client, N.RPL_ISON, " ".join(online))


def handle_userhost(server: Server, client: Client, msg: Message) -> None:
    out = []
    for nick in msg.params[:5]:
        other = server.find_nick(nick)
        if other is not None:
            oper = "*" if other.oper else ""
            away = "-" if other.away is not None else "+"
            out.append(f"{other.nick}{oper}={away}{other.user}@{other.host}")
    server.numeric(client, N.RPL_USERHOST, " ".join(out))


def handle_monitor(server: Server, client: Client, msg: Message) -> None:
    sub = msg.params[0]
    targets = [t for t in msg.param(1).split(",") if t]
    if sub == "+":
        online, offline = [], []
        for index, nick in enumerate(targets):
            if not is_valid_nick(nick, server.limits.nick_length):
                continue
            folded = casefold(nick)
            if folded not in client.monitoring and len(client.monitoring) >= server.limits.monitor_limit:
                server.numeric(client, N.ERR_MONLISTFULL, str(server.limits.monitor_limit), ",".join(targets[index:]), "Monitor list is full.")
                break
            client.monitoring.add(folded)
            server.monitors.setdefault(folded, set()).add(client)
            other = server.find_nick(nick)
            if other is not None:
                online.append(other.prefix)
            elif taken_elsewhere(server, folded):  # held on another node of the cluster
                online.append(nick)
            else:
                offline.append(nick)
        if online:
            server.numeric(client, N.RPL_MONONLINE, ",".join(online))
        if offline:
            server.numeric(client, N.RPL_MONOFFLINE, ",".join(offline))
    elif sub == "-":
        for nick in targets:
            folded = casefold(nick)
            client.monitoring.discard(folded)
            watchers = server.monitors.get(folded)
            if watchers:
                watchers.discard(client)
                if not watchers:
                    del server.monitors[folded]
    elif sub.upper() == "C":
        for folded in client.monitoring:
            watchers = server.monitors.get(folded)
            if watchers:
                watchers.discard(client)
                if not watchers:
                    del server.monitors[folded]
        client.monitoring.clear()
    elif sub.upper() == "L":
        if client.monitoring:
            server.numeric(client, N.RPL_MONLIST, ",".join(sorted(client.monitoring)))
        server.numeric(client, N.RPL_ENDOFMONLIST, "End of MONITOR list")
    elif sub.upper() == "S":
        online, offline = [], []
        for folded in sorted(client.monitoring):
            other = server.find_nick(folded)
            if other is not None:
                online.append(other.prefix)
            else:
                (online if taken_elsewhere(server, folded) else offline).append(folded)
        if online:
            server.numeric(client, N.RPL_MONONLINE, ",".join(online))
        if offline:
            server.numeric(client, N.RPL_MONOFFLINE, ",".join(offline))
    else:
        server.numeric(client, N.ERR_UNKNOWNCOMMAND, "MONITOR", "Unknown MONITOR subcommand")


def handle_lusers(server: Server, client: Client, msg: Message) -> None:
    send_lusers(server, client)


def handle_motd(server: Server, client: Client, msg: Message) -> None:
    send_motd(server, client)


def handle_version(server: Server, client: Client, msg: Message) -> None:
    server.numeric(client, N.RPL_VERSION, server.version_string(), server.name, "IRC server for moderated live events")
    send_isupport(server, client)


def handle_time(server: Server, client: Client, msg: Message) -> None:
    now = server.wallclock()
    server.numeric(client, N.RPL_TIME, server.name, _time.strftime("%A %B %d %Y -- %H:%M:%S UTC", _time.gmtime(now)))
