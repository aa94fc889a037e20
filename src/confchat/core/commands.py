"""The command table: each command's handler and the checks made before it runs.

``Server._run_command`` makes those checks (registration, ``min_params``) from
this table, once for every command, so that each handler holds only its
command's meaning (Ergo's ``commands.go`` shape).
"""

from __future__ import annotations

from typing import Callable

import attrs

from ..proto.message import Message
from .client import Client
from .handlers import admin, channels, conf, messaging, modes, oper, queries, queue, registration, stage
from .handlers import info, redaction
from .handlers import history



@attrs.frozen
class Command:
    handler: Callable[[object, Client, Message], None]
    min_params: int = 0  # fewer parameters get ERR_NEEDMOREPARAMS
    before_registration: bool = False  # else ERR_NOTREGISTERED until registered
    # Flood tokens the command costs: a query that walks many clients or
    # channels slows its sender's next lines down (as ircds' fakelag does).
    cost: int = 1


COMMANDS: dict[str, Command] = {
    # registration and connection
    "CAP": Command(registration.handle_cap, 1, before_registration=True),
    "PASS": Command(registration.handle_pass, 1, before_registration=True),
    "AUTHENTICATE": Command(registration.handle_authenticate, 1, before_registration=True),
    "NICK": Command(registration.handle_nick, 0, before_registration=True),
    "USER": Command(registration.handle_user, 4, before_registration=True),
    "PING": Command(registration.handle_ping, 1, before_registration=True),
    "PONG": Command(registration.handle_pong, 0, before_registration=True),
    "QUIT": Command(registration.handle_quit, 0, before_registration=True),
    "VISITOR": Command(registration.handle_visitor, 1, before_registration=True),  # a web visitor's identity
    # channels
    "JOIN": Command(channels.handle_join, 1, cost=2),
    "PART": Command(channels.handle_part, 1, cost=2),
    "TOPIC": Command(channels.handle_topic, 1),
    "NAMES": Command(channels.handle_names, 0, cost=2),
    "LIST": Command(channels.handle_list, 0, cost=4),
    "KICK": Command(channels.handle_kick, 2),
    "INVITE": Command(channels.handle_invite, 0),  # alone: the invite list
    "MODE": Command(modes.handle_mode, 1),
    # messages
    "PRIVMSG": Command(messaging.handle_privmsg, 0),
    "NOTICE": Command(messaging.handle_notice, 0),
    "TAGMSG": Command(messaging.handle_tagmsg, 1),
    "AWAY": Command(messaging.handle_away, 0),
    "SETNAME": Command(messaging.handle_setname, 1),
    "WALLOPS": Command(messaging.handle_wallops, 1),
    # queries
    "WHO": Command(queries.handle_who, 1, cost=4),
    "WHOIS": Command(queries.handle_whois, 1, cost=2),
    "WHOWAS": Command(queries.handle_whowas, 1, cost=2),
    "ISON": Command(queries.handle_ison, 1),
    "USERHOST": Command(queries.handle_userhost, 1),
    "MONITOR": Command(queries.handle_monitor, 1),
    "LUSERS": Command(queries.handle_lusers, 0, cost=2),
    "MOTD": Command(queries.handle_motd, 0, cost=2),
    "VERSION": Command(queries.handle_version, 0),
    "TIME": Command(queries.handle_time, 0),
    # history (IRCv3 draft/chathistory): up to history.chathistory_limit
    # lines a request, so it costs what a WHO does
    "CHATHISTORY": Command(history.handle_chathistory, 0, cost=4),
    "INFO": Command(info.handle_info, 0),
    "LINKS": Command(info.handle_links, 0),
    "HELP": Command(info.handle_help, 0, cost=2),
    "HELPOP": Command(info.handle_help, 0, cost=2),
    # the moderation extension (protocol.md)
    "CONF": Command(conf.handle_conf, 1),
    "QUEUE": Command(queue.handle_queue, 2),
    "ANSWER": Command(stage.handle_answer, 3),
    "PREPARED": Command(stage.handle_prepared, 2),
    "VOTE": Command(stage.handle_vote, 2, cost=2),
    "REDACT": Command(redaction.handle_redact, 2),  # conferences: stage.handle_redact
    "ACCOUNTS": Command(admin.handle_account, 0),
    # operators
    "OPER": Command(oper.handle_oper, 2),
    "KILL": Command(oper.handle_kill, 2),
}
