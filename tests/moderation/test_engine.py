"""The moderation engine alone: decisions in, effects out (no server, no
sockets). What each effect means for connections is the core's
(tests/core/test_conference.py shows it through IRC)."""

from __future__ import annotations

import pytest

from confchat.moderation.conference import Conference, Role
from confchat.moderation.effects import (
    Audience,
    Broadcast,
    Count,
    Disconnect,
    Notify,
    Restricted,
    RoleChanged,
    TopicChanged,
)
from confchat.moderation.engine import TAG_ITEM, TAG_REPLY, Actor
from confchat.moderation.queue import QueueError, State
from confchat.vocab import ConferenceState, RoomMode
from engine_helpers import T0, live


VISITOR = Actor(41, "carol", "carol!~carol@203.0.113.5")
MODERATOR = Actor(7, "alice", "alice!~alice@198.51.100.1", account="alice")
GUEST = Actor(8, "mayor", "mayor!~mayor@198.51.100.2", account="mayor", echo=True)




def kinds(effects) -> list[str]:
    return [type(e).__name__ for e in effects]


def queue_lines(effects) -> list[Broadcast]:
    return [e for e in effects if isinstance(e, Broadcast) and e.command == "QUEUE"]


# ---------------------------------------------------------------- submissions


def test_a_held_question_is_counted_acknowledged_and_announced_to_moderators(engine):
    conf = live()
    effects = engine.submit(conf, VISITOR, "When does the tram come?")
    assert [e for e in effects if isinstance(e, Count)] == [Count("submitted"), Count("held")]
    (note,) = [e for e in effects if isinstance(e, Notify)]
    assert (note.to, note.code, note.context) == (41, "HELD", ("1",))
    (line,) = queue_lines(effects)
    assert line.audience is Audience.MODERATORS
    assert line.params[:4] == ("ITEM", "1", "pending", "1")
    assert line.params[-1] == "When does the tram come?"
    assert conf.queue.items[1].author_id == 41
    assert [e.action for e in conf.audit] == ["submit"]


def test_in_open_mode_a_message_is_published_at_once_without_echo_to_its_author(engine):
    conf = live(mode="open")
    effects = engine.submit(conf, VISITOR, "Hello")
    (published,) = [e for e in effects if isinstance(e, Broadcast) and e.command == "PRIVMSG"]
    assert published.audience is Audience.EVERYONE
    assert published.skip == VISITOR.id  # no echo-message: not sent back
    assert published.source == VISITOR.prefix and published.params == ("Hello",)
    assert published.msgid == conf.queue.items[1].msgid == "m1"
    assert published.tags == {TAG_ITEM: "1"}
    assert Count("published", "auto") in effects
    assert not [e for e in effects if isinstance(e, Notify)]  # nothing to tell: it is out


@pytest.mark.parametrize(
    "settings, code",
    [
        (dict(state="scheduled"), "NOT_OPEN"),
        (dict(state="closed"), "CLOSED"),
        (dict(mode="readonly"), "READ_ONLY"),
    ],
)
def test_refusals_change_nothing(engine, settings, code):
    conf = live(**settings)
    with pytest.raises(QueueError) as refused:
        engine.submit(conf, VISITOR, "Hello")
    assert refused.value.code == code
    assert conf.queue.items == {} and conf.audit == [] and conf.last_message == {}


def test_the_channel_modes_the_core_knows_are_refusals_too(engine):
    conf = live()
    with pytest.raises(QueueError, match="staff") as readonly:
        engine.submit(conf, VISITOR, "x", readonly=True)
    with pytest.raises(QueueError) as banned:
        engine.submit(conf, VISITOR, "x", banned=True)
    assert (readonly.value.code, banned.value.code) == ("READ_ONLY", "BANNED")


def test_slow_mode_counts_per_connection_and_says_how_long_to_wait(engine, clock):
    conf = live(slow_mode=30)
    engine.submit(conf, VISITOR, "one")
    clock.now += 10
    with pytest.raises(QueueError) as refused:
        engine.submit(conf, VISITOR, "two")
    assert refused.value.code == "SLOW_MODE" and refused.value.context == ("20",)
    other = Actor(42, "dave", "dave!~dave@203.0.113.6")
    engine.submit(conf, other, "mine")  # another visitor is not slowed
    clock.now += 21
    engine.submit(conf, VISITOR, "two")


def test_tick_forgets_slow_mode_waits_that_are_over(engine, clock):
    conf = live(slow_mode=30)
    for n in range(100):
        engine.submit(conf, Actor(1000 + n, f"v{n}", f"v{n}!~v@h"), "q")
    clock.now += 31
    engine.submit(conf, VISITOR, "late")
    engine.tick(conf)
    assert list(conf.last_message) == [VISITOR.id]


def test_a_muted_visitor_is_told_the_reason(engine):
    conf = live()
    engine.restrict(conf, MODERATOR, "mute", "carol!*@*", 0, "insults")
    with pytest.raises(QueueError, match="insults") as refused:
        engine.submit(conf, VISITOR, "x")
    assert refused.value.code == "MUTED"


