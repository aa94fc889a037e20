"""The ``:`` command line: what the keys do not cover, administration above
all (the ``/admin`` page's work: conferences, settings, roles, accounts,
restrictions, audit logs, transcripts). Pure: a typed line in, the
session's lines out, or :class:`ActionError` with what was wrong.

Each command is one entry of :data:`COMMANDS` (its usage and what it does,
shown by the help screen), so the help and the parser cannot disagree.
"""

from __future__ import annotations

import shlex
from typing import Callable

import attrs

from .session import ActionError, Session, parse_ids


@attrs.frozen
class Command:
    usage: str
    help: str
    run: Callable[[Session, list[str]], list[str]]
    min_args: int = 0


def _rest(args: list[str], start: int) -> str:
    return " ".join(args[start:])


def _accounts(s: Session, a: list[str]) -> list[str]:
    sub = (a[0] if a else "LIST").upper()
    if sub in ("LIST", "AUDIT"):
        return s.listing("ACCOUNTS", sub, *a[1:2], slot=1)
    if sub == "CREATE":
        if len(a) < 4:
            raise ActionError("Usage: :accounts create <name> admin|staff <password>")
        return s.send_raw("ACCOUNTS", "CREATE", a[1], a[2], _rest(a, 3))
    if sub == "PASSWD":
        if len(a) < 3:
            raise ActionError("Usage: :accounts passwd <name> <password>")
        return s.send_raw("ACCOUNTS", "PASSWD", a[1], _rest(a, 2))
    if sub in ("ADMIN", "DELETE"):
        return s.send_raw("ACCOUNTS", sub, *a[1:3])
    raise ActionError(f"Unknown :accounts subcommand '{a[0]}'")


def _conf(s: Session, a: list[str]) -> list[str]:
    if not a or a[0].upper() == "LIST":
        return s.listing("CONF", "LIST")
    if a[0].upper() == "CREATE":
        if len(a) < 3:
            raise ActionError("Usage: :conf create #channel <title>")
        return s.send_raw("CONF", "CREATE", a[1], _rest(a, 2))
    # :conf <anything>: a CONF subcommand of this conference, as typed
    return s.conf(a[0].upper(), *a[1:])


def _set(s: Session, a: list[str]) -> list[str]:
    return s.conf("SET", a[0], _rest(a, 1))


def _restrict(kind: str) -> Callable[[Session, list[str]], list[str]]:
    def run(s: Session, a: list[str]) -> list[str]:
        seconds = a[1] if len(a) > 1 and a[1].isdigit() else ""
        reason = _rest(a, 2 if seconds else 1)
        return s.restrict(kind, a[0], seconds, reason)

    return run


def _export(s: Session, a: list[str]) -> list[str]:
    return s.listing("CONF", s.channel, "EXPORT", *a[:2])


def _page(sub: str) -> Callable[[Session, list[str]], list[str]]:
    return lambda s, a: s.listing("CONF", s.channel, sub, *a[:1], slot=2)


def _queue(sub: str) -> Callable[[Session, list[str]], list[str]]:
    return lambda s, a: s.queue(sub, parse_ids(a[0]), *([_rest(a, 1)] if len(a) > 1 else []))


