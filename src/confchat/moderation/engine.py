"""The moderation engine: every decision about a conference, in one place.

Pure: no trio, no sockets, no storage. A submission, a moderator's action, a
vote, an answer or a change of state goes in; the engine checks it against
the conference's rules, changes the conference (its queue, publications,
restrictions, audit log: each change recorded, so storage commits it before
anyone hears of it) and returns the :mod:`effects <.effects>` the core
applies: lines for an audience, a note for one connection, metrics. A refusal
raises :class:`QueueError` with a standard-replies code before anything
changes.

The command handlers (``core/handlers/``) parse, check roles and call the
engine; the scheduler's tick calls :meth:`Engine.tick`. :meth:`Engine.submit`
is the one entrance of visitor messages: the conference's automatic policies
(``intake.py``, ``policybook.py``) look at each there, before the queue, and
shield mode (``shield.py``) is decided there too.
"""

from __future__ import annotations

from typing import Callable, Iterable

import attrs

from ..proto.casemap import casefold
from ..vocab import ConferenceState, RoomMode
from .admission import PendingCaps, check_visitor
from .conference import Conference, Publication, Restriction, Role, Visitor
from .intake import SCREENING_FLAG, Outcome, merge, policy_message, screen
from .policies.base import Verdict
from .policies.registry import build_policy
from .policybook import PolicyBook
from .shield import Thresholds
from .effects import (
    Actor,
    Audience,
    Broadcast,
    Count,
    Disconnect,
    Effect,
    Notify,
    PolicyRun,
    Restricted,
    RoleChanged,
    Screen,
    ShieldChanged,
    TopicChanged,
)
from .queue import Item, QueueError, State
from .summary import finish
from .votes import Tallies
from .withdrawal import withdraw

# Tags on published messages (server tags, sent to message-tags clients).
TAG_ITEM = "confchat/item"
TAG_ANSWERING = "confchat/answering"
TAG_REPLY = "+draft/reply"
REDACTION_CAP = "draft/message-redaction"
# Tags on QUEUE ITEM lines: what the automatic policies found.
TAG_SCORE = "confchat/score"
TAG_REASONS = "confchat/reasons"

# What a state change tells the conference.
STATE_WORDS = {
    ConferenceState.SCHEDULED: "is scheduled",
    ConferenceState.OPEN: "is open for questions",
    ConferenceState.LIVE: "is live",
    ConferenceState.CLOSED: "is closed",
}

# QUEUE actions that change an item's state or claim and nothing else:
# the queue's method for each.
SIMPLE_ACTIONS = ("hold", "unhold", "forward", "claim", "unclaim", "takeover")


def item_params(conference: Conference, item: Item) -> tuple[str, ...]:
    """``QUEUE <channel> ITEM ...`` after the channel: one item, whole."""
    return (
        "ITEM",
        str(item.id),
        item.state.value,
        str(conference.queue.position(item.id)),
        item.author,
        str(int(item.submitted_at)),
        item.claimed_by or "*",
        item.decided_by or "*",
        ",".join((*item.flags, "redacted") if item.redacted else item.flags) or "*",
        item.text,
    )


def item_tags(item: Item) -> dict[str, str]:
    """What the automatic policies found, for message-tags clients: the
    score and the reasons (the flags are a parameter of the line)."""
    if not item.reasons and not item.score:
        return {}
    return {TAG_SCORE: f"{item.score:g}", TAG_REASONS: " | ".join(item.reasons)}


def announce(conference: Conference, item: Item) -> Broadcast:
    """Where ``item`` stands now, for the moderators; for all the staff
    when the guests have a part in it (the guest stage, or a guest's
    answer published it)."""
    decided_by_guest = (
        item.state is State.PUBLISHED
        and item.decided_by is not None
        and conference.roles.get(casefold(item.decided_by)) is Role.GUEST
    )
    audience = Audience.STAFF if item.forwarded or decided_by_guest else Audience.MODERATORS
    return Broadcast(audience, "QUEUE", item_params(conference, item), tags=item_tags(item))


