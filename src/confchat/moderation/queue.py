"""The moderation queue of one conference: ordered items with stable ids.

Every visitor message in a moderated conference becomes an :class:`Item`.
Undecided items (pending, held, forwarded) keep an order that moderators
change; ``next`` releases the first pending one. Each action either applies
whole or raises :class:`QueueError` with a code, before changing anything, so
two moderators racing on one item get one success and one clear refusal:
never a double publication.
"""

from __future__ import annotations

import enum
import itertools
from collections import Counter
from typing import Iterable

import attrs
from ..proto.numbers import is_number


class State(str, enum.Enum):
    PENDING = "pending"  # waiting for a moderator, in release order
    HELD = "held"  # parked: kept, skipped by NEXT
    FORWARDED = "forwarded"  # on the guest stage, waiting for an answer
    PUBLISHED = "published"
    DROPPED = "dropped"


UNDECIDED = frozenset({State.PENDING, State.HELD, State.FORWARDED})


class QueueError(Exception):
    """An action refused; ``code`` is the standard-replies code and
    ``context`` what the FAIL line carries after the channel, if the caller
    has nothing better (such as the id it was given)."""

    def __init__(
        self, code: str, message: str, item_id: int | None = None, context: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.item_id = item_id
        self.context = context


@attrs.define(eq=False)
class Item:
    id: int
    author: str  # nick at submission
    author_prefix: str  # nick!user@host, the source used when published
    author_account: str | None
    # The author's connection id while it is connected to this process (for
    # notes about the item); None once restored from storage.
    author_id: int | None
    text: str
    submitted_at: float  # wall-clock seconds
    state: State = State.PENDING
    original: str | None = None  # the visitor's text, when a moderator edited it
    claimed_by: str | None = None
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str = ""
    flags: tuple[str, ...] = ()  # from the automatic policies (and "redacted")
    score: float = 0.0  # the policies' summed score of concern
    reasons: tuple[str, ...] = ()  # "policy: why", one per policy that held it
    msgid: str | None = None  # set once published
    # Release order as a number: undecided items sort by (rank, id). A move
    # changes only the moved item's rank (storage rewrites one row).
    rank: float = 0.0
    answered: bool = False
    redacted: bool = False  # published, then deleted by a moderator (REDACT)
    forwarded: bool = False  # was on the guest stage at some point
    votes: set[str] = attrs.field(factory=set)
    # The author's address while the item waits (the per-address cap); not
    # stored, like ``author_id``.
    author_address: str = ""

    @property
    def decided(self) -> bool:
        return self.state not in UNDECIDED


class ModerationQueue:
    def __init__(self, first_id: int = 1) -> None:
        self.items: dict[int, Item] = {}
        self.order: list[int] = []  # undecided items, release order
        # Items whose rank changed without an action of their own (a
        # renumbering after many moves to one spot); storage drains it.
        self.reranked: set[int] = set()
        # Undecided items by author connection id: a visitor's share of the
        # queue, capped by the engine (moderation.max_pending_per_visitor).
        self.undecided_by: Counter[int] = Counter()
        # And by address: one address's share (moderation.max_pending_per_address).
        self.undecided_from: Counter[str] = Counter()
        self.next_id = first_id
        # Decided items still in memory, oldest decision first, and the
        # published ones still open (votable) moved aside when their turn to
        # leave came: ``retire`` keeps both bounded (the rest is in storage).
        self.decided_ids: dict[int, None] = {}
        self.open_published: dict[int, None] = {}
        self.retired = 0  # items let go from memory (they are in storage)

    # -- reading

    def get(self, item_id: int) -> Item:
        item = self.items.get(item_id)
        if item is None:
            if 0 < item_id < self.next_id:
                raise QueueError(
                    "ALREADY_DECIDED", f"Item {item_id} was decided long ago (it is in the archive)", item_id
                )
            raise QueueError("NO_SUCH_ITEM", f"There is no item {item_id}", item_id)
        return item

    def position(self, item_id: int) -> int:
        """1-based position among undecided items; 0 once decided."""
        try:
            return self.order.index(item_id) + 1
        except ValueError:
            return 0

    def undecided(self) -> list[Item]:
        return [self.items[i] for i in self.order]

    def published(self) -> list[Item]:
        return [i for i in self.items.values() if i.state is State.PUBLISHED]

    def by_msgid(self, msgid: str) -> Item | None:
        for item in self.items.values():
            if item.msgid == msgid:
                return item
        return None

    # -- changes

    def submit(
        self,
        author: str,
        author_prefix: str,
        text: str,
        now: float,
        *,
        account: str | None = None,
        author_id: int | None = None,
        flags: Iterable[str] = (),
        state: State = State.PENDING,
        address: str = "",
    ) -> Item:
        item = Item(self.next_id, author, author_prefix, account, author_id, text, now, state, flags=tuple(flags),
                    author_address=address)
        item.rank = self.items[self.order[-1]].rank + 1.0 if self.order else 1.0
        self.next_id += 1
        self.items[item.id] = item
        self.order.append(item.id)
        if author_id is not None:
            self.undecided_by[author_id] += 1
        if address:
            self.undecided_from[address] += 1
        return item

    def _actionable(self, item_id: int, actor: str, allow: frozenset[State] = UNDECIDED) -> Item:
        item = self.get(item_id)
        if item.decided:
            raise QueueError(
                "ALREADY_DECIDED",
                f"Item {item_id} was already {item.state.value} by {item.decided_by}",
                item_id,
            )
        if item.claimed_by is not None and item.claimed_by != actor:
            raise QueueError("CLAIMED", f"Item {item_id} is claimed by {item.claimed_by}", item_id)
        if item.state not in allow:
            raise QueueError("WRONG_STATE", f"Item {item_id} is {item.state.value}", item_id)
        return item

    def _decide(self, item: Item, state: State, actor: str, now: float, reason: str = "") -> Item:
        item.state = state
        item.decided_by = actor
        item.decided_at = now
        item.reason = reason
        item.claimed_by = None
        self.order.remove(item.id)
        self.decided_ids[item.id] = None
        if item.author_id is not None and self.undecided_by[item.author_id] > 0:
            self.undecided_by[item.author_id] -= 1
            if not self.undecided_by[item.author_id]:
                del self.undecided_by[item.author_id]
        if item.author_address and self.undecided_from[item.author_address] > 0:
            self.undecided_from[item.author_address] -= 1
            if not self.undecided_from[item.author_address]:
                del self.undecided_from[item.author_address]
        return item

    def restored_decided(self) -> None:
        """After a restore from storage: the decided items in the order they
        were decided, so that ``retire`` lets the oldest go first."""
        decided = sorted((i for i in self.items.values() if i.decided), key=lambda i: (i.decided_at or 0.0, i.id))
        self.decided_ids = dict.fromkeys(i.id for i in decided)

    def retire(self, keep_closed: int, keep_open: int, pinned: Iterable[int] = ()) -> list[int]:
        """Let go of decided items beyond what moderators still act on, so
        that memory does not grow with the event: the ``keep_closed`` most
        recently decided items stay (a moderator racing on one finds it
        decided), and of the published questions still open to votes and
        answers the ``keep_open`` most recent. Call it only when every item
        is stored (``pinned``: ids to keep whatever their age, such as the
        one being answered). Returns the ids let go."""
        gone: list[int] = []
        keep = set(pinned)
        while len(self.decided_ids) > keep_closed:
            item_id = next(iter(self.decided_ids))
            del self.decided_ids[item_id]
            item = self.items.get(item_id)
            if item is None:
                continue
            if item.state is State.PUBLISHED and not (item.answered or item.redacted):
                self.open_published[item_id] = None
            elif item_id in keep:
                self.open_published[item_id] = None
            else:
                del self.items[item_id]
                gone.append(item_id)
        excess = len(self.open_published) - keep_open - sum(1 for k in keep if k in self.open_published)
        if excess > 0:
            for item_id in list(itertools.islice(self.open_published, excess + len(keep))):
                if excess <= 0:
                    break
                if item_id in keep:
                    continue
                excess -= 1
                del self.open_published[item_id]
                if self.items.pop(item_id, None) is not None:
                    gone.append(item_id)
        self.retired += len(gone)
        return gone

    def approve(self, item_id: int, actor: str, now: float, text: str | None = None) -> Item:
        """Publish (the caller relays it and records ``msgid``); ``text`` edits
        it first, keeping the visitor's original."""
        item = self._actionable(item_id, actor)
        if text is not None and text != item.text:
            if item.original is None:
                item.original = item.text
            item.text = text
        return self._decide(item, State.PUBLISHED, actor, now)

    def drop(self, item_id: int, actor: str, now: float, reason: str = "") -> Item:
        item = self._actionable(item_id, actor)
        return self._decide(item, State.DROPPED, actor, now, reason)

    def hold(self, item_id: int, actor: str) -> Item:
        item = self._actionable(item_id, actor, frozenset({State.PENDING}))
        item.state = State.HELD
        return item

    def unhold(self, item_id: int, actor: str) -> Item:
        item = self._actionable(item_id, actor, frozenset({State.HELD}))
        item.state = State.PENDING
        return item

    def forward(self, item_id: int, actor: str) -> Item:
        item = self._actionable(item_id, actor, frozenset({State.PENDING, State.HELD}))
        item.state = State.FORWARDED
        item.forwarded = True
        item.claimed_by = None  # now in the guest's hands
        return item

    def move(self, item_id: int, actor: str, where: str) -> Item:
        """``where``: ``top``, ``bottom`` or a 1-based position."""
        item = self._actionable(item_id, actor)
        if where == "top":
            index = 0
        elif where == "bottom":
            index = len(self.order) - 1
        elif is_number(where) and 1 <= int(where) <= len(self.order):
            index = int(where) - 1
        else:
            raise QueueError("INVALID_POSITION", f"Position must be top, bottom or 1-{len(self.order)}", item_id)
        self.order.remove(item_id)
        self.order.insert(index, item_id)
        self._rerank(index)
        return item

    def _rerank(self, index: int) -> None:
        """Give the item at ``index`` a rank between its neighbours'."""
        order, items = self.order, self.items
        before = items[order[index - 1]].rank if index > 0 else None
        after = items[order[index + 1]].rank if index + 1 < len(order) else None
        if before is None and after is None:
            rank = 1.0
        elif before is None:
            rank = after - 1.0  # type: ignore[operator]
        elif after is None:
            rank = before + 1.0
        else:
            rank = (before + after) / 2
        if (before is not None and rank <= before) or (after is not None and rank >= after):
            for position, other in enumerate(order):  # out of room: renumber
                items[other].rank = float(position + 1)
                self.reranked.add(other)
            return
        items[order[index]].rank = rank

    def next_pending(self, actor: str) -> Item:
        """The first pending item not claimed by someone else."""
        for item_id in self.order:
            item = self.items[item_id]
            if item.state is State.PENDING and item.claimed_by in (None, actor):
                return item
        raise QueueError("QUEUE_EMPTY", "No pending item to release")

    def claim(self, item_id: int, actor: str, takeover: bool = False) -> Item:
        item = self.get(item_id)
        if item.decided:
            raise QueueError("ALREADY_DECIDED", f"Item {item_id} was already {item.state.value}", item_id)
        if item.claimed_by not in (None, actor) and not takeover:
            raise QueueError("CLAIMED", f"Item {item_id} is claimed by {item.claimed_by}", item_id)
        item.claimed_by = actor
        return item

    def unclaim(self, item_id: int, actor: str) -> Item:
        item = self._actionable(item_id, actor)
        item.claimed_by = None
        return item

    def redact(self, item_id: int) -> Item:
        """A published item was deleted: it stays published in the record
        but can no longer be voted for, answered or marked."""
        item = self.get(item_id)
        if item.state is not State.PUBLISHED:
            raise QueueError("WRONG_STATE", f"Item {item_id} is {item.state.value}", item_id)
        item.redacted = True
        return item

    def vote(self, item_id: int, voter: str) -> Item:
        item = self.get(item_id)
        if item.state is not State.PUBLISHED or item.answered or item.redacted:
            raise QueueError("CANNOT_VOTE", f"Item {item_id} is not an open published question", item_id)
        if voter in item.votes:
            raise QueueError("ALREADY_VOTED", f"You already voted for item {item_id}", item_id)
        item.votes.add(voter)
        return item
