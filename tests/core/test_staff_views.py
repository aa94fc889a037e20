"""Staff views that scale: nothing a moderator needs is one unbounded reply
(NAMES of a large auditorium, QUEUE LIST, CONF AUDIT, QUESTIONS, AUDIENCE are
paged), and staff connections get a send queue sized for their role."""

from __future__ import annotations

import attrs

from helpers import Net, find
from test_conference import CAPS, CHAN, ask, items, login, make_config


def config(**limits):
    base = make_config(mode="moderated")
    return attrs.evolve(base, limits=attrs.evolve(base.limits, **limits),
                        moderation=attrs.evolve(base.moderation, max_pending_per_visitor=0, max_pending_per_address=0))


def crowd(net: Net, n: int) -> None:
    for i in range(n):
        visitor = net.register(f"v{i}", ip=f"198.18.{i // 250}.{i % 250 + 1}")
        visitor.send(f"JOIN {CHAN}")
        visitor.take()


def pages(conn, command: str) -> tuple[list, list]:
    """Every row of a paged listing, following its MORE lines."""
    rows, mores = [], []
    position = "1"
    while True:
        replies = conn.ask(f"{command} {position}")
        rows += [m for m in replies if m.params[1] not in ("MORE", "END")]
        more = [m for m in replies if len(m.params) > 1 and m.params[1] == "MORE"]
        mores += more
        if not more:
            return rows, mores
        position = more[0].params[2]


def test_a_moderator_with_full_names_joins_a_large_auditorium_without_being_evicted():
    # A small send queue stands in for a large audience: the full list of
    # 2,000 names with their hosts is ~80 KB.
    net = Net(config(max_sendq=32 * 1024, staff_max_sendq=32 * 1024))
    crowd(net, 2000)
    moda = login(net, "moda", caps=(*CAPS, "userhost-in-names", "multi-prefix"))
    replies = moda.ask(f"JOIN {CHAN}")
    assert not moda.closed
    names = " ".join(m.params[-1] for m in find(replies, "353"))
    assert "moda" in names and "v1" not in names.split()
    (audience,) = [m for m in replies if m.command == "NOTE" and m.params[1] == "AUDIENCE"]
    assert audience.params[3] == "2000"


def test_a_small_audience_is_listed_whole_to_the_staff():
    net = Net(config())
    crowd(net, 20)
    moda = login(net, "moda")
    names = " ".join(m.params[-1] for m in find(moda.ask(f"JOIN {CHAN}"), "353")).split()
    assert len([n for n in names if n.startswith("v")]) == 20


def test_the_audience_is_paged_and_searched():
    net = Net(config())
    crowd(net, 450)
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    rows, mores = pages(moda, f"CONF {CHAN} AUDIENCE")
    assert [m.params[2] for m in mores] == ["201", "401"]
    nicks = [m.params[2] for m in rows]
    assert len(nicks) == len(set(nicks)) == 450
    assert nicks == sorted(nicks, key=str.lower)
    found = moda.ask(f"CONF {CHAN} AUDIENCE v44")
    assert sorted(m.params[2] for m in found if m.params[1] == "MEMBER") == ["v44", *[f"v44{d}" for d in range(10)]]
    assert found[-1].params[-1] == "11 visitors"


def test_queue_list_pages_through_every_item_once():
    net = Net(config())
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    citizen = net.register("citizen", CAPS, ip="203.0.113.2")
    citizen.send(f"JOIN {CHAN}")
    for n in range(450):
        citizen.send(f"PRIVMSG {CHAN} :question {n}")
    moda.take()
    rows, mores = pages(moda, f"QUEUE {CHAN} LIST")
    assert [m.params[2:] for m in mores] == [("201", "250 more"), ("401", "50 more")]
    ids = [int(m.params[2]) for m in rows]
    assert ids == list(range(1, 451))
    first = moda.ask(f"QUEUE {CHAN} LIST")
    assert len(items(first)) == 200 and first[-1].params[1:] == ("END", "450 waiting")


def three_hundred_questions():
    """A moderator in the room and 300 questions from one visitor."""
    net = Net(config())
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    citizen = net.register("citizen", CAPS, ip="203.0.113.2")
    citizen.send(f"JOIN {CHAN}")
    for n in range(300):
        ask(citizen, f"question {n}")
    moda.take()
    return net, moda


def test_the_audit_log_is_paged():
    net, moda = three_hundred_questions()
    rows, mores = pages(moda, f"CONF {CHAN} AUDIT")
    assert len(rows) == len(net.server.conferences[CHAN].audit) and len(mores) == 1


def test_staff_get_the_larger_send_queue_when_they_log_in():
    net = Net(config(max_sendq=64 * 1024, staff_max_sendq=1024 * 1024))
    moda = login(net, "moda")
    viewer = net.register("viewer", CAPS, ip="203.0.113.1")
    assert moda.outbox.limit == 1024 * 1024 and viewer.outbox.limit == 64 * 1024


def test_the_audit_log_pages_from_the_entries_held_once_older_ones_are_archived(monkeypatch):
    from confchat.moderation import conference as conference_module

    monkeypatch.setattr(conference_module, "KEEP_AUDIT", 100)
    net, moda = three_hundred_questions()
    conference = net.server.conferences[CHAN]
    total = conference.audit_total
    conference.take_changes()  # as storage does once the rows are written
    assert len(conference.audit) == 100 and conference.audit_base == total - 100
    replies = moda.ask(f"CONF {CHAN} AUDIT")
    assert replies[0].params[1:3] == ("ARCHIVED", str(total - 100))
    audit = [m for m in replies if m.params[1] == "AUDIT"]
    assert [m.params[-2] for m in audit][:2] == [str(e.item) for e in conference.audit[:2]]
    assert len(audit) == 100
    assert replies[-1].params[1:] == ("END", f"{total} entries")
    # A page asked by position inside the held entries needs no note.
    inside = moda.ask(f"CONF {CHAN} AUDIT {total - 9}")
    assert [m.params[1] for m in inside].count("AUDIT") == 10 and "ARCHIVED" not in [m.params[1] for m in inside]
