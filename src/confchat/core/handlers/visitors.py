"""CONF subcommands for everyone in a conference, visitors included:
``WITHDRAW`` (take back one's own undecided question) and ``VOTES`` (the
vote counts of the published questions, for a page that joins late)
(protocol.md, "CONF"). Their entries are in ``conf.py``'s table."""

from __future__ import annotations

from ...moderation.votes import ranked
from ..subcommands import Context, more, page
from ..ops import decide
from .conference import parse_item_id


def conf_withdraw(ctx: Context) -> None:
    """``WITHDRAW <item>``: the moderators get the item's line (dropped,
    flagged ``withdrawn``), then the author ``NOTE CONF WITHDRAWN``."""
    server, client, channel = ctx.server, ctx.client, ctx.channel
    item_id = parse_item_id(server, client, "CONF", ctx.args[0])
    if item_id is None:
        return
    decide(server, client, channel, "withdraw", item_id, context=(str(item_id),),
           done=("CONF", "WITHDRAWN", f"Your question {item_id} was withdrawn", channel.name, str(item_id)))


def conf_votes(ctx: Context) -> None:
    """``VOTES [<from>]``: ``CONF <channel> VOTES <item> <votes>`` for each
    published question with at least one vote, most votes first, a page of
    200 (then ``MORE``), then ``END``. Its cost is the number of published
    questions, never the audience's size."""
    server, client, channel = ctx.server, ctx.client, ctx.channel
    items = [i for i in ranked(ctx.conference.queue.published()) if i.votes]
    start, stop = page(ctx, len(items))
    for item in items[start:stop]:
        server.reply(client, "CONF", channel.name, "VOTES", str(item.id), str(len(item.votes)))
    more(ctx, stop, len(items))
    server.reply(client, "CONF", channel.name, "END", f"{len(items)} questions with votes")
