"""ACCOUNTS: the staff accounts, managed by admins over IRC (protocol.md,
"Administration"); and CONF <channel> ROLES, who holds a role where.

Not ``ACCOUNT``: that is IRCv3 account-notify's message (a user logged in).
Accounts made here are stored in the database (core/accounts.py,
storage/accounts.py) with an argon2id hash; the hash is made by the shell
in the password checker's worker threads (core/logins.py ``Hashing``),
never on the event loop. Accounts from the config file are listed too,
read-only. Every change goes into the accounts' audit log (``ACCOUNTS
AUDIT``), every listing is paged, every refusal is a ``FAIL ACCOUNTS
<code>``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Callable

import attrs

from ...moderation.conference import Role
from ...proto import numerics as N
from ...proto.casemap import casefold, is_valid_nick
from ...proto.message import Message
from ..effects import apply
from ..logins import Hashing
from ..subcommands import PAGE, Context, more, page
from ..accounts import JOURNAL_KEY
from ..ops import decide
from .conference import actor_of

if TYPE_CHECKING:
    from ...moderation.effects import Actor
    from ..client import Client
    from ..server import Server

# A new password's length, in characters. Eight is NIST SP 800-63B's
# minimum for a chosen password; the maximum keeps a line's worth.
PASSWORD_MIN = 8
PASSWORD_MAX = 256
KINDS = {"admin": True, "staff": False}
SWITCH = {"on": True, "off": False}


@attrs.frozen
class Request:
    """What an ACCOUNTS subcommand handler gets."""

    server: Server
    client: Client
    args: list[str]


@attrs.frozen
class AccountSubcommand:
    handler: Callable[[Request], None]
    min_params: int = 0


def _fail(rq: Request, code: str, text: str, *context: str) -> None:
    rq.server.fail(rq.client, "ACCOUNTS", code, text, *context)


def _page(args: list[str], total: int) -> tuple[int, int]:
    first = args[0] if args else ""
    start = max(1, int(first)) - 1 if first.isdigit() and first.isascii() else 0
    return start, min(total, start + PAGE)


def _more(rq: Request, stop: int, total: int) -> None:
    if stop < total:
        rq.server.reply(rq.client, "ACCOUNTS", "*", "MORE", str(stop + 1), f"{total - stop} more")


def _actor(client: Client) -> str:
    return actor_of(client).name


# ---------------------------------------------------------------- listings


def account_list(rq: Request) -> None:
    """``ACCOUNTS LIST [<from>]``: every account, by name, a page at a time."""
    server, client = rq.server, rq.client
    book = server.account_book
    accounts = book.listing()
    start, stop = _page(rq.args, len(accounts))
    for account in accounts[start:stop]:
        declared = book.is_declared(account.name)
        created = getattr(account, "created_at", 0.0)
        by = getattr(account, "created_by", "") or "*"
        server.reply(
            client, "ACCOUNTS", "*", "LIST", account.name, "config" if declared else "database",
            "admin" if account.admin else "staff", str(int(created)), by,
        )
    _more(rq, stop, len(accounts))
    server.reply(client, "ACCOUNTS", "*", "END", f"{len(accounts)} accounts")


def account_audit(rq: Request) -> None:
    """``ACCOUNTS AUDIT [<from>]``: the accounts' audit log, oldest first."""
    server, client = rq.server, rq.client
    audit = server.account_book.audit
    start, stop = _page(rq.args, len(audit))
    for entry in audit[start:stop]:
        detail = json.dumps(entry.detail, ensure_ascii=False, separators=(",", ":"))
        server.reply(client, "ACCOUNTS", "*", "AUDIT", str(int(entry.at)), entry.actor, entry.action,
                     entry.account, detail)
    _more(rq, stop, len(audit))
    server.reply(client, "ACCOUNTS", "*", "END", f"{len(audit)} entries")


# ---------------------------------------------------------------- changes


def _valid_password(rq: Request, name: str, password: str) -> bool:
    if PASSWORD_MIN <= len(password) <= PASSWORD_MAX and password.strip():
        return True
    _fail(rq, "INVALID_PASSWORD", f"A password has {PASSWORD_MIN} to {PASSWORD_MAX} characters", name)
    return False


def _stored(rq: Request, name: str) -> bool:
    """Whether ``name`` is an account this command may change: one made
    with ACCOUNTS (a config file's account is read-only)."""
    book = rq.server.account_book
    if book.get(name) is None:
        _fail(rq, "NO_SUCH_ACCOUNT", f"No account named {name}", name)
        return False
    if book.is_declared(name):
        _fail(rq, "READ_ONLY", f"{name} is in the configuration file; change it there", name)
        return False
    return True


