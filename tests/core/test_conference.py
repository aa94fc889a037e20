"""The moderation extension through the core: conferences, the queue, the
guest stage, REDACT, bans and roles, as clients see them (no sockets)."""

from __future__ import annotations

import base64
import json

import attrs
import pytest

from confchat.config import Account, Config, ConferenceConfig, Oper
from argon2 import PasswordHasher
from helpers import Conn, Net, commands, find

PASSWORD = "correct horse"
# Cheap argon2id parameters: verifying reads them from the hash, so logins
# in these tests cost microseconds instead of the production ~50 ms.
HASH = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
CHAN = "#townhall"


def make_config(**conference) -> Config:
    # slow_mode=0: these tests have visitors write at test speed; slow mode is
    # tested on its own (test_slow_mode_*), its default in test_config.
    settings = dict(channel=CHAN, title="Ask the mayor", moderators=("moda", "modb"), guests=("mayor",), state="live",
                    slow_mode=0)
    settings.update(conference)
    return attrs.evolve(
        Config(),
        accounts=(
            Account("moda", HASH),
            Account("modb", HASH),
            Account("mayor", HASH),
            Account("boss", HASH, admin=True),
        ),
        opers=(Oper("root", HASH),),
        conferences=(ConferenceConfig(**settings),),
    )


CAPS = ("message-tags", "server-time", "echo-message", "draft/message-redaction", "standard-replies")


def login(net: Net, account: str, caps=CAPS, ip: str = "198.51.100.7") -> Conn:
    conn = net.connect(ip)
    assert conn is not None
    conn.send("CAP LS 302")
    conn.send("CAP REQ :" + " ".join((*caps, "sasl")))
    conn.send(f"NICK {account}")
    conn.send(f"USER {account} 0 * :{account}")
    conn.send("AUTHENTICATE PLAIN")
    blob = base64.b64encode(f"{account}\0{account}\0{PASSWORD}".encode()).decode()
    conn.send(f"AUTHENTICATE {blob}")
    conn.send("CAP END")
    replies = conn.take()
    assert "903" in [m.command for m in replies], replies
    return conn


@pytest.fixture
def net() -> Net:
    return Net(make_config())


def fill_room(net: Net, visitor_caps=CAPS, settle=lambda: None):
    """Two moderators, the guest, a viewer and a visitor (with
    ``visitor_caps``), all in the conference; ``settle`` runs before their
    replies so far are read and set aside."""
    moda, modb, mayor = (login(net, name) for name in ("moda", "modb", "mayor"))
    viewer = net.register("viewer", visitor_caps, ip="203.0.113.1")
    citizen = net.register("citizen", visitor_caps, ip="203.0.113.2")
    for conn in (moda, modb, mayor, viewer, citizen):
        conn.send(f"JOIN {CHAN}")
    settle()
    for conn in (moda, modb, mayor, viewer, citizen):
        conn.take()
    return moda, modb, mayor, viewer, citizen


@pytest.fixture
def room(net: Net):
    return fill_room(net)


def notes(messages, code):
    return [m for m in messages if m.command == "NOTE" and m.params[1] == code]


def fails(messages, code=None):
    return [m for m in messages if m.command == "FAIL" and (code is None or m.params[1] == code)]


def items(messages):
    return [m for m in messages if m.command == "QUEUE" and m.params[1] == "ITEM"]


def ask(citizen: Conn, text: str) -> int:
    replies = citizen.ask(f"PRIVMSG {CHAN} :{text}")
    held = notes(replies, "HELD")
    assert len(held) == 1, replies
    assert held[0].params[2] == CHAN
    return int(held[0].params[3])


def privmsgs(messages):
    return [m for m in messages if m.command == "PRIVMSG"]


# ------------------------------------------------------------ queue basics


def test_visitor_message_is_held_and_only_moderators_hear_of_it(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "When will the bridge reopen?")
    for mod in (moda, modb):
        (event,) = items(mod.take())
        assert event.params[2] == str(item_id) and event.params[3] == "pending"
        assert event.params[-1] == "When will the bridge reopen?"
    assert privmsgs(viewer.take()) == []
    assert items(mayor.take()) == []


