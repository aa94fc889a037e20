"""The history CHATHISTORY reads, through the store: a restart gives every
conference the same timeline (order, times, msgids), deleted messages kept
out but still known by their msgid, and the same answers to the same
requests; the publications are read in one indexed pass per conference."""

from __future__ import annotations

import sqlite3

import pytest

from confchat.config import ConferenceConfig
from confchat.moderation.conference import Conference, Publication
from confchat.moderation.timeline import Timeline
from confchat.storage.rows import take_rows
from confchat.storage.sqlite import Store

T0 = 1_700_000_000.0


def conference_with_history(channel: str = "#townhall", count: int = 30) -> Conference:
    conf = Conference(ConferenceConfig(channel=channel, title="Ask the mayor", moderators=("moda",), state="live"))
    for n in range(count):
        # Two messages per millisecond: the order must not come from the time alone.
        conf.add_publication(Publication(f"{channel}-m{n}", "moda!~m@10.0.0.2", f"message {n}", T0 + (n // 2) / 1000))
    return conf


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "db.sqlite3"))
    store.open()
    yield store
    store.close()


def restart(store: Store, *conferences: Conference) -> dict[str, Conference]:
    store.write([take_rows(c) for c in conferences])
    return {c.channel: c for c in store.load()}


def msgids(entries) -> list[str]:
    return [e.msgid for e in entries]


def test_a_restart_keeps_the_order_times_and_answers(store):
    original = conference_with_history()
    restored = restart(store, original)["#townhall"]
    assert msgids(restored.timeline.latest(100)) == msgids(original.timeline.latest(100))
    assert [p.at for p in restored.timeline.latest(100)] == [p.at for p in original.timeline.latest(100)]
    for query in (
        lambda t: t.after(t.by_msgid("#townhall-m9"), 5),
        lambda t: t.before(t.by_msgid("#townhall-m9"), 5),
        lambda t: t.around(t.by_msgid("#townhall-m20"), 7),
        lambda t: t.between(t.by_msgid("#townhall-m25"), t.by_msgid("#townhall-m3"), 4),
        lambda t: t.after(Timeline.by_time(int(T0 * 1000) + 4), 3),
    ):
        assert msgids(query(restored.timeline)) == msgids(query(original.timeline))
    # Same-millisecond neighbours are still told apart by their msgid.
    assert msgids(restored.timeline.after(restored.timeline.by_msgid("#townhall-m4"), 1)) == ["#townhall-m5"]


def test_a_message_deleted_before_the_restart_stays_out_but_keeps_its_place(store):
    original = conference_with_history()
    original.remove_publication("#townhall-m10", T0 + 1, "moda")
    restored = restart(store, original)["#townhall"]
    assert "#townhall-m10" not in msgids(restored.timeline.latest(100))
    assert "#townhall-m10" not in restored.published
    after = restored.timeline.by_msgid("#townhall-m10")
    assert after is not None
    assert msgids(restored.timeline.after(after, 2)) == ["#townhall-m11", "#townhall-m12"]
    assert msgids(restored.timeline.before(after, 1)) == ["#townhall-m9"]
    assert len(restored.timeline) == 29


def test_a_deletion_after_the_restart_is_recorded_and_survives_the_next(store, tmp_path):
    conf = restart(store, conference_with_history())["#townhall"]
    conf.remove_publication("#townhall-m3", T0 + 2, "moda")
    assert [e.target for e in conf.timeline.latest(100, events=True) if not isinstance(e, Publication)] == ["#townhall-m3"]
    again = restart(store, conf)["#townhall"]
    assert "#townhall-m3" not in msgids(again.timeline.latest(100))
    assert msgids(again.timeline.after(again.timeline.by_msgid("#townhall-m3"), 1)) == ["#townhall-m4"]


def test_each_conference_gets_its_own_history(store):
    town, library = conference_with_history("#townhall", 5), conference_with_history("#library", 3)
    restored = restart(store, town, library)
    assert msgids(restored["#townhall"].timeline.latest(10)) == [f"#townhall-m{n}" for n in range(5)]
    assert msgids(restored["#library"].timeline.latest(10)) == [f"#library-m{n}" for n in range(3)]
    assert restored["#library"].timeline.by_msgid("#townhall-m1") is None


def test_the_publications_are_read_through_the_conference_index(store):
    """Loading a conference's history reads its rows by (conference, seq),
    an index, not a scan of every conference's publications."""
    restart(store, conference_with_history())
    db = sqlite3.connect(store.path)
    try:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT data, redacted_at, redacted_by FROM publications "
            "WHERE conference = ? ORDER BY seq", ("#townhall",)
        ).fetchall()
    finally:
        db.close()
    details = " ".join(row[-1] for row in plan)
    assert "SEARCH publications USING INDEX publications_by_conference (conference=?)" in details
    assert "TEMP B-TREE" not in details  # the index gives the order: no sort