# ---------------------------------------------------------------- decisions


def test_approval_publishes_tells_the_author_and_the_moderators(engine, clock):
    conf = live()
    engine.submit(conf, VISITOR, "Question")
    clock.now += 12
    effects = engine.approve(conf, MODERATOR, 1)
    assert effects[0] == Count("published", "human", 12.0)
    (published,) = [e for e in effects if isinstance(e, Broadcast) and e.command == "PRIVMSG"]
    assert published.skip is None  # the author sees it published like everyone
    assert Notify(41, "PRIVMSG", "PUBLISHED", "Your message was published", ("1",)) in effects
    (line,) = queue_lines(effects)
    assert line.params[2] == "published" and line.params[7] == "alice"
    assert conf.audit[-1].detail == {"wait": 12.0}


def test_an_edit_keeps_the_original_in_the_audit_log(engine):
    conf = live()
    engine.submit(conf, VISITOR, "How much wil it cost")
    effects = engine.approve(conf, MODERATOR, 1, "How much will it cost?")
    (published,) = [e for e in effects if isinstance(e, Broadcast) and e.command == "PRIVMSG"]
    assert published.params == ("How much will it cost?",)
    assert conf.audit[-1].action == "edit-approve"
    assert conf.audit[-1].detail["original"] == "How much wil it cost"


def test_a_dropped_question_tells_the_author_the_reason_when_the_conference_says_so(engine):
    conf = live(show_decline_reasons=False)
    engine.submit(conf, VISITOR, "spam")
    effects = engine.drop(conf, MODERATOR, 1, "off topic")
    (note,) = [e for e in effects if isinstance(e, Notify)]
    assert note.description == "Your message was not published"
    assert Count("dropped", "human", 0.0) in effects
    assert conf.audit[-1].detail["reason"] == "off topic"


def test_a_restored_item_has_no_author_to_tell(engine):
    conf = live()
    engine.submit(conf, VISITOR, "q")
    conf.queue.items[1].author_id = None  # as restored from storage
    assert not [e for e in engine.approve(conf, MODERATOR, 1) if isinstance(e, Notify)]


def test_the_guest_stage_widens_the_audience_of_an_item(engine):
    conf = live()
    engine.submit(conf, VISITOR, "For the mayor")
    (line,) = queue_lines(engine.act(conf, MODERATOR, "forward", 1))
    assert line.audience is Audience.STAFF and line.params[2] == "forwarded"


def test_two_moderators_racing_get_one_success_and_one_refusal(engine):
    conf = live()
    engine.submit(conf, VISITOR, "q")
    engine.approve(conf, MODERATOR, 1)
    other = Actor(9, "bob", "bob!~b@h", account="bob")
    with pytest.raises(QueueError) as refused:
        engine.drop(conf, other, 1)
    assert refused.value.code == "ALREADY_DECIDED"
    assert len(conf.published) == 1


def test_next_releases_the_first_pending_item(engine):
    conf = live()
    for text in ("a", "b", "c"):
        engine.submit(conf, VISITOR, text)
    engine.act(conf, MODERATOR, "hold", 1)
    effects = engine.next(conf, MODERATOR)
    (published,) = [e for e in effects if isinstance(e, Broadcast) and e.command == "PRIVMSG"]
    assert published.params == ("b",)


# ---------------------------------------------------------------- answers, votes, redactions


def test_an_answer_publishes_its_question_first_and_threads_to_it(engine):
    conf = live()
    engine.submit(conf, VISITOR, "Bridge?")
    engine.act(conf, MODERATOR, "forward", 1)
    effects, msgid = engine.answer(conf, GUEST, 1, "In March.")
    published = [e for e in effects if isinstance(e, Broadcast) and e.command == "PRIVMSG"]
    assert [p.params for p in published] == [("Bridge?",), ("In March.",)]
    question, answer = published
    assert answer.tags == {TAG_REPLY: question.msgid, TAG_ITEM: "1"}
    assert answer.msgid == msgid and answer.skip is None  # the guest always gets its answer back
    # Published by a guest: the guests see the item's new state too.
    (line,) = queue_lines(effects)
    assert line.audience is Audience.STAFF
    assert conf.audit[-2].detail == {"via": "answer"}


def test_a_prepared_answer_is_used_up_only_when_published(engine):
    conf = live()
    engine.prepare(conf, GUEST, "budget", "Balanced.")
    engine.submit(conf, VISITOR, "dropped")
    engine.drop(conf, MODERATOR, 1)
    with pytest.raises(QueueError):
        engine.publish_prepared(conf, GUEST, "budget", 1)
    assert "budget" in conf.prepared
    engine.publish_prepared(conf, GUEST, "budget", None)
    assert conf.prepared == {}
    with pytest.raises(QueueError) as missing:
        engine.unprepare(conf, GUEST, "budget")
    assert missing.value.code == "NO_SUCH_ANSWER" and missing.value.context == ("budget",)