def _not_self(rq: Request, name: str, what: str) -> bool:
    if rq.client.account and casefold(rq.client.account) == casefold(name):
        _fail(rq, "SELF", f"You cannot {what} the account you are logged in to", name)
        return False
    return True


def _hash(rq: Request, password: str, then: Callable[[str], None]) -> None:
    """Have ``password`` hashed by the shell (core/logins.py); the client's
    next lines wait meanwhile, in order. ``then(hash)`` runs on the answer,
    after checking again that the asker is still an admin ("" means that
    hashing failed)."""
    server, client = rq.server, rq.client

    def hashed(made: str) -> None:
        if not server.is_admin(client):
            _fail(rq, "NEED_ROLE", "Only admins manage accounts")
        elif not made:
            _fail(rq, "INTERNAL_ERROR", "The password could not be hashed; nothing was changed")
        else:
            then(made)

    request = Hashing(client, "ACCOUNTS", password, hashed)
    client.verifying = request
    server.logins.request(request)


def account_create(rq: Request) -> None:
    """``ACCOUNTS CREATE <name> admin|staff :<password>``."""
    server = rq.server
    name, kind, password = rq.args[0], rq.args[1].lower(), rq.args[2]
    if not is_valid_nick(name, server.limits.nick_length):
        _fail(rq, "INVALID_NAME", f"{name!r} cannot be an account name: it must be a valid nick", name or "*")
        return
    if server.account_book.get(name) is not None:
        _fail(rq, "ALREADY_EXISTS", f"There is already an account named {name}", name)
        return
    if kind not in KINDS:
        _fail(rq, "INVALID_KIND", "The kind of account is admin or staff", name, kind)
        return
    if not _valid_password(rq, name, password):
        return

    _hash(rq, password, lambda made: decide(
        server, rq.client, JOURNAL_KEY, "account_create", name, made, KINDS[kind], command="ACCOUNTS"))


def account_passwd(rq: Request) -> None:
    """``ACCOUNTS PASSWD <name> :<password>``: set or reset a password.
    Connections already logged in stay so."""
    server = rq.server
    name, password = rq.args[0], rq.args[1]
    if not _stored(rq, name) or not _valid_password(rq, name, password):
        return
    _hash(rq, password, lambda made: decide(
        server, rq.client, JOURNAL_KEY, "account_passwd", name, made, command="ACCOUNTS"))


def account_admin(rq: Request) -> None:
    """``ACCOUNTS ADMIN <name> on|off``: admin in every conference, or not."""
    server, client = rq.server, rq.client
    name, switch = rq.args[0], rq.args[1].lower()
    if not _stored(rq, name):
        return
    if switch not in SWITCH:
        _fail(rq, "INVALID_VALUE", "ADMIN takes on or off", name, switch)
        return
    if not SWITCH[switch] and not _not_self(rq, name, "take admin from"):
        return
    decide(server, client, JOURNAL_KEY, "account_admin", name, switch, command="ACCOUNTS")


def account_delete(rq: Request) -> None:
    """``ACCOUNTS DELETE <name>``: the account goes, with its roles in every
    conference (each in that conference's audit log); connections logged
    in to it are closed."""
    server, client = rq.server, rq.client
    name = rq.args[0]
    if not _stored(rq, name) or not _not_self(rq, name, "delete"):
        return
    decide(server, client, JOURNAL_KEY, "account_delete", name, command="ACCOUNTS")


# ---------------------------------------------------------------- carried out (core/ops.py)
# On one process at once; in a cluster on every node, in the log's order
# (two admins may have raced), with the log's time. Only the asker's node
# answers it.


def _changed(server: Server, client: Client | None, name: str, *, exists: bool) -> bool:
    """Whether the account may still be changed (created, when ``exists``
    is false) as the op was asked; else the asker is told why not."""
    book = server.account_book
    if not exists and book.get(name) is not None:
        if client is not None:
            server.fail(client, "ACCOUNTS", "ALREADY_EXISTS", f"There is already an account named {name}", name)
        return False
    if exists and (book.get(name) is None or book.is_declared(name)):
        if client is not None:
            server.fail(client, "ACCOUNTS", "NO_SUCH_ACCOUNT", f"No account named {name}", name)
        return False
    return True


def created(server: Server, client: Client | None, actor: str, name: str, made: str, admin: bool) -> None:
    if _changed(server, client, name, exists=False):
        server.account_book.create(server.engine.wallclock(), actor, name, made, admin)
        server.log("account.created", account=name, by=actor, admin=admin)
        if client is not None:
            server.note(client, "ACCOUNTS", "CREATED", f"Account {name} created", name)


