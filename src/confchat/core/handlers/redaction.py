"""REDACT (IRCv3 draft/message-redaction) in every channel.

In a conference the moderators delete published messages through the
engine (``stage.handle_redact``, protocol.md "REDACT"). In a plain channel a
user may delete its own messages and a channel operator (or an IRC
operator) anyone's, among the channel's latest ``REDACT_WINDOW`` messages
(``Channel.sent``): PRIVMSG, NOTICE and TAGMSG alike. The REDACT goes to the
members with the capability, the sender included. Every refusal is a FAIL
line, as the spec writes them, whether or not the client negotiated
standard-replies (core/output.py, ``ALWAYS_FAIL_COMMANDS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...proto.casemap import casefold
from ...proto.message import Message
from . import stage

if TYPE_CHECKING:
    from ..client import Client
    from ..server import Server

CAP = "draft/message-redaction"


def handle_redact(server: Server, client: Client, msg: Message) -> None:
    target, msgid = msg.params[0], msg.params[1]
    reason = msg.param(2)
    channel = server.find_channel(target) if target[:1] in "#&" else None
    if channel is not None and channel.conference is not None:
        stage.handle_redact(server, client, msg)
        return
    if channel is None or (channel.hidden and client not in channel.members):
        what = "No such channel" if target[:1] in "#&" else "Messages can be deleted in channels only"
        server.fail(client, "REDACT", "INVALID_TARGET", what, target)
        return
    sent = channel.sent.get(msgid)
    if sent is None:
        server.fail(client, "REDACT", "UNKNOWN_MSGID", "No message with that msgid can be deleted here", channel.name, msgid)
        return
    sender_id, account = sent
    own = sender_id == client.id or (
        account is not None and client.account is not None and casefold(account) == casefold(client.account)
    )
    if not (own or channel.is_op(client) or client.oper is not None):
        server.fail(client, "REDACT", "REDACT_FORBIDDEN", "You may delete only your own messages here", channel.name, msgid)
        return
    del channel.sent[msgid]
    params = (channel.name, msgid, reason) if reason else (channel.name, msgid)
    server.relay(list(channel.members), client.prefix, "REDACT", params, only_caps=CAP)
