"""The cluster's log without Redis: two cores (two nodes) carry out the same
entries in the same order and end up with the same conferences; each answers
only its own connections (core/ops.py, cluster/log.py)."""

from __future__ import annotations

import json

from confchat.cluster import log as clog
from confchat.core.ops import Op, decode, encode, refused
from confchat.moderation.effects import Actor
from confchat.storage.rows import conference_row, item_row
from helpers import Net, find
from test_conference import CHAN, login, make_config

CAPS = ("message-tags", "server-time", "echo-message", "standard-replies")


class Log:
    """The cluster's log: the nodes' proposals in one order, each entry
    carried out by every node with the log's id and time."""

    def __init__(self) -> None:
        self.nodes: list[Net] = []
        self.pending: list[Op] = []
        self.told: list[Op] = []  # told ops (core/direct.py), published by tell_all
        self.down = False
        self.ms = 1_800_000_000_000

    def join(self, net: Net) -> Net:
        self.nodes.append(net)
        net.server.join_cluster(len(self.nodes), self)
        return net

    def propose(self, op: Op) -> None:
        if self.down:  # as cluster/link.py while Redis is away
            refused(self.nodes[op.node - 1].server, op)
            return
        # Through the wire format, as Redis carries it.
        self.pending.append(clog.read(json.loads(json.dumps(clog.fields(op)))))

    def tell(self, op: Op) -> bool:
        if self.down:
            refused(self.nodes[op.node - 1].server, op)
            return False
        self.told.append(clog.told(clog.fields(op)["op"]))
        return True

    def tell_all(self) -> int:
        """Publish what was told: every node hears it (its teller ignores it)."""
        told, self.told = self.told, []
        for op in told:
            for net in self.nodes:
                net.server.told(op)
        return len(told)

    def run(self) -> int:
        count = 0
        while self.pending:
            op = self.pending.pop(0)
            self.ms += 7
            entry = f"{self.ms}-0"
            for net in self.nodes:
                net.server.logged(op, entry, clog.entry_time(entry))
            count += 1
        return count


def state(net: Net) -> tuple:
    conference = net.server.conferences[CHAN]
    row = conference_row(conference)
    return (
        row["next_id"], row["restrictions"], row["shield"], row["prepared"],
        [item_row(i) | {"author_id": None} for i in conference.queue.items.values()],
        [(p.msgid, p.source, p.text, p.at) for p in conference.published.values()],
        [(a.at, a.actor, a.action, a.item) for a in conference.audit],
        list(conference.queue.order),
    )


def two_nodes() -> tuple[Log, Net, Net]:
    log = Log()
    return log, log.join(Net(make_config(mode="moderated"))), log.join(Net(make_config(mode="moderated")))


def test_ops_survive_the_wire_format() -> None:
    op = Op(CHAN, "approve", Actor(1 << 32 | 5, "moda", "moda!u@h", "moda", True, "198.51.100.7", ("$c:x",)),
            (3, None), "QUEUE", ("3",), ("CONF", "SET", "x", CHAN), 2)
    assert decode(json.loads(json.dumps(encode(op)))) == op


def test_two_nodes_carrying_out_one_log_keep_the_same_conference() -> None:
    log, one, two = two_nodes()
    moderator = login(two, "moda", CAPS)
    moderator.send(f"JOIN {CHAN}")
    citizens = [one.register(f"citizen{i}", CAPS, ip=f"203.0.113.{i}") for i in range(3)]
    for citizen in citizens:
        citizen.send(f"JOIN {CHAN}")
    for i, citizen in enumerate(citizens):
        citizen.send(f"PRIVMSG {CHAN} :Question {i}")
    assert "HELD" not in [n.params[1] for n in find(citizens[0].take(), "NOTE")]  # not before the log has it
    assert log.run() == 11  # four nick claims, four arrivals (presence: the moderator too), three questions
    assert sorted(m.nick for m in two.server.elsewhere[CHAN].values()) == ["citizen0", "citizen1", "citizen2"]
    assert not one.server.elsewhere.get(CHAN)  # a node keeps its own visitors as connections
    assert [n.params[1] for n in find(citizens[0].take(), "NOTE") if n.params[1] == "HELD"] == ["HELD"]
    moderator.send(f"QUEUE {CHAN} MOVE 3 top")
    moderator.send(f"QUEUE {CHAN} APPROVE 2")
    moderator.send(f"QUEUE {CHAN} DROP 1 :Off topic")
    moderator.send(f"CONF {CHAN} MUTE citizen2 60 :Calm down")
    moderator.send(f"PREPARED {CHAN} ADD tram :Spring 2027")
    log.run()
    assert state(one) == state(two)
    conference = one.server.conferences[CHAN]
    assert conference.queue.order == [3]
    (published,) = conference.published.values()
    assert published.text == "Question 1" and published.msgid.startswith("18000000000")
    # The author is on node one: told there; node two has no such connection.
    assert "PUBLISHED" in [n.params[1] for n in find(citizens[1].take(), "NOTE")]
    assert "DECLINED" in [n.params[1] for n in find(citizens[0].take(), "NOTE")]


