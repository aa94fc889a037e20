"""What an audience of Slido or Pigeonhole expects, through the core (no
sockets): vote counts for the visitors (coalesced), the audience size,
withdrawing one's own question, the default order of the questions, and
the author told of a moderator's edit."""

from __future__ import annotations

import pytest

from helpers import Net
from test_conference import CAPS as STAFF_CAPS, CHAN, ask, fails, fill_room, items, make_config, notes

CAPS = (*STAFF_CAPS, "confchat/audience")  # the visitors here are the web pages' kind


@pytest.fixture
def net() -> Net:
    return Net(make_config())


@pytest.fixture
def room(net: Net):
    # The audience size goes out once at the first tick; the tests start after it.
    return fill_room(net, CAPS, settle=net.server.tick)


def conf_lines(messages, sub):
    return [m.params for m in messages if m.command == "CONF" and m.params[1] == sub]


def publish(moda, citizen, text: str) -> int:
    item_id = ask(citizen, text)
    moda.send(f"QUEUE {CHAN} APPROVE {item_id}")
    return item_id


# ------------------------------------------------------------ withdrawing


def test_a_visitor_withdraws_a_pending_question_and_the_queue_drops_it(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "Actually, never mind")
    moda.take(), modb.take()
    replies = citizen.ask(f"CONF {CHAN} WITHDRAW {item_id}")
    (note,) = notes(replies, "WITHDRAWN")
    assert note.params[:4] == ("CONF", "WITHDRAWN", CHAN, str(item_id))
    for moderator in (moda, modb):
        (line,) = items(moderator.take())
        assert line.params[2:5] == (str(item_id), "dropped", "0")
        assert line.params[8] == "citizen" and line.params[9] == "withdrawn"
    assert viewer.take() == [] and mayor.take() == []  # nobody else hears of it
    listing = moda.ask(f"QUEUE {CHAN} LIST")
    assert items(listing) == []
    audit = [m.params for m in moda.ask(f"CONF {CHAN} AUDIT") if m.command == "CONF" and m.params[1] == "AUDIT"]
    assert audit[-1][3:6] == ("citizen", "withdraw", str(item_id))


def test_withdraw_refusals_are_clear_and_change_nothing(room):
    moda, modb, mayor, viewer, citizen = room
    theirs = ask(citizen, "Mine, not yours")
    moda.take()
    (fail,) = fails(viewer.ask(f"CONF {CHAN} WITHDRAW {theirs}"), "NOT_AUTHOR")
    assert fail.params[2:4] == (CHAN, str(theirs))
    (fail,) = fails(viewer.ask(f"CONF {CHAN} WITHDRAW x"), "INVALID_ITEM")
    assert fail.params[2] == "x"
    assert [m.command for m in viewer.ask(f"CONF {CHAN} WITHDRAW")] == ["461"]
    published_id = publish(moda, citizen, "Published already")
    (fail,) = fails(citizen.ask(f"CONF {CHAN} WITHDRAW {published_id}"), "ALREADY_DECIDED")
    assert fail.params[2:4] == (CHAN, str(published_id))
    assert all(i.params[3] != "dropped" for i in items(moda.take()))  # the refusal dropped nothing
    queue = items(moda.ask(f"QUEUE {CHAN} LIST"))
    assert [i.params[2] for i in queue] == [str(theirs)]


# ------------------------------------------------------------ vote counts for the visitors


def test_visitors_see_vote_counts_at_most_once_a_second_per_question(net, room):
    moda, modb, mayor, viewer, citizen = room
    item_id = publish(moda, citizen, "Popular question")
    for conn in room:
        conn.take()
    voters = [net.register(f"voter{n}", CAPS, ip=f"203.0.113.{10 + n}") for n in range(30)]
    for voter in voters:
        voter.send(f"JOIN {CHAN}")
    for voter in voters:
        voter.take()
    for conn in room:
        conn.take()
    for voter in voters:
        voter.send(f"VOTE {CHAN} {item_id}")
    seen = conf_lines(viewer.take(), "VOTES")
    assert seen == [(CHAN, "VOTES", str(item_id), "1")]  # the first at once, the others wait
    staff = conf_lines(moda.take(), "VOTES")
    assert [p[3] for p in staff] == [str(n) for n in range(1, 31)]  # the staff, a line per vote
    net.advance(1.0)
    net.server.tick()
    assert conf_lines(viewer.take(), "VOTES") == [(CHAN, "VOTES", str(item_id), "30")]
    assert conf_lines(voters[0].take(), "VOTES")[-1] == (CHAN, "VOTES", str(item_id), "30")
    assert conf_lines(moda.take(), "VOTES") == []  # not twice to the staff
    net.advance(1.0)
    net.server.tick()
    assert conf_lines(viewer.take(), "VOTES") == []


def test_a_late_joiner_reads_the_counts_with_conf_votes(net, room):
    moda, modb, mayor, viewer, citizen = room
    quiet = publish(moda, citizen, "Nobody cares")
    loved = publish(moda, citizen, "Everybody cares")
    liked = publish(moda, citizen, "Some care")
    for n in range(3):
        voter = net.register(f"fan{n}", CAPS, ip=f"203.0.113.{50 + n}")
        voter.send(f"JOIN {CHAN}")
        voter.send(f"VOTE {CHAN} {loved}")
        if n == 0:
            voter.send(f"VOTE {CHAN} {liked}")
    late = net.register("late", CAPS, ip="203.0.113.99")
    late.send(f"JOIN {CHAN}")
    replies = late.ask(f"CONF {CHAN} VOTES")
    assert conf_lines(replies, "VOTES") == [(CHAN, "VOTES", str(loved), "3"), (CHAN, "VOTES", str(liked), "1")]
    assert conf_lines(replies, "END") == [(CHAN, "END", "2 questions with votes")]
    assert str(quiet) not in [p[2] for p in conf_lines(replies, "VOTES")]


