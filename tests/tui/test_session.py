"""The terminal client's session and state model, against the server core
itself (no sockets, no terminal): what the model shows is what the real
server said."""

from __future__ import annotations

import pytest

from pair import CHANNEL, Pair, ShellNet, config
from confchat.moderation.queue import State
from confchat.tui.lines import Role
from confchat.tui.session import ActionError


@pytest.fixture
def net():
    return ShellNet(config())


def visitor(net, nick, ip="203.0.113.7"):
    conn = net.register(nick, caps=("message-tags", "standard-replies"), ip=ip)
    conn.send(f"JOIN {CHANNEL}")
    conn.take()
    return conn


def ask(conn, text) -> int:
    replies = conn.ask(f"PRIVMSG {CHANNEL} :{text}")
    held = [m for m in replies if m.command == "NOTE" and m.params[1] == "HELD"]
    assert held, replies
    return int(held[0].params[3])


def test_logs_in_with_sasl_joins_and_loads_the_queue(net):
    carol = visitor(net, "carol")
    first, second = ask(carol, "When will the tram come?"), ask(carol, "Is it free on Sundays?")
    moda = Pair(net, "moda").connect()
    assert "sasl" in moda.session.caps and moda.session.registered
    assert any(line.startswith("AUTHENTICATE ") and line != "AUTHENTICATE PLAIN" for line in moda.sent)
    assert moda.view.role is Role.MODERATOR and moda.view.joined
    assert [item.id for item in moda.view.ordered_queue()] == [first, second]
    assert moda.view.queue[first].author == "carol"
    assert moda.view.info["state"] == "live" and moda.view.info["queue"] == "2"
    assert moda.view.audience_size == 1
    assert [m.nick for m in moda.view.audience] == ["carol"]


def test_a_wrong_password_stops_the_session_for_good(net):
    pair = Pair(net, "moda", password="wrong-password").connect()
    assert pair.session.fatal and "moda" in pair.session.fatal
    assert not pair.session.registered
    assert pair.sent[-1].startswith("QUIT")


def test_another_moderators_decision_shows_at_once(net):
    carol = visitor(net, "carol")
    ident = ask(carol, "Question one")
    moda, modb = Pair(net, "moda").connect(), Pair(net, "modb", ip="198.51.100.11").connect()
    assert ident in moda.view.queue
    modb.pump(modb.session.approve([ident]))
    moda.sync()
    assert ident not in moda.view.queue
    assert moda.view.decided[ident].state is State.PUBLISHED
    assert moda.view.decided[ident].decided_by == "modb"
    assert any(f"#{ident} published by modb" in line.text for line in moda.view.log)
    assert moda.view.stream[-1].text == "Question one" and moda.view.stream[-1].item == ident


def test_moves_keep_every_position_in_step_with_the_server(net):
    carol = visitor(net, "carol")
    ids = [ask(carol, f"Question {n}") for n in range(1, 5)]
    moda, modb = Pair(net, "moda").connect(), Pair(net, "modb", ip="198.51.100.11").connect()
    modb.pump(modb.session.move(ids[3], "top"))
    modb.pump(modb.session.move(ids[0], "down"))
    moda.sync()
    expected = [ids[3], ids[1], ids[0], ids[2]]
    assert [i.id for i in moda.view.ordered_queue()] == expected
    assert [i.position for i in moda.view.ordered_queue()] == [1, 2, 3, 4]
    # the server agrees, item by item
    listing = modb.conn.ask(f"QUEUE {CHANNEL} LIST")
    assert [int(m.params[2]) for m in listing if m.params[1] == "ITEM"] == expected


def test_positions_follow_decisions_then_moves(net):
    carol = visitor(net, "carol")
    ids = [ask(carol, f"Question {n}") for n in range(1, 6)]
    moda, modb = Pair(net, "moda").connect(), Pair(net, "modb", ip="198.51.100.11").connect()
    modb.pump(modb.session.approve([ids[1]]))
    modb.pump(modb.session.drop([ids[0]]))
    moda.sync()
    assert [(i.id, i.position) for i in moda.view.ordered_queue()] == [(ids[2], 1), (ids[3], 2), (ids[4], 3)]
    moda.pump(moda.session.move(ids[4], "top"))
    moda.pump(moda.session.move(ids[4], "down"))
    listing = modb.conn.ask(f"QUEUE {CHANNEL} LIST")
    server = [(int(m.params[2]), int(m.params[4])) for m in listing if m.params[1] == "ITEM"]
    assert [(i.id, i.position) for i in moda.view.ordered_queue()] == server == [(ids[2], 1), (ids[4], 2), (ids[3], 3)]


