"""The event's finish, in the engine alone: closing a conference (by hand
or by its schedule) tells each visitor with an undecided question that it
was not taken, clears "now answering", and gives the staff a summary whose
numbers are checked here against a scripted event."""

from __future__ import annotations

import pytest

from confchat.moderation import summary as summary_module
from confchat.moderation.conference import Conference
from confchat.moderation.effects import Audience, Broadcast, Notify
from confchat.moderation.engine import TAG_ANSWERING, Actor, Engine
from confchat.moderation.queue import State
from confchat.moderation.tally import Tally
from confchat.storage.rows import restore_conference, take_rows
from confchat.vocab import ConferenceState
from engine_helpers import T0, Clock, live as hall


MODERATOR = Actor(7, "alice", "alice!~alice@198.51.100.1", account="alice")
GUEST = Actor(8, "mayor", "mayor!~mayor@198.51.100.2", account="mayor", echo=True)
CAROL = Actor(41, "carol", "carol!~carol@203.0.113.5")
DAVE = Actor(42, "dave", "dave!~dave@203.0.113.6")
ERIN = Actor(43, "erin", "erin!~erin@203.0.113.7")
FRANK = Actor(44, "frank", "frank!~frank@203.0.113.8")




def at(clock: Clock, seconds: float) -> None:
    clock.now = T0 + seconds


def item_of(effects) -> int:
    return next(int(e.context[0]) for e in effects if isinstance(e, Notify) and e.code == "HELD")


def scripted(engine: Engine, clock: Clock) -> tuple[Conference, dict[str, int]]:
    """Four visitors (three at once at most), six questions: two published
    (one answered with ANSWER, one marked answered), one dropped, one
    forwarded to the guest, one held and one pending at the close; the
    second published question is "now answering"."""
    conf = hall()
    for visitor in (CAROL, DAVE, ERIN):
        engine.joined(conf, visitor)
    engine.left(conf, ERIN.id)
    engine.joined(conf, FRANK)  # three present again: the peak stays 3
    ids = {}
    at(clock, 1)
    ids["tram"] = item_of(engine.submit(conf, CAROL, "When does the tram come?"))
    at(clock, 2)
    ids["bikes"] = item_of(engine.submit(conf, DAVE, "And the bike lanes?"))
    at(clock, 3)
    ids["rude"] = item_of(engine.submit(conf, DAVE, "You are all clowns"))
    at(clock, 4)
    ids["pool"] = item_of(engine.submit(conf, FRANK, "Is the pool closing?"))
    at(clock, 5)
    ids["parking"] = item_of(engine.submit(conf, CAROL, "Parking fees?"))
    at(clock, 6)
    ids["library"] = item_of(engine.submit(conf, FRANK, "The library?"))
    at(clock, 11)
    engine.approve(conf, MODERATOR, ids["tram"])  # waited 10 s
    at(clock, 32)
    engine.approve(conf, MODERATOR, ids["bikes"])  # 30 s
    at(clock, 53)
    engine.drop(conf, MODERATOR, ids["rude"], "insults")  # 50 s
    at(clock, 60)
    engine.act(conf, MODERATOR, "forward", ids["pool"])
    engine.act(conf, MODERATOR, "hold", ids["parking"])
    at(clock, 70)
    engine.answer(conf, GUEST, ids["tram"], "In 2027.")
    at(clock, 80)
    engine.answering(conf, MODERATOR, ids["bikes"])
    engine.answered(conf, MODERATOR, ids["tram"])  # counted once with its ANSWER
    engine.answering(conf, MODERATOR, ids["bikes"])
    return conf, ids


def summary_line(effects) -> Broadcast:
    lines = [e for e in effects if isinstance(e, Broadcast) and e.command == "CONF" and e.params[0] == "SUMMARY"]
    assert len(lines) == 1
    return lines[0]


def test_closing_tells_the_undecided_clears_answering_and_sums_up(engine, clock):
    conf, ids = scripted(engine, clock)
    assert conf.now_answering == ids["bikes"]
    at(clock, 100)
    effects = engine.set_state_by_hand(conf, MODERATOR, ConferenceState.CLOSED)

    # The state's own notice comes first, as before.
    assert isinstance(effects[0], Broadcast) and effects[0].tags == {"confchat/state": "closed"}
    # Each undecided question's author is told, once per question.
    told = [(e.to, e.code, e.context) for e in effects if isinstance(e, Notify)]
    assert sorted(told) == sorted([
        (FRANK.id, "NOT_TAKEN", (str(ids["pool"]),)),  # forwarded to the guest, never answered
        (CAROL.id, "NOT_TAKEN", (str(ids["parking"]),)),  # held
        (FRANK.id, "NOT_TAKEN", (str(ids["library"]),)),  # pending
    ])
    assert all(e.description == "The conference closed before your message was taken"
               for e in effects if isinstance(e, Notify))
    # The questions stay in the queue as they were.
    states = {name: conf.queue.items[i].state for name, i in ids.items()}
    assert states == {"tram": State.PUBLISHED, "bikes": State.PUBLISHED, "rude": State.DROPPED,
                      "pool": State.FORWARDED, "parking": State.HELD, "library": State.PENDING}
    # "Now answering" is cleared for everyone, with an empty answering tag.
    assert conf.now_answering is None
    cleared = [e for e in effects if isinstance(e, Broadcast) and TAG_ANSWERING in e.tags]
    assert [(c.audience, c.command, c.tags[TAG_ANSWERING], c.params) for c in cleared] == [
        (Audience.EVERYONE, "NOTICE", "", ("No question is being answered now",))
    ]
    # The summary, to the staff: peak 3, six asked, two published, one
    # answered, one dropped, three not taken, median of 10, 30, 50 s.
    line = summary_line(effects)
    assert line.audience is Audience.STAFF
    assert line.params == ("SUMMARY", "3", "6", "2", "1", "1", "3", "30",
                           "Peak audience 3; 6 questions asked, 2 published, 1 answered, 1 dropped, 3 not taken; "
                           "median wait 30 s")
    # And into the audit log, for the archive.
    entry = conf.audit[-1]
    assert (entry.actor, entry.action, entry.item) == ("alice", "summary", None)
    assert entry.detail == {"peak_audience": 3, "asked": 6, "published": 2, "answered": 1, "dropped": 1,
                            "not_taken": 3, "median_wait": 30.0}
    assert [e.action for e in conf.audit[-2:]] == ["state", "summary"]


