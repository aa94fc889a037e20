"""What visitors are shown of the votes and of the audience, coalesced
(moderation/votes.py), a visitor withdrawing a question
(moderation/withdrawal.py), the default order of the questions (the
``sort`` setting) and the note that tells an author a moderator edited the
question: the engine alone, with a clock that moves only when told."""

from __future__ import annotations

import pytest

from confchat.moderation.conference import Conference
from confchat.moderation.effects import Actor, Audience, Broadcast, Count, Notify
from confchat.moderation.engine import Engine
from confchat.moderation.queue import QueueError, State
from confchat.moderation.votes import AUDIENCE_INTERVAL, VOTES_INTERVAL, Coalescer, ranked
from confchat.vocab import QuestionOrder
from engine_helpers import T0, live

CAROL = Actor(41, "carol", "carol!~carol@203.0.113.5")
DAVE = Actor(42, "dave", "dave!~dave@203.0.113.6")
ERIN = Actor(43, "erin", "erin!~erin@203.0.113.7", account="erin")
ALICE = Actor(7, "alice", "alice!~alice@198.51.100.1", account="alice")




def held(engine: Engine, conference: Conference, author: Actor, text: str) -> int:
    effects = engine.submit(conference, author, text)
    (note,) = [e for e in effects if isinstance(e, Notify) and e.code == "HELD"]
    return int(note.context[0])


def published(engine: Engine, conference: Conference, text: str = "A question") -> int:
    item_id = held(engine, conference, CAROL, text)
    engine.approve(conference, ALICE, item_id)
    return item_id


def public_votes(effects) -> list[tuple[str, ...]]:
    """The vote-count lines meant for the visitors."""
    return [e.params for e in effects if isinstance(e, Broadcast) and e.audience is Audience.VISITORS
            and e.params[0] == "VOTES"]


def headcounts(effects) -> list[tuple[str, ...]]:
    return [e.params for e in effects if isinstance(e, Broadcast) and e.params[0] == "HEADCOUNT"]


# ------------------------------------------------------------ the coalescer


def test_coalescer_lets_the_first_change_through_and_holds_the_rest_for_one_interval():
    c = Coalescer(1.0)
    assert c.change("a", 10.0)
    assert not c.change("a", 10.2)
    assert not c.change("a", 10.9)
    assert c.due(10.95) == []
    assert c.due(11.0) == ["a"]
    # The one that went at 11.0 starts a new interval.
    assert not c.change("a", 11.5)
    assert c.due(11.9) == []
    assert c.due(12.0) == ["a"]
    assert c.due(13.5) == []  # nothing waits
    assert c.sent == {}  # and a key quiet for an interval is forgotten
    assert c.change("a", 13.6)


def test_coalescer_keys_are_independent():
    c = Coalescer(1.0)
    assert c.change(1, 0.0)
    assert c.change(2, 0.5)
    assert not c.change(1, 0.6)
    assert not c.change(2, 0.7)
    assert c.due(1.0) == [1]
    assert c.due(1.5) == [2]


# ------------------------------------------------------------ vote counts


def test_a_vote_goes_to_the_visitors_at_once_when_none_went_in_the_last_second(engine, clock):
    conference = live()
    item_id = published(engine, conference)
    effects = engine.vote(conference, "connection:41", CAROL, item_id)
    assert public_votes(effects) == [("VOTES", str(item_id), "1")]
    # The staff keep their own line per vote.
    staff = [e for e in effects if isinstance(e, Broadcast) and e.audience is Audience.STAFF]
    assert [e.params for e in staff] == [("VOTES", str(item_id), "1")]


def test_votes_within_a_second_reach_the_visitors_as_one_line_with_the_latest_count(engine, clock):
    conference = live()
    item_id = published(engine, conference)
    first = engine.vote(conference, "voter:0", CAROL, item_id)
    assert public_votes(first) == [("VOTES", str(item_id), "1")]
    lines = []
    for n in range(1, 500):  # 499 more votes in the same second
        clock.now = T0 + n * (VOTES_INTERVAL / 1000)
        effects = engine.vote(conference, f"voter:{n}", CAROL, item_id)
        lines += public_votes(effects)
        # Each voter is still told its own count, and the staff theirs.
        assert [e.context for e in effects if isinstance(e, Notify)] == [(str(item_id), str(n + 1))]
    assert lines == []
    assert public_votes(engine.public_counts(conference, 0)) == []  # the second is not over
    clock.now = T0 + VOTES_INTERVAL
    assert public_votes(engine.public_counts(conference, 0)) == [("VOTES", str(item_id), "500")]
    clock.now += 5 * VOTES_INTERVAL
    assert public_votes(engine.public_counts(conference, 0)) == []  # nothing new: nothing sent