def test_the_queue_is_loaded_page_by_page(net):
    carol = visitor(net, "carol")
    ids = [ask(carol, f"Q{n}") for n in range(450)]
    moda = Pair(net, "moda").connect()
    lists = [line for line in moda.sent if line.startswith(f"QUEUE {CHANNEL} LIST")]
    assert lists == [f"QUEUE {CHANNEL} LIST", f"QUEUE {CHANNEL} LIST 201", f"QUEUE {CHANNEL} LIST 401"]
    assert [i.id for i in moda.view.ordered_queue()] == ids


def test_bulk_actions_hold_and_claim_toggle(net):
    carol = visitor(net, "carol")
    a, b, c = (ask(carol, f"Q{n}") for n in range(3))
    moda = Pair(net, "moda").connect()
    moda.pump(moda.session.toggle_hold([a, b]))
    assert moda.view.queue[a].state is State.HELD and moda.view.queue[b].state is State.HELD
    moda.pump(moda.session.toggle_hold([a, c]))  # a back to pending, c held
    assert moda.view.queue[a].state is State.PENDING and moda.view.queue[c].state is State.HELD
    moda.pump(moda.session.toggle_claim([b]))
    assert moda.view.queue[b].claimed_by == "moda"
    moda.pump(moda.session.toggle_claim([b]))
    assert moda.view.queue[b].claimed_by is None
    moda.pump(moda.session.drop([a, b], "Off topic"))
    assert set(moda.view.queue) == {c}
    assert moda.view.decided[a].state is State.DROPPED


def test_a_failed_action_lands_in_the_log(net):
    moda = Pair(net, "moda").connect()
    moda.pump(moda.session.approve([99]))
    assert "QUEUE NO_SUCH_ITEM: There is no item 99" in [line.text for line in moda.view.log]
    with pytest.raises(ActionError):
        moda.session.approve([])


def test_redact_and_now_answering_update_the_stream_and_questions(net):
    carol = visitor(net, "carol")
    ident = ask(carol, "Tram?")
    other = ask(carol, "Bus?")
    moda = Pair(net, "moda").connect()
    moda.pump(moda.session.approve([ident, other]))
    assert set(moda.view.questions) == {ident, other}
    moda.pump(moda.session.answering(ident))
    assert moda.view.answering == ident
    moda.pump(moda.session.answered(ident))
    assert moda.view.questions[ident].answered and moda.view.answering is None
    msgid = moda.view.questions[other].msgid
    moda.pump(moda.session.redact(msgid, "Posted twice"))
    assert moda.view.entry(msgid).deleted
    assert other not in moda.view.questions


def test_votes_order_the_guests_questions(net):
    carol = visitor(net, "carol")
    dave = visitor(net, "dave", ip="203.0.113.8")
    a, b = ask(carol, "First"), ask(carol, "Second")
    moda = Pair(net, "moda").connect()
    moda.pump(moda.session.approve([a, b]))
    mayor = Pair(net, "mayor", ip="198.51.100.20").connect()
    assert mayor.view.role is Role.GUEST
    dave.send(f"VOTE {CHANNEL} {b}")
    carol.send(f"VOTE {CHANNEL} {b}")
    carol.send(f"VOTE {CHANNEL} {a}")
    mayor.sync()
    assert [(q.id, q.votes) for q in mayor.view.questions_by_votes()] == [(b, 2), (a, 1)]


def test_the_guest_sees_forwarded_items_and_answers(net):
    carol = visitor(net, "carol")
    ident = ask(carol, "When will the tram come?")
    moda = Pair(net, "moda").connect()
    moda.pump(moda.session.forward([ident]))
    mayor = Pair(net, "mayor", ip="198.51.100.20").connect()
    assert [i.id for i in mayor.view.forwarded()] == [ident]
    mayor.view.keep_draft(ident, "Spring 2027")
    mayor.pump(mayor.session.answer(ident, "Spring 2027"))
    assert ident not in mayor.view.queue  # published by the answer
    assert mayor.view.drafts == {} and mayor.view.unconfirmed == {}
    answer = mayor.view.stream[-1]
    assert answer.text == "Spring 2027" and answer.reply_to == mayor.view.questions[ident].msgid


