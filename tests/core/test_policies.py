"""Automatic moderation through the core: the policy chain at the engine's
entrance, as visitors and moderators see it over IRC (no sockets)."""

from __future__ import annotations

import attrs
import pytest

from confchat.config import Config
from confchat.moderation.policies import BUILTIN_POLICIES, Decision, Verdict
from confchat.moderation.intake import Outcome
from helpers import Net
from test_conference import CAPS, CHAN, fails, items, login, make_config, notes, privmsgs


def policy_config(*tables, mode="moderated", **moderation) -> Config:
    config = make_config(mode=mode, policies=tables)
    return attrs.evolve(config, moderation=attrs.evolve(config.moderation, **moderation))


class Broken:
    name = "broken"

    def check(self, message):
        raise RuntimeError("the classifier exploded")


class Slow:
    """Takes longer than the budget (it moves the fake clock)."""

    name = "slow"
    clock = None

    def check(self, message):
        Slow.clock.advance(5.0)
        return None


class Remote:
    """An asynchronous policy: the shell runs it."""

    name = "remote"

    async def check(self, message):  # pragma: no cover - run by the shell's tests
        return None


REGISTRY = {**BUILTIN_POLICIES, "broken": lambda options: Broken(), "slow": lambda options: Slow(),
            "remote": lambda options: Remote()}


def room(net: Net):
    moda = login(net, "moda")
    mayor = login(net, "mayor")
    viewer = net.register("viewer", CAPS, ip="203.0.113.1")
    citizen = net.register("citizen", CAPS, ip="203.0.113.2")
    for conn in (moda, mayor, viewer, citizen):
        conn.send(f"JOIN {CHAN}")
    for conn in (moda, mayor, viewer, citizen):
        conn.take()
    return moda, mayor, viewer, citizen


def test_a_blocked_word_is_dropped_and_the_visitor_told_why():
    net = Net(policy_config({"policy": "blocklist"}))
    moda, mayor, viewer, citizen = room(net)
    replies = citizen.ask(f"PRIVMSG {CHAN} :Le maire est un c.o.n.n.a.r.d")
    (declined,) = notes(replies, "DECLINED")
    assert "blocked words" in declined.params[-1]
    (line,) = items(moda.take())
    assert line.params[3] == "dropped" and line.params[8] == "policy:blocklist"
    assert privmsgs(viewer.take()) == []
    audit = net.server.conferences[CHAN].audit[-1]
    assert (audit.actor, audit.action) == ("policy:blocklist", "drop")
    assert net.server.stats.policy_decisions[("blocklist", "drop")] == 1


def test_a_doubtful_message_waits_with_its_flags_score_and_reasons_for_the_moderators():
    net = Net(policy_config({"policy": "links", "allow": ["ville.example"]}))
    moda, mayor, viewer, citizen = room(net)
    assert notes(citizen.ask(f"PRIVMSG {CHAN} :Voyez www.arnaque.example/promo"), "HELD")
    (line,) = items(moda.take())
    assert line.params[3] == "pending" and "links" in line.params[9].split(",")
    assert float(line.tags["confchat/score"]) > 0
    assert line.tags["confchat/reasons"].startswith("links: ")
    # The city's own site passes.
    citizen.ask(f"PRIVMSG {CHAN} :Le programme est sur https://www.ville.example/agenda")
    (line,) = items(moda.take())
    assert line.params[9] == "*" and "confchat/score" not in line.tags


def test_in_an_open_conference_a_flagged_message_is_held_and_the_rest_published():
    net = Net(policy_config({"policy": "shouting"}, mode="open"))
    moda, mayor, viewer, citizen = room(net)
    assert notes(citizen.ask(f"PRIVMSG {CHAN} :POURQUOI PERSONNE NE REPOND JAMAIS"), "HELD")
    assert privmsgs(viewer.take()) == []
    citizen.ask(f"PRIVMSG {CHAN} :Bonjour à tous")
    assert [m.params[1] for m in privmsgs(viewer.take())] == ["Bonjour à tous"]


