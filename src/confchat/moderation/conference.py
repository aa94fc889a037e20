"""A conference: a moderated channel's settings, roles, queue, and records.

Pure state with its rules; the core's conference handlers turn IRC commands
into calls here and relay the results.
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from typing import Any, Protocol

import attrs

from ..config import ConferenceConfig, parse_time
from ..proto.casemap import casefold, mask_match
from ..proto.numbers import is_number
from ..vocab import ConferenceState, QuestionOrder, RoomMode, spoken
from .queue import Item, ModerationQueue, State
from .shield import Shield
from .tally import Tally
from .timeline import Timeline

# Earlier messages of one visitor kept for the policies (duplicates, rate).
VISITOR_HISTORY = 10


class ChangeSink(Protocol):
    """Where a conference reports that it changed (the core's journal): the
    only thing the moderation layer knows of durability."""

    def mark(self, changes: Any) -> None: ...


class Role(str, enum.Enum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    GUEST = "guest"
    VISITOR = "visitor"


STAFF = frozenset({Role.ADMIN, Role.MODERATOR, Role.GUEST})
MODERATING = frozenset({Role.ADMIN, Role.MODERATOR})

# Settings changeable with CONF <channel> SET <key> <value>, and their types.
SETTINGS: dict[str, type] = {
    "title": str,
    "description": str,
    "opens": str,
    "starts": str,
    "ends": str,
    "mode": str,
    "show_decline_reasons": bool,
    "auditorium": bool,
    "slow_mode": int,
    "sort": str,
}


@attrs.define
class Restriction:
    """A ban or a mute: ``mask`` is ``nick!user@host`` (globs allowed),
    ``$a:account``, ``$v:<visitor identity>`` or ``$c:<connection>``, or
    several of these joined by commas (any one matches: a ban of one visitor
    by nick is ``$v:...,nick!*@*``); ``expires`` is wall-clock seconds, 0
    for never."""

    kind: str  # "ban" or "mute"
    mask: str
    by: str
    reason: str
    set_at: float
    expires: float = 0.0

    def active(self, now: float) -> bool:
        return not self.expires or now < self.expires

    def matches(self, prefix: str, account: str | None, marks: tuple[str, ...] = ()) -> bool:
        """``marks``: the other names of the subject (``$v:``/``$c:`` names,
        its prefix with the real address), see ``core/client.py``."""
        return any(_part_matches(part, prefix, account, marks) for part in self.mask.split(","))

    @property
    def parts(self) -> list[str]:
        return [casefold(part) for part in self.mask.split(",")]


def _part_matches(mask: str, prefix: str, account: str | None, marks: tuple[str, ...]) -> bool:
    if mask.startswith("$a:"):
        return account is not None and casefold(mask[3:]) == casefold(account)
    if mask.startswith("$"):
        return any(casefold(mark) == casefold(mask) for mark in marks if mark.startswith("$"))
    return mask_match(mask, prefix) or any(mask_match(mask, mark) for mark in marks if not mark.startswith("$"))


# What one conference holds in memory beyond its undecided items (the rest is
# in storage, where exports read it): the most recently decided items, the
# published questions still open to votes, the latest audit entries; about
# 12 MiB at most with 400-character questions.
KEEP_DECIDED = 1_000
KEEP_OPEN_PUBLISHED = 5_000
KEEP_AUDIT = 2_000
# And the latest messages shown (the join backlog, CHATHISTORY, REDACT).
KEEP_PUBLISHED = 10_000


@attrs.define
class Publication:
    """One message published in the conference (question, answer, staff)."""

    msgid: str
    source: str  # nick!user@host
    text: str
    at: float
    tags: dict[str, str] = attrs.field(factory=dict)
    command: str = "PRIVMSG"
    item: int | None = None  # the queue item, for a visitor's question


@attrs.define
class Visitor:
    """A visitor present in the conference, as the policies see its past:
    when it joined, what it sent last (bounded)."""

    joined_at: float
    # Made on its first message: most of an audience never writes, and an
    # empty bounded deque costs about 0.6 KiB (bench/README.md, "A leaner process").
    recent: deque[tuple[str, float]] | None = None

    def remember(self, text: str, at: float) -> None:
        if self.recent is None:
            self.recent = deque(maxlen=VISITOR_HISTORY)
        self.recent.append((text, at))


@attrs.define
class AuditEntry:
    at: float
    actor: str
    action: str
    item: int | None = None
    detail: dict[str, Any] = attrs.field(factory=dict)


def declaration(settings: ConferenceConfig) -> dict[str, Any]:
    """What a config file says about a conference, as plain values."""
    fields = attrs.asdict(settings)
    fields.pop("channel")
    fields["moderators"] = list(settings.moderators)
    fields["guests"] = list(settings.guests)
    fields["policies"] = [dict(p) for p in settings.policies]
    return fields


class Conference:
    def __init__(self, settings: ConferenceConfig) -> None:
        self.channel = settings.channel
        self.folded = casefold(settings.channel)
        self.title = settings.title
        self.description = settings.description
        self.opens = settings.opens
        self.starts = settings.starts
        self.ends = settings.ends
        self.state = ConferenceState(settings.state)
        self.mode = RoomMode(settings.mode)
        self.show_decline_reasons = settings.show_decline_reasons
        self.auditorium = settings.auditorium
        self.slow_mode = settings.slow_mode
        self.sort = QuestionOrder(settings.sort)  # the visitor page's default order
        # Automatic moderation: this conference's own policy tables, and
        # whether the server's default chain runs first.
        self.policies: list[dict[str, Any]] = [dict(p) for p in settings.policies]
        self.inherit_policies = settings.inherit_policies
        self.shield = Shield()
        # Visitors present, by connection id (forgotten when they leave).
        self.visitors: dict[int, Visitor] = {}
        self.roles: dict[str, Role] = {}  # folded account -> role
        for name in settings.moderators:
            self.roles[casefold(name)] = Role.MODERATOR
        for name in settings.guests:
            self.roles[casefold(name)] = Role.GUEST
        self.queue = ModerationQueue()
        self.prepared: dict[str, tuple[str, str]] = {}  # name -> (author account, text)
        self.restrictions: list[Restriction] = []
        # The audit log's most recent entries (the whole log is in storage):
        # ``audit_base`` entries came before the first one held here.
        self.audit: list[AuditEntry] = []
        self.audit_base = 0
        # Published messages by msgid, in publication order (REDACT removes).
        self.published: dict[str, Publication] = {}
        # The same, in order and indexed by msgid and time, with the
        # deletions: what CHATHISTORY reads (timeline.py).
        self.timeline = Timeline()
        self.now_answering: int | None = None
        # What the closing summary counts (moderation/summary.py).
        self.tally = Tally()
        # The settings the config file declared at the last start (storage
        # compares them with the file, to apply only what was edited since).
        self.declared: dict[str, Any] = declaration(settings)
        # Durability: told of every change (the core's journal), and what
        # changed since the last ``take_changes``.
        self.journal: ChangeSink | None = None
        self._dirty_items: set[int] = set()
        self._new_publications: list[Publication] = []
        self._new_redactions: list[tuple[str, float, str]] = []
        self._audit_saved = 0
        # Slow mode: a visitor's connection id -> wall time of its last
        # message. Ids, not clients: a visitor who left is not kept alive.
        self.last_message: dict[int, float] = {}
        # A state set by hand overrides schedule times up to that moment.
        self.schedule_from = 0.0

    def role_of(self, account: str | None, admin: bool) -> Role:
        if admin:
            return Role.ADMIN
        if account is None:
            return Role.VISITOR
        return self.roles.get(casefold(account), Role.VISITOR)

    def record(self, now: float, actor: str, action: str, item: int | None = None, **detail: Any) -> None:
        """Add an audit entry. Every state change goes with one, so this is
        also where the change is marked for storage: call it before telling
        anyone about the change."""
        self.audit.append(AuditEntry(now, actor, action, item, detail))
        self.tally.note(action, None if item is None else self.queue.items.get(item), now)
        self.touch(item)

    def touch(self, item: int | None = None) -> None:
        """Mark the conference (and ``item``) changed, to be stored."""
        if item is not None:
            self._dirty_items.add(item)
        if self.journal is not None:
            self.journal.mark(self)

    def add_publication(self, publication: Publication) -> None:
        self.published[publication.msgid] = publication
        self.timeline.add(publication)
        self._new_publications.append(publication)
        self.touch(publication.item)

    def remove_publication(self, msgid: str, now: float, by: str) -> Publication | None:
        publication = self.published.pop(msgid, None)
        if publication is not None:
            self.timeline.redact(msgid, now, by)
            self._new_redactions.append((msgid, now, by))
            self.touch(publication.item)
        return publication

    def apply_declared(self, settings: ConferenceConfig) -> None:
        """Merge the config file's declaration into a restored conference:
        a setting edited in the file since the last start takes the file's
        value; one the moderators changed at runtime keeps theirs."""
        declared = declaration(settings)
        for name, value in declared.items():
            if self.declared.get(name) == value:
                continue
            if name in ("moderators", "guests"):
                role = Role.MODERATOR if name == "moderators" else Role.GUEST
                before = {casefold(a) for a in self.declared.get(name, ())}
                after = {casefold(a) for a in value}
                for account in before - after:
                    if self.roles.get(account) is role:
                        del self.roles[account]
                for account in after:
                    self.roles[account] = role
            elif name == "state":
                self.state = ConferenceState(value)
            elif name == "mode":
                self.mode = RoomMode(value)
            elif name == "sort":
                self.sort = QuestionOrder(value)
            elif name == "policies":
                self.policies = [dict(p) for p in value]
            else:
                setattr(self, name, value)
        self.declared = declared

    def purge_personal_data(self, cutoff: float) -> int:
        """Forget what identifies visitors in items older than ``cutoff``:
        their address (``nick!*@*`` remains) and, for dropped messages, the
        text. Returns the number of items changed."""
        changed = 0
        for item in self.queue.items.values():
            if item.submitted_at >= cutoff:
                continue
            touched = False
            anonymous = f"{item.author}!*@*"
            if item.author_prefix != anonymous:
                item.author_prefix = anonymous
                touched = True
            if item.state is State.DROPPED and (item.text or item.original is not None):
                item.text, item.original = "", None
                touched = True
            if touched:
                changed += 1
                self.touch(item.id)
        for publication in self.published.values():
            if publication.at < cutoff and "!" in publication.source:
                publication.source = publication.source.split("!", 1)[0] + "!*@*"
        for entry in self.audit:
            if entry.at < cutoff and entry.item is not None and "text" in entry.detail:
                item = self.queue.items.get(entry.item)
                if item is not None and item.state is State.DROPPED:
                    entry.detail = {k: v for k, v in entry.detail.items() if k not in ("text", "original")}
        return changed

    def take_changes(self) -> "ChangeSet":
        """Everything to store since the last call: the conference itself
        (its own row is written whole), and the items, publications,
        redactions and audit entries that changed. Storage turns it into
        rows at once (``storage.rows``), before anything changes again."""
        dirty = self._dirty_items | self.queue.reranked
        self.queue.reranked.clear()
        changes = ChangeSet(
            self,
            [self.queue.items[i] for i in sorted(dirty) if i in self.queue.items],
            list(self._new_publications),
            list(self._new_redactions),
            self.audit[self._audit_saved :],
        )
        self._dirty_items.clear()
        self._new_publications.clear()
        self._new_redactions.clear()
        self._audit_saved = len(self.audit)
        self.let_go()
        return changes

    @property
    def audit_total(self) -> int:
        return self.audit_base + len(self.audit)

    def let_go(self) -> None:
        """Everything is stored now: forget from memory what the event no
        longer acts on (old decided items, old audit entries), so that a long
        event's memory stays level whatever the audience sends."""
        self.queue.retire(KEEP_DECIDED, KEEP_OPEN_PUBLISHED, () if self.now_answering is None else (self.now_answering,))
        excess = len(self.audit) - KEEP_AUDIT
        if excess > KEEP_AUDIT // 4:  # in steps, not one entry at a time
            del self.audit[:excess]
            self.audit_base += excess
            self._audit_saved -= excess
        excess = len(self.published) - KEEP_PUBLISHED
        if excess > KEEP_PUBLISHED // 4:
            for msgid in list(itertools.islice(self.published, excess)):
                del self.published[msgid]
            self.timeline.trim(KEEP_PUBLISHED)

    def prune_slow_mode(self, now: float) -> None:
        """Forget visitors whose slow-mode wait is over."""
        if not self.slow_mode:
            self.last_message.clear()
            return
        horizon = now - self.slow_mode
        self.last_message = {key: at for key, at in self.last_message.items() if at > horizon}

    def restricted(
        self, kind: str, prefix: str, account: str | None, now: float, marks: tuple[str, ...] = ()
    ) -> Restriction | None:
        for restriction in self.restrictions:
            if restriction.kind == kind and restriction.active(now) and restriction.matches(prefix, account, marks):
                return restriction
        return None

    def expire(self, now: float) -> None:
        self.restrictions = [r for r in self.restrictions if r.active(now)]

    def scheduled_state(self, now: float) -> ConferenceState | None:
        """The state the schedule says the conference should be in by now, if
        that is further along than its current state (never backwards)."""
        order = list(ConferenceState).index
        target = self.state
        steps = (
            (ConferenceState.OPEN, self.opens),
            (ConferenceState.LIVE, self.starts),
            (ConferenceState.CLOSED, self.ends),
        )
        for state, when in steps:
            moment = parse_time(when) if when else None
            if moment is not None and self.schedule_from < moment <= now and order(state) > order(target):
                target = state
        return target if target != self.state else None

    def set(self, key: str, value: str) -> str | None:
        """Change a setting from its text form; return an error message or None."""
        kind = SETTINGS.get(key)
        if kind is None:
            return f"Unknown setting {key!r} (known: {', '.join(SETTINGS)})"
        if kind is bool:
            if value.lower() not in ("on", "off", "true", "false", "yes", "no"):
                return f"{key} takes on or off"
            setattr(self, key, value.lower() in ("on", "true", "yes"))
        elif kind is int:
            if not is_number(value):
                return f"{key} takes a number of seconds"
            setattr(self, key, int(value))
        else:
            if key == "mode":
                if value not in RoomMode._value2member_map_:
                    return f"mode takes {spoken(RoomMode)}"
                self.mode = RoomMode(value)
                return None
            if key == "sort":
                if value not in QuestionOrder._value2member_map_:
                    return f"sort takes {spoken(QuestionOrder)}"
                self.sort = QuestionOrder(value)
                return None
            if key in ("opens", "starts", "ends") and value and parse_time(value) is None:
                return f"{key} takes an ISO 8601 time with a UTC offset, e.g. 2026-12-01T18:00:00+01:00"
            setattr(self, key, value)
        return None

    def info(self) -> dict[str, str]:
        return {
            "title": self.title,
            "description": self.description,
            "state": self.state.value,
            "mode": self.mode.value,
            "opens": self.opens,
            "starts": self.starts,
            "ends": self.ends,
            "slow_mode": str(self.slow_mode),
            "auditorium": "on" if self.auditorium else "off",
            "show_decline_reasons": "on" if self.show_decline_reasons else "off",
            "sort": self.sort.value,
        }


@attrs.frozen
class ChangeSet:
    """What :meth:`Conference.take_changes` hands to storage."""

    conference: Conference
    items: list[Item]
    publications: list[Publication]
    redactions: list[tuple[str, float, str]]  # (msgid, at, by)
    audit: list[AuditEntry]

    @property
    def folded(self) -> str:
        return self.conference.folded