def test_a_race_is_decided_by_the_log_and_only_the_loser_is_told() -> None:
    log, one, two = two_nodes()
    mod_a, mod_b = login(one, "moda", CAPS), login(two, "modb", CAPS)
    for mod in (mod_a, mod_b):
        mod.send(f"JOIN {CHAN}")
    citizen = one.register("citizen", CAPS, ip="203.0.113.9")
    citizen.send(f"JOIN {CHAN}")
    citizen.send(f"PRIVMSG {CHAN} :Who wins?")
    log.run()
    for conn in (mod_a, mod_b, citizen):
        conn.take()
    mod_b.send(f"QUEUE {CHAN} APPROVE 1")
    mod_a.send(f"QUEUE {CHAN} APPROVE 1")
    assert mod_a.take() == [] and mod_b.take() == []  # nothing happens until the log has them
    log.run()
    a, b = mod_a.take(), mod_b.take()
    assert [m.params[1] for m in find(a, "FAIL")] == ["ALREADY_DECIDED"]  # second in the log
    assert find(b, "FAIL") == []
    assert len([m for m in a if m.command == "PRIVMSG"]) == 1
    assert len([m for m in b if m.command == "PRIVMSG"]) == 1
    assert state(one) == state(two)
    assert one.server.conferences[CHAN].queue.items[1].decided_by == "modb"


def test_metrics_count_on_the_node_that_took_the_request() -> None:
    log, one, two = two_nodes()
    citizen = one.register("citizen", CAPS, ip="203.0.113.9")
    citizen.send(f"JOIN {CHAN}")
    citizen.send(f"PRIVMSG {CHAN} :Counted once")
    log.run()
    submitted = lambda net: sum(n for (_, outcome, _), n in net.server.stats.messages.items() if outcome == "submitted")  # noqa: E731
    assert (submitted(one), submitted(two)) == (1, 0)


def test_entry_ids_compare_as_numbers_and_give_the_log_time() -> None:
    assert clog.entry_key("1700000000010-2") > clog.entry_key("1700000000009-17")
    assert clog.entry_time("1700000000010-2") == 1700000000.010
    position = clog.Position()
    assert position.take_changes().entry == clog.START


def test_a_conference_created_on_one_node_exists_on_both_and_a_race_for_its_name_has_one_winner() -> None:
    log, one, two = two_nodes()
    boss_one, boss_two = login(one, "boss", CAPS), login(two, "boss", CAPS, ip="198.51.100.8")
    boss_one.send("CONF CREATE #budget :The budget")
    boss_two.send("CONF CREATE #budget :Another title")
    log.run()
    assert one.server.conferences["#budget"].title == two.server.conferences["#budget"].title == "The budget"
    assert "CREATED" in [m.params[1] for m in find(boss_one.take(), "NOTE")]
    assert [m.params[1] for m in find(boss_two.take(), "FAIL")] == ["ALREADY_EXISTS"]
    # Ops on the new conference are carried out on both.
    boss_two.send("CONF #budget SET mode open")
    log.run()
    assert one.server.conferences["#budget"].mode.value == two.server.conferences["#budget"].mode.value == "open"


def test_moderators_see_and_remove_visitors_of_another_node() -> None:
    log, one, two = two_nodes()
    moderator = login(two, "moda", CAPS)
    moderator.send(f"JOIN {CHAN}")
    troll = one.register("troll", CAPS, ip="203.0.113.66")
    troll.send(f"JOIN {CHAN}")
    calm = one.register("calm", CAPS, ip="203.0.113.67")
    calm.send(f"JOIN {CHAN}")
    log.run()
    moderator.take()
    moderator.send(f"CONF {CHAN} AUDIENCE")
    listed = [m.params[2] for m in moderator.take() if m.command == "CONF" and m.params[1] == "MEMBER"]
    assert listed == ["calm", "troll"]
    troll.send("NICK troll2")  # the other node's list follows a nick change
    log.run()
    assert sorted(m.nick for m in two.server.elsewhere[CHAN].values()) == ["calm", "troll2"]
    moderator.send(f"CONF {CHAN} DISCONNECT troll2 :Enough")
    log.run()
    assert troll.closed
    assert not calm.closed
    assert sorted(m.nick for m in two.server.elsewhere[CHAN].values()) == ["calm"]  # its departure was logged
    moderator.send(f"CONF {CHAN} BAN calm")  # by nick, on another node: the person, not the address
    log.run()
    assert calm.closed is False and calm.client.channels == {}
    (ban,) = one.server.conferences[CHAN].restrictions
    assert ban.mask.startswith("$c:") and ban.mask.endswith(",calm!*@*")