def test_approve_publishes_once_and_a_second_moderator_gets_a_fail(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "Question?")
    moda.ask(f"QUEUE {CHAN} APPROVE {item_id}")
    (published,) = privmsgs(viewer.take())
    assert published.params == (CHAN, "Question?")
    assert published.source.startswith("citizen!")
    assert published.tags["confchat/item"] == str(item_id) and "msgid" in published.tags
    assert notes(citizen.take(), "PUBLISHED")
    replies = modb.ask(f"QUEUE {CHAN} APPROVE {item_id}")
    assert fails(replies, "ALREADY_DECIDED")
    assert privmsgs(viewer.take()) == []


def test_status_prefixed_target_does_not_let_a_visitor_bypass_the_queue(room):
    moda, modb, mayor, viewer, citizen = room
    replies = citizen.ask(f"PRIVMSG @{CHAN} :psst moderators")
    assert notes(replies, "HELD")
    assert privmsgs(moda.take()) == []


def test_staff_can_still_address_the_ops_only(room):
    moda, modb, mayor, viewer, citizen = room
    moda.send(f"PRIVMSG @{CHAN} :let's start with the bridge")
    assert [m.params[-1] for m in privmsgs(modb.take())] == ["let's start with the bridge"]
    assert privmsgs(viewer.take()) == []


def test_edit_then_approve_keeps_the_original_in_the_audit(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "why r taxes so high???")
    moda.send(f"QUEUE {CHAN} EDIT {item_id} :Why are taxes so high?")
    assert [m.params[-1] for m in privmsgs(viewer.take())] == ["Why are taxes so high?"]
    audit = [m for m in moda.ask(f"CONF {CHAN} AUDIT") if m.params[1] == "AUDIT"]
    edit = [m for m in audit if m.params[4] == "edit-approve"][0]
    detail = json.loads(edit.params[-1])
    assert detail["original"] == "why r taxes so high???"
    assert detail["text"] == "Why are taxes so high?"


def test_drop_tells_the_author_the_reason(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "spam spam")
    moda.send(f"QUEUE {CHAN} DROP {item_id} :Off topic")
    (declined,) = notes(citizen.take(), "DECLINED")
    assert declined.params[-1].endswith(": Off topic")
    assert privmsgs(viewer.take()) == []


# ------------------------------------------------------------ guest stage


def test_guest_is_told_when_a_moderator_publishes_a_forwarded_question(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "For the mayor")
    moda.send(f"QUEUE {CHAN} FORWARD {item_id}")
    assert [m.params[3] for m in items(mayor.take())] == ["forwarded"]
    moda.send(f"QUEUE {CHAN} APPROVE {item_id}")
    assert [m.params[3] for m in items(mayor.take())] == ["published"]


def test_answer_is_threaded_to_the_question(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "Bridge?")
    moda.send(f"QUEUE {CHAN} FORWARD {item_id}")
    mayor.send(f"ANSWER {CHAN} {item_id} :In March.")
    question, answer = privmsgs(viewer.take())
    assert question.params[1] == "Bridge?"
    assert answer.params[1] == "In March." and answer.source.startswith("mayor!")
    assert answer.tags["+draft/reply"] == question.tags["msgid"]


def test_failed_prepared_publish_keeps_the_prepared_answer(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "Dropped one")
    moda.send(f"QUEUE {CHAN} DROP {item_id}")
    mayor.send(f"PREPARED {CHAN} ADD budget :The budget is balanced.")
    replies = mayor.ask(f"PREPARED {CHAN} PUBLISH budget {item_id}")
    (fail,) = fails(replies)
    assert fail.params[0] == "PREPARED" and fail.params[1] == "ALREADY_DECIDED"
    listed = [m for m in mayor.ask(f"PREPARED {CHAN} LIST") if m.params[1] == "ITEM"]
    assert [m.params[2] for m in listed] == ["budget"]
    mayor.send(f"PREPARED {CHAN} PUBLISH budget")
    assert [m.params[1] for m in privmsgs(viewer.take())] == ["The budget is balanced."]
    assert [m for m in mayor.ask(f"PREPARED {CHAN} LIST") if m.params[1] == "ITEM"] == []