def test_votes_are_counted_once_per_voter_and_shown_to_the_staff(engine):
    conf = live()
    engine.submit(conf, VISITOR, "q")
    engine.approve(conf, MODERATOR, 1)
    effects = engine.vote(conf, "connection:x:41", VISITOR, 1)
    assert effects[1] == Broadcast(Audience.STAFF, "CONF", ("VOTES", "1", "1"))
    with pytest.raises(QueueError) as again:
        engine.vote(conf, "connection:x:41", VISITOR, 1)
    assert again.value.code == "ALREADY_VOTED"


def test_a_redaction_reaches_capable_clients_as_redact_and_others_as_a_notice(engine):
    conf = live()
    engine.submit(conf, VISITOR, "personal data")
    engine.approve(conf, MODERATOR, 1)
    msgid = conf.queue.items[1].msgid
    effects = engine.redact(conf, MODERATOR, msgid, "privacy")
    redact, notice = [e for e in effects if isinstance(e, Broadcast) and e.command in ("REDACT", "NOTICE")]
    assert redact.params == (msgid, "privacy") and redact.only_caps == "draft/message-redaction"
    assert notice.without_caps == "draft/message-redaction"
    assert msgid not in conf.published and conf.queue.items[1].redacted
    with pytest.raises(QueueError) as unknown:
        engine.redact(conf, MODERATOR, msgid)
    assert unknown.value.code == "UNKNOWN_MSGID"


def test_now_answering_needs_a_published_question(engine):
    conf = live()
    engine.submit(conf, VISITOR, "q")
    with pytest.raises(QueueError) as refused:
        engine.answering(conf, GUEST, 1)
    assert refused.value.code == "NOT_PUBLISHED"
    engine.approve(conf, MODERATOR, 1)
    (notice,) = engine.answering(conf, GUEST, 1)
    assert notice.audience is Audience.EVERYONE and conf.now_answering == 1
    engine.answered(conf, GUEST, 1)
    assert conf.now_answering is None and conf.queue.items[1].answered


# ---------------------------------------------------------------- the conference


def test_settings_changes_become_effects(engine):
    conf = live()
    assert engine.set_setting(conf, MODERATOR, "title", "New title") == [TopicChanged("New title")]
    (mode,) = engine.set_setting(conf, MODERATOR, "mode", "open")
    assert mode.tags == {"confchat/mode": "open"} and conf.mode is RoomMode.OPEN
    assert engine.set_setting(conf, MODERATOR, "description", "d") == []
    with pytest.raises(QueueError) as invalid:
        engine.set_setting(conf, MODERATOR, "mode", "chaos")
    assert invalid.value.code == "INVALID_SETTING" and invalid.value.context == ("mode",)


def test_roles_restrictions_and_disconnects_are_effects_the_core_carries_out(engine):
    conf = live()
    assert engine.set_role(conf, MODERATOR, "bob", Role.GUEST) == [RoleChanged("bob")]
    assert conf.roles["bob"] is Role.GUEST
    (ban,) = engine.restrict(conf, MODERATOR, "ban", "*!*@203.0.113.5", 60, "raid")
    assert isinstance(ban, Restricted) and ban.actor == MODERATOR.id
    assert ban.restriction.expires == T0 + 60
    assert engine.disconnect(conf, MODERATOR, 41, "carol", "bye") == [Disconnect(41, "bye")]
    engine.unrestrict(conf, MODERATOR, "ban", "*!*@203.0.113.5")
    with pytest.raises(QueueError) as none:
        engine.unrestrict(conf, MODERATOR, "ban", "*!*@203.0.113.5")
    assert none.value.code == "NO_SUCH_BAN"
    assert [e.action for e in conf.audit] == ["role", "ban", "disconnect", "unban"]


def test_the_schedule_moves_the_state_forward_on_tick(engine, clock):
    conf = live(state="scheduled", opens="2023-11-14T22:13:30+00:00")
    assert engine.tick(conf) == []
    clock.now += 15
    (notice,) = engine.tick(conf)
    assert conf.state is ConferenceState.OPEN
    assert notice.tags == {"confchat/state": "open"} and conf.audit[-1].actor == "schedule"
    assert engine.tick(conf) == []  # once


def test_a_state_set_by_hand_overrides_times_already_past(engine, clock):
    conf = live(state="scheduled", opens="2023-11-14T22:13:30+00:00")
    clock.now += 15
    engine.set_state_by_hand(conf, MODERATOR, ConferenceState.SCHEDULED)
    assert engine.tick(conf) == []
    assert conf.state is ConferenceState.SCHEDULED


def test_every_change_is_reported_to_storage_before_its_effects_exist(engine):
    marks: list[Conference] = []

    class Sink:
        def mark(self, changes) -> None:
            marks.append(changes)

    conf = live()
    conf.journal = Sink()
    engine.submit(conf, VISITOR, "q")
    assert marks == [conf]
    engine.approve(conf, MODERATOR, 1)
    assert len(marks) >= 2
    changes = conf.take_changes()
    assert [i.id for i in changes.items] == [1] and changes.items[0].state is State.PUBLISHED
    assert [p.msgid for p in changes.publications] == ["m1"]
