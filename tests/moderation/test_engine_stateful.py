"""A hypothesis state machine over the moderation engine alone (decisions
in, effects out; the core's side is tests/core/test_core_fuzz.py).

Visitors join, leave and submit (with every built-in policy on); moderators
approve, edit, drop, hold, forward, claim, move and take the next; a guest
answers and publishes prepared answers; the audience votes; moderators
redact, mute, change settings and state and raise the shield; time passes.
Ids, msgids and settings are sometimes ones that do not exist.

Checked after every step: a refusal is a QueueError with a known code and
changes nothing (engine.py: "A refusal raises QueueError ... before anything
changes"); a question is published (a PRIVMSG to everyone with its item
tag) once at most, and exactly the published items were; the queue's order
is its undecided items by (rank, id); what is published and not deleted is
in the conference's publications; the "now answering" marker points at a
published question still shown; the audit log only grows.
"""

from __future__ import annotations

import itertools
from collections import Counter

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from confchat.config import ConferenceConfig
from confchat.moderation import effects as E
from confchat.moderation.conference import Conference
from confchat.moderation.engine import SIMPLE_ACTIONS, TAG_ITEM, TAG_REPLY, Actor, Engine
from confchat.moderation.policies import default_configs
from confchat.moderation.policybook import PolicyBook
from confchat.moderation.queue import QueueError, State
from confchat.moderation.shield import Thresholds
from confchat.vocab import ConferenceState

T0 = 1_700_000_000.0
CODES = {
    "ALREADY_DECIDED", "ALREADY_VOTED", "BANNED", "CANNOT_VOTE", "CLAIMED", "CLOSED", "INVALID_POSITION",
    "INVALID_SETTING", "MUTED", "NOT_OPEN", "NOT_PUBLISHED", "NO_SUCH_ANSWER", "NO_SUCH_ITEM", "NO_SUCH_MUTE",
    "NO_SUCH_BAN", "QUEUE_EMPTY", "READ_ONLY", "REDACTED", "SHIELDED", "SHIELD_DOWN", "UNKNOWN_MSGID",
    "WRONG_STATE", "SLOW_MODE", "TOO_MANY_PENDING",
}
EFFECT_TYPES = tuple(getattr(E, name) for name in (
    "Broadcast", "Notify", "Count", "Restricted", "RoleChanged", "TopicChanged", "Disconnect", "PolicyRun",
    "ShieldChanged", "Screen",
))
UNDECIDED = {State.PENDING, State.HELD, State.FORWARDED}

VISITORS = [Actor(40 + n, nick, f"{nick}!~{nick}@203.0.113.{n}") for n, nick in enumerate(("carol", "dave", "erin"))]
MODERATORS = [Actor(7, "alice", "alice!~a@198.51.100.1", "alice"), Actor(9, "bob", "bob!~b@198.51.100.3", "bob", echo=True)]
GUEST = Actor(8, "mayor", "mayor!~m@198.51.100.2", "mayor", echo=True)

picks = st.integers(min_value=0, max_value=2**16)
texts = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["When does the tram come?", "", " ", "Visit www.scam.example now", "WHY IS NOTHING DONE",
                     "Le maire est un c.o.n.n.a.r.d", "Straße 橋 🚋", "x" * 600, "@alice @bob @mayor @carol"]),
)
settings_changes = st.sampled_from([
    ("mode", "open"), ("mode", "moderated"), ("mode", "readonly"), ("mode", "loud"), ("slow_mode", "0"),
    ("slow_mode", "10"), ("slow_mode", "-2"), ("slow_mode", "ten"), ("title", "New title"), ("auditorium", "no"),
    ("show_decline_reasons", "yes"), ("opens", "2023-11-15T10:00"), ("opens", "tomorrow"), ("nonsense", "1"),
])


