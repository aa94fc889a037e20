"""A visitor takes back a question of their own that the moderators have
not decided on yet (``CONF <channel> WITHDRAW <item>``, protocol.md).

Pure, like the engine that calls it. The item leaves the queue as a drop
decided by its author, flagged ``withdrawn``: every client that follows the
queue already removes a dropped item, and the flag tells why. A moderator's
claim does not stop it (the question is the visitor's), nor does the guest
stage: a withdrawn question is never published.
"""

from __future__ import annotations

from ..proto.casemap import casefold
from .conference import Conference
from .effects import Actor, Count, Effect
from .queue import Item, QueueError

WITHDRAWN_FLAG = "withdrawn"


def is_author(item: Item, actor: Actor) -> bool:
    """The item is ``actor``'s: sent from this very connection, or from the
    same account (a visitor who logged in may take it back from another
    connection). A visitor without an account who reconnected is another
    connection: the question is no longer theirs to take back."""
    if item.author_id is not None and item.author_id == actor.id:
        return True
    return item.author_account is not None and actor.account is not None and (
        casefold(item.author_account) == casefold(actor.account)
    )


def withdraw(conference: Conference, actor: Actor, item_id: int, now: float) -> tuple[Item, list[Effect]]:
    """Take ``item_id`` out of the queue for its author. Refusals, before
    anything changes: ``NOT_AUTHOR`` for an item that is not the actor's
    (whatever its state: a visitor learns nothing of others' questions),
    ``ALREADY_DECIDED`` for one already published or dropped."""
    queue = conference.queue
    item = queue.items.get(item_id)
    if item is None or not is_author(item, actor):
        raise QueueError("NOT_AUTHOR", f"Item {item_id} is not a question of yours", item_id)
    if item.decided:
        raise QueueError("ALREADY_DECIDED", f"Item {item_id} was already {item.state.value}", item_id)
    item.claimed_by = None  # the author's word comes before a moderator's claim
    queue.drop(item.id, actor.name, now, "withdrawn by its author")
    item.flags = (*item.flags, WITHDRAWN_FLAG)
    conference.record(now, actor.name, "withdraw", item.id, wait=round(now - item.submitted_at, 1))
    return item, [Count("withdrawn", "author")]  # not a moderation wait: no histogram