def test_staff_messages_are_never_filtered():
    net = Net(policy_config({"policy": "blocklist", "exempt": []}))
    moda, mayor, viewer, citizen = room(net)
    mayor.send(f"PRIVMSG {CHAN} :Quel connard ce pigeon")
    assert [m.params[1] for m in privmsgs(viewer.take())] == ["Quel connard ce pigeon"]


def test_a_policy_that_raises_holds_the_message_flagged_and_is_counted():
    net = Net(policy_config({"policy": "broken"}, mode="open"), policies=REGISTRY)
    moda, mayor, viewer, citizen = room(net)
    assert notes(citizen.ask(f"PRIVMSG {CHAN} :Une question"), "HELD")
    (line,) = items(moda.take())
    assert "policy-error" in line.params[9].split(",")
    assert net.server.stats.policy_failures[("broken", "error")] == 1
    assert privmsgs(viewer.take()) == []
    # The next visitor is served the same way: nothing is stuck.
    assert notes(viewer.ask(f"PRIVMSG {CHAN} :Moi aussi"), "HELD")


def test_a_policy_past_its_budget_holds_the_message_flagged():
    net = Net(policy_config({"policy": "slow"}, mode="open", policy_timeout=1.0), policies=REGISTRY)
    Slow.clock = net.clock
    moda, mayor, viewer, citizen = room(net)
    assert notes(citizen.ask(f"PRIVMSG {CHAN} :Une question"), "HELD")
    (line,) = items(moda.take())
    assert "policy-error" in line.params[9].split(",")
    assert net.server.stats.policy_failures[("chain", "timeout")] == 1


def test_a_conference_whose_policies_cannot_be_built_holds_everything():
    net = Net(policy_config({"policy": "nosuch"}, mode="open"))
    moda, mayor, viewer, citizen = room(net)
    assert notes(citizen.ask(f"PRIVMSG {CHAN} :Bonjour"), "HELD")
    (line,) = items(moda.take())
    assert {"policy-error", "policy-config"} <= set(line.params[9].split(","))


def test_an_asynchronous_policy_screens_without_holding_anyone_up():
    net = Net(policy_config({"policy": "remote"}, mode="open"), policies=REGISTRY)
    moda, mayor, viewer, citizen = room(net)
    assert notes(citizen.ask(f"PRIVMSG {CHAN} :Première"), "HELD")
    (line,) = items(moda.take())
    assert line.params[3] == "held" and "screening" in line.params[9].split(",")
    (screen,) = net.server.screenings.pending
    # While it is screened, others are served.
    assert notes(viewer.ask(f"PRIVMSG {CHAN} :Deuxième"), "HELD")
    moda.take()
    net.server.screened(screen.conference, screen.item, Outcome(Verdict.PUBLISH, decisions=(("remote", "publish"),)))
    assert [m.params[1] for m in privmsgs(viewer.take())] == ["Première"]


def test_an_asynchronous_drop_declines_the_screened_item():
    net = Net(policy_config({"policy": "remote"}), policies=REGISTRY)
    moda, mayor, viewer, citizen = room(net)
    citizen.ask(f"PRIVMSG {CHAN} :Achetez mes pilules")
    screen = net.server.screenings.pending.popleft()
    moda.take()
    decision = Decision(Verdict.DROP, "remote", "spam", 1.0, ("spam",))
    net.server.screened(screen.conference, screen.item, Outcome(Verdict.DROP, ("spam",), 1.0, ("remote: spam",),
                                                                 "remote", "spam", (("remote", "drop"),)))
    assert decision.verdict is Verdict.DROP
    (line,) = items(moda.take())
    assert line.params[3] == "dropped" and line.params[8] == "policy:remote"
    assert notes(citizen.take(), "DECLINED")


