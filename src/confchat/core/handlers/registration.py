"""Connection registration: CAP, PASS, NICK, USER, and the welcome burst;
plus PING, PONG and QUIT, which work before and after registration."""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from ...proto import numerics as N
from ...proto.casemap import casefold, is_valid_nick
from ...proto.message import Message
from ..caps import SUPPORTED, ls_string
from ..channel import isupport_modes, myinfo_modes
from ..client import Client
from ..cloak import valid_token, visitor_identity

if TYPE_CHECKING:
    from ...config import Config
    from ..server import Server
from ..members import announce, drop_nick, hold_nick, taken_elsewhere
from ..addresses import tell_login
from ..notify import interested, monitor_notify
from ..presence import refresh_roles
from .history import isupport_tokens as history_isupport
from ...proto.numbers import is_number

# Wrong passwords (SASL, PASS account:password, OPER) one connection may try.
MAX_LOGIN_FAILURES = 5

# SASL (IRCv3 sasl-3.1): AUTHENTICATE payloads come in 400-byte chunks.
SASL_CHUNK = 400
SASL_MAX = 4 * SASL_CHUNK


def handle_cap(server: Server, client: Client, msg: Message) -> None:
    sub = msg.params[0].upper()
    target = client.nick
    if sub == "LS":
        if not client.registered:
            client.cap_negotiating = True
        version = msg.param(1)
        client.cap_version = max(client.cap_version, int(version) if is_number(version) else 0)
        if client.cap_version >= 302:
            client.set_caps(client.caps | {"cap-notify"})
        # STS over IRC over TCP only: a browser has HSTS, and a
        # WebSocket client could not use the TLS port it would be sent to.
        sts = server.sts.value(client.tls) if server.sts is not None and client.transport == "tcp" else None
        server.reply(client, "CAP", target, "LS", ls_string(client.cap_version, sts))
    elif sub == "LIST":
        server.reply(client, "CAP", target, "LIST", " ".join(sorted(client.caps)))
    elif sub == "REQ":
        if not client.registered:
            client.cap_negotiating = True
        wanted = msg.param(1)
        caps = set(client.caps)
        for item in wanted.split():
            name = item[1:] if item.startswith("-") else item
            if name not in SUPPORTED or (item.startswith("-") and name == "cap-notify" and client.cap_version >= 302):
                server.reply(client, "CAP", target, "NAK", wanted)
                return
            if item.startswith("-"):
                caps.discard(name)
            else:
                caps.add(name)
        client.set_caps(caps)
        server.reply(client, "CAP", target, "ACK", wanted)
    elif sub == "END":
        if not client.registered:
            client.cap_negotiating = False
            try_register(server, client)
    else:
        server.numeric(client, N.ERR_INVALIDCAPCMD, msg.params[0], "Invalid CAP subcommand")