def test_accounts_made_on_one_node_sign_in_on_the_other_and_deleting_one_closes_it_everywhere() -> None:
    from test_admin import AdminNet  # its shell also hashes new passwords

    log = Log()
    one, two = (log.join(AdminNet(make_config(mode="moderated"))) for _ in range(2))
    boss = login(one, "boss", CAPS)
    boss.send("ACCOUNTS CREATE newmod staff :a long enough password")
    one.run_verifications()  # the shell hashes it (core/logins.py)
    log.run()
    assert "CREATED" in [m.params[1] for m in find(boss.take(), "NOTE")]
    assert two.server.account_book.get("newmod") is not None
    # Sign in to the new account on node two, with its password.
    conn = two.connect("198.51.100.20")
    conn.send("CAP REQ :sasl")
    conn.send("NICK newmod")
    conn.send("USER newmod 0 * :newmod")
    conn.send("AUTHENTICATE PLAIN")
    import base64

    conn.send("AUTHENTICATE " + base64.b64encode(b"newmod\0newmod\0a long enough password").decode())
    two.run_verifications()
    conn.send("CAP END")
    assert "903" in [m.command for m in conn.take()]
    boss.send("ACCOUNTS ADMIN newmod on")
    log.run()
    assert two.server.account_book.get("newmod").admin and one.server.account_book.get("newmod").admin
    boss.send("ACCOUNTS DELETE newmod")
    log.run()
    assert conn.closed  # logged in on the other node: closed there
    assert one.server.account_book.get("newmod") is None and two.server.account_book.get("newmod") is None
    assert [e.action for e in one.server.account_book.audit] == [e.action for e in two.server.account_book.audit] == [
        "create", "admin", "delete"]


def test_a_nick_is_one_persons_in_the_cluster_and_a_tie_goes_to_the_first_claim_in_the_log() -> None:
    log, one, two = two_nodes()
    marie = one.register("Marie", CAPS, ip="203.0.113.1")
    log.run()
    assert two.server.elsewhere_nicks["marie"][0] == 1
    other = two.connect("203.0.113.2")
    other.send("NICK marie")
    assert [m.command for m in other.take()] == ["433"]  # held on node one
    # Both nodes give "Paul" at the same moment: node two's claim is logged first.
    late = one.connect("203.0.113.3")
    early = two.connect("203.0.113.4")
    for conn in (early, late):
        conn.send("CAP LS 302")
        conn.send("CAP REQ :standard-replies")
        conn.send("NICK Paul")
        conn.send("USER paul 0 * :Paul")
        conn.send("CAP END")
    assert "001" in [m.command for m in late.take()] and "001" in [m.command for m in early.take()]
    log.pending.sort(key=lambda op: op.node != 2)  # node two's entries first
    log.run()
    assert early.client.nick == "Paul"
    assert late.client.nick.startswith("Guest") and len(late.client.nick) < 16  # gave way, told why
    assert "NICK_TAKEN" in [m.params[1] for m in find(late.take(), "NOTE")]
    assert two.server.elsewhere_nicks.get(casefold_nick := "paul") is None and one.server.elsewhere_nicks[casefold_nick][0] == 2
    # Quitting frees the nick everywhere.
    marie.send("QUIT :bye")
    log.run()
    assert "marie" not in two.server.elsewhere_nicks
    other.send("NICK marie")
    other.send("USER m 0 * :m")
    assert "001" in [m.command for m in other.take()]


def test_the_log_is_cut_only_behind_every_running_node_and_its_retention() -> None:
    day = 86400
    now = 1_800_000_000.0
    recent = f"{int((now - 60) * 1000)}-0"  # a node a minute behind
    assert clog.trim_before([recent], now, 0) is None  # retention 0: kept whole
    assert clog.trim_before([recent], now, day) == f"{int((now - day) * 1000)}-0"  # a day back
    old = f"{int((now - 2 * day) * 1000)}-4"  # a node two days behind holds it there
    assert clog.trim_before([recent, old], now, day) == old