def snapshot(conference: Conference):
    q = conference.queue
    return (
        list(q.order), q.next_id,
        {i.id: (i.state, i.text, i.original, i.claimed_by, i.decided_by, i.rank, i.forwarded, frozenset(i.votes),
                i.redacted, i.answered, i.msgid, i.flags) for i in q.items.values()},
        len(conference.audit), sorted(conference.published), dict(conference.prepared),
        [attrs.astuple(r) for r in conference.restrictions],
        (conference.shield.on, conference.shield.closed, conference.shield.reason),
        conference.state, conference.mode, conference.slow_mode, conference.title, conference.now_answering,
        sorted(conference.visitors), dict(conference.last_message),
    )


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        ids = itertools.count(1)
        self.engine = Engine(
            lambda: self.now, lambda: f"m{next(ids)}",
            book=PolicyBook(default_configs()), shield=Thresholds(10.0, 30, 20), max_pending=4,
        )
        self.conference = Conference(ConferenceConfig(
            channel="#hall", title="Hall", state="live", moderators=("alice", "bob"), guests=("mayor",),
        ))
        self.publications: Counter[int] = Counter()
        self.audit_length = 0

    # ---------------------------------------------------------------- helpers

    def attempt(self, call) -> list | None:
        before = snapshot(self.conference)
        try:
            effects = call()
        except QueueError as exc:
            assert exc.code in CODES, exc.code
            assert snapshot(self.conference) == before, f"a refusal ({exc.code}) changed the conference"
            return None
        for effect in effects or ():
            assert isinstance(effect, EFFECT_TYPES), effect
            if isinstance(effect, E.Broadcast) and effect.command == "PRIVMSG" and TAG_ITEM in effect.tags \
                    and TAG_REPLY not in effect.tags:
                assert effect.audience is E.Audience.EVERYONE
                self.publications[int(effect.tags[TAG_ITEM])] += 1
        return effects

    def item(self, pick: int) -> int:
        ids = sorted(self.conference.queue.items)
        if not ids or pick % 8 == 0:
            return (0, -1, len(ids) + 1, 2**40)[pick % 4]
        return ids[pick % len(ids)]

    def msgid(self, pick: int) -> str:
        published = sorted(self.conference.published)
        if not published or pick % 6 == 0:
            return ("m0", "nope", "")[pick % 3]
        return published[pick % len(published)]

    # ---------------------------------------------------------------- the audience

    @rule(seconds=st.sampled_from([0.0, 0.5, 3.0, 11.0, 120.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.attempt(lambda: self.engine.tick(self.conference))

    @rule(who=st.sampled_from(VISITORS))
    def visitor_joins(self, who: Actor) -> None:
        self.attempt(lambda: self.engine.joined(self.conference, who))

    @rule(who=st.sampled_from(VISITORS))
    def visitor_leaves(self, who: Actor) -> None:
        self.engine.left(self.conference, who.id)

    @rule(who=st.sampled_from(VISITORS), text=texts, readonly=st.booleans(), banned=st.booleans())
    def visitor_submits(self, who: Actor, text: str, readonly: bool, banned: bool) -> None:
        flags = dict(readonly=readonly and text.startswith("W"), banned=banned and text.startswith("V"))
        self.attempt(lambda: self.engine.submit(self.conference, who, text, **flags))

    @rule(who=st.sampled_from(VISITORS), n=st.integers(1, 3))
    def visitor_asks_plainly(self, who: Actor, n: int) -> None:
        for k in range(n):
            self.attempt(lambda: self.engine.submit(self.conference, who, f"Question {k}: is the pool open in {self.now}?"))

    @rule(voter=st.sampled_from(["account:alice", "connection:x:40", "connection:x:41"]), pick=picks)
    def vote(self, voter: str, pick: int) -> None:
        self.attempt(lambda: self.engine.vote(self.conference, voter, VISITORS[0], self.item(pick)))

    # ---------------------------------------------------------------- moderators

    @rule(mod=st.sampled_from(MODERATORS), pick=picks, edit=st.none() | texts)
    def approve(self, mod: Actor, pick: int, edit: str | None) -> None:
        self.attempt(lambda: self.engine.approve(self.conference, mod, self.item(pick), edit))

    @rule(mod=st.sampled_from(MODERATORS))
    def take_the_next(self, mod: Actor) -> None:
        self.attempt(lambda: self.engine.next(self.conference, mod))

    @rule(mod=st.sampled_from(MODERATORS), pick=picks, reason=st.sampled_from(["", "rude", "off topic"]))
    def drop(self, mod: Actor, pick: int, reason: str) -> None:
        self.attempt(lambda: self.engine.drop(self.conference, mod, self.item(pick), reason))

    @rule(mod=st.sampled_from(MODERATORS), action=st.sampled_from(SIMPLE_ACTIONS), pick=picks)
    def act(self, mod: Actor, action: str, pick: int) -> None:
        self.attempt(lambda: self.engine.act(self.conference, mod, action, self.item(pick)))

    @rule(mod=st.sampled_from(MODERATORS), pick=picks,
          where=st.sampled_from(["top", "bottom", "TOP", "1", "2", "3", "0", "-1", "99", "x", ""]))
    def move(self, mod: Actor, pick: int, where: str) -> None:
        self.attempt(lambda: self.engine.move(self.conference, mod, self.item(pick), where))

    @rule(mod=st.sampled_from(MODERATORS), pick=picks, reason=st.sampled_from(["", "spam"]))
    def redact(self, mod: Actor, pick: int, reason: str) -> None:
        self.attempt(lambda: self.engine.redact(self.conference, mod, self.msgid(pick), reason))

    @rule(mod=st.sampled_from(MODERATORS), change=settings_changes)
    def change_a_setting(self, mod: Actor, change: tuple[str, str]) -> None:
        self.attempt(lambda: self.engine.set_setting(self.conference, mod, *change))

    @rule(mod=st.sampled_from(MODERATORS), state=st.sampled_from(list(ConferenceState)))
    def change_the_state(self, mod: Actor, state: ConferenceState) -> None:
        self.attempt(lambda: self.engine.set_state_by_hand(self.conference, mod, state))

    @rule(mod=st.sampled_from(MODERATORS), on=st.booleans(), closed=st.booleans())
    def shield(self, mod: Actor, on: bool, closed: bool) -> None:
        self.attempt(lambda: self.engine.set_shield(self.conference, mod, on, "", closed))

    @rule(mod=st.sampled_from(MODERATORS), who=st.sampled_from(VISITORS), lift=st.booleans(),
          duration=st.sampled_from([0, 5, 60]))
    def mute(self, mod: Actor, who: Actor, lift: bool, duration: int) -> None:
        mask = f"*!*@{who.prefix.split('@')[1]}"
        if lift:
            self.attempt(lambda: self.engine.unrestrict(self.conference, mod, "mute", mask))
        else:
            self.attempt(lambda: self.engine.restrict(self.conference, mod, "mute", mask, duration, "calm down"))

    # ---------------------------------------------------------------- the guest stage

    @rule(who=st.sampled_from([GUEST, MODERATORS[0]]), pick=st.none() | picks, text=texts)
    def answer(self, who: Actor, pick: int | None, text: str) -> None:
        item = None if pick is None else self.item(pick)
        self.attempt(lambda: self.engine.answer(self.conference, who, item, text)[0])

    @rule(name=st.sampled_from(["intro", "bridge"]), text=texts, pick=st.none() | picks,
          how=st.sampled_from(["prepare", "unprepare", "publish"]))
    def prepared(self, name: str, text: str, pick: int | None, how: str) -> None:
        engine, conference = self.engine, self.conference
        item = None if pick is None else self.item(pick)
        call = {
            "prepare": lambda: engine.prepare(conference, GUEST, name, text),
            "unprepare": lambda: engine.unprepare(conference, GUEST, name),
            "publish": lambda: engine.publish_prepared(conference, GUEST, name, item),
        }[how]
        self.attempt(call)

    @rule(who=st.sampled_from([GUEST, MODERATORS[1]]), pick=picks, done=st.booleans())
    def marker(self, who: Actor, pick: int, done: bool) -> None:
        method = self.engine.answered if done else self.engine.answering
        self.attempt(lambda: method(self.conference, who, self.item(pick)))

    # ---------------------------------------------------------------- invariants

    @invariant()
    def each_question_published_once_and_only_the_published(self) -> None:
        published = {i.id for i in self.conference.queue.items.values() if i.state is State.PUBLISHED}
        assert set(self.publications) == published
        assert all(n == 1 for n in self.publications.values()), self.publications

    @invariant()
    def order_is_the_undecided_by_rank(self) -> None:
        q = self.conference.queue
        undecided = {i.id for i in q.items.values() if i.state in UNDECIDED}
        assert set(q.order) == undecided and len(q.order) == len(undecided)
        assert q.order == sorted(q.order, key=lambda i: (q.items[i].rank, i))

    @invariant()
    def shown_questions_are_publications(self) -> None:
        conference = self.conference
        for item in conference.queue.items.values():
            if item.state is State.PUBLISHED and not item.redacted:
                assert item.msgid in conference.published
                assert conference.published[item.msgid].item == item.id
            if item.redacted:
                assert item.msgid not in conference.published
        marker = conference.now_answering
        if marker is not None:
            item = conference.queue.items[marker]
            assert item.state is State.PUBLISHED and not item.redacted

    @invariant()
    def the_audit_log_only_grows(self) -> None:
        assert len(self.conference.audit) >= self.audit_length
        self.audit_length = len(self.conference.audit)


EngineMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineMachine = EngineMachine.TestCase