def handle_pass(server: Server, client: Client, msg: Message) -> None:
    if client.registered:
        server.numeric(client, N.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    value = msg.params[0]
    expected = server.config.server.password
    if expected:
        client.password_ok = hmac.compare_digest(value.encode(), expected.encode())
        return
    # Without a server password, PASS account:password logs in to a staff
    # account: the fallback for clients without SASL.
    name, sep, password = value.partition(":")
    if not sep or client.account:
        return

    def finish(ok: bool) -> None:
        if ok:
            server.note(client, "PASS", "LOGGED_IN", f"You are now logged in as {client.account}", client.account or "")
        else:
            server.fail(client, "PASS", "ACCOUNT_INVALID", "Invalid account name or password")

    login(server, client, "PASS", name, password, finish)


def handle_nick(server: Server, client: Client, msg: Message) -> None:
    nick = msg.params[0] if msg.params else ""
    if not nick:
        server.numeric(client, N.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    if not is_valid_nick(nick, server.limits.nick_length):
        server.numeric(client, N.ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname")
        return
    folded = casefold(nick)
    holder = server.nicks.get(folded)
    if holder is not None and holder is not client and not squatting(server, holder, folded):
        server.numeric(client, N.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        return
    if holder is None and taken_elsewhere(server, folded) and folded not in server.accounts:
        server.numeric(client, N.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")  # on another node
        return
    if nick == client.nick:
        return
    reserved = reserved_for_other(server, client, folded)
    if client.registered:
        if reserved:
            server.numeric(client, N.ERR_NICKNAMEINUSE, nick, "Nickname is reserved for a registered account")
            return
        rename(server, client, nick)
        return
    if client.folded:
        drop_nick(server, client, client.folded)
    client.nick, client.folded = nick, folded
    # An account's name goes only to connections logged in to it. One that
    # is still registering may log in before it completes (SASL during CAP
    # negotiation), so it keeps the name it asked for, but the name is not
    # entered in the nick table: it holds it from nobody, and registration
    # refuses it unless the login came (try_register).
    if not reserved:
        take_nick(server, client, folded)
    try_register(server, client)


def squatting(server: Server, holder: Client, folded: str) -> bool:
    """Whether ``holder`` has an account's nick without being logged in
    to that account: it does not keep it (:func:`take_nick`)."""
    return folded in server.accounts and casefold(holder.account or "") != folded


def take_nick(server: Server, client: Client, folded: str) -> None:
    """Enter ``client`` in the nick table under ``folded``, which is free
    or held by a squatter (who loses it)."""
    holder = server.nicks.get(folded)
    if holder is not None and holder is not client:
        assert squatting(server, holder, folded), (holder, folded)
        evict(server, holder, client)
    hold_nick(server, client, folded)


def evict(server: Server, squatter: Client, by: Client) -> None:
    """Take an account's nick from a squatter: a registered one becomes a
    Guest (a NICK to it and its peers), an unregistered one is told with 433
    and left without a nick."""
    server.log("account.nick_reclaimed", level="warning", cid=squatter.id, by=by.id)
    if squatter.registered:
        old = squatter.nick
        guest = guest_nick(server, squatter)
        rename(server, squatter, guest)
        server.note(squatter, "NICK", "NICK_RESERVED", f"{old} is reserved for a registered account; you are now {guest}", old)
    else:
        server.numeric(squatter, N.ERR_NICKNAMEINUSE, squatter.nick, "Nickname is reserved for a registered account")
        drop_nick(server, squatter, squatter.folded)
        squatter.nick, squatter.folded = "*", ""


def guest_nick(server: Server, client: Client) -> str:
    """A free nick that is no account's, for a client that loses its own."""
    for n in itertools.count(client.id & 0xFFFFFFFF):  # a cluster node's ids start at its number << 32
        nick = f"Guest{n}"
        folded = casefold(nick)
        if folded not in server.nicks and folded not in server.accounts and not taken_elsewhere(server, folded):
            return nick
    raise AssertionError("unreachable")


def rename(server: Server, client: Client, nick: str) -> None:
    """Change a registered client's nick, and tell it and its peers."""
    folded = casefold(nick)
    old_nick, old_prefix = client.nick, client.prefix
    if client.folded:
        drop_nick(server, client, client.folded)
    take_nick(server, client, folded)
    client.nick, client.folded = nick, folded
    server.relay({client, *server.peers(client)}, old_prefix, "NICK", (nick,))
    for channel in client.channels.values():
        if channel.conference is not None and client not in channel.staff:
            announce(server, client, channel, here=True)  # the other nodes' lists follow the new nick
    server.whowas.appendleft(
        (casefold(old_nick), old_nick, client.user, client.host, client.realname, server.wallclock())
    )
    if casefold(old_nick) != folded:  # a change of case only is the same nick to its watchers
        monitor_notify(server, old_nick, online=False)
        monitor_notify(server, nick, online=True, client=client)


def handle_user(server: Server, client: Client, msg: Message) -> None:
    if client.registered or client.user:
        server.numeric(client, N.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    username, realname = msg.params[0], msg.params[3]
    if not username or not realname:
        # Modern IRC, USER: "If [...] the <realname> [is] empty, ERR_NEEDMOREPARAMS".
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
        return
    # Usernames are shown in every prefix: keep them short and free of the
    # characters that would break a prefix or a mask.
    cleaned = "".join(ch for ch in username if ch.isascii() and ch.isprintable() and ch not in " !@*?")[:16]
    client.user = "~" + (cleaned[:15] or "user")
    client.realname = realname[: server.limits.away_length] or client.nick
    try_register(server, client)


def login(
    server: Server, client: Client, command: str, name: str, password: str, then: Callable[[bool], None]
) -> None:
    """Have an account's password checked (see :func:`check_login`), then
    ``then(ok)``. On success the client is logged in, gets the account's
    nick if it asked for it (:func:`claim_account_nick`), and its status in
    the conferences it is in follows its new role; a failure counts towards
    MAX_LOGIN_FAILURES."""
    folded = casefold(name)
    account = server.accounts.get(folded)

    def checked(ok: bool) -> None:
        if account is None or not ok:
            login_failed(server, client)
            then(False)
            return
        client.account = account.name
        server.log("account.login", cid=client.id, account=account.name)
        if client.registered:  # IRCv3 account-notify
            server.relay(interested(server, client, "account-notify"), client.prefix, "ACCOUNT", (account.name,))
        claim_account_nick(server, client, folded)
        refresh_roles(server, client)
        then(True)

    stored = account.password_hash if account is not None else None
    check_login(server, client, command, "account:" + folded, stored, password, checked)


def check_login(
    server: Server,
    client: Client,
    command: str,
    name_key: str,
    stored_hash: str | None,
    password: str,
    then: Callable[[bool], None],
) -> None:
    """A login's password check (SASL, PASS, OPER), the same whether or not
    the name exists: ``stored_hash`` None (no such name) is checked against
    the shell's decoy and always fails (core/logins.py). Before that, the
    back-off of core/throttle.py, by address and by ``name_key``: an attempt
    during a wait is refused at once, with ``FAIL <command> RATE_LIMITED``,
    and no check. Failures are logged and counted here; ``then(ok)`` gives
    the command's own answer."""
    throttle = server.login_throttle
    now = server.clock()
    wait, by = throttle.wait(client.ip, name_key, now)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        server.stats.login_failures["throttled"] += 1
        personal = {"address": client.ip} if server.config.logging.log_personal_data else {}
        server.log(
            "account.login_throttled", level="warning", cid=client.id, command=command, by=by, wait=seconds, **personal
        )
        server.fail(
            client, command, "RATE_LIMITED",
            f"Too many failed logins: wait {seconds} s before trying again", str(seconds),
        )
        then(False)
        return
    throttle.attempt(client.ip, name_key, now)
    tell_login(server, client.ip, name_key, "attempt")  # the cluster's other nodes count it too
    kind = name_key.partition(":")[0]  # "account" or "oper": whose decoy, if need be

    def checked(ok: bool) -> None:
        if stored_hash is not None and ok:
            throttle.forgive(client.ip, name_key, server.clock())  # and the address is the owner's
            tell_login(server, client.ip, name_key, "owner")
            then(True)
            return
        reason = "unknown_name" if stored_hash is None else "wrong_password"
        server.stats.login_failures[reason] += 1
        server.log(
            "oper.failed" if kind == "oper" else "account.login_failed", level="warning", cid=client.id,
            command=command, reason=reason,
        )
        then(False)

    if stored_hash is None:
        server.check_password(client, command, "", password, checked, decoy=kind)
    else:
        server.check_password(client, command, stored_hash, password, checked)


def claim_account_nick(server: Server, client: Client, folded: str) -> None:
    """``client`` has just logged in to the account named ``folded``, whose
    nick is the account's: whoever holds it without being logged in to it
    loses it, and a client still registering that asked for it gets it."""
    holder = server.nicks.get(folded)
    if holder is not None and holder is not client and squatting(server, holder, folded):
        evict(server, holder, client)
        holder = None
    if holder is None and not client.registered and client.folded == folded:
        hold_nick(server, client, folded)


def login_failed(server: Server, client: Client) -> None:
    """Count a wrong password; too many on one connection end it (each
    check costs an argon2 hash, and guessing should be slow)."""
    client.failed_logins += 1
    if client.failed_logins >= MAX_LOGIN_FAILURES:
        server.disconnect(client, "Too many failed login attempts", kind="login_failures")


def handle_authenticate(server: Server, client: Client, msg: Message) -> None:
    arg = msg.params[0]
    if "sasl" not in client.caps:
        server.numeric(client, N.ERR_SASLFAIL, "SASL authentication failed: request the sasl capability first")
        return
    if client.account:
        server.numeric(client, N.ERR_SASLALREADY, "You have already authenticated using SASL")
        return
    if arg == "*":
        client.sasl = None
        server.numeric(client, N.ERR_SASLABORTED, "SASL authentication aborted")
        return
    if client.sasl is None:
        if arg.upper() != "PLAIN":
            server.numeric(client, N.RPL_SASLMECHS, "PLAIN", "are available SASL mechanisms")
            server.numeric(client, N.ERR_SASLFAIL, "SASL authentication failed")
            return
        client.sasl = ""
        server.send(client, Message("AUTHENTICATE", ("+",)))
        return
    if arg != "+":
        client.sasl += arg
    if len(client.sasl) > SASL_MAX:
        client.sasl = None
        server.numeric(client, N.ERR_SASLTOOLONG, "SASL message too long")
        return
    if len(arg) == SASL_CHUNK:
        return  # more chunks follow
    payload, client.sasl = client.sasl, None
    try:
        authzid, authcid, password = base64.b64decode(payload, validate=True).decode().split("\0")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        server.numeric(client, N.ERR_SASLFAIL, "SASL authentication failed")
        return
    if authzid and casefold(authzid) != casefold(authcid):
        login_failed(server, client)
        server.numeric(client, N.ERR_SASLFAIL, "SASL authentication failed")
        return

    def finish(ok: bool) -> None:
        if not ok:
            if not client.gone:
                server.numeric(client, N.ERR_SASLFAIL, "SASL authentication failed")
            return
        server.numeric(client, N.RPL_LOGGEDIN, client.prefix, client.account or "", f"You are now logged in as {client.account}")
        server.numeric(client, N.RPL_SASLSUCCESS, "SASL authentication successful")

    login(server, client, "AUTHENTICATE", authcid, password, finish)


def give_way(server: Server, client: Client) -> None:
    """Another node's client claimed ``client``'s nick first (core/members.py):
    a registered client becomes a Guest and is told; one still registering
    gets 433 and picks another."""
    old = client.nick
    if client.registered:
        guest = guest_nick(server, client)
        rename(server, client, guest)
        server.note(client, "NICK", "NICK_TAKEN", f"{old} was taken at the same moment elsewhere; you are now {guest}", old)
    else:
        drop_nick(server, client, client.folded)
        server.numeric(client, N.ERR_NICKNAMEINUSE, old, "Nickname is already in use")
        client.nick, client.folded = "*", ""


def reserved_for_other(server: Server, client: Client, folded_nick: str) -> bool:
    """Whether the nick is a staff account's name and ``client`` is not it."""
    return folded_nick in server.accounts and casefold(client.account or "") != folded_nick


def try_register(server: Server, client: Client) -> None:
    if client.registered or client.cap_negotiating or not client.user or client.nick == "*":
        return
    # The nick is entered in the nick table now if it was not yet (an
    # account's name, asked for before the login that allows it).
    holder = server.nicks.get(client.folded)
    if holder is not client:
        if reserved_for_other(server, client, client.folded):
            refusal = "Nickname is reserved for a registered account"
        elif holder is not None and not squatting(server, holder, client.folded):
            refusal = "Nickname is already in use"  # another connection logged in to the account
        else:
            refusal = ""
            take_nick(server, client, client.folded)
        if refusal:
            server.numeric(client, N.ERR_NICKNAMEINUSE, client.nick, refusal)
            client.nick, client.folded = "*", ""
            return
    if server.config.server.password and not client.password_ok:
        server.numeric(client, N.ERR_PASSWDMISMATCH, "Password incorrect")
        server.disconnect(client, "Bad password", kind="bad_password")
        return
    client.registered = True
    server.census.update(client)
    client.signon = server.wallclock()
    client.last_spoke = server.clock()
    welcome(server, client)
    client.welcomed = True
    monitor_notify(server, client.nick, online=True, client=client)
    server.log("client.registered", level="debug", cid=client.id, nick=client.nick, transport=client.transport)


def welcome(server: Server, client: Client) -> None:
    name = server.name
    network = server.config.server.network
    created = datetime.fromtimestamp(server.started_wall, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    server.numeric(client, N.RPL_WELCOME, f"Welcome to the {network} IRC Network {client.prefix}")
    server.numeric(client, N.RPL_YOURHOST, f"Your host is {name}, running version {server.version_string()}")
    server.numeric(client, N.RPL_CREATED, f"This server was created {created}")
    server.numeric(client, N.RPL_MYINFO, name, server.version_string(), *myinfo_modes())
    send_isupport(server, client)
    send_lusers(server, client)
    send_motd(server, client)


def isupport_tokens(config: Config) -> list[str]:
    """RPL_ISUPPORT's tokens (005), from the configuration."""
    lim = config.limits
    return sorted([
        f"AWAYLEN={lim.away_length}",
        "BOT=B",
        "CASEMAPPING=rfc1459",
        f"CHANLIMIT=#&:{lim.max_channels}",
        f"CHANNELLEN={lim.channel_length}",
        "CHANTYPES=#&",
        "ELIST=CU",
        "HOSTLEN=64",
        f"KICKLEN={lim.kick_length}",
        "MODES=4",
        f"MONITOR={lim.monitor_limit}",
        f"NETWORK={config.server.network}",
        f"NICKLEN={lim.nick_length}",
        f"TARGMAX=JOIN:{lim.max_targets},KICK:{lim.max_targets},MONITOR:,NAMES:1,"
        f"NOTICE:{lim.max_targets},PART:{lim.max_targets},PRIVMSG:{lim.max_targets},"
        f"TAGMSG:{lim.max_targets},WHOIS:1",
        f"TOPICLEN={lim.topic_length}",
        "USERLEN=16",
        "UTF8ONLY",
        "WHOX",
        *isupport_modes(),
        *history_isupport(config.history.chathistory_limit),
    ])


def send_isupport(server: Server, client: Client) -> None:
    tokens = server.isupport
    for start in range(0, len(tokens), 12):
        server.numeric(client, N.RPL_ISUPPORT, *tokens[start : start + 12], "are supported by this server")


def send_lusers(server: Server, client: Client) -> None:
    users, invisible, unknown, opers = server.user_counts()
    server.numeric(client, N.RPL_LUSERCLIENT, f"There are {users - invisible} users and {invisible} invisible on 1 servers")
    server.numeric(client, N.RPL_LUSEROP, str(opers), "operator(s) online")
    server.numeric(client, N.RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)")
    server.numeric(client, N.RPL_LUSERCHANNELS, str(len(server.channels)), "channels formed")
    server.numeric(client, N.RPL_LUSERME, f"I have {users} clients and 0 servers")
    peak = server.census.peak
    server.numeric(client, N.RPL_LOCALUSERS, str(users), str(peak), f"Current local users {users}, max {peak}")
    server.numeric(client, N.RPL_GLOBALUSERS, str(users), str(peak), f"Current global users {users}, max {peak}")


def send_motd(server: Server, client: Client) -> None:
    motd = server.config.server.motd
    if not motd.strip():
        server.numeric(client, N.ERR_NOMOTD, "MOTD File is missing")
        return
    server.numeric(client, N.RPL_MOTDSTART, f"- {server.name} Message of the day - ")
    for line in motd.splitlines():
        server.numeric(client, N.RPL_MOTD, f"- {line}")
    server.numeric(client, N.RPL_ENDOFMOTD, "End of /MOTD command.")


def handle_visitor(server: Server, client: Client, msg: Message) -> None:
    """``VISITOR <token>`` before registration: the random token a web
    visitor keeps between visits (protocol.md, "Visitor identity"). Its
    derived identity keys the visitor's votes and the bans aimed at them;
    it grants nothing else (no role, no nick, no question of another
    connection). Accepted silently, as PASS is."""
    token = msg.params[0]
    if client.registered:
        server.fail(client, "VISITOR", "ALREADY_REGISTERED", "VISITOR is sent before registration")
        return
    if not valid_token(token):
        server.fail(client, "VISITOR", "INVALID_TOKEN",
                    "A visitor token is 16 to 64 letters, digits, '-' or '_'")
        return
    client.visitor = visitor_identity(server.cloak_key, token)


def handle_ping(server: Server, client: Client, msg: Message) -> None:
    # A keep-alive: it tells of nothing stored, so a slow commit does not hold it.
    server.send(client, Message("PONG", (server.name, msg.params[0]), server.name), durable=False)


def handle_pong(server: Server, client: Client, msg: Message) -> None:
    # Any line resets the ping timer (in Server.receive); nothing else to do.
    return None


def handle_quit(server: Server, client: Client, msg: Message) -> None:
    reason = msg.param(0)
    quit_reason = f"Quit: {reason}" if reason else "Quit"
    server.disconnect(client, quit_reason, quit_reason, kind="quit")
