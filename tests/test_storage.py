"""The SQLite store and the rows it keeps: a conference survives a restart
whole, and damaged or foreign files give clear errors."""

from __future__ import annotations

import sqlite3

import pytest

from confchat.config import ConferenceConfig
from confchat.moderation.conference import Conference, Publication, Restriction, Role
from confchat.moderation.queue import State
from confchat.storage.sqlite import SCHEMA_VERSION, Store, StorageError
from confchat.storage.rows import take_rows

T0 = 1_700_000_000.0


def busy_conference() -> Conference:
    """A conference in mid-event: a reordered queue, decisions, history,
    a deletion, a ban, a prepared answer."""
    conf = Conference(ConferenceConfig(channel="#TownHall", title="Ask the mayor", moderators=("moda",), state="live"))
    queue = conf.queue
    for n in range(1, 6):
        item = queue.submit(f"v{n}", f"v{n}!~v@198.51.100.{n}", f"question {n}", T0 + n)
        conf.record(T0 + n, f"v{n}", "submit", item.id, text=item.text)
    queue.move(4, "moda", "top")
    conf.record(T0 + 10, "moda", "move", 4, to="top")
    queue.approve(4, "moda", T0 + 11, "Question four?")
    conf.record(T0 + 11, "moda", "edit-approve", 4, original="question 4")
    queue.items[4].msgid = "m4"
    conf.add_publication(Publication("m4", "v4!~v@198.51.100.4", "Question four?", T0 + 11, {"confchat/item": "4"}, "PRIVMSG", 4))
    queue.drop(2, "moda", T0 + 12, "rude")
    conf.record(T0 + 12, "moda", "drop", 2, reason="rude")
    queue.hold(3, "moda")
    conf.record(T0 + 13, "moda", "hold", 3)
    queue.vote(4, "account:x")
    conf.add_publication(Publication("a1", "mayor!~m@10.0.0.1", "Yes.", T0 + 14, {"+draft/reply": "m4"}))
    conf.add_publication(Publication("oops", "moda!~m@10.0.0.2", "wrong room", T0 + 15))
    conf.remove_publication("oops", T0 + 16, "moda")
    conf.restrictions.append(Restriction("ban", "*!*@198.51.100.2", "moda", "rude", T0 + 12, 0.0))
    conf.prepared["budget"] = ("mayor", "The budget is balanced.")
    conf.roles["mayor"] = Role.GUEST
    conf.now_answering = 4
    conf.record(T0 + 17, "moda", "answering", 4)
    return conf


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "db.sqlite3"))
    store.open()
    yield store
    store.close()


def test_a_conference_comes_back_whole(store):
    original = busy_conference()
    store.write([take_rows(original)])
    (restored,) = store.load()
    assert restored.channel == "#TownHall" and restored.state == "live"
    assert restored.queue.order == original.queue.order == [1, 3, 5]
    for item_id, item in original.queue.items.items():
        back = restored.queue.items[item_id]
        assert (back.state, back.text, back.original, back.decided_by, back.reason, back.msgid, back.votes) == (
            item.state, item.text, item.original, item.decided_by, item.reason, item.msgid, item.votes)
    assert restored.queue.items[3].state is State.HELD
    assert list(restored.published) == ["m4", "a1"]  # the deleted one stays deleted
    assert restored.published["a1"].tags == {"+draft/reply": "m4"}
    assert [(r.kind, r.mask) for r in restored.restrictions] == [("ban", "*!*@198.51.100.2")]
    assert restored.prepared == {"budget": ("mayor", "The budget is balanced.")}
    assert restored.roles == {"moda": Role.MODERATOR, "mayor": Role.GUEST}
    assert restored.now_answering == 4
    assert [e.action for e in restored.audit] == [e.action for e in original.audit]


def test_new_items_continue_the_id_sequence(store):
    conf = busy_conference()
    store.write([take_rows(conf)])
    (restored,) = store.load()
    assert restored.queue.submit("v", "v!u@h", "again", T0 + 30).id == 6


def test_changes_accumulate_across_batches(store):
    conf = busy_conference()
    store.write([take_rows(conf)])
    conf.queue.approve(1, "moda", T0 + 20)
    conf.record(T0 + 20, "moda", "approve", 1)
    store.write([take_rows(conf)])
    (restored,) = store.load()
    assert restored.queue.items[1].state is State.PUBLISHED
    assert restored.queue.order == [3, 5]
    assert [e.action for e in restored.audit][-1] == "approve"
    assert len(restored.audit) == len(conf.audit)  # nothing written twice


def test_the_cluster_position_is_stored_with_the_changes_of_its_entry(store):
    from confchat.cluster.log import Position
    from confchat.storage.rows import changes_rows

    assert store.load_position() == "0-0"  # a new database: nothing of the log yet
    conf = busy_conference()
    store.write([take_rows(conf), changes_rows(Position("1800000000000-3").take_changes())])
    assert store.load_position() == "1800000000000-3"
    store.write([changes_rows(Position("1800000000005-0").take_changes())])
    assert store.load_position() == "1800000000005-0"


def test_a_failed_batch_keeps_the_position_where_it_was(store):
    from confchat.cluster.log import Position
    from confchat.storage.rows import changes_rows

    store.write([changes_rows(Position("1800000000000-3").take_changes())])
    with pytest.raises(Exception):
        store.write([changes_rows(Position("1800000000009-0").take_changes()), {"conference": "#x"}])
    assert store.load_position() == "1800000000000-3"