def test_a_node_whose_entries_were_cut_from_the_log_is_told() -> None:
    assert not clog.gap("0-0", "5-0", 10, 10)  # nothing ever removed
    assert clog.gap("0-0", "5-0", 12, 10)  # a new node, the log's start is gone
    assert clog.gap("3-0", "5-0", 12, 10)  # stands before what is left
    assert not clog.gap("6-1", "5-0", 12, 10)  # what it needs is all there


def test_private_messages_cross_nodes_and_a_visitor_may_answer_only_the_staff_who_wrote_first() -> None:
    log = Log()  # an event server's defaults: visitors write privately only to staff who wrote first
    one, two = (log.join(Net(make_config(mode="moderated"), event_defaults=True)) for _ in range(2))
    citizen = one.register("Marie", (*CAPS, "account-tag"), ip="203.0.113.1")
    other = one.register("paul", CAPS, ip="203.0.113.2")
    moderator = login(two, "moda", CAPS)
    log.run()
    log.tell_all()  # the moderator's password check, for the other node's back-off
    for conn in (citizen, other, moderator):
        conn.take()
    citizen.send("PRIVMSG moda :may I?")  # an event server: a visitor writes first to nobody
    assert [m.params[1:] for m in citizen.take() if m.command == "531"] == [
        ("moda", "Private messages are closed to visitors on this server")]
    assert moderator.take() == [] and log.told == []
    moderator.send("@+draft/reply=x PRIVMSG marie :Please rephrase your question")
    (echo,) = [m for m in moderator.take() if m.command == "PRIVMSG"]
    assert log.tell_all() == 1
    (got,) = [m for m in citizen.take() if m.command == "PRIVMSG"]
    assert got.source.startswith("moda!") and got.params == ("Marie", "Please rephrase your question")
    assert got.tags["msgid"] == echo.tags["msgid"] and got.tags["account"] == "moda"
    assert got.tags["+draft/reply"] == "x"
    citizen.send("PRIVMSG MODA :Done, thank you")  # answering the staff member who wrote first
    log.tell_all()
    (answer,) = [m for m in moderator.take() if m.command == "PRIVMSG"]
    assert answer.source.startswith("Marie!") and answer.params == ("moda", "Done, thank you")
    other.send("PRIVMSG moda :me too")  # the other visitor was never written to
    assert [m.command for m in other.take()] == ["531"]
    assert log.tell_all() == 0 and other.take() == []
    moderator.send("PRIVMSG nobody :hello")
    assert [m.params[1:] for m in moderator.take() if m.command == "401"] == [("nobody", "No such nick/channel")]


def test_a_private_message_to_another_nodes_visitor_who_left_is_lost_quietly_and_nothing_is_kept() -> None:
    log, one, two = two_nodes()
    citizen = one.register("Marie", CAPS, ip="203.0.113.1")
    moderator = login(two, "moda", CAPS)
    log.run()
    log.tell_all()  # the password check, for node one's back-off
    moderator.take()
    moderator.send("PRIVMSG marie :are you there?")
    citizen.send("QUIT :bye")
    assert log.tell_all() == 1  # arrives after Marie left one: nobody to deliver to
    assert [m for m in moderator.take() if m.command == "FAIL"] == []
    assert log.pending == [m for m in log.pending if m.name not in ("private", "relay")]  # told, never logged