def test_a_moderator_decision_during_screening_wins():
    net = Net(policy_config({"policy": "remote"}), policies=REGISTRY)
    moda, mayor, viewer, citizen = room(net)
    citizen.ask(f"PRIVMSG {CHAN} :Question")
    screen = net.server.screenings.pending.popleft()
    moda.send(f"QUEUE {CHAN} APPROVE {screen.item}")
    assert [m.params[1] for m in privmsgs(viewer.take())] == ["Question"]
    net.server.screened(screen.conference, screen.item, Outcome(Verdict.DROP, dropped_by="remote", drop_reason="x"))
    assert net.server.conferences[CHAN].queue.items[screen.item].state.value == "published"


# ---------------------------------------------------------------- shield mode


def test_shield_mode_holds_everything_drops_links_and_mutes_newcomers():
    net = Net(policy_config(mode="open"))
    moda, mayor, viewer, citizen = room(net)
    notes_back = notes(moda.ask(f"CONF {CHAN} SHIELD ON :raid in progress"), "SHIELD")
    assert notes_back
    (told,) = [m for m in mayor.take() if m.command == "CONF" and m.params[1] == "SHIELD"]
    assert told.params[2:] == ("on", "moda", "raid in progress")
    assert notes(citizen.ask(f"PRIVMSG {CHAN} :Une question"), "HELD")
    (line,) = items(moda.take())
    assert "shield" in line.params[9].split(",")
    assert notes(citizen.ask(f"PRIVMSG {CHAN} :va sur arnaque.fr"), "DECLINED")
    net.advance(1)
    late = net.register("late", CAPS, ip="203.0.113.9")
    late.send(f"JOIN {CHAN}")
    assert fails(late.ask(f"PRIVMSG {CHAN} :Bonjour"), "MUTED")
    info = {m.params[2]: m.params[3] for m in moda.ask(f"CONF {CHAN} INFO") if m.params[1] == "INFO"}
    assert info["shield"] == "on" and info["shield_reason"] == "raid in progress"
    moda.send(f"CONF {CHAN} SHIELD OFF")
    late.send(f"PRIVMSG {CHAN} :Bonjour")
    assert [m.params[1] for m in privmsgs(viewer.take())] == ["Bonjour"]
    assert fails(moda.ask(f"CONF {CHAN} SHIELD OFF"), "SHIELD_DOWN")


def test_a_closed_shield_refuses_new_visitors_but_not_staff():
    net = Net(policy_config())
    moda, mayor, viewer, citizen = room(net)
    moda.send(f"CONF {CHAN} SHIELD ON CLOSED")
    late = net.register("late", CAPS, ip="203.0.113.9")
    assert [m.command for m in late.ask(f"JOIN {CHAN}")] == ["474"]
    modb = login(net, "modb")
    assert "JOIN" in [m.command for m in modb.ask(f"JOIN {CHAN}")]


def test_visitors_cannot_raise_the_shield():
    net = Net(policy_config())
    moda, mayor, viewer, citizen = room(net)
    assert fails(viewer.ask(f"CONF {CHAN} SHIELD ON"), "NEED_ROLE")


def test_a_raid_of_one_text_from_many_visitors_raises_the_shield():
    net = Net(policy_config({"policy": "raid", "visitors": 20}))
    moda, mayor, viewer, citizen = room(net)
    for n in range(200):
        raider = net.register(f"r{n}", CAPS, ip=f"198.18.{n // 200}.{n % 200 + 1}")
        raider.send(f"JOIN {CHAN}")
        raider.send(f"PRIVMSG {CHAN} :VOTEZ POUR MOI www.pub.example")
        moda.take()
    conference = net.server.conferences[CHAN]
    assert conference.shield.on and conference.shield.by == "auto"
    assert any(a.action == "shield" and a.actor == "auto" for a in conference.audit)
    assert net.server.stats.shield_raised[(CHAN, "auto")] == 1