def test_unknown_prepared_subcommand_is_named(room):
    mayor = room[2]
    assert fails(mayor.ask(f"PREPARED {CHAN} FOO"), "UNKNOWN_SUBCOMMAND")


# ------------------------------------------------------------ REDACT


def test_redacted_question_cannot_be_voted_answered_or_highlighted(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "Oops")
    moda.send(f"QUEUE {CHAN} APPROVE {item_id}")
    (published,) = privmsgs(viewer.take())
    moda.take()
    moda.send(f"REDACT {CHAN} {published.tags['msgid']} :personal data")
    (redact,) = find(viewer.take(), "REDACT")
    assert redact.params == (CHAN, published.tags["msgid"], "personal data")
    (event,) = items(moda.take())
    assert "redacted" in event.params[9].split(",")
    assert fails(viewer.ask(f"VOTE {CHAN} {item_id}"), "CANNOT_VOTE")
    assert fails(mayor.ask(f"CONF {CHAN} ANSWERING {item_id}"), "NOT_PUBLISHED")
    assert fails(mayor.ask(f"ANSWER {CHAN} {item_id} :Sure"), "REDACTED")
    questions = [m for m in moda.ask(f"CONF {CHAN} QUESTIONS") if m.params[1] == "QUESTION"]
    assert questions == []
    assert privmsgs(viewer.take()) == []


def test_clients_without_redaction_are_told_in_a_notice(net, room):
    moda, modb, mayor, viewer, citizen = room
    plain = net.register("plain", ip="203.0.113.9")
    plain.send(f"JOIN {CHAN}")
    moda.send(f"PRIVMSG {CHAN} :welcome")
    msgid = privmsgs(viewer.take())[0].tags["msgid"]
    plain.take()
    moda.send(f"REDACT {CHAN} {msgid}")
    got = plain.take()
    assert find(got, "REDACT") == []
    assert [m.params[1] for m in find(got, "NOTICE")] == ["A message was deleted by the moderators"]


# ------------------------------------------------------------ votes


def test_a_nick_change_does_not_give_a_second_vote(room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "Vote for me")
    moda.send(f"QUEUE {CHAN} APPROVE {item_id}")
    assert notes(viewer.ask(f"VOTE {CHAN} {item_id}"), "COUNTED")
    viewer.send("NICK viewer2")
    assert fails(viewer.ask(f"VOTE {CHAN} {item_id}"), "ALREADY_VOTED")


# ------------------------------------------------------------ staff messages


def test_staff_must_join_to_write(net):
    moda = login(net, "moda")
    replies = moda.ask(f"PRIVMSG {CHAN} :hello")
    assert [m.command for m in replies] == ["404"]


def test_staff_notice_stays_a_notice(room):
    moda, modb, mayor, viewer, citizen = room
    moda.send(f"NOTICE {CHAN} :We start in five minutes")
    got = viewer.take()
    assert [m.params[1] for m in find(got, "NOTICE")] == ["We start in five minutes"]
    assert privmsgs(got) == []


# ------------------------------------------------------------ channel modes still apply


def test_moderated_channel_mode_silences_visitors(room):
    moda, modb, mayor, viewer, citizen = room
    moda.send(f"MODE {CHAN} +m")
    assert fails(citizen.ask(f"PRIVMSG {CHAN} :hello"), "READ_ONLY")
    assert items(moda.take()) == []


def test_channel_ban_silences_a_visitor(room):
    moda, modb, mayor, viewer, citizen = room
    moda.send(f"MODE {CHAN} +b citizen!*@*")
    assert fails(citizen.ask(f"PRIVMSG {CHAN} :hello"), "BANNED")


# ------------------------------------------------------------ bans and mutes