def test_no_two_vote_lines_for_one_question_within_an_interval_whatever_the_pace(engine, clock):
    """Votes at random moments, ticks every second: the visitors' lines for
    one question are at least an interval apart, and the last says the
    final count."""
    conference = live()
    item_id = published(engine, conference)
    import random

    rng = random.Random(7)
    sent_at: list[float] = []
    last_count = None
    next_tick = T0 + 1.0
    t = T0
    for n in range(300):
        t += rng.uniform(0.0, 0.4)
        while next_tick <= t:
            clock.now = next_tick
            for params in public_votes(engine.public_counts(conference, 0)):
                sent_at.append(clock.now)
                last_count = params[2]
            next_tick += 1.0
        clock.now = t
        for params in public_votes(engine.vote(conference, f"v{n}", CAROL, item_id)):
            sent_at.append(clock.now)
            last_count = params[2]
    clock.now = next_tick + 1.0
    for params in public_votes(engine.public_counts(conference, 0)):
        sent_at.append(clock.now)
        last_count = params[2]
    assert last_count == "300"
    gaps = [b - a for a, b in zip(sent_at, sent_at[1:])]
    assert gaps and min(gaps) >= VOTES_INTERVAL - 1e-9
    assert len(sent_at) < 300 / 2  # far fewer lines than votes


def test_a_question_deleted_meanwhile_gets_no_late_count(engine, clock):
    conference = live()
    item_id = published(engine, conference)
    engine.vote(conference, "a", CAROL, item_id)
    engine.vote(conference, "b", DAVE, item_id)  # waits for the interval
    msgid = conference.queue.items[item_id].msgid
    engine.redact(conference, ALICE, msgid, "")
    clock.now += VOTES_INTERVAL
    assert public_votes(engine.public_counts(conference, 0)) == []


def test_ranked_is_most_votes_first_then_oldest_and_leaves_out_deleted_questions(engine):
    conference = live()
    a, b, c, d = (published(engine, conference, f"q{n}") for n in range(4))
    for voter in ("x", "y"):
        engine.vote(conference, voter, CAROL, c)
    engine.vote(conference, "x", CAROL, b)
    engine.vote(conference, "x", CAROL, d)
    engine.redact(conference, ALICE, conference.queue.items[d].msgid, "")
    assert [i.id for i in ranked(conference.queue.items.values())] == [c, b, a]


# ------------------------------------------------------------ the audience size


def test_the_audience_size_goes_to_the_visitors_at_most_every_five_seconds(engine, clock):
    conference = live()
    assert headcounts(engine.public_counts(conference, 0)) == []  # an empty room says nothing
    effects = engine.public_counts(conference, 3)
    assert headcounts(effects) == [("HEADCOUNT", "3")]
    assert all(e.audience is Audience.VISITORS for e in effects)
    for step in range(1, 5):  # a crowd arrives, one more a second
        clock.now = T0 + step
        assert headcounts(engine.public_counts(conference, 3 + step)) == []
    clock.now = T0 + AUDIENCE_INTERVAL
    assert headcounts(engine.public_counts(conference, 9)) == [("HEADCOUNT", "9")]
    clock.now += 60
    assert headcounts(engine.public_counts(conference, 9)) == []  # unchanged: nothing sent


# ------------------------------------------------------------ withdrawing


def test_a_visitor_withdraws_a_pending_question_and_the_moderators_are_told(engine, clock):
    conference = live()
    item_id = held(engine, conference, CAROL, "Never mind")
    clock.now += 12
    effects = engine.withdraw(conference, CAROL, item_id)
    item = conference.queue.items[item_id]
    assert item.state is State.DROPPED and item.decided_by == "carol" and "withdrawn" in item.flags
    assert conference.queue.order == []
    assert Count("withdrawn", "author") in effects
    (line,) = [e for e in effects if isinstance(e, Broadcast)]
    assert line.audience is Audience.MODERATORS
    assert line.params[:4] == ("ITEM", str(item_id), "dropped", "0")
    assert line.params[8] == "withdrawn"
    entry = conference.audit[-1]
    assert (entry.actor, entry.action, entry.item, entry.detail) == ("carol", "withdraw", item_id, {"wait": 12.0})
    assert conference.queue.undecided_by.get(CAROL.id, 0) == 0  # the visitor's share of the queue is free again


def test_withdrawing_a_forwarded_question_tells_the_guests_too(engine):
    conference = live()
    item_id = held(engine, conference, CAROL, "For the mayor")
    engine.act(conference, ALICE, "forward", item_id)
    (line,) = [e for e in engine.withdraw(conference, CAROL, item_id) if isinstance(e, Broadcast)]
    assert line.audience is Audience.STAFF