def test_a_refused_answer_comes_back_as_the_draft(net):
    carol = visitor(net, "carol")
    ident = ask(carol, "Dropped soon")
    moda = Pair(net, "moda").connect()
    moda.pump(moda.session.drop([ident]))
    mayor = Pair(net, "mayor", ip="198.51.100.20").connect()
    mayor.pump(mayor.session.answer(ident, "My careful answer"))
    assert mayor.view.drafts[ident] == "My careful answer"


def test_an_answer_lost_with_the_connection_is_a_draft_again(net):
    mayor = Pair(net, "mayor", ip="198.51.100.20").connect()
    # sent, but the connection drops before the server answers
    lines = mayor.session.answer(5, "Half a thought")
    assert lines and mayor.view.drafts == {}
    mayor.drop_connection()
    assert mayor.view.drafts[5] == "Half a thought"


def test_prepared_answers_write_edit_publish(net):
    carol = visitor(net, "carol")
    ident = ask(carol, "Tram?")
    moda = Pair(net, "moda").connect()
    moda.pump(moda.session.approve([ident]))
    mayor = Pair(net, "mayor", ip="198.51.100.20").connect()
    mayor.pump(mayor.session.prepare("tram", "Spring 2027."))
    assert mayor.view.prepared["tram"].text == "Spring 2027."
    mayor.pump(mayor.session.prepare("tram", "In spring 2027."))
    assert mayor.view.prepared["tram"].text == "In spring 2027."
    mayor.pump(mayor.session.publish_prepared("tram", ident))
    assert "tram" not in mayor.view.prepared
    assert mayor.view.stream[-1].text == "In spring 2027." and mayor.view.stream[-1].item == ident
    with pytest.raises(ActionError):
        mayor.session.prepare("two words", "x")


def test_reconnect_restores_the_view_and_fills_the_gap_with_history(net):
    carol = visitor(net, "carol")
    first = ask(carol, "Before")
    moda = Pair(net, "moda").connect()
    moda.pump(moda.session.approve([first]))
    assert "draft/chathistory" in moda.session.caps
    moda.drop_connection()
    assert not moda.session.registered
    with pytest.raises(ActionError):
        moda.session.approve([first])
    # meanwhile, others go on
    modb = Pair(net, "modb", ip="198.51.100.11").connect()
    second, third = ask(carol, "During"), ask(carol, "Waiting")
    modb.pump(modb.session.approve([second]))
    moda.connect()
    assert moda.session.connections == 2
    history = [line for line in moda.sent if line.startswith("CHATHISTORY")]
    assert history[-1].startswith(f"CHATHISTORY AFTER {CHANNEL} msgid=")
    assert [e.text for e in moda.view.stream] == ["Before", "During"]
    assert list(moda.view.queue) == [third]


def test_audience_is_paged_and_searched(net):
    for n in range(230):
        visitor(net, f"v{n:03d}", ip=f"203.0.{n // 200}.{n % 200 + 1}")
    moda = Pair(net, "moda").connect()
    assert len(moda.view.audience) == 200 and moda.view.audience_next == 201
    assert moda.view.audience_total == 230
    moda.pump(moda.session.audience_page(moda.view.audience_next))
    assert len(moda.view.audience) == 30 and moda.view.audience_next is None
    moda.pump(moda.session.audience_page(1, "v22"))
    assert [m.nick for m in moda.view.audience] == [f"v22{n}" for n in range(10)]


def test_admin_listings_page_on_request(net):
    boss = Pair(net, "boss", ip="198.51.100.30").connect()
    for n in range(205):
        boss.conn.send(f"ACCOUNTS CREATE acct{n:03d} staff :password-{n:03d}")
    boss.conn.take()
    boss.pump(boss.session.listing("ACCOUNTS", "LIST", slot=1))
    listed = [line.text for line in boss.view.log if line.text.startswith("ACCOUNTS * LIST")]
    assert len(listed) == 200 and boss.session.more is not None
    boss.pump(boss.session.next_page())
    listed = [line.text for line in boss.view.log if line.text.startswith("ACCOUNTS * LIST")]
    assert len(listed) == 209  # 205 made + moda, modb, mayor, boss
    assert "ACCOUNTS LIST 201" in boss.sent