def test_partial_ban_masks_are_completed_and_the_reply_reads_well(room):
    moda, modb, mayor, viewer, citizen = room
    (note,) = notes(moda.ask(f"CONF {CHAN} MUTE ~citizen@* 60 :calm down"), "MUTE")
    assert note.params[-1] == "*!~citizen@* muted for 60 seconds (1 present)"
    assert fails(citizen.ask(f"PRIVMSG {CHAN} :hello"), "MUTED")
    (note,) = notes(moda.ask(f"CONF {CHAN} BAN troll"), "BAN")
    assert note.params[-1] == "troll!*@* banned (0 present)"


def test_ban_by_nick_keeps_a_visitor_out_after_reconnecting(net, room):
    moda, modb, mayor, viewer, citizen = room
    moda.send(f"CONF {CHAN} BAN citizen 0 :abuse")
    kicks = [m.params for m in find(citizen.take(), "KICK")]
    assert kicks == [(CHAN, "citizen", "abuse")]
    assert find(viewer.take(), "KICK") == []  # the auditorium hides it
    citizen.send("QUIT")
    # A plain IRC visitor is banned by connection and nick: back under the
    # same nick, from any address, it stays out (a web visitor's identity
    # keeps it out under any nick: tests/core/test_fair_bans.py).
    again = net.register("citizen", CAPS, ip="198.51.100.99")
    assert [m.command for m in again.ask(f"JOIN {CHAN}")] == ["474"]


# ------------------------------------------------------------ roles


def test_operator_gets_status_when_opering_after_joining(net, room):
    moda, modb, mayor, viewer, citizen = room
    lurker = net.register("lurker", CAPS, ip="203.0.113.3")
    lurker.send(f"JOIN {CHAN}")
    moda.take()
    lurker.take()
    lurker.send(f"OPER root :{PASSWORD}")
    modes = find(moda.take(), "MODE")
    assert [m.params for m in modes] == [(CHAN, "+o", "lurker")]


def test_sasl_after_registration_gives_the_role(net, room):
    moda, modb, mayor, viewer, citizen = room
    late = net.register("latecomer", CAPS, ip="203.0.113.4")
    late.send(f"JOIN {CHAN}")
    late.send("CAP REQ sasl")
    late.send("AUTHENTICATE PLAIN")
    moda.take()
    blob = base64.b64encode(f"modb\0modb\0{PASSWORD}".encode()).decode()
    assert "903" in [m.command for m in late.ask(f"AUTHENTICATE {blob}")]
    assert [m.params for m in find(moda.take(), "MODE")] == [(CHAN, "+o", "latecomer")]
    assert items(late.take()) == []
    ask(citizen, "now seen by latecomer")
    assert len(items(late.take())) == 1


def test_authenticate_needs_the_sasl_capability(net):
    conn = net.connect()
    replies = conn.ask("AUTHENTICATE PLAIN")
    assert [m.command for m in replies] == ["904"]


def test_repeated_wrong_passwords_end_the_connection(net):
    conn = net.connect()
    conn.send("CAP LS 302")
    conn.send("CAP REQ sasl")
    wrong = base64.b64encode(b"moda\0moda\0wrong").decode()
    for _ in range(5):
        conn.send("AUTHENTICATE PLAIN")
        conn.send(f"AUTHENTICATE {wrong}")
    assert conn.closed
    assert b"Too many failed login attempts" in conn.take_raw()


def test_conf_create_on_an_existing_channel_tells_its_members(net):
    visitor = net.register("visitor", CAPS, ip="203.0.113.5")
    boss = login(net, "boss")
    for conn in (visitor, boss):
        conn.send("JOIN #budget")
    for conn in (visitor, boss):
        conn.take()
    boss.send("CONF CREATE #budget :Budget questions")
    got = visitor.take()
    assert [m.params for m in find(got, "TOPIC")] == [("#budget", "Budget questions")]
    # The visitor was op as the plain channel's first joiner; in a
    # conference, status follows the role, and everyone is told.
    assert [m.params for m in find(got, "MODE")] == [("#budget", "-o", "visitor"), ("#budget", "+o", "boss")]
    assert notes(got, "CONFERENCE")[0].params[5] == "visitor"