def notice(text: str, tags: dict[str, str]) -> Broadcast:
    """A server notice to the whole conference."""
    return Broadcast(Audience.EVERYONE, "NOTICE", (text,), tags=tags)


def _make_links(book: PolicyBook) -> object | None:
    """The policy that drops links while the shield is up, if there is one."""
    if "links" not in book.registry:
        return None
    try:
        return build_policy({"policy": "links", "name": "shield", "action": "drop", "exempt": []}, 1, book.registry)
    except ValueError:  # a plugin named links that takes other options
        return None


class Engine:
    """The decisions; one per server, over all its conferences.

    ``book`` holds each conference's automatic policies (none by default);
    ``timer`` measures their cost against ``budget`` seconds; ``shield``
    says when shield mode rises by itself."""

    def __init__(
        self,
        wallclock: Callable[[], float],
        new_msgid: Callable[[], str],
        *,
        book: PolicyBook | None = None,
        timer: Callable[[], float] | None = None,
        budget: float = 2.0,
        shield: Thresholds = Thresholds(messages=0, joins=0),
        max_pending: int = 0,
        max_pending_per_address: int = 0,
        shared_addresses: Iterable[str] = (),
    ) -> None:
        self.wallclock = wallclock
        self.new_msgid = new_msgid
        self.book = book if book is not None else PolicyBook(registry={})
        self.timer = timer or wallclock
        self.budget = budget
        self.thresholds = shield
        self.caps = PendingCaps(max_pending, max_pending_per_address, frozenset(shared_addresses))
        self._links = _make_links(self.book)
        self.tallies = Tallies()  # what the visitors are shown of votes and audience, coalesced

    # ---------------------------------------------------------- publishing

    def _publish(
        self, conference: Conference, source: str, text: str, tags: dict[str, str],
        skip: int | None = None, command: str = "PRIVMSG", item: int | None = None,
    ) -> tuple[str, Broadcast]:
        """Record one message as published; the broadcast that delivers it."""
        msgid = self.new_msgid()
        at = self.wallclock()
        conference.add_publication(Publication(msgid, source, text, at, dict(tags), command, item))
        # The live line carries the recorded time: history replays the same.
        return msgid, Broadcast(Audience.EVERYONE, command, (text,), source, tags, skip, msgid, at=at)

    def _publish_item(self, conference: Conference, item: Item, skip: int | None = None) -> list[Effect]:
        """An approved question, to everyone, as its author said it."""
        item.msgid, delivery = self._publish(
            conference, item.author_prefix, item.text, {TAG_ITEM: str(item.id)}, skip, item=item.id
        )
        out: list[Effect] = [delivery]
        if item.decided_by != "auto" and item.author_id is not None:
            if item.original is not None:  # the author alone is told that a moderator edited it
                out.append(Notify(item.author_id, "PRIVMSG", "PUBLISHED", "Your message was published, edited by a moderator",
                                  (str(item.id), "edited")))
            else:
                out.append(Notify(item.author_id, "PRIVMSG", "PUBLISHED", "Your message was published", (str(item.id),)))
        out.append(announce(conference, item))
        return out

    def _approve(self, conference: Conference, actor: str, item_id: int, text: str | None = None, **via: str) -> list[Effect]:
        now = self.wallclock()
        item = conference.queue.approve(item_id, actor, now, text)
        wait = now - item.submitted_at
        detail: dict[str, object] = dict(via) if via else {"wait": round(wait, 1)}
        if text is not None:
            detail.update(original=item.original, text=item.text)
        conference.record(now, actor, "edit-approve" if text is not None else "approve", item.id, **detail)
        return [Count("published", "human", wait), *self._publish_item(conference, item)]

    # ---------------------------------------------------------- messages

    def submit(
        self, conference: Conference, author: Actor, text: str, *, readonly: bool = False, banned: bool = False
    ) -> list[Effect]:
        """A visitor's message: refused, or checked by the automatic
        policies and then dropped, held for the moderators or (open mode,
        nothing against it) published at once. ``readonly`` and ``banned``
        are the channel's own modes (+m, +b), which the core knows.

        In two steps, which a cluster runs apart: :meth:`screen` where the
        visitor is connected, :meth:`admit` on every node in the order of the
        cluster's log (``core/ops.py``)."""
        outcome = self.screen(conference, author, text, readonly=readonly, banned=banned)
        return self.admit(conference, author, text, outcome, readonly=readonly, banned=banned)

    def screen(
        self, conference: Conference, author: Actor, text: str, *, readonly: bool = False, banned: bool = False
    ) -> Outcome:
        """The refusals, then the synchronous policies' word on a message
        (not stored: the node the visitor is connected to runs them once)."""
        now = self.wallclock()
        check_visitor(conference, author, now, self.caps, readonly=readonly, banned=banned)
        policies = self.book.for_conference(conference)
        message = policy_message(conference, author, text, now)
        return screen(conference, policies, message, self.timer, self.budget, self._links)

    def admit(
        self, conference: Conference, author: Actor, text: str, outcome: Outcome, *,
        readonly: bool = False, banned: bool = False,
    ) -> list[Effect]:
        """A screened message enters the conference: checked again (another
        message may have come first), then dropped, held or published."""
        now = self.wallclock()
        check_visitor(conference, author, now, self.caps, readonly=readonly, banned=banned)
        conference.last_message[author.id] = now
        out: list[Effect] = [Count("submitted")]
        why = conference.shield.message(now, self.thresholds)
        if why:
            out.extend(self._raise_shield(conference, "auto", why))
        if "raid" in outcome.flags and not conference.shield.on:
            out.extend(self._raise_shield(conference, "auto", "the same message from many visitors"))
        out.append(PolicyRun(outcome.seconds, outcome.decisions, outcome.failures))
        policies = self.book.for_conference(conference)
        waiting = policies.waiting if outcome.verdict is not Verdict.DROP else ()
        message = policy_message(conference, author, text, now) if waiting else None
        visitor = conference.visitors.get(author.id)  # connected to this node: the policies' memory of it
        if visitor is not None:
            visitor.remember(text, now)
        if waiting:
            outcome = attrs.evolve(outcome, flags=(*outcome.flags, SCREENING_FLAG))
        item = conference.queue.submit(
            author.nick, author.prefix, text, now, account=author.account, author_id=author.id,
            flags=outcome.flags, state=State.HELD if waiting else State.PENDING, address=author.address,
        )
        item.score, item.reasons = outcome.score, outcome.reasons
        if waiting:
            conference.record(now, author.nick, "submit", item.id, text=text, flags=list(item.flags))
            out.append(Screen(conference.folded, item.id, message, waiting))
            return [*out, *self._held(conference, item, "policy")]
        return [*out, *self._settle(conference, item, outcome, text, now, None if author.echo else author.id)]

    def _settle(
        self, conference: Conference, item: Item, outcome: Outcome, text: str, now: float, skip: int | None = None
    ) -> list[Effect]:
        """An item's fate once every policy has spoken."""
        queue = conference.queue
        if outcome.verdict is Verdict.DROP:
            actor = f"policy:{outcome.dropped_by}"
            queue.drop(item.id, actor, now, outcome.drop_reason)
            conference.record(now, actor, "drop", item.id, reason=outcome.drop_reason, text=text,
                              flags=list(item.flags))
            out: list[Effect] = [Count("dropped", "policy", now - item.submitted_at)]
            if item.author_id is not None:
                told = f": {outcome.drop_reason}" if conference.show_decline_reasons else ""
                out.append(Notify(item.author_id, "PRIVMSG", "DECLINED", f"Your message was not published{told}",
                                  (str(item.id),)))
            out.append(announce(conference, item))
            return out
        if outcome.verdict is Verdict.HOLD or conference.mode is not RoomMode.OPEN:
            detail: dict[str, object] = {"text": text}
            if outcome.verdict is Verdict.HOLD:
                detail.update(flags=list(item.flags), score=item.score, reasons=list(item.reasons))
            conference.record(now, item.author, "submit", item.id, **detail)
            return self._held(conference, item, "policy" if outcome.verdict is Verdict.HOLD else "none")
        queue.approve(item.id, "auto", now)
        conference.record(now, "auto", "publish", item.id)
        return [Count("published", "auto"), *self._publish_item(conference, item, skip)]

    def _held(self, conference: Conference, item: Item, decider: str) -> list[Effect]:
        out: list[Effect] = [Count("held", decider)]
        if item.author_id is not None:
            out.append(Notify(item.author_id, "PRIVMSG", "HELD", "Your message is awaiting moderation", (str(item.id),)))
        out.append(announce(conference, item))
        return out

    def screened(self, conference: Conference, item_id: int, later: Outcome) -> list[Effect]:
        """The asynchronous policies' word on a screening item (from the
        shell); nothing if a moderator decided on it meanwhile."""
        item = conference.queue.items.get(item_id)
        if item is None or item.state is not State.HELD or SCREENING_FLAG not in item.flags:
            return [PolicyRun(later.seconds, later.decisions, later.failures)]
        now = self.wallclock()
        first = Outcome(Verdict.HOLD if item.reasons else Verdict.PUBLISH, tuple(f for f in item.flags if f != SCREENING_FLAG),
                        item.score, item.reasons)
        outcome = merge(first, later)
        item.flags, item.score, item.reasons = outcome.flags, outcome.score, outcome.reasons
        item.state = State.PENDING  # out of the screening hold, back in release order
        out: list[Effect] = [PolicyRun(later.seconds, later.decisions, later.failures)]
        if outcome.verdict is Verdict.DROP:
            return [*out, *self._settle(conference, item, outcome, item.text, now)]
        if outcome.verdict is Verdict.HOLD or conference.mode is not RoomMode.OPEN:
            conference.record(now, "policies", "screened", item.id, flags=list(item.flags), score=item.score,
                              reasons=list(item.reasons))
            return [*out, announce(conference, item)]
        queue = conference.queue
        queue.approve(item.id, "auto", now)
        conference.record(now, "auto", "publish", item.id)
        return [*out, Count("published", "auto"), *self._publish_item(conference, item)]

    def speak(self, conference: Conference, author: Actor, command: str, text: str, tags: dict[str, str]) -> list[Effect]:
        """A staff PRIVMSG or NOTICE: published as it is."""
        _, delivery = self._publish(conference, author.prefix, text, tags, None if author.echo else author.id, command)
        return [delivery]

    # ---------------------------------------------------------- the queue

    def approve(self, conference: Conference, actor: Actor, item_id: int, text: str | None = None) -> list[Effect]:
        """Publish an item (``text``: edited first, the original kept)."""
        return self._approve(conference, actor.name, item_id, text)

    def next(self, conference: Conference, actor: Actor) -> list[Effect]:
        """Publish the first pending item not claimed by someone else."""
        item = conference.queue.next_pending(actor.name)
        return self._approve(conference, actor.name, item.id)

    def drop(self, conference: Conference, actor: Actor, item_id: int, reason: str = "") -> list[Effect]:
        now = self.wallclock()
        item = conference.queue.drop(item_id, actor.name, now, reason)
        wait = now - item.submitted_at
        conference.record(now, actor.name, "drop", item.id, reason=reason, wait=round(wait, 1))
        out: list[Effect] = [Count("dropped", "human", wait)]
        if item.author_id is not None:
            told = f": {reason}" if reason and conference.show_decline_reasons else ""
            out.append(Notify(item.author_id, "PRIVMSG", "DECLINED", f"Your message was not published{told}", (str(item.id),)))
        out.append(announce(conference, item))
        return out

    def act(self, conference: Conference, actor: Actor, action: str, item_id: int) -> list[Effect]:
        """One of :data:`SIMPLE_ACTIONS` on an item."""
        queue = conference.queue
        if action == "takeover":
            item = queue.claim(item_id, actor.name, takeover=True)
        else:
            item = getattr(queue, action)(item_id, actor.name)
        conference.record(self.wallclock(), actor.name, action, item.id)
        return [announce(conference, item)]

    def move(self, conference: Conference, actor: Actor, item_id: int, where: str) -> list[Effect]:
        item = conference.queue.move(item_id, actor.name, where.lower())
        conference.record(self.wallclock(), actor.name, "move", item.id, to=where)
        return [announce(conference, item)]

    # ---------------------------------------------------------- the guest stage

    def answer(self, conference: Conference, author: Actor, item_id: int | None, text: str) -> tuple[list[Effect], str]:
        """Publish ``text`` from a staff member, threaded to question
        ``item_id`` (published first if still undecided). The sender always
        gets its answer back: ANSWER is not a PRIVMSG, and the echo carries
        the msgid it needs to redact or thread to it."""
        out: list[Effect] = []
        tags: dict[str, str] = {}
        if item_id is not None:
            item = conference.queue.get(item_id)
            if item.state is State.DROPPED:
                raise QueueError("ALREADY_DECIDED", f"Item {item_id} was dropped", item_id)
            if item.redacted:
                raise QueueError("REDACTED", f"Item {item_id} was deleted", item_id)
            if not item.decided:
                out.extend(self._approve(conference, author.name, item_id, via="answer"))
            assert item.msgid is not None
            tags = {TAG_REPLY: item.msgid, TAG_ITEM: str(item.id)}
        msgid, delivery = self._publish(conference, author.prefix, text, tags)
        out.append(delivery)
        conference.record(self.wallclock(), author.name, "answer", item_id, msgid=msgid, text=text)
        return out, msgid

    def prepare(self, conference: Conference, actor: Actor, name: str, text: str) -> None:
        conference.prepared[name] = (actor.name, text)
        conference.record(self.wallclock(), actor.name, "prepare", None, name=name, text=text)

    def _prepared(self, conference: Conference, name: str) -> str:
        if name not in conference.prepared:
            raise QueueError("NO_SUCH_ANSWER", f"No prepared answer named {name}", context=(name,))
        return conference.prepared[name][1]

    def unprepare(self, conference: Conference, actor: Actor, name: str) -> None:
        self._prepared(conference, name)
        del conference.prepared[name]
        conference.record(self.wallclock(), actor.name, "unprepare", None, name=name)

    def publish_prepared(self, conference: Conference, author: Actor, name: str, item_id: int | None) -> list[Effect]:
        """Publish a prepared answer; it is used up only once published."""
        out, _ = self.answer(conference, author, item_id, self._prepared(conference, name))
        del conference.prepared[name]
        return out

    def vote(self, conference: Conference, voter: str, actor: Actor, item_id: int) -> list[Effect]:
        """One vote per ``voter`` key (an account, a visitor identity, or one
        connection): the core chooses the key."""
        item = conference.queue.vote(item_id, voter)
        conference.touch(item.id)
        votes = str(len(item.votes))
        return [
            Notify(actor.id, "VOTE", "COUNTED", "Your vote was counted", (str(item.id), votes)),
            Broadcast(Audience.STAFF, "CONF", ("VOTES", str(item.id), votes)),
            *self.tallies.of(conference).voted(conference, item, self.wallclock()),
        ]

    def public_counts(self, conference: Conference, audience: int) -> list[Effect]:
        """About once a second (the server's tick): the visitors' vote
        counts and audience size whose interval is over (``moderation/votes.py``);
        ``audience`` is the number of members who are not staff."""
        return list(self.tallies.of(conference).tick(conference, audience, self.wallclock()))

    def withdraw(self, conference: Conference, actor: Actor, item_id: int) -> list[Effect]:
        """A visitor takes back an undecided question of their own
        (``moderation/withdrawal.py``); the moderators' queues drop it."""
        item, out = withdraw(conference, actor, item_id, self.wallclock())
        return [*out, announce(conference, item)]

    def _published_item(self, conference: Conference, item_id: int) -> Item:
        item = conference.queue.get(item_id)
        if item.state is not State.PUBLISHED or item.msgid is None or item.redacted:
            raise QueueError("NOT_PUBLISHED", f"Item {item_id} is not published", item_id)
        return item

    def answering(self, conference: Conference, actor: Actor, item_id: int) -> list[Effect]:
        item = self._published_item(conference, item_id)
        assert item.msgid is not None
        conference.now_answering = item.id
        conference.record(self.wallclock(), actor.name, "answering", item.id)
        return [notice(f"Now answering: {item.author}: {item.text}", {TAG_ANSWERING: str(item.id), TAG_REPLY: item.msgid})]

    def answered(self, conference: Conference, actor: Actor, item_id: int) -> list[Effect]:
        item = self._published_item(conference, item_id)
        assert item.msgid is not None
        item.answered = True
        if conference.now_answering == item.id:
            conference.now_answering = None
        conference.record(self.wallclock(), actor.name, "answered", item.id)
        return [notice(f"Answered: {item.author}: {item.text}", {"confchat/answered": str(item.id), TAG_REPLY: item.msgid})]

    # ---------------------------------------------------------- deleting what was published

    def redact(self, conference: Conference, actor: Actor, msgid: str, reason: str = "") -> list[Effect]:
        if msgid not in conference.published:
            raise QueueError("UNKNOWN_MSGID", "No published message has that msgid", context=(msgid,))
        now = self.wallclock()
        publication = conference.remove_publication(msgid, now, actor.name)
        item = conference.queue.items.get(publication.item) if publication and publication.item else None
        if item is not None and item.msgid == msgid:
            conference.queue.redact(item.id)
            if conference.now_answering == item.id:
                conference.now_answering = None
        conference.record(now, actor.name, "redact", item.id if item else None, msgid=msgid, reason=reason)
        params = (msgid, reason) if reason else (msgid,)
        said = "A message was deleted by the moderators" + (f": {reason}" if reason else "")
        out: list[Effect] = [
            Count("redacted", "human"),
            Broadcast(Audience.EVERYONE, "REDACT", params, actor.prefix, only_caps=REDACTION_CAP),
            # Clients without the capability cannot delete a line; tell their users.
            Broadcast(Audience.EVERYONE, "NOTICE", (said,), without_caps=REDACTION_CAP),
        ]
        if item is not None:
            out.append(announce(conference, item))
        return out

    # ---------------------------------------------------------- the conference itself

    def set_state(self, conference: Conference, actor: str, state: ConferenceState) -> list[Effect]:
        was, now = conference.state, self.wallclock()
        conference.state = state
        conference.record(now, actor, "state", None, state=state.value)
        out: list[Effect] = [notice(f"{conference.title} {STATE_WORDS[state]}", {"confchat/state": state.value})]
        if state is ConferenceState.CLOSED and was is not ConferenceState.CLOSED:
            out.extend(finish(conference, actor, now))  # not taken, now answering cleared, the summary
        return out

    def set_state_by_hand(self, conference: Conference, actor: Actor, state: ConferenceState) -> list[Effect]:
        """A moderator's choice: schedule times already past no longer apply."""
        conference.schedule_from = self.wallclock()
        return self.set_state(conference, actor.name, state)

    def set_setting(self, conference: Conference, actor: Actor, key: str, value: str) -> list[Effect]:
        error = conference.set(key, value)
        if error:
            raise QueueError("INVALID_SETTING", error, context=(key,))
        conference.record(self.wallclock(), actor.name, "set", None, key=key, value=value)
        if key == "title":
            return [TopicChanged(value)]
        if key == "mode":
            return [notice(f"The conference is now {value}", {"confchat/mode": value})]
        if key == "slow_mode":
            text = f"Slow mode: one message every {value} seconds" if int(value) else "Slow mode is off"
            return [notice(text, {"confchat/slow_mode": value})]
        return []

    def set_role(self, conference: Conference, actor: Actor, account: str, role: Role) -> list[Effect]:
        if role is Role.VISITOR:
            conference.roles.pop(casefold(account), None)
        else:
            conference.roles[casefold(account)] = role
        conference.record(self.wallclock(), actor.name, "role", None, account=account, role=role.value)
        return [RoleChanged(account)]

    def restrict(
        self, conference: Conference, actor: Actor, kind: str, mask: str, duration: int = 0, reason: str = ""
    ) -> list[Effect]:
        """A ban or mute on ``mask`` (``duration`` seconds, 0 for ever)."""
        now = self.wallclock()
        restriction = Restriction(kind, mask, actor.name, reason, now, now + duration if duration else 0.0)
        conference.restrictions.append(restriction)
        conference.record(now, actor.name, kind, None, mask=mask, duration=duration, reason=reason)
        return [Restricted(restriction, actor.id, actor.prefix)]

    def unrestrict(self, conference: Conference, actor: Actor, kind: str, mask: str) -> None:
        """Lift the ``kind`` restrictions on ``mask``, or that share one of
        its parts (``UNBAN troll`` lifts ``$v:...,troll!*@*``)."""
        before = len(conference.restrictions)
        lifted = set(casefold(part) for part in mask.split(","))
        conference.restrictions = [
            r for r in conference.restrictions if not (r.kind == kind and lifted.intersection(r.parts))
        ]
        if len(conference.restrictions) == before:
            raise QueueError("NO_SUCH_" + kind.upper(), f"No {kind} on {mask}", context=(mask,))
        conference.record(self.wallclock(), actor.name, "un" + kind, None, mask=mask)

    def disconnect(self, conference: Conference, actor: Actor, target: int, nick: str, reason: str) -> list[Effect]:
        conference.record(self.wallclock(), actor.name, "disconnect", None, nick=nick, reason=reason)
        return [Disconnect(target, reason)]

    def log(self, conference: Conference, actor: str, action: str, **detail: object) -> None:
        """An action with no effect of its own on the conference (an export,
        the creation), kept in the audit log."""
        conference.record(self.wallclock(), actor, action, None, **detail)

    # ---------------------------------------------------------- presence and the shield

    def joined(self, conference: Conference, visitor: Actor) -> list[Effect]:
        """A visitor joined (staff are not counted); refused while the
        shield is up and closed."""
        why = self.arrival(conference, visitor)
        return self._raise_shield(conference, "auto", why) if why else []

    def arrival(self, conference: Conference, visitor: Actor) -> str:
        """:meth:`joined` without raising the shield: why it should rise
        ("" if not). The core raises it through the cluster's log
        (``core/ops.py``): the visitors counted are this node's."""
        now = self.wallclock()
        if conference.shield.on and conference.shield.closed:
            raise QueueError("SHIELDED", "The conference accepts no new visitors for now")
        conference.visitors[visitor.id] = Visitor(now)
        conference.tally.audience(len(conference.visitors))
        return conference.shield.join(now, self.thresholds)

    def left(self, conference: Conference, connection: int) -> None:
        conference.visitors.pop(connection, None)
        conference.last_message.pop(connection, None)

    def _raise_shield(self, conference: Conference, by: str, reason: str, closed: bool = False) -> list[Effect]:
        now = self.wallclock()
        conference.shield.raise_(now, by, reason, closed)
        conference.record(now, by, "shield", None, on=True, reason=reason, closed=closed)
        return [ShieldChanged(True, by, reason)]

    def set_shield(self, conference: Conference, actor: Actor, on: bool, reason: str = "", closed: bool = False) -> list[Effect]:
        """A moderator raises or lowers the shield."""
        if on:
            return self._raise_shield(conference, actor.name, reason or "raised by a moderator", closed)
        if not conference.shield.on:
            raise QueueError("SHIELD_DOWN", "The shield is not up")
        conference.shield.lower()
        conference.record(self.wallclock(), actor.name, "shield", None, on=False)
        return [ShieldChanged(False, actor.name)]

    # ---------------------------------------------------------- time

    def tick(self, conference: Conference, *, schedule: bool = True) -> list[Effect]:
        """About once a second: the schedule moves the state along (unless
        ``schedule`` is false: the core does it through its log), ended
        restrictions go, slow-mode waits that are over are forgotten."""
        now = self.wallclock()
        state = conference.scheduled_state(now) if schedule else None
        out = self.set_state(conference, "schedule", state) if state is not None else []
        conference.expire(now)
        conference.prune_slow_mode(now)
        return out