def test_the_message_rate_threshold_raises_the_shield():
    net = Net(policy_config(shield_messages=30, shield_window=10.0))
    moda, mayor, viewer, citizen = room(net)
    for n in range(40):
        visitor = net.register(f"v{n}", CAPS, ip=f"198.18.1.{n + 1}")
        visitor.send(f"JOIN {CHAN}")
        visitor.send(f"PRIVMSG {CHAN} :question numéro {n}")
    shield = net.server.conferences[CHAN].shield
    assert shield.on and "messages" in shield.reason


@pytest.mark.parametrize("text", ["Concarneau", "Saint-Nazaire", "classe", "le conseil municipal", "Scunthorpe"])
def test_place_names_and_ordinary_words_are_published_untouched(text):
    net = Net(policy_config({"policy": "blocklist"}, mode="open"))
    moda, mayor, viewer, citizen = room(net)
    citizen.send(f"PRIVMSG {CHAN} :{text}")
    assert [m.params[1] for m in privmsgs(viewer.take())] == [text]


def test_a_visitor_cannot_fill_the_queue():
    net = Net(policy_config(max_pending_per_visitor=3))
    moda, mayor, viewer, citizen = room(net)
    ids = []
    for n in range(3):
        (held,) = notes(citizen.ask(f"PRIVMSG {CHAN} :question {n}"), "HELD")
        ids.append(held.params[3])
    (refused,) = fails(citizen.ask(f"PRIVMSG {CHAN} :one more"), "TOO_MANY_PENDING")
    assert refused.params[3] == "3"
    assert notes(viewer.ask(f"PRIVMSG {CHAN} :mine"), "HELD")  # others are not limited by it
    moda.send(f"QUEUE {CHAN} DROP {ids[0]}")
    assert notes(citizen.ask(f"PRIVMSG {CHAN} :one more"), "HELD")  # room again once one is decided


def crowd_from(net: Net, ip: str, n: int, prefix: str) -> list:
    conns = []
    for i in range(n):
        conn = net.register(f"{prefix}{i}", CAPS, ip=ip)
        conn.send(f"JOIN {CHAN}")
        conn.take()
        conns.append(conn)
    return conns


def test_one_address_cannot_fill_the_queue_through_many_connections():
    """The attack measured: one address, many connections, five questions
    each. Its connections together stop at the per-address cap; another
    address is not held back by it, and a decision makes room again."""
    net = Net(policy_config(max_pending_per_address=12))
    moda, mayor, viewer, citizen = room(net)
    attackers = crowd_from(net, "198.18.0.9", 6, "flood")
    held, refused = [], []
    for conn in attackers:
        for n in range(5):
            replies = conn.ask(f"PRIVMSG {CHAN} :question {n} from {conn.nick}")
            held += notes(replies, "HELD")
            refused += fails(replies, "TOO_MANY_PENDING")
    assert len(held) == 12 and len(refused) == 30 - 12
    assert refused[0].params[3] == "12" and "your network" in refused[0].params[-1]
    assert len(net.server.conferences[CHAN].queue.order) == 12
    assert notes(citizen.ask(f"PRIVMSG {CHAN} :mine"), "HELD")  # another address
    moda.send(f"QUEUE {CHAN} DROP {held[0].params[3]}")
    assert notes(attackers[-1].ask(f"PRIVMSG {CHAN} :now there is room"), "HELD")
    assert fails(attackers[-1].ask(f"PRIVMSG {CHAN} :but only one"), "TOO_MANY_PENDING")


def test_an_exempt_shared_address_has_no_per_address_cap():
    config = policy_config(max_pending_per_address=3)
    config = attrs.evolve(config, limits=attrs.evolve(config.limits, connection_limit_exempt=("198.18.0.10",)))
    net = Net(config)
    room(net)
    venue = crowd_from(net, "198.18.0.10", 5, "venue")
    for conn in venue:
        assert notes(conn.ask(f"PRIVMSG {CHAN} :a question from the hall"), "HELD")
    assert len(net.server.conferences[CHAN].queue.order) == 5