def test_staff_only_messages_and_typing_reach_the_staff_of_the_conference_on_every_node() -> None:
    log, one, two = two_nodes()
    mod_a, mod_b, mayor = login(one, "moda", CAPS), login(two, "modb", CAPS), login(two, "mayor", CAPS)
    citizen = two.register("citizen", CAPS, ip="203.0.113.9")
    for conn in (mod_a, mod_b, mayor, citizen):
        conn.send(f"JOIN {CHAN}")
    log.run()
    log.tell_all()  # the password checks, for each other's back-off
    for conn in (mod_a, mod_b, mayor, citizen):
        conn.take()
    mod_a.send(f"PRIVMSG @{CHAN} :Moderators only: take item 5 next")
    mod_a.send(f"PRIVMSG +{CHAN} :Mayor, the tram question is coming")
    mod_a.send(f"@+typing=active TAGMSG {CHAN}")
    echoes = [m for m in mod_a.take() if m.command in ("PRIVMSG", "TAGMSG")]
    assert log.tell_all() == 3
    got_b = [m for m in mod_b.take() if m.command in ("PRIVMSG", "TAGMSG")]
    assert [(m.command, m.params) for m in got_b] == [
        ("PRIVMSG", (f"@{CHAN}", "Moderators only: take item 5 next")),
        ("PRIVMSG", (f"+{CHAN}", "Mayor, the tram question is coming")), ("TAGMSG", (CHAN,))]
    assert [m.tags["msgid"] for m in got_b] == [m.tags["msgid"] for m in echoes]
    got_mayor = [(m.command, m.params[0]) for m in mayor.take() if m.command in ("PRIVMSG", "TAGMSG")]
    assert got_mayor == [("PRIVMSG", f"+{CHAN}"), ("TAGMSG", CHAN)]  # a guest: not the moderators' line
    assert [m.command for m in citizen.take() if m.command in ("PRIVMSG", "TAGMSG")] == ["TAGMSG"]
    assert not one.server.conferences[CHAN].published  # relayed, not published


def test_a_message_the_cluster_cannot_take_is_refused_and_not_echoed() -> None:
    log, one, two = two_nodes()
    one.register("Marie", CAPS, ip="203.0.113.1")
    moderator = login(two, "moda", CAPS)
    log.run()
    moderator.take()
    log.down = True
    moderator.send("PRIVMSG marie :hello?")
    moderator.send("NOTICE marie :hello?")  # NOTICE: never an error reply
    got = moderator.take()
    assert [(m.command, m.params[1:]) for m in got] == [
        ("FAIL", ("CLUSTER_UNAVAILABLE", "marie",
                  "The cluster cannot be reached: your message did not reach the other nodes"))]


LABELED = (*CAPS, "labeled-response", "batch")


def test_a_labeled_command_gets_its_answers_under_its_label_once_the_log_has_carried_it_out() -> None:
    log, one, two = two_nodes()
    mod_a, mod_b = login(one, "moda", LABELED), login(two, "modb", LABELED)
    citizen = two.register("citizen", CAPS, ip="203.0.113.9")
    for conn in (mod_a, mod_b, citizen):
        conn.send(f"JOIN {CHAN}")
    for text in ("First", "Second", "Third"):
        citizen.send(f"PRIVMSG {CHAN} :{text}")
    log.run()
    for conn in (mod_a, mod_b, citizen):
        conn.take()
    mod_b.send(f"QUEUE {CHAN} APPROVE 1")
    mod_a.send(f"@label=race QUEUE {CHAN} APPROVE 1")  # second in the log: loses
    assert mod_a.take() == []  # no ACK before the answer is known
    log.run()
    (failed,) = [m for m in mod_a.take() if m.tags.get("label") == "race"]
    assert failed.command == "FAIL" and failed.params[1] == "ALREADY_DECIDED"
    mod_a.send(f"@label=bulk QUEUE {CHAN} APPROVE 2,3")
    mod_a.send(f"@label=list QUEUE {CHAN} LIST")  # waits for the approvals: it sees them done
    assert mod_a.take() == []
    log.run()
    got = mod_a.take()
    (opened,) = [m for m in got if m.command == "BATCH" and m.params[0].startswith("+")]
    assert opened.tags["label"] == "bulk" and opened.params[1] == "labeled-response"
    bulk = [m for m in got if m.tags.get("batch") == opened.params[0][1:]]
    assert [m.params[-1] for m in bulk if m.command == "PRIVMSG"] == ["Second", "Third"]
    # The listing after them, one line (so labeled itself): nothing left waiting.
    assert [(m.command, m.params[1:], m.tags["label"]) for m in got[-1:]] == [("QUEUE", ("END", "0 waiting"), "list")]
    mod_a.send(f"@label=lost QUEUE {CHAN} DROP 1")
    assert mod_a.take() == []
    for op in log.pending:  # the write to Redis failed (cluster/link.py refuses the batch)
        refused(one.server if op.node == 1 else two.server, op)
    log.pending.clear()
    (lost,) = mod_a.take()
    assert lost.tags["label"] == "lost" and lost.params[1] == "CLUSTER_UNAVAILABLE"
    log.down = True  # refused at once: the FAIL is the labeled answer
    mod_a.send(f"@label=down QUEUE {CHAN} DROP 1")
    (refused_now,) = mod_a.take()
    assert refused_now.tags["label"] == "down" and refused_now.params[1] == "CLUSTER_UNAVAILABLE"