def password_changed(server: Server, client: Client | None, actor: str, name: str, made: str) -> None:
    if _changed(server, client, name, exists=True):
        server.account_book.set_password(server.engine.wallclock(), actor, name, made)
        server.log("account.password_changed", account=name, by=actor)
        if client is not None:
            server.note(client, "ACCOUNTS", "PASSWD", f"Password of {name} changed", name)


def admin_changed(server: Server, client: Client | None, actor: str, name: str, switch: str) -> None:
    if not _changed(server, client, name, exists=True):
        return
    book = server.account_book
    book.set_admin(server.engine.wallclock(), actor, name, SWITCH[switch])
    account = book.get(name)
    assert account is not None
    _refresh_everywhere(server, account.name)
    if client is not None:
        said = "is now an admin" if SWITCH[switch] else "is no longer an admin"
        server.note(client, "ACCOUNTS", "ADMIN", f"{account.name} {said}", account.name, switch)


def deleted(server: Server, client: Client | None, actor: Actor, name: str) -> None:
    if not _changed(server, client, name, exists=True):
        return
    book = server.account_book
    account = book.get(name)
    assert account is not None
    name = account.name
    folded = casefold(name)
    book.delete(server.engine.wallclock(), actor.name, name)
    for conference in list(server.conferences.values()):
        if folded in conference.roles:
            channel = server.channels[conference.folded]
            apply(server, channel, server.engine.set_role(conference, actor, name, Role.VISITOR))
    for other in [c for c in server.clients.values() if c.account and casefold(c.account) == folded]:
        server.disconnect(other, "Account deleted", kind="account_deleted")
    server.log("account.deleted", account=name, by=actor.name)
    if client is not None:
        server.note(client, "ACCOUNTS", "DELETED", f"Account {name} deleted", name)


def carry_out_account(server: Server, client: Client | None, name: str, actor: Actor, args: tuple) -> None:
    if name == "account_create":
        created(server, client, actor.name, *args)
    elif name == "account_passwd":
        password_changed(server, client, actor.name, *args)
    elif name == "account_admin":
        admin_changed(server, client, actor.name, *args)
    elif name == "account_delete":
        deleted(server, client, actor, *args)


def _refresh_everywhere(server: Server, name: str) -> None:
    """An account's admin flag changed: its members' status in each
    conference they are in follows."""
    from ..presence import refresh_roles

    folded = casefold(name)
    for other in list(server.clients.values()):
        if other.account and casefold(other.account) == folded:
            refresh_roles(server, other)


ACCOUNT_SUBCOMMANDS: dict[str, AccountSubcommand] = {
    "LIST": AccountSubcommand(account_list),
    "AUDIT": AccountSubcommand(account_audit),
    "CREATE": AccountSubcommand(account_create, 3),
    "PASSWD": AccountSubcommand(account_passwd, 2),
    "ADMIN": AccountSubcommand(account_admin, 2),
    "DELETE": AccountSubcommand(account_delete, 1),
}


def handle_account(server: Server, client: Client, msg: Message) -> None:
    """``ACCOUNTS <SUB> args...``; checked in this order, as CONF is: the
    subcommand, the role (server admins: ``admin = true`` accounts and
    operators), the number of parameters."""
    sub = msg.param(0, "LIST").upper()
    entry = ACCOUNT_SUBCOMMANDS.get(sub)
    if entry is None:
        server.fail(client, "ACCOUNTS", "UNKNOWN_SUBCOMMAND", f"Unknown ACCOUNTS subcommand {sub!r}", sub or "*")
        return
    if not server.is_admin(client):
        server.fail(client, "ACCOUNTS", "NEED_ROLE", "Only admins manage accounts")
        return
    args = list(msg.params[1:])
    if len(args) < entry.min_params:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "ACCOUNTS", "Not enough parameters")
        return
    entry.handler(Request(server, client, args))


# ---------------------------------------------------------------- CONF <channel> ROLES


def conf_roles(ctx: Context) -> None:
    """``CONF <channel> ROLES [<from>]``: the accounts with a role in this
    conference (given in the config file or with CONF ROLE), by name."""
    server, client, channel, conference = ctx.server, ctx.client, ctx.channel, ctx.conference
    holders = sorted(conference.roles.items())
    start, stop = page(ctx, len(holders))
    for folded, role in holders[start:stop]:
        account = server.accounts.get(folded)
        server.reply(client, "CONF", channel.name, "GRANT", account.name if account else folded, role.value)
    more(ctx, stop, len(holders))
    server.reply(client, "CONF", channel.name, "END", f"{len(holders)} roles")
