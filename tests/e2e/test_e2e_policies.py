"""Automatic moderation against the real server over real sockets: the
example plugin (tests/plugins/example-policy, installed by the test setup)
loaded through its entry point, an asynchronous plugin that sleeps while
everyone else is served, shield mode, and a raid of 200 visitors."""

from __future__ import annotations

import time

from confchat.core.passwords import hash_password

CHAN = "#townhall"
SECRET = "mod-secret"
STAFF_CAPS = ("message-tags", "server-time", "standard-replies")
VISITOR_CAPS = ("message-tags", "standard-replies")


def config(*policies, mode="open", **moderation):
    return {
        "limits": {"flood_burst": 1000, "max_connections_per_ip": 1000},
        "moderation": {"policies": list(policies), **moderation},
        "accounts": [{"name": "mod", "password_hash": hash_password(SECRET)}],
        "conferences": [{"channel": CHAN, "title": "Ask the mayor", "moderators": ["mod"], "state": "live",
                         "mode": mode}],
    }


def moderator(server):
    mod = server.client("mod", caps=STAFF_CAPS, sasl=("mod", SECRET))
    mod.send(f"JOIN {CHAN}")
    mod.expect(lambda m: m.command == "NOTE" and m.params[1] == "CONFERENCE")
    return mod


def visitor(server, nick):
    client = server.client(nick, caps=VISITOR_CAPS)
    client.send(f"JOIN {CHAN}")
    client.expect(lambda m: m.command == "NOTE" and m.params[1] == "CONFERENCE")
    return client


def note(client, code):
    return client.expect(lambda m: m.command == "NOTE" and m.params[1] == code)


def item(client, state):
    return client.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[3] == state)


def test_the_example_plugin_drops_holds_and_publishes(start_server):
    server = start_server(config({"policy": "example"}))
    mod = moderator(server)
    carol, viewer = visitor(server, "carol"), visitor(server, "viewer")
    carol.send(f"PRIVMSG {CHAN} :this is forbidden talk")
    declined = note(carol, "DECLINED")
    assert "forbidden" in declined.params[-1]
    dropped = item(mod, "dropped")
    assert dropped.params[8] == "policy:example" and "example" in dropped.params[9].split(",")
    carol.send(f"PRIVMSG {CHAN} :a doubtful question")
    note(carol, "HELD")
    held = item(mod, "pending")
    assert "example" in held.params[9].split(",")
    assert held.tags["confchat/reasons"] == "example: contains 'doubtful'"
    carol.send(f"PRIVMSG {CHAN} :a fine question")
    published = viewer.expect("PRIVMSG")
    assert published.params[1] == "a fine question"
    viewer.roundtrip()
    assert [m for m in viewer.drain() if m.command == "PRIVMSG"] == []  # the other two never reached it
    assert "policy.plugin_loaded" in server.log


def test_a_slow_asynchronous_plugin_delays_nobody_else(start_server):
    server = start_server(config({"policy": "example-slow", "seconds": 3.0}, policy_timeout=10.0))
    mod = moderator(server)
    carol, dave, viewer = visitor(server, "carol"), visitor(server, "dave"), visitor(server, "viewer")
    started = time.monotonic()
    carol.send(f"PRIVMSG {CHAN} :first question")
    note(carol, "HELD")  # acknowledged at once: it is safe in the queue, being screened
    screening = item(mod, "held")
    assert "screening" in screening.params[9].split(",")
    dave.send(f"PRIVMSG {CHAN} :second question")
    note(dave, "HELD")
    viewer.roundtrip()  # PING answered while both are screened
    answered = time.monotonic() - started
    first = viewer.expect("PRIVMSG", timeout=10)
    screened = time.monotonic() - started
    second = viewer.expect("PRIVMSG", timeout=10)
    both = time.monotonic() - started
    # The two screens run side by side, so either may end first.
    assert {first.params[1], second.params[1]} == {"first question", "second question"}
    # Within one run: the PONG came back before any screening ended (the
    # plugin sleeps 3 s), and the second screen did not wait for the first
    # (in turn, the second would come a whole plugin's sleep after the first).
    assert answered < screened
    assert both - screened < 3.0 <= screened


def test_a_plugin_past_its_time_or_broken_sends_the_message_to_a_person(start_server):
    server = start_server(config({"policy": "example-slow", "seconds": 30.0}, {"policy": "example-broken"},
                                 policy_timeout=0.5))
    mod = moderator(server)
    carol, viewer = visitor(server, "carol"), visitor(server, "viewer")
    carol.send(f"PRIVMSG {CHAN} :a question")
    note(carol, "HELD")
    pending = item(mod, "pending")  # out of screening, for a person
    assert "policy-error" in pending.params[9].split(",")
    viewer.roundtrip()
    assert [m for m in viewer.drain() if m.command == "PRIVMSG"] == []
    assert "policy.failed" in server.log


def test_shield_mode_on_and_off_over_tcp(start_server):
    server = start_server(config())
    mod = moderator(server)
    carol, viewer = visitor(server, "carol"), visitor(server, "viewer")
    mod.send(f"CONF {CHAN} SHIELD ON :trolls")
    note(mod, "SHIELD")
    carol.send(f"PRIVMSG {CHAN} :hello")
    note(carol, "HELD")
    assert "shield" in item(mod, "pending").params[9].split(",")
    mod.send(f"CONF {CHAN} SHIELD OFF")
    note(mod, "SHIELD")
    carol.send(f"PRIVMSG {CHAN} :hello again")
    assert viewer.expect("PRIVMSG").params[1] == "hello again"


def test_a_raid_of_200_visitors_sending_one_text_raises_the_shield(start_server):
    server = start_server(config({"policy": "raid", "visitors": 20}, mode="moderated"))
    mod = moderator(server)
    raiders = []
    for n in range(200):
        raider = server.client(f"raider{n}", caps=VISITOR_CAPS)
        raider.send(f"JOIN {CHAN}")
        raider.send(f"PRIVMSG {CHAN} :FREE MONEY AT THE TOWN HALL TODAY")
        raiders.append(raider)
    shield = mod.expect(lambda m: m.command == "CONF" and m.params[1] == "SHIELD", timeout=30)
    assert shield.params[2:4] == ("on", "auto")
    mod.send(f"CONF {CHAN} INFO")
    info = mod.expect(lambda m: m.command == "CONF" and m.params[1] == "INFO" and m.params[2] == "shield")
    assert info.params[3] == "on"
    for raider in raiders:
        raider.close()