def test_a_labeled_command_that_proposes_nothing_is_acknowledged_at_once_in_a_cluster() -> None:
    log, one, _ = two_nodes()
    mod_a = login(one, "moda", LABELED)
    mod_a.send("@label=p PING :x")
    (pong,) = mod_a.take()
    assert pong.command == "PONG" and pong.tags["label"] == "p"
    assert one.server.inflight.waiting == {}


def test_the_staff_see_another_nodes_visitors_come_change_nick_and_go_as_they_see_their_own() -> None:
    log, one, two = two_nodes()
    moderator = login(two, "moda", ("extended-join", *CAPS))
    viewer = two.register("viewer", CAPS, ip="203.0.113.5")
    for conn in (moderator, viewer):
        conn.send(f"JOIN {CHAN}")
    log.run()
    moderator.take(), viewer.take()
    carol = one.register("carol", CAPS, ip="203.0.113.7")
    carol.send(f"JOIN {CHAN}")
    log.run()
    (joined,) = find(moderator.take(), "JOIN")
    assert joined.source.startswith("carol!") and joined.params == (CHAN, "*", "carol Realname")
    assert find(viewer.take(), "JOIN") == []  # an auditorium: visitors see the staff only
    moderator.send(f"NAMES {CHAN}")
    names = " ".join(m.params[-1] for m in find(moderator.take(), "353"))
    assert sorted(names.split()) == ["@moda", "carol", "viewer"]
    carol.send("NICK carole")
    log.run()
    (renamed,) = find(moderator.take(), "NICK")
    assert renamed.source.startswith("carol!") and renamed.params == ("carole",)
    carol.send("QUIT :Off to bed")
    log.run()
    (left,) = find(moderator.take(), "PART")
    assert left.source.startswith("carole!") and left.params == (CHAN, "Quit: Off to bed")
    assert two.server.visitors_present(two.server.channels[CHAN]) == 1


def test_a_node_telling_its_visitors_again_or_lost_changes_what_the_staff_see_only_where_it_changed() -> None:
    log, one, two = two_nodes()
    moderator = login(two, "moda", CAPS)
    moderator.send(f"JOIN {CHAN}")
    stays, goes = (one.register(nick, CAPS, ip=f"203.0.113.{i}") for i, nick in ((1, "stays"), (2, "goes")))
    for conn in (stays, goes):
        conn.send(f"JOIN {CHAN}")
    log.run()
    moderator.take()
    # Node one comes back after an outage: "goes" left meanwhile (its
    # departure was never logged), "stays" is told again.
    channel = one.server.channels[CHAN]
    channel.members.pop(one.server.find_nick("goes"))
    log.propose(Op("", "roster", None, (), node=1))
    from confchat.core.members import announce

    announce(one.server, one.server.find_nick("stays"), channel, here=True)
    log.propose(Op("", "roster_done", None, (), node=1))
    log.run()
    got = moderator.take()
    assert find(got, "JOIN") == []  # no second JOIN for who was already there
    assert [(m.source.split("!")[0], m.params[-1]) for m in find(got, "PART")] == [
        ("goes", "Quit: left while their server was cut off")]
    # Node one is no longer heard of: its visitors leave with it.
    from confchat.core.members import forget_nodes

    forget_nodes(two.server, [2])
    assert [(m.source.split("!")[0], m.params[-1]) for m in find(moderator.take(), "PART")] == [
        ("stays", "Quit: their server was lost")]
    assert two.server.visitors_present(two.server.channels[CHAN]) == 0


def test_everyone_sees_another_nodes_staff_arrive_with_their_status_and_names_lists_them() -> None:
    log, one, two = two_nodes()
    viewer = two.register("viewer", ("multi-prefix", *CAPS), ip="203.0.113.5")
    viewer.send(f"JOIN {CHAN}")
    log.run()
    viewer.take()
    mayor = login(one, "mayor", CAPS)
    mayor.send(f"JOIN {CHAN}")
    log.run()
    got = viewer.take()
    (joined,) = find(got, "JOIN")
    assert joined.source.startswith("mayor!")
    assert [m.params for m in find(got, "MODE")] == [(CHAN, "+v", "mayor")]  # the guest's status
    viewer.send(f"NAMES {CHAN}")
    assert "+mayor" in " ".join(m.params[-1] for m in find(viewer.take(), "353")).split()
    # Another node's visitor: counted here, its arrival shown to the staff only.
    late = one.register("late", CAPS, ip="203.0.113.6")
    late.send(f"JOIN {CHAN}")
    log.run()
    assert find(viewer.take(), "JOIN") == []  # an auditorium: a visitor's arrival is for the staff
    assert two.server.visitors_present(two.server.channels[CHAN]) == 2
    mayor.send("PART #townhall :Back later")
    log.run()
    assert [(m.source.split("!")[0], m.params) for m in find(viewer.take(), "PART")] == [
        ("mayor", (CHAN, "Back later"))]


