"""The journal's gate: replies wait in the outbox until the change they
acknowledge is committed, and output order never changes."""

from __future__ import annotations

from confchat.config import ConferenceConfig
from confchat.core.journal import Journal
from confchat.storage.rows import changes_rows
from confchat.core.outbox import Outbox
from confchat.moderation.conference import Conference


def gated(limit: int = 1000) -> tuple[Journal, Outbox, list[int]]:
    journal = Journal()
    journal.enabled = True
    journal.snapshot = changes_rows  # as the storage writer sets it
    wakes: list[int] = []
    outbox = Outbox(limit, wake=lambda: wakes.append(1), gate=journal)
    return journal, outbox, wakes


def conference() -> Conference:
    return Conference(ConferenceConfig(channel="#c", title="C"))


def test_output_flows_freely_while_nothing_is_pending():
    journal, outbox, _ = gated()
    outbox.push(b"a\r\n")
    assert outbox.take() == b"a\r\n"


def test_output_after_a_mark_waits_for_its_commit():
    journal, outbox, wakes = gated()
    conf = conference()
    outbox.push(b"before\r\n")
    journal.mark(conf)
    outbox.push(b"after\r\n")
    assert outbox.take() == b"before\r\n"
    assert outbox.take() == b""
    assert not outbox.drained
    seq, batch = journal.collect()
    assert [c["conference"] for c in batch] == ["#c"]
    woken = len(wakes)
    journal.committed(seq)
    assert len(wakes) == woken + 1
    assert outbox.take() == b"after\r\n"
    assert outbox.drained


def test_later_free_output_never_overtakes_held_output():
    journal, outbox, _ = gated()
    journal.mark(conference())
    outbox.push(b"1\r\n")
    seq, _ = journal.collect()
    journal.committed(seq)  # the gate is open again...
    journal.mark(conference())
    outbox.push(b"2\r\n")  # ...but held again
    assert outbox.take() == b"1\r\n"
    assert outbox.take() == b""
    journal.committed(journal.collect()[0])
    outbox.push(b"3\r\n")
    assert outbox.take() == b"2\r\n3\r\n"


def test_a_commit_releases_only_what_it_covers():
    journal, outbox, _ = gated()
    journal.mark(conference())
    outbox.push(b"first\r\n")
    first, _ = journal.collect()
    journal.mark(conference())  # a change marked while the first commit runs
    outbox.push(b"second\r\n")
    journal.committed(first)
    assert outbox.take() == b"first\r\n"
    assert outbox.take() == b""
    journal.committed(journal.collect()[0])
    assert outbox.take() == b"second\r\n"


def test_closing_line_waits_behind_held_output():
    journal, outbox, _ = gated()
    journal.mark(conference())
    outbox.push(b"reply\r\n")
    outbox.close(b"ERROR :bye\r\n")
    assert outbox.closed and outbox.take() == b""
    journal.committed(journal.collect()[0])
    assert outbox.take() == b"reply\r\nERROR :bye\r\n"
    assert outbox.drained


def test_held_bytes_count_against_the_sendq():
    journal, outbox, _ = gated(limit=10)
    journal.mark(conference())
    assert outbox.push(b"12345678\r\n")
    assert not outbox.push(b"x\r\n")
    assert outbox.overflowed
    assert outbox.take() == b"ERROR :SendQ exceeded\r\n"


def test_without_storage_marks_do_not_hold_anything():
    journal = Journal()  # not enabled: the core's unit tests, or no store
    outbox = Outbox(1000, gate=journal)
    journal.mark(conference())
    outbox.push(b"x\r\n")
    assert outbox.take() == b"x\r\n"


def test_collect_gathers_each_dirty_conference_once_with_only_new_rows():
    journal = Journal()
    journal.enabled = True
    journal.snapshot = changes_rows  # as the storage writer sets it
    conf = conference()
    conf.journal = journal
    item = conf.queue.submit("v", "v!u@192.0.2.1", "hello", 10.0)
    conf.record(10.0, "v", "submit", item.id, text="hello")
    conf.queue.hold(item.id, "mod")
    conf.record(11.0, "mod", "hold", item.id)
    seq, batch = journal.collect()
    assert seq == 1  # the first batch
    (changes,) = batch
    assert [a["action"] for a in changes["audit"]] == ["submit", "hold"]
    assert [i["id"] for i in changes["items"]] == [item.id]
    assert changes["items"][0]["state"] == "held"
    conf.record(12.0, "mod", "claim", item.id)
    (changes,) = journal.collect()[1]
    assert [a["action"] for a in changes["audit"]] == ["claim"]


def test_keepalives_pass_a_slow_commit_for_clients_that_wait_for_nothing():
    """A storage stall holds what tells of a change until it is stored;
    a PONG to someone who is waiting for nothing durable goes out at once
    (else a stall of a minute would time every client out)."""
    import attrs

    from confchat.config import Config, ConferenceConfig
    from helpers import Net, parse_all

    config = attrs.evolve(Config(), conferences=(ConferenceConfig(channel="#c", title="C", state="live"),))
    net = Net(config)
    asker = net.register("asker", ("standard-replies",))
    idle = net.register("idle")
    asker.send("JOIN #c")
    asker.take()
    for conn in (asker, idle):  # as the transport wires them
        conn.outbox.gate = net.server.journal
    net.server.journal.enable(net.server.conferences.values())  # storage attached, and now stalled
    asker.send("PRIVMSG #c :a question")  # marks the conference: its HELD note waits for the commit
    assert parse_all(asker.take_raw()) == []
    idle.send("PING :still there")
    assert [m.command for m in idle.take()] == ["PONG"]
    asker.send("PING :me too")
    assert asker.take() == []  # its PONG stays behind its HELD note: order is kept
    journal = net.server.journal
    journal.committed(journal.collect()[0])
    assert [(m.command, m.params[1]) for m in asker.take()] == [("NOTE", "HELD"), ("PONG", "me too")]
