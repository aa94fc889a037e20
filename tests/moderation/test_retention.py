"""A long event's memory stays level: once stored, decided items and old
audit entries leave memory (storage and the exports keep them), while
everything moderators still act on stays."""

from __future__ import annotations

import itertools

import pytest

from confchat.config import ConferenceConfig
from confchat.moderation import conference as conference_module
from confchat.moderation.conference import Conference
from confchat.moderation.engine import Actor, Engine
from confchat.moderation.queue import ModerationQueue, QueueError, State
from confchat.storage.rows import take_rows
from confchat.storage.sqlite import Store, read_snapshot

T0 = 1_700_000_000.0
MODERATOR = Actor(7, "alice", "alice!~alice@198.51.100.1", account="alice")


def decided_queue(n: int, publish_every: int = 0) -> ModerationQueue:
    queue = ModerationQueue()
    for i in range(1, n + 1):
        queue.submit(f"v{i}", f"v{i}!~v@203.0.113.9", f"question {i}", T0 + i)
        if publish_every and i % publish_every == 0:
            queue.approve(i, "alice", T0 + i)
        else:
            queue.drop(i, "alice", T0 + i)
    return queue


def test_the_most_recent_decisions_stay():
    queue = decided_queue(50)
    gone = queue.retire(keep_closed=10, keep_open=10)
    assert gone == list(range(1, 41))
    assert sorted(queue.items) == list(range(41, 51))


def test_an_item_let_go_reads_as_decided_not_unknown():
    queue = decided_queue(20)
    queue.retire(keep_closed=5, keep_open=5)
    with pytest.raises(QueueError) as refused:
        queue.approve(3, "bob", T0 + 100)
    assert refused.value.code == "ALREADY_DECIDED"
    with pytest.raises(QueueError) as unknown:
        queue.get(21)
    assert unknown.value.code == "NO_SUCH_ITEM"


def test_open_published_questions_outlive_closed_ones():
    queue = decided_queue(40, publish_every=4)  # 4, 8, ..., 40 published and open to votes
    queue.retire(keep_closed=5, keep_open=100)
    published = {i for i, item in queue.items.items() if item.state is State.PUBLISHED}
    assert published == set(range(4, 41, 4))
    queue.vote(4, "account:x")  # still votable
    assert queue.items[4].votes == {"account:x"}


def test_open_published_questions_are_bounded_too():
    queue = decided_queue(40, publish_every=4)
    queue.retire(keep_closed=0, keep_open=3)
    assert sorted(queue.items) == [32, 36, 40]


def test_answered_and_redacted_questions_count_as_closed():
    queue = decided_queue(10, publish_every=1)
    queue.items[1].answered = True
    queue.redact(2)
    queue.retire(keep_closed=0, keep_open=100)
    assert 1 not in queue.items and 2 not in queue.items
    assert sorted(queue.items) == list(range(3, 11))


def test_a_pinned_item_stays_whatever_its_age():
    queue = decided_queue(10, publish_every=1)
    queue.retire(keep_closed=0, keep_open=2, pinned=(1,))
    assert sorted(queue.items) == [1, 9, 10]


def test_undecided_items_are_never_let_go():
    queue = decided_queue(30)
    for i in range(5):
        queue.submit("w", "w!~w@203.0.113.10", f"pending {i}", T0 + 100 + i)
    queue.retire(keep_closed=0, keep_open=0)
    assert [queue.items[i].text for i in queue.order] == [f"pending {i}" for i in range(5)]


@pytest.fixture
def small_windows(monkeypatch):
    monkeypatch.setattr(conference_module, "KEEP_DECIDED", 20)
    monkeypatch.setattr(conference_module, "KEEP_OPEN_PUBLISHED", 10)
    monkeypatch.setattr(conference_module, "KEEP_AUDIT", 40)


def run_event(store: Store, conference: Conference, engine: Engine, clock: list[float], questions: int) -> None:
    """Visitors ask, the moderator publishes every fifth and drops the rest;
    storage takes the changes after every decision, as the writer does."""
    for n in range(questions):
        clock[0] += 1
        author = Actor(1000 + n, f"v{n}", f"v{n}!~v@203.0.113.{n % 250}")
        engine.submit(conference, author, f"question {n}")
        item_id = conference.queue.order[-1]
        if n % 5 == 0:
            engine.approve(conference, MODERATOR, item_id)
        else:
            engine.drop(conference, MODERATOR, item_id, "off topic")
        store.write([take_rows(conference)])