def test_an_address_spread_over_nodes_gets_one_connection_limit_and_one_login_back_off() -> None:
    from confchat.core.addresses import crowded, heard
    from helpers import with_limits
    from test_registration import guess, refusal

    log = Log()
    config = with_limits(make_config(), max_connections_per_ip=5)
    one, two = log.join(Net(config)), log.join(Net(config))
    for net in (one, two):
        net.verify_at_once = False  # the checks wait for guess() to answer them, as in test_registration
    troll = "198.51.100.66"
    for _ in range(3):
        assert one.connect(troll) is not None
    one.connect("203.0.113.1")  # one connection: not told
    assert crowded(one.server) == {troll: 3}
    heard(two.server, [crowded(one.server)])  # node one's heartbeat, read by node two
    assert [two.connect(troll) is not None for _ in range(3)] == [True, True, False]  # 3 + 2 = the limit
    assert two.connect("203.0.113.1") is not None
    # Password guesses: three checks on node one, then node two refuses the next without a check.
    for _ in range(3):
        assert guess(one, "moda", ip="192.0.2.9")[2] == 1
    assert log.tell_all() == 3
    _, replies, checks = guess(two, "moda", ip="192.0.2.9")
    assert checks == 0 and refusal(replies) == "1"


def test_whois_and_ison_answer_for_a_member_of_a_conference_on_another_node() -> None:
    log, one, two = two_nodes()
    carol = one.register("carol", CAPS, ip="203.0.113.7")
    carol.send(f"JOIN {CHAN}")
    moderator = login(two, "moda", CAPS)
    admin = login(two, "boss", CAPS, ip="198.51.100.9")
    log.run()
    moderator.take(), admin.take()
    moderator.send("WHOIS carol")
    got = moderator.take()
    assert [m.command for m in got] == ["311", "319", "312", "318"]
    assert got[0].params[1:3] == ("carol", "~carol") and got[0].params[-1] == "carol Realname"
    assert got[1].params[-1] == CHAN
    admin.send("WHOIS carol")  # an admin also sees the address behind the cloak
    assert "203.0.113.7" in [m.params[3] for m in admin.take() if m.command == "338"]
    moderator.send("ISON carol nobody")
    assert [m.params[-1] for m in moderator.take() if m.command == "303"] == ["carol"]
    moderator.send("WHOIS nobody")
    assert [m.command for m in moderator.take()] == ["401", "318"]


def test_monitor_tells_of_nicks_coming_and_going_on_other_nodes() -> None:
    log, one, two = two_nodes()
    watcher = two.register("watcher", CAPS, ip="203.0.113.5")
    log.run()
    watcher.send("MONITOR + Marie,paul")
    assert [m.params[-1] for m in watcher.take() if m.command == "731"] == ["Marie,paul"]
    marie = one.register("Marie", CAPS, ip="203.0.113.1")
    log.run()
    assert [m.params[-1] for m in watcher.take() if m.command == "730"] == ["marie"]
    watcher.send("MONITOR S")
    got = watcher.take()
    assert [m.params[-1] for m in got if m.command == "730"] == ["marie"]
    assert [m.params[-1] for m in got if m.command == "731"] == ["paul"]
    late = two.register("late", CAPS, ip="203.0.113.6")
    late.send("MONITOR + marie")  # already online elsewhere
    assert [m.params[-1] for m in late.take() if m.command == "730"] == ["marie"]
    marie.send("QUIT :bye")
    log.run()
    assert [m.params[-1] for m in watcher.take() if m.command == "731"] == ["marie"]


def test_an_operators_kill_closes_a_connection_of_another_node() -> None:
    log, one, two = two_nodes()
    troll = one.register("troll", CAPS, ip="203.0.113.66")
    root = two.register("root", CAPS, ip="198.51.100.2")
    log.run()
    root.send("OPER root :correct horse")
    root.take()
    log.tell_all()  # the password check, for node one's back-off
    root.send("KILL troll :Enough")
    assert find(root.take(), "401") == []
    assert log.tell_all() == 1
    assert troll.client.gone
    errors = [m.params[-1] for m in troll.take() if m.command == "ERROR"]
    assert errors and "Killed (root (Enough))" in errors[0]