def test_conf_role_is_admin_only_and_says_so(room):
    moda = room[0]
    (fail,) = fails(moda.ask(f"CONF {CHAN} ROLE viewer guest"), "NEED_ROLE")
    assert "admin" in fail.params[-1]


# ------------------------------------------------------------ state and schedule


def test_state_change_is_confirmed_and_beats_the_schedule(net):
    net.config = make_config(state="scheduled", opens="2023-11-14T22:00:00+00:00", starts="2023-11-14T22:10:00+00:00")
    net = Net(net.config)
    net.server.tick()
    assert net.server.conferences[CHAN].state == "live"
    moda = login(net, "moda")
    (note,) = notes(moda.ask(f"CONF {CHAN} STATE open"), "STATE")
    assert note.params[-1] == f"{CHAN} is now open"
    net.advance(5)
    net.server.tick()
    assert net.server.conferences[CHAN].state == "open"


def test_slow_mode_announces_whole_seconds_left(room, net):
    moda, modb, mayor, viewer, citizen = room
    moda.send(f"CONF {CHAN} SET slow_mode 10")
    ask(citizen, "first")
    net.advance(4)
    (fail,) = fails(citizen.ask(f"PRIVMSG {CHAN} :second"), "SLOW_MODE")
    assert fail.params[-2] == "6"


# ------------------------------------------------------------ plain IRC bits


def test_too_many_targets_are_refused_with_407(net):
    alice = net.register("alice")
    names = ",".join(f"#c{i}" for i in range(6))
    replies = alice.ask(f"PRIVMSG {names} :hi")
    codes = [m.command for m in replies]
    assert codes.count("407") == 1 and codes.count("403") == net.config.limits.max_targets


def test_names_counts_one_person(net):
    moda = login(net, "moda")
    visitor = net.register("visitor", CAPS, ip="203.0.113.5")
    moda.send(f"JOIN {CHAN}")
    visitor.send(f"JOIN {CHAN}")
    (audience,) = notes(visitor.take(), "AUDIENCE")
    assert audience.params[-1] == "1 person in the audience"


# ------------------------------------------------------------ transcript links


def test_export_link_is_for_moderators_single_use_and_expires(net, room):
    moda, modb, mayor, viewer, citizen = room
    assert fails(citizen.ask(f"CONF {CHAN} EXPORT html"), "NEED_ROLE")
    (reply,) = [m for m in moda.ask(f"CONF {CHAN} EXPORT json internal") if m.params[1] == "EXPORT"]
    assert reply.params[2:4] == ("json", "internal")
    token = reply.params[4].removeprefix("/export/")
    assert net.server.exports.take(token) == (CHAN, "json", True)
    assert net.server.exports.take(token) is None  # used
    (reply,) = [m for m in moda.ask(f"CONF {CHAN} EXPORT") if m.params[1] == "EXPORT"]
    net.advance(301)
    assert net.server.exports.take(reply.params[4].removeprefix("/export/")) is None  # expired
    assert fails(moda.ask(f"CONF {CHAN} EXPORT pdf"), "INVALID_FORMAT")


def test_answering_needs_to_be_in_the_conference(net, room):
    moda, modb, mayor, viewer, citizen = room
    item_id = ask(citizen, "Still there?")
    mayor.send(f"PART {CHAN}")
    assert fails(mayor.ask(f"ANSWER {CHAN} {item_id} :Yes"), "NOT_JOINED")
    mayor.send(f"PREPARED {CHAN} ADD later :Later")
    assert fails(mayor.ask(f"PREPARED {CHAN} PUBLISH later"), "NOT_JOINED")
    assert privmsgs(viewer.take()) == []


def test_a_guest_joining_late_is_given_the_forwarded_questions(net, room):
    moda, modb, mayor, viewer, citizen = room
    first, second = ask(citizen, "For you"), ask(citizen, "Not for you")
    moda.send(f"QUEUE {CHAN} FORWARD {first}")
    mayor.send(f"PART {CHAN}")
    replies = mayor.ask(f"JOIN {CHAN}")
    # Only the forwarded question: the pending one stays the moderators' business.
    assert [(m.params[2], m.params[3]) for m in items(replies)] == [(str(first), "forwarded")]
    assert str(second) not in [m.params[2] for m in items(replies)]


