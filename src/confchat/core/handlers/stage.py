"""The guest stage and the audience: ANSWER, PREPARED, VOTE, REDACT
(protocol.md, "Moderation extension")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...moderation.conference import MODERATING, STAFF
from ...proto import numerics as N
from ...proto.casemap import casefold
from ...proto.message import Message
from ..subcommands import Context, Subcommand, dispatch, find_conference, require
from ..ops import decide
from .conference import parse_item_id

if TYPE_CHECKING:
    from ..client import Client
    from ..server import Server


def handle_answer(server: Server, client: Client, msg: Message) -> None:
    found = find_conference(server, client, "ANSWER", msg.params[0])
    if found is None:
        return
    channel, conference = found
    if not require(server, client, "ANSWER", channel, STAFF):
        return
    item_id = parse_item_id(server, client, "ANSWER", msg.params[1])
    if item_id is None:
        return
    text = msg.params[2]
    if not text.strip():
        server.numeric(client, N.ERR_NOTEXTTOSEND, "No text to send")
        return
    if client not in channel.members:
        server.fail(client, "ANSWER", "NOT_JOINED", "Join the conference to write in it", channel.name)
        return
    decide(server, client, channel, "answer", item_id, text, command="ANSWER", context=(str(item_id),))


# ---------------------------------------------------------------- PREPARED


def prepared_list(ctx: Context) -> None:
    server, client, channel, conference = ctx.server, ctx.client, ctx.channel, ctx.conference
    for name, (author, text) in conference.prepared.items():
        server.reply(client, "PREPARED", channel.name, "ITEM", name, author, text)
    server.reply(client, "PREPARED", channel.name, "END", f"{len(conference.prepared)} prepared")


def prepared_add(ctx: Context) -> None:
    server, client, channel = ctx.server, ctx.client, ctx.channel
    name = ctx.args[0]
    if len(ctx.args) < 2 or not ctx.args[1].strip() or " " in name:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "PREPARED", "Not enough parameters")
        return
    decide(server, client, channel, "prepare", name, ctx.args[1], command="PREPARED",
           done=("PREPARED", "SAVED", f"Prepared answer {name} saved", channel.name, name))


def prepared_del(ctx: Context) -> None:
    server, client, channel = ctx.server, ctx.client, ctx.channel
    name = ctx.args[0]
    decide(server, client, channel, "unprepare", name, command="PREPARED",
           done=("PREPARED", "DELETED", f"Prepared answer {name} deleted", channel.name, name))


def prepared_publish(ctx: Context) -> None:
    server, client, channel = ctx.server, ctx.client, ctx.channel
    name = ctx.args[0]
    if name not in ctx.conference.prepared:
        server.fail(client, "PREPARED", "NO_SUCH_ANSWER", f"No prepared answer named {name}", channel.name, name)
        return
    item_id = None
    if len(ctx.args) > 1:
        item_id = parse_item_id(server, client, "PREPARED", ctx.args[1])
        if item_id is None:
            return
    if client not in channel.members:
        server.fail(client, "PREPARED", "NOT_JOINED", "Join the conference to write in it", channel.name)
        return
    decide(server, client, channel, "publish_prepared", name, item_id, command="PREPARED", context=(str(item_id),))


PREPARED_SUBCOMMANDS: dict[str, Subcommand] = {
    "LIST": Subcommand(prepared_list, STAFF),
    "ADD": Subcommand(prepared_add, STAFF, 1),
    "DEL": Subcommand(prepared_del, STAFF, 1),
    "PUBLISH": Subcommand(prepared_publish, STAFF, 1),
}


def handle_prepared(server: Server, client: Client, msg: Message) -> None:
    dispatch(server, client, msg, PREPARED_SUBCOMMANDS)


# ---------------------------------------------------------------- VOTE


def handle_vote(server: Server, client: Client, msg: Message) -> None:
    found = find_conference(server, client, "VOTE", msg.params[0])
    if found is None:
        return
    channel, conference = found
    item_id = parse_item_id(server, client, "VOTE", msg.params[1])
    if item_id is None:
        return
    if client not in channel.members:
        server.fail(client, "VOTE", "NOT_JOINED", "Join the conference to vote", channel.name)
        return
    # One vote per account, per visitor identity (a web visitor's, kept
    # across reconnections and reloads: core/cloak.py), or per connection for
    # other visitors: a nick change or a reconnection of the page does not
    # give a second vote; keying on the address instead would give one vote
    # to a whole office or phone network behind one NAT.
    if client.account:
        voter = f"account:{casefold(client.account)}"
    elif client.visitor:
        voter = f"visitor:{client.visitor}"
    else:
        voter = f"connection:{client.connection_key}"
    decide(server, client, channel, "vote", voter, item_id, command="VOTE", context=(str(item_id),))


# ---------------------------------------------------------------- REDACT


def handle_redact(server: Server, client: Client, msg: Message) -> None:
    target, msgid = msg.params[0], msg.params[1]
    reason = msg.param(2)
    channel = server.find_channel(target)
    if channel is None or channel.conference is None:
        server.fail(client, "REDACT", "INVALID_TARGET", "Messages can be deleted in conferences only", target)
        return
    if not require(server, client, "REDACT", channel, MODERATING):
        return
    decide(server, client, channel, "redact", msgid, reason, command="REDACT")