COMMANDS: dict[str, Command] = {
    "join": Command(":join #channel", "leave this conference for another", lambda s, a: s.switch(a[0]), 1),
    "say": Command(":say <text>", "a staff message to the conference", lambda s, a: s.say(_rest(a, 0)), 1),
    "state": Command(":state scheduled|open|live|closed", "set the conference's state",
                     lambda s, a: s.conf("STATE", a[0]), 1),
    "mode": Command(":mode moderated|open|readonly", "set the room mode", lambda s, a: s.conf("SET", "mode", a[0]), 1),
    "slow": Command(":slow <seconds>", "slow mode (0: off)", lambda s, a: s.conf("SET", "slow_mode", a[0]), 1),
    "set": Command(":set <key> <value>", "any CONF SET key: title, description, opens, starts, ends, "
                   "auditorium, show_decline_reasons, sort", _set, 1),
    "shield": Command(":shield on [closed] [reason] | off", "shield mode",
                      lambda s, a: s.conf("SHIELD", *[w.upper() if i < 2 else w for i, w in enumerate(a[:2])],
                                          *([_rest(a, 2)] if len(a) > 2 else [])), 1),
    "info": Command(":info", "read CONF INFO again", lambda s, a: s.listing("CONF", s.channel, "INFO")),
    "approve": Command(":approve <ids>", "publish items (3,4,7)", _queue("APPROVE"), 1),
    "drop": Command(":drop <ids> [reason]", "drop items", _queue("DROP"), 1),
    "forward": Command(":forward <ids>", "to the guest", _queue("FORWARD"), 1),
    "takeover": Command(":takeover <ids>", "claim, even from someone else", _queue("TAKEOVER"), 1),
    "move": Command(":move <id> top|bottom|up|down|<position>", "reorder",
                    lambda s, a: s.move(parse_ids(a[0])[0], a[1]), 2),
    "next": Command(":next", "release the next pending item", lambda s, a: s.release_next()),
    "answer": Command(":answer <id> <text>", "answer a question", lambda s, a: s.answer(parse_ids(a[0])[0], _rest(a, 1)), 2),
    "prepare": Command(":prepare <name> <text>", "write or replace a prepared answer",
                       lambda s, a: s.prepare(a[0], _rest(a, 1)), 2),
    "unprepare": Command(":unprepare <name>", "delete a prepared answer", lambda s, a: s.unprepare(a[0]), 1),
    "publish": Command(":publish <name> [id]", "publish a prepared answer (in reply to a question)",
                       lambda s, a: s.publish_prepared(a[0], parse_ids(a[1])[0] if len(a) > 1 else None), 1),
    "ban": Command(":ban <nick|mask> [seconds] [reason]", "ban from the conference", _restrict("BAN"), 1),
    "mute": Command(":mute <nick|mask> [seconds] [reason]", "refuse their messages", _restrict("MUTE"), 1),
    "unban": Command(":unban <mask>", "lift a ban", lambda s, a: s.restrict("UNBAN", a[0]), 1),
    "unmute": Command(":unmute <mask>", "lift a mute", lambda s, a: s.restrict("UNMUTE", a[0]), 1),
    "kick": Command(":disconnect <nick> [reason]", "close a visitor's connection",
                    lambda s, a: s.conf("DISCONNECT", a[0], *([_rest(a, 1)] if len(a) > 1 else [])), 1),
    "bans": Command(":bans", "list bans and mutes", lambda s, a: s.listing("CONF", s.channel, "BANS")),
    "audit": Command(":audit [from]", "the conference's audit log, a page at a time", _page("AUDIT")),
    "questions": Command(":questions [from]", "the published questions by votes", _page("QUESTIONS")),
    "roles": Command(":roles", "who holds a role here", _page("ROLES")),
    "role": Command(":role <account> admin|moderator|guest|visitor", "give a role here",
                    lambda s, a: s.conf("ROLE", a[0], a[1]), 2),
    "export": Command(":export [html|md|json|txt|csv] [internal]", "a transcript's download link", _export),
    "conf": Command(":conf list | create #channel <title> | <SUBCOMMAND ...>", "conferences", _conf),
    "accounts": Command(":accounts list|audit [from] | create <name> admin|staff <pw> | passwd <name> <pw> "
                        "| admin <name> on|off | delete <name>", "staff accounts (server admins)", _accounts),
    "more": Command(":more", "the next page of the last listing", lambda s, a: s.next_page()),
    "quote": Command(":quote <IRC line>", "send a raw IRC line", lambda s, a: _quote(s, _rest(a, 0)), 1),
}
COMMANDS["disconnect"] = COMMANDS.pop("kick")


def _quote(s: Session, line: str) -> list[str]:
    from ..proto.codec import parse_line

    msg = parse_line(line)
    return s.send_raw(msg.command.upper(), *msg.params)


def run(session: Session, text: str) -> list[str]:
    """Run one typed command (with or without its leading ``:``)."""
    text = text.strip().removeprefix(":").strip()
    if not text:
        raise ActionError("Type a command, :help for the list")
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    name, args = words[0].lower(), words[1:]
    command = COMMANDS.get(name)
    if command is None:
        raise ActionError(f"Unknown command :{name} (? lists them)")
    if len(args) < command.min_args:
        raise ActionError(f"Usage: {command.usage}")
    return command.run(session, args)


def is_secret(text: str) -> bool:
    """A line holding a password: the command line does not keep it."""
    words = text.strip().removeprefix(":").split()
    return len(words) >= 2 and words[0].lower() == "accounts" and words[1].lower() in ("create", "passwd")