def test_a_moderators_claim_does_not_stop_the_author(engine):
    conference = live()
    item_id = held(engine, conference, CAROL, "Claimed")
    engine.act(conference, ALICE, "claim", item_id)
    engine.withdraw(conference, CAROL, item_id)
    item = conference.queue.items[item_id]
    assert item.state is State.DROPPED and item.claimed_by is None
    with pytest.raises(QueueError) as refused:
        engine.approve(conference, ALICE, item_id)
    assert refused.value.code == "ALREADY_DECIDED"


def test_nobody_withdraws_someone_elses_question_and_learns_nothing_of_it(engine):
    conference = live()
    pending = held(engine, conference, CAROL, "Mine")
    dropped = held(engine, conference, CAROL, "Dropped")
    engine.drop(conference, ALICE, dropped, "no")
    for item_id in (pending, dropped, 999):
        with pytest.raises(QueueError) as refused:
            engine.withdraw(conference, DAVE, item_id)
        assert refused.value.code == "NOT_AUTHOR"
    assert conference.queue.items[pending].state is State.PENDING
    assert [e.action for e in conference.audit].count("withdraw") == 0


def test_a_decided_question_cannot_be_withdrawn(engine):
    conference = live()
    out = held(engine, conference, CAROL, "Published")
    engine.approve(conference, ALICE, out)
    gone = held(engine, conference, CAROL, "Dropped")
    engine.drop(conference, ALICE, gone)
    for item_id, state in ((out, "published"), (gone, "dropped")):
        with pytest.raises(QueueError) as refused:
            engine.withdraw(conference, CAROL, item_id)
        assert refused.value.code == "ALREADY_DECIDED"
        assert state in str(refused.value)
    again = held(engine, conference, CAROL, "Twice")
    engine.withdraw(conference, CAROL, again)
    with pytest.raises(QueueError) as refused:
        engine.withdraw(conference, CAROL, again)
    assert refused.value.code == "ALREADY_DECIDED"


def test_an_account_takes_back_its_question_from_another_connection(engine):
    conference = live()
    item_id = held(engine, conference, ERIN, "From my phone")
    other_tab = Actor(99, "erin_", "erin_!~erin@203.0.113.9", account="ERIN")
    engine.withdraw(conference, other_tab, item_id)
    assert conference.queue.items[item_id].state is State.DROPPED


def test_a_screening_item_withdrawn_is_not_settled_later(engine):
    """Withdrawn while the asynchronous policies look at it: their late
    word changes nothing."""
    from confchat.moderation.intake import Outcome
    from confchat.moderation.policies.base import Verdict

    conference = live()
    item_id = held(engine, conference, CAROL, "Screened")
    item = conference.queue.items[item_id]
    item.state, item.flags = State.HELD, ("screening",)
    engine.withdraw(conference, CAROL, item_id)
    effects = engine.screened(conference, item_id, Outcome(Verdict.PUBLISH))
    assert not [e for e in effects if isinstance(e, Broadcast)]
    assert item.state is State.DROPPED


# ------------------------------------------------------------ the default order


def test_sort_is_a_conference_setting_shown_in_info(engine):
    conference = live()
    assert conference.sort is QuestionOrder.RECENT and conference.info()["sort"] == "recent"
    assert engine.set_setting(conference, ALICE, "sort", "popular") == []
    assert conference.info()["sort"] == "popular"
    assert conference.audit[-1].detail == {"key": "sort", "value": "popular"}
    with pytest.raises(QueueError) as refused:
        engine.set_setting(conference, ALICE, "sort", "loudest")
    assert refused.value.code == "INVALID_SETTING"
    assert "recent or popular" in str(refused.value)
    assert conference.sort is QuestionOrder.POPULAR
    assert live(sort="popular").info()["sort"] == "popular"


# ------------------------------------------------------------ edits


def test_the_author_is_told_that_a_moderator_edited_the_question(engine):
    conference = live()
    edited = held(engine, conference, CAROL, "how much tram cost")
    effects = engine.approve(conference, ALICE, edited, "How much will the tram cost?")
    (note,) = [e for e in effects if isinstance(e, Notify)]
    assert (note.code, note.context) == ("PUBLISHED", (str(edited), "edited"))
    assert "edited by a moderator" in note.description
    plain = held(engine, conference, CAROL, "Untouched")
    (note,) = [e for e in engine.approve(conference, ALICE, plain) if isinstance(e, Notify)]
    assert (note.context, note.description) == ((str(plain),), "Your message was published")
    same = held(engine, conference, CAROL, "Same words")
    (note,) = [e for e in engine.approve(conference, ALICE, same, "Same words") if isinstance(e, Notify)]
    assert note.context == (str(same),)  # an "edit" to the same words is no edit