# ------------------------------------------------------------ memory and the subcommand tables


def _clients_alive() -> int:
    import gc

    from confchat.core.client import Client

    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Client))


def test_visitors_who_ask_and_quit_leave_no_client_behind():
    net = Net(make_config(slow_mode=30))
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    baseline = _clients_alive()
    for n in range(1000):
        visitor = net.register(f"v{n}", CAPS, ip=f"203.0.{n // 250}.{n % 250 + 1}")
        visitor.send(f"JOIN {CHAN}")
        ask(visitor, f"Question {n}")
        visitor.send("QUIT :bye")
        del visitor
        moda.take()
    conference = net.server.conferences[CHAN]
    assert len(conference.queue.order) == 1000  # the questions stay...
    assert _clients_alive() == baseline  # ...their authors' connections do not
    moda.send(f"QUEUE {CHAN} APPROVE 1")  # and deciding on them needs no author
    assert [m.params[3] for m in items(moda.take())] == ["published"]


def test_every_queue_subcommand_needs_a_moderator(room):
    from confchat.core.handlers.queue import QUEUE_SUBCOMMANDS

    viewer = room[3]
    for name in QUEUE_SUBCOMMANDS:
        (fail,) = fails(viewer.ask(f"QUEUE {CHAN} {name} 1 top"))
        assert (fail.params[0], fail.params[1]) == ("QUEUE", "NEED_ROLE"), name


@pytest.mark.parametrize("command", ["CONF", "QUEUE", "PREPARED"])
def test_every_table_names_an_unknown_subcommand(room, command):
    moda = room[0]
    (fail,) = fails(moda.ask(f"{command} {CHAN} FROBNICATE"))
    assert fail.params[1] == "UNKNOWN_SUBCOMMAND" and "FROBNICATE" in fail.params[-1]


@pytest.mark.parametrize("line", [f"QUEUE {CHAN} MOVE 1", f"CONF {CHAN} SET title", f"PREPARED {CHAN} DEL"])
def test_the_tables_minimum_parameters_are_checked_once(room, line):
    moda, mayor = room[0], room[2]
    conn = mayor if line.startswith("PREPARED") else moda
    assert [m.command for m in conn.ask(line)] == ["461"]


def test_channel_modes_set_by_mistake_never_lock_the_staff_out():
    """Found by bench/fuzz.py: a conference channel left +i (or +k, +l, +b)
    and then emptied let nobody back in, its own moderators included. The
    conference's staff always get in; visitors still meet the modes."""
    net = Net(make_config())
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    moda.send(f"MODE {CHAN} +iklb secret 1 *!*@*")
    moda.send(f"PART {CHAN}")
    moda.take()
    citizen = net.register("citizen", CAPS, ip="203.0.113.2")
    assert commands(citizen.ask(f"JOIN {CHAN}")) == ["475"]  # the key is checked first, for a visitor
    for account in ("moda", "mayor"):
        staff = moda if account == "moda" else login(net, account)
        replies = staff.ask(f"JOIN {CHAN}")
        assert any(m.command == "JOIN" for m in replies), replies
        assert "473" not in commands(replies) and "475" not in commands(replies)


@pytest.mark.parametrize("mask", ["a b!*@*", "troll\x01!*@*", "\x7f"])
def test_a_ban_mask_with_spaces_or_control_characters_is_refused(mask):
    """Found by bench/fuzz.py: such masks were stored, matched nobody and
    were listed as ``*``."""
    net = Net(make_config())
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    moda.take()
    for kind in ("BAN", "MUTE"):
        replies = moda.ask(f"CONF {CHAN} {kind} :{mask}")
        (fail,) = [m for m in replies if m.command == "FAIL"]
        assert fail.params[:3] == ("CONF", "INVALID_MASK", CHAN)
    assert net.server.conferences[CHAN].restrictions == []