def test_the_schedule_closing_finishes_too(engine, clock):
    conf = hall(ends="2023-11-14T22:15:00+00:00")
    engine.joined(conf, CAROL)
    held = item_of(engine.submit(conf, CAROL, "Too late?"))
    at(clock, 99)
    assert engine.tick(conf) == []
    at(clock, 101)
    effects = engine.tick(conf)
    assert conf.state is ConferenceState.CLOSED
    assert [(e.to, e.code) for e in effects if isinstance(e, Notify)] == [(CAROL.id, "NOT_TAKEN")]
    assert summary_line(effects).params[1:8] == ("1", "1", "0", "0", "0", "1", "*")
    assert conf.audit[-1].actor == "schedule" and conf.audit[-1].detail["median_wait"] is None
    assert conf.queue.items[held].state is State.PENDING


def test_nothing_answering_nothing_cleared(engine, clock):
    conf = hall()
    effects = engine.set_state(conf, "alice", ConferenceState.CLOSED)
    assert not [e for e in effects if isinstance(e, Broadcast) and TAG_ANSWERING in e.tags]
    assert not [e for e in effects if isinstance(e, Notify)]
    assert summary_line(effects).params[1:8] == ("0", "0", "0", "0", "0", "0", "*")


def test_a_visitor_gone_is_not_told_but_counted(engine, clock):
    conf = hall()
    engine.joined(conf, CAROL)
    item = item_of(engine.submit(conf, CAROL, "Still there?"))
    conf.queue.items[item].author_id = None  # as after a restart: the connection is not known
    effects = engine.set_state(conf, "alice", ConferenceState.CLOSED)
    assert not [e for e in effects if isinstance(e, Notify)]
    assert summary_line(effects).params[6] == "1"


def test_only_the_first_close_finishes(engine, clock):
    conf = hall()
    engine.joined(conf, CAROL)
    engine.submit(conf, CAROL, "Anyone?")
    first = engine.set_state(conf, "alice", ConferenceState.CLOSED)
    assert [e for e in first if isinstance(e, Notify)]
    again = engine.set_state(conf, "alice", ConferenceState.CLOSED)
    assert len(again) == 1 and again[0].tags == {"confchat/state": "closed"}
    assert [e.action for e in conf.audit].count("summary") == 1
    # Reopened and closed again: a new summary, the question still not taken.
    engine.set_state(conf, "alice", ConferenceState.LIVE)
    third = engine.set_state(conf, "alice", ConferenceState.CLOSED)
    assert [e.code for e in third if isinstance(e, Notify)] == ["NOT_TAKEN"]
    assert [e.action for e in conf.audit].count("summary") == 2


def test_the_tally_survives_a_restore(engine, clock):
    conf, ids = scripted(engine, clock)
    rows = take_rows(conf)  # as stored, with everything ever published
    restored = restore_conference(
        rows["row"], rows["items"], [p for p in rows["publications"]], rows["audit"],
    )
    before, after = conf.tally, restored.tally
    assert (after.published, after.dropped, after.answered, after.median_wait()) == (
        before.published, before.dropped, before.answered, before.median_wait()
    ) == (2, 1, {ids["tram"]}, 30.0)
    assert after.peak_audience == 0  # counted again from those present


def test_an_answer_to_a_question_counts_once_whatever_the_way(engine, clock):
    conf = hall()
    engine.joined(conf, CAROL)
    item = item_of(engine.submit(conf, CAROL, "Q?"))
    engine.prepare(conf, GUEST, "ready", "Prepared answer")
    engine.publish_prepared(conf, GUEST, "ready", item)  # publishes the question first
    engine.answer(conf, GUEST, item, "And more")
    engine.answered(conf, MODERATOR, item)
    assert (conf.tally.published, len(conf.tally.answered)) == (1, 1)


@pytest.mark.parametrize("waits, median", [
    ((), None), ((4,), 4.0), ((4, 10), 7.0), ((1, 2, 3, 100), 2.5), ((5, 5, 5, 9), 5.0), ((0.4, 0.6, 2), 1.0),
])
def test_median_wait(waits, median):
    tally = Tally()
    for w in waits:
        tally._waited(w)
    assert tally.median_wait() == median


def test_the_answering_tag_is_the_engines():
    assert summary_module.TAG_ANSWERING == TAG_ANSWERING