def test_reopening_keeps_the_schema_version(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    for _ in range(2):
        store = Store(path)
        store.open()
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StorageError, match="newer than this confchat understands"):
        Store(path).open()


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path):
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="not a usable confchat database"):
        Store(str(path)).open()


def test_an_unwritable_location_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot open the database"):
        Store(str(blocker / "sub" / "db.sqlite3")).open()


def test_a_failed_batch_changes_nothing(store):
    conf = busy_conference()
    changes = take_rows(conf)
    changes["publications"].append(dict(changes["publications"][0]))  # duplicate msgid
    with pytest.raises(sqlite3.IntegrityError):
        store.write([changes])
    assert store.load() == []
    assert not store.db.in_transaction


def test_purge_forgets_addresses_and_dropped_texts(store):
    conf = busy_conference()
    store.write([take_rows(conf)])
    assert store.purge(T0 + 100) > 0
    data = store.read("#townhall")
    assert all(i["author_prefix"].endswith("!*@*") for i in data["items"])
    dropped = [i for i in data["items"] if i["state"] == "dropped"]
    assert dropped and all(i["text"] == "" for i in dropped)
    published = [i for i in data["items"] if i["state"] == "published"]
    assert [i["text"] for i in published] == ["Question four?"]  # published text stays
    assert all("198.51.100" not in p["source"] and "10.0.0" not in p["source"] for p in data["publications"])
    submits = [a for a in data["audit"] if a["action"] == "submit"]
    assert [("text" in a["detail"]) for a in submits] == [True, False, True, True, True]
    assert store.purge(T0 + 100) == 0  # nothing left to purge


def test_purge_keeps_what_is_newer_than_the_cutoff(store):
    conf = busy_conference()
    store.write([take_rows(conf)])
    store.purge(T0 + 3)  # only items 1 and 2 are older
    items = {i["id"]: i for i in store.read("#townhall")["items"]}
    assert items[1]["author_prefix"] == "v1!*@*"
    assert items[3]["author_prefix"] == "v3!~v@198.51.100.3"


def test_in_memory_purge_matches(store):
    conf = busy_conference()
    assert conf.purge_personal_data(T0 + 100) == 5
    assert conf.queue.items[2].text == ""
    assert all(i.author_prefix.endswith("!*@*") for i in conf.queue.items.values())
    assert all(p.source.endswith("!*@*") for p in conf.published.values())


def test_config_edits_apply_and_runtime_changes_survive():
    declared = ConferenceConfig(channel="#c", title="Old title", slow_mode=0, moderators=("moda",))
    conf = Conference(declared)
    conf.slow_mode = 30  # a moderator changed it at runtime
    conf.roles["modb"] = Role.MODERATOR
    # The file was edited: new title, modc added, moda removed.
    edited = ConferenceConfig(channel="#c", title="New title", slow_mode=0, moderators=("modc",))
    conf.apply_declared(edited)
    assert conf.title == "New title"
    assert conf.slow_mode == 30
    assert conf.roles == {"modb": Role.MODERATOR, "modc": Role.MODERATOR}


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["submit", "move", "approve"]), st.integers(0, 30), st.sampled_from(["top", "bottom", "1", "2", "3"])), max_size=80))
def test_stored_order_always_matches_the_live_order(tmp_path_factory, operations):
    """Moves (including many to one spot, which forces a renumbering),
    submissions and decisions in any mix: the restored order is the live one."""
    store = Store(str(tmp_path_factory.mktemp("db") / "db.sqlite3"))
    store.open()
    try:
        conf = Conference(ConferenceConfig(channel="#c", title="C"))
        for n in range(3):
            item = conf.queue.submit("v", "v!u@h", f"q{n}", T0)
            conf.record(T0, "v", "submit", item.id)
        store.write([take_rows(conf)])
        for op, pick, where in operations:
            order = conf.queue.order
            if op == "submit":
                item = conf.queue.submit("v", "v!u@h", "q", T0)
                conf.record(T0, "v", "submit", item.id)
            elif order and op == "move":
                item_id = order[pick % len(order)]
                if where.isdigit() and int(where) > len(order):
                    where = "top"
                conf.queue.move(item_id, "m", where)
                conf.record(T0, "m", "move", item_id)
            elif order:
                item_id = order[pick % len(order)]
                conf.queue.approve(item_id, "m", T0)
                conf.record(T0, "m", "approve", item_id)
            store.write([take_rows(conf)])
        (restored,) = store.load()
        assert restored.queue.order == conf.queue.order
    finally:
        store.close()


def test_many_moves_to_one_spot_renumber_and_keep_the_order(tmp_path):
    store = Store(str(tmp_path / "db.sqlite3"))
    store.open()
    conf = Conference(ConferenceConfig(channel="#c", title="C"))
    for n in range(5):
        conf.record(T0, "v", "submit", conf.queue.submit("v", "v!u@h", f"q{n}", T0).id)
    store.write([take_rows(conf)])
    for _ in range(80):  # halves the gap between positions 1 and 2 each time
        item_id = conf.queue.order[-1]
        conf.queue.move(item_id, "m", "2")
        conf.record(T0, "m", "move", item_id)
        store.write([take_rows(conf)])
    (restored,) = store.load()
    assert restored.queue.order == conf.queue.order
    store.close()