def event(clock: list[float]) -> tuple[Conference, Engine]:
    ids = itertools.count(1)
    engine = Engine(lambda: clock[0], lambda: f"m{next(ids)}")
    settings = ConferenceConfig(channel="#hall", title="Hall", state="live", moderators=("alice",), slow_mode=0)
    return Conference(settings), engine


def test_a_long_event_holds_a_bounded_window_and_storage_holds_everything(tmp_path, small_windows):
    store = Store(str(tmp_path / "db.sqlite3"))
    store.open()
    clock = [T0]
    conference, engine = event(clock)
    sizes = []
    for _ in range(5):
        run_event(store, conference, engine, clock, 200)
        sizes.append((len(conference.queue.items), len(conference.audit)))
    # Level, not growing with the event: the same window after 200 and 1,000 questions.
    assert {held for held, _ in sizes} == {20 + 10}
    assert all(40 <= audit <= 40 + 40 // 4 for _, audit in sizes)
    assert conference.audit_total == 2 * 1000  # a submit and a decision each
    snapshot = read_snapshot(str(tmp_path / "db.sqlite3"), conference.folded)
    assert snapshot is not None
    assert len(snapshot["items"]) == 1000
    assert len(snapshot["audit"]) == 2000
    assert sum(1 for i in snapshot["items"] if i["state"] == "published") == 200
    store.close()


def test_a_restart_holds_the_same_window(tmp_path, small_windows):
    path = str(tmp_path / "db.sqlite3")
    store = Store(path)
    store.open()
    clock = [T0]
    conference, engine = event(clock)
    run_event(store, conference, engine, clock, 300)
    store.close()
    store = Store(path)
    store.open()
    (restored,) = store.load()
    store.close()
    assert sorted(restored.queue.items) == sorted(conference.queue.items)
    assert restored.audit_total == conference.audit_total == 600
    restored_at = [(e.at, e.action) for e in restored.audit]
    assert len(restored_at) == 40
    assert restored_at == [(e.at, e.action) for e in conference.audit][-40:]
    assert restored.queue.next_id == 301


def publication(n: int):
    from confchat.moderation.conference import Publication

    return Publication(f"m{n}", "alice!~a@198.51.100.1", f"message {n}", T0 + n)


def test_the_timeline_forgets_its_oldest_messages_and_their_events():
    from confchat.moderation.timeline import Timeline

    timeline = Timeline()
    for n in range(1, 21):
        timeline.add(publication(n))
    timeline.redact("m3", T0 + 30, "alice")  # an event from before the window
    timeline.redact("m18", T0 + 31, "alice")  # and one inside it
    assert timeline.trim(10) == 8  # 18 shown, keep 10
    shown = [p.msgid for p in timeline.latest(100)]
    assert shown == [f"m{n}" for n in (10, 11, 12, 13, 14, 15, 16, 17, 19, 20)]
    assert timeline.by_msgid("m9") is None and timeline.by_msgid("m10") is not None
    events = [e.target for e in timeline.latest(100, events=True) if hasattr(e, "target")]
    assert events == ["m3", "m18"]  # both deletions happened after m10: still told in order
    assert timeline.by_msgid("m18") is not None  # a deleted message's place inside the window
    assert timeline.trim(10) == 0


def test_a_conference_keeps_the_latest_publications(monkeypatch):
    monkeypatch.setattr(conference_module, "KEEP_PUBLISHED", 40)
    conference = Conference(ConferenceConfig(channel="#hall", title="Hall", state="live"))
    for n in range(1, 101):
        conference.add_publication(publication(n))
        conference.take_changes()
        assert len(conference.published) <= 40 + 40 // 4
    assert list(conference.published)[-1] == "m100"
    assert len(conference.timeline) == len(conference.published)
    assert [p.msgid for p in conference.timeline.latest(5)] == ["m96", "m97", "m98", "m99", "m100"]


def test_storage_keeps_every_publication_a_live_conference_let_go(tmp_path, small_windows, monkeypatch):
    monkeypatch.setattr(conference_module, "KEEP_PUBLISHED", 30)
    path = str(tmp_path / "db.sqlite3")
    store = Store(path)
    store.open()
    clock = [T0]
    conference, engine = event(clock)
    run_event(store, conference, engine, clock, 500)  # 100 published
    assert len(conference.published) <= 30 + 30 // 4
    snapshot = read_snapshot(path, conference.folded)
    assert snapshot is not None and len(snapshot["publications"]) == 100
    store.close()
