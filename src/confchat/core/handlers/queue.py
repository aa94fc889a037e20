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
from .conference import actor_of, each_id, parse_item_id, run


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
    actor = actor_of(ctx.client)
    engine, conference = ctx.server.engine, ctx.conference
    each_id(ctx.server, ctx.client, ctx.channel, "QUEUE", ctx.args[0], lambda i: engine.approve(conference, actor, i))


def queue_edit(ctx: Context) -> None:
    server, client = ctx.server, ctx.client
    if len(ctx.args) < 2 or not ctx.args[1].strip():
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "QUEUE", "Not enough parameters")
        return
    item_id = parse_item_id(server, client, "QUEUE", ctx.args[0])
    if item_id is not None:
        run(server, client, ctx.channel, "QUEUE",
            lambda: server.engine.approve(ctx.conference, actor_of(client), item_id, ctx.args[1]), ctx.args[0])


def queue_drop(ctx: Context) -> None:
    reason = ctx.args[1] if len(ctx.args) > 1 else ""
    actor = actor_of(ctx.client)
    engine, conference = ctx.server.engine, ctx.conference
    each_id(ctx.server, ctx.client, ctx.channel, "QUEUE", ctx.args[0],
            lambda i: engine.drop(conference, actor, i, reason))


def queue_simple(action: str, ctx: Context) -> None:
    """HOLD, UNHOLD, FORWARD, CLAIM, UNCLAIM, TAKEOVER: one change each."""
    actor = actor_of(ctx.client)
    engine, conference = ctx.server.engine, ctx.conference
    each_id(ctx.server, ctx.client, ctx.channel, "QUEUE", ctx.args[0],
            lambda i: engine.act(conference, actor, action, i))


def queue_move(ctx: Context) -> None:
    server, client = ctx.server, ctx.client
    item_id = parse_item_id(server, client, "QUEUE", ctx.args[0])
    if item_id is not None:
        run(server, client, ctx.channel, "QUEUE",
            lambda: server.engine.move(ctx.conference, actor_of(client), item_id, ctx.args[1]), ctx.args[0])


def queue_next(ctx: Context) -> None:
    run(ctx.server, ctx.client, ctx.channel, "QUEUE", lambda: ctx.server.engine.next(ctx.conference, actor_of(ctx.client)))


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
