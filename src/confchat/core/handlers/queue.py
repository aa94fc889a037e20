"""QUEUE: the moderators' actions on held messages (protocol.md, "QUEUE").

Each subcommand parses its parameters and calls the moderation engine; the
table says who may use it (moderators and admins) and what it needs.
"""

from __future__ import annotations

from functools import partial

from ...moderation.conference import MODERATING
from ...moderation.engine import SIMPLE_ACTIONS, item_params, item_tags
from ...proto import numerics as N
from ...proto.message import Message
from ..subcommands import Context, Subcommand, dispatch, more, page
from ..ops import decide
from .conference import each_id, parse_item_id


def queue_list(ctx: Context) -> None:
    """The undecided items in release order, a page at a time."""
    server, client, channel, conference = ctx.server, ctx.client, ctx.channel, ctx.conference
    order = conference.queue.order
    start, stop = page(ctx, len(order))
    for item_id in order[start:stop]:
        item = conference.queue.items[item_id]
        server.send(client, Message("QUEUE", (channel.name, *item_params(conference, item)), server.name, item_tags(item)))
    more(ctx, stop, len(order))
    server.reply(client, "QUEUE", channel.name, "END", f"{len(order)} waiting")


def queue_approve(ctx: Context) -> None:
    each_id(ctx.server, ctx.client, ctx.channel, "QUEUE", ctx.args[0], "approve")


def queue_edit(ctx: Context) -> None:
    server, client = ctx.server, ctx.client
    if len(ctx.args) < 2 or not ctx.args[1].strip():
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "QUEUE", "Not enough parameters")
        return
    item_id = parse_item_id(server, client, "QUEUE", ctx.args[0])
    if item_id is not None:
        decide(server, client, ctx.channel, "approve", item_id, ctx.args[1], command="QUEUE", context=(ctx.args[0],))


def queue_drop(ctx: Context) -> None:
    reason = ctx.args[1] if len(ctx.args) > 1 else ""
    each_id(ctx.server, ctx.client, ctx.channel, "QUEUE", ctx.args[0], "drop", reason)


def queue_simple(action: str, ctx: Context) -> None:
    """HOLD, UNHOLD, FORWARD, CLAIM, UNCLAIM, TAKEOVER: one change each."""
    for part in filter(None, ctx.args[0].split(",")):
        item_id = parse_item_id(ctx.server, ctx.client, "QUEUE", part)
        if item_id is not None:
            decide(ctx.server, ctx.client, ctx.channel, "act", action, item_id, command="QUEUE", context=(part,))


def queue_move(ctx: Context) -> None:
    server, client = ctx.server, ctx.client
    item_id = parse_item_id(server, client, "QUEUE", ctx.args[0])
    if item_id is not None:
        decide(server, client, ctx.channel, "move", item_id, ctx.args[1], command="QUEUE", context=(ctx.args[0],))


def queue_next(ctx: Context) -> None:
    decide(ctx.server, ctx.client, ctx.channel, "next", command="QUEUE")


QUEUE_SUBCOMMANDS: dict[str, Subcommand] = {
    "LIST": Subcommand(queue_list, MODERATING),
    "NEXT": Subcommand(queue_next, MODERATING),
    "APPROVE": Subcommand(queue_approve, MODERATING, 1),
    "EDIT": Subcommand(queue_edit, MODERATING, 1),
    "DROP": Subcommand(queue_drop, MODERATING, 1),
    "MOVE": Subcommand(queue_move, MODERATING, 2),
    **{action.upper(): Subcommand(partial(queue_simple, action), MODERATING, 1) for action in SIMPLE_ACTIONS},
}


def handle_queue(server, client, msg: Message) -> None:
    dispatch(server, client, msg, QUEUE_SUBCOMMANDS)
