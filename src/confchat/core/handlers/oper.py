"""Server operators: OPER (credentials from the config), KILL."""

from __future__ import annotations

from ...proto import numerics as N
from ...proto.casemap import casefold
from ...proto.message import Message
from ..client import Client
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..server import Server
from ..direct import kill_elsewhere
from ..presence import refresh_roles
from .registration import check_login, login_failed


def handle_oper(server: Server, client: Client, msg: Message) -> None:
    name, password = msg.params[0], msg.params[1]
    # Oper names are unique (the config refuses duplicates).
    oper = next((oper for oper in server.config.opers if oper.name == name), None)

    def checked(ok: bool) -> None:
        if oper is None or not ok:
            server.numeric(client, N.ERR_PASSWDMISMATCH, "Password incorrect")
            login_failed(server, client)
            return
        client.oper = name
        client.modes.add("o")
        server.census.update(client)
        server.numeric(client, N.RPL_YOUREOPER, "You are now an IRC operator")
        server.send(client, Message("MODE", (client.nick, "+o"), client.nick))
        server.log("oper.up", cid=client.id, oper=name)
        refresh_roles(server, client)  # operators are admins in every conference

    # The password is checked off the event loop (core/logins.py), an
    # unknown name against a decoy, after the back-off (core/throttle.py).
    check_login(server, client, "OPER", "oper:" + name, oper.password_hash if oper else None, password, checked)


def handle_kill(server: Server, client: Client, msg: Message) -> None:
    if not client.oper:
        server.numeric(client, N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    target = server.find_nick(msg.params[0])
    reason = f"Killed ({client.nick} ({msg.params[1]}))"
    if target is None:
        held = server.elsewhere_nicks.get(casefold(msg.params[0]))  # on another node of the cluster
        if held is None:
            server.numeric(client, N.ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
        else:
            server.log("oper.kill", cid=client.id, target=held[1], node=held[0])
            kill_elsewhere(server, client, msg.params[0], held, reason)
        return
    server.log("oper.kill", cid=client.id, target=target.id)
    server.disconnect(target, reason, kind="killed")