def test_conf_votes_is_paged(net, room):
    moda, modb, mayor, viewer, citizen = room
    conference = net.server.conferences[CHAN]
    ids = [publish(moda, citizen, f"q{n}") for n in range(205)]
    for item_id in ids:  # votes set directly: 205 questions with a vote each
        conference.queue.items[item_id].votes.add("someone")
    first = viewer.ask(f"CONF {CHAN} VOTES")
    assert len(conf_lines(first, "VOTES")) == 200
    assert conf_lines(first, "MORE") == [(CHAN, "MORE", "201", "5 more")]
    rest = viewer.ask(f"CONF {CHAN} VOTES 201")
    assert [p[2] for p in conf_lines(rest, "VOTES")] == [str(i) for i in ids[200:]]
    assert conf_lines(rest, "END") == [(CHAN, "END", "205 questions with votes")]


# ------------------------------------------------------------ the audience size


def test_the_audience_size_reaches_the_visitors_not_the_staff(net, room):
    moda, modb, mayor, viewer, citizen = room
    newcomers = [net.register(f"new{n}", CAPS, ip=f"203.0.113.{70 + n}") for n in range(3)]
    for conn in newcomers:
        conn.send(f"JOIN {CHAN}")
    for conn in (*room, *newcomers):
        conn.take()
    net.advance(5.0)
    net.server.tick()
    assert conf_lines(viewer.take(), "HEADCOUNT") == [(CHAN, "HEADCOUNT", "5")]
    assert conf_lines(newcomers[0].take(), "HEADCOUNT") == [(CHAN, "HEADCOUNT", "5")]
    assert conf_lines(moda.take(), "HEADCOUNT") == []
    newcomers[0].send(f"PART {CHAN}")
    net.advance(1.0)
    net.server.tick()
    assert conf_lines(viewer.take(), "HEADCOUNT") == []  # within five seconds of the last
    net.advance(4.0)
    net.server.tick()
    assert conf_lines(viewer.take(), "HEADCOUNT") == [(CHAN, "HEADCOUNT", "4")]
    info = {m.params[2]: m.params[3] for m in viewer.ask(f"CONF {CHAN} INFO") if m.params[1] == "INFO"}
    assert info["audience"] == "4"  # the same count as CONF INFO's


# ------------------------------------------------------------ sort and edits


def test_sort_is_set_with_conf_set_and_shown_by_conf_info(room):
    moda, modb, mayor, viewer, citizen = room
    def info():
        return {m.params[2]: m.params[3] for m in viewer.ask(f"CONF {CHAN} INFO") if m.params[1] == "INFO"}

    assert info()["sort"] == "recent"
    assert notes(moda.ask(f"CONF {CHAN} SET sort popular"), "SET")
    assert info()["sort"] == "popular"
    (fail,) = fails(moda.ask(f"CONF {CHAN} SET sort loudest"), "INVALID_SETTING")
    assert fail.params[-1] == "sort takes recent or popular"
    assert fails(viewer.ask(f"CONF {CHAN} SET sort recent"), "NEED_ROLE")
    assert info()["sort"] == "popular"


def test_the_author_alone_learns_that_a_moderator_edited_the_question(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "tram when")
    moda.send(f"QUEUE {CHAN} EDIT {item_id} :When will the tram come?")
    replies = citizen.take()
    (note,) = notes(replies, "PUBLISHED")
    assert note.params[2:5] == (CHAN, str(item_id), "edited")
    published = [m for m in viewer.take() if m.command == "PRIVMSG"]
    assert [m.params[1] for m in published] == ["When will the tram come?"]
    assert "edited" not in "".join(published[0].tags)  # the stream carries no flag (protocol.md)


def test_a_plain_irc_visitor_gets_no_count_lines_it_did_not_ask_for(net, room):
    """CONF VOTES and HEADCOUNT are confchat's own lines: a client without
    the confchat/audience capability (irssi, a bot) is never sent them, so
    it shows no unknown commands; it can still ask with CONF VOTES."""
    moda, modb, mayor, viewer, citizen = room
    plain = net.register("plain", ("message-tags", "standard-replies"), ip="203.0.113.40")
    plain.send(f"JOIN {CHAN}")
    item_id = publish(moda, citizen, "Is the pool open on Sundays?")
    net.advance(10)
    net.server.tick()
    plain.take()
    viewer.take()
    plain.send(f"VOTE {CHAN} {item_id}")
    newcomer = net.register("newcomer", CAPS, ip="203.0.113.41")
    newcomer.send(f"JOIN {CHAN}")
    net.advance(10)
    net.server.tick()
    seen = viewer.take()
    assert conf_lines(seen, "VOTES") == [(CHAN, "VOTES", str(item_id), "1")]
    assert conf_lines(seen, "HEADCOUNT") == [(CHAN, "HEADCOUNT", "4")]
    assert [m for m in plain.take() if m.command == "CONF"] == []
    asked = plain.ask(f"CONF {CHAN} VOTES")
    assert conf_lines(asked, "VOTES") == [(CHAN, "VOTES", str(item_id), "1")]