def test_a_clients_next_lines_wait_for_its_ops_so_it_reads_what_it_wrote() -> None:
    from confchat.core.ops import link_changed

    log, one, _ = two_nodes()
    mayor = login(one, "mayor", CAPS)
    mayor.send(f"JOIN {CHAN}")
    log.run()
    mayor.take()
    mayor.send(f"PREPARED {CHAN} ADD tram :In spring 2027.")
    mayor.send(f"PREPARED {CHAN} LIST")  # as the terminal client does right after
    mayor.send("PING :after")
    assert mayor.take() == []  # the list waits for the op: on one process it would see it
    log.run()
    got = mayor.take()
    assert [(m.command, m.params[1]) for m in got] == [
        ("NOTE", "SAVED"), ("PREPARED", "ITEM"), ("PREPARED", "END"), ("PONG", "after")]
    assert got[1].params[2:] == ("tram", "mayor", "In spring 2027.")
    # The log lost with an op out: the lines waiting for it go on at once.
    mayor.send(f"PREPARED {CHAN} ADD bus :Soon.")
    mayor.send("PING :meanwhile")
    assert mayor.take() == []
    link_changed(one.server, False)
    assert [m.params[-1] for m in mayor.take() if m.command == "PONG"] == ["meanwhile"]


def test_a_client_flooding_while_its_ops_are_out_is_disconnected() -> None:
    log, one, _ = two_nodes()
    citizen = one.register("citizen", CAPS, ip="203.0.113.9")
    citizen.send(f"JOIN {CHAN}")
    log.run()
    citizen.send(f"PRIVMSG {CHAN} :A question")
    for _ in range(100):  # 42 KB of lines that wait while its question is out in the log
        citizen.send("PING :" + "x" * 400)
    assert citizen.client.gone
    assert any(m.command == "ERROR" and "Excess Flood" in m.params[-1] for m in citizen.take())


def test_messages_do_not_wait_behind_ops_in_flight_but_behind_lines_that_wait() -> None:
    from confchat.core.inflight import sends_only

    assert sends_only(b"@label=x PRIVMSG #townhall :hi") and sends_only(b"TAGMSG #townhall")
    assert not sends_only(b"QUEUE #townhall LIST") and not sends_only(b"PRIVMSGX a")
    log, one, _ = two_nodes()
    moderator = login(one, "moda", CAPS)
    moderator.send(f"JOIN {CHAN}")
    log.run()
    moderator.take()
    for i in range(3):  # an announcer pipelining: each goes to the log at once, in order
        moderator.send(f"PRIVMSG {CHAN} :Announcement {i}")
    assert [op.args[1] for op in log.pending] == ["Announcement 0", "Announcement 1", "Announcement 2"]
    moderator.send(f"QUEUE {CHAN} LIST")  # a read: waits, and the message after it too
    moderator.send(f"PRIVMSG {CHAN} :After the list")
    assert len(log.pending) == 3 and moderator.take() == []
    log.run()
    got = [m for m in moderator.take() if m.command in ("PRIVMSG", "QUEUE")]
    assert [m.params[-1] for m in got] == [
        "Announcement 0", "Announcement 1", "Announcement 2", "0 waiting", "After the list"]


def test_who_of_a_conference_lists_its_members_on_every_node_and_is_bounded() -> None:
    from confchat.core.handlers import queries

    log, one, two = two_nodes()
    moderator = login(two, "moda", CAPS)
    moderator.send(f"JOIN {CHAN}")
    carol = one.register("carol", CAPS, ip="203.0.113.7")
    carol.send(f"JOIN {CHAN}")
    log.run()
    moderator.take(), carol.take()
    moderator.send(f"WHO {CHAN}")
    rows = [m for m in moderator.take() if m.command == "352"]
    assert sorted((m.params[5], m.params[6]) for m in rows) == [("carol", "H"), ("moda", "H@")]
    carol.send(f"WHO {CHAN}")  # an auditorium: a visitor sees the staff, wherever they are
    assert [m.params[5] for m in carol.take() if m.command == "352"] == ["moda"]
    queries.WHO_MAX_ROWS_STAFF, saved = 1, queries.WHO_MAX_ROWS_STAFF
    try:
        moderator.send(f"WHO {CHAN}")
        got = moderator.take()
    finally:
        queries.WHO_MAX_ROWS_STAFF = saved
    assert [m.command for m in got] == ["352", "416", "315"]
