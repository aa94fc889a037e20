"""Odd but well-formed client input must get a proper reply, never a handler crash.

A parameter may legally be empty, hold spaces or start with ':' when it is the
trailing one (``WHOIS :``, ``JOIN :#a b``). Replies that echo such a value back
as a *middle* parameter cannot be serialized (``format_line`` raises).
"""

from __future__ import annotations

import pytest

from helpers import Net, commands, find


def internal_errors(messages):
    return [m for m in messages if "INTERNAL_ERROR" in " ".join(m.params)]


def setup():
    net = Net()
    alice, bob, carol = (net.register(n) for n in ("alice", "bob", "carol"))
    alice.send("JOIN #room")
    bob.send("JOIN #room")
    alice.take(), bob.take()
    return net, alice, bob, carol


# Inputs the core handles today; they guard the helper below against vacuity.
@pytest.mark.parametrize(
    "line",
    ["WHOIS nobody", "JOIN #ok", "PRIVMSG nobody :hi", "MODE #room +z", "TOPIC #room", "NAMES #x"],
)
def test_ordinary_input_gets_a_reply_without_internal_error(line):
    net, alice, bob, carol = setup()
    replies = alice.ask(line)
    assert replies and not internal_errors(replies)


def test_a_handler_crash_is_reported_not_raised(monkeypatch):
    # The safety net itself: a crashing handler gives INTERNAL_ERROR and the
    # client stays connected.
    from confchat.core import commands as cmds

    net, alice, bob, carol = setup()

    def boom(server, client, msg):
        raise RuntimeError("boom")

    monkeypatch.setitem(cmds.COMMANDS, "TIME", cmds.Command(boom))
    assert len(internal_errors(alice.ask("TIME"))) == 1
    assert not alice.closed


ECHOED_PARAMS = [
    "WHOIS :",
    "WHOIS :a b",
    "WHOWAS :",
    "WHO :a b",
    "NICK ::x",
    "JOIN :#a b",
    "PART :",
    "TOPIC :a b",
    "NAMES :",
    "MODE ::x",
    "MODE #room :+ z",
    "INVITE bob :",
    "KICK #room :,",
    "TAGMSG ,",
    "CAP :",
]


@pytest.mark.parametrize("line", ECHOED_PARAMS)
def test_echoed_odd_parameter_does_not_crash_the_handler(line):
    net, alice, bob, carol = setup()
    replies = alice.ask(line)
    assert not internal_errors(replies), replies


def test_empty_target_in_a_list_does_not_stop_delivery_to_the_rest():
    net, alice, bob, carol = setup()
    replies = alice.ask("PRIVMSG bob,,carol :hi")
    assert find(bob.take(), "PRIVMSG")
    assert find(carol.take(), "PRIVMSG")
    assert not internal_errors(replies)


@pytest.mark.parametrize("line", ["@label=q1 WHOIS :", "@label=q2 JOIN :#a b"])
def test_labeled_odd_parameter_does_not_raise_out_of_receive(line):
    net = Net()
    alice = net.register("alice", caps=["labeled-response", "batch"])
    alice.send(line)  # must not raise
    replies = alice.take()
    batches = find(replies, "BATCH")
    assert len(batches) in (0, 2)  # never an unterminated batch
    assert not internal_errors(replies)


def test_server_receive_survives_every_command_with_no_params():
    from confchat.core.commands import COMMANDS

    net, alice, bob, carol = setup()
    for name in COMMANDS:
        if name == "QUIT":
            continue
        replies = alice.ask(name)
        assert not internal_errors(replies), (name, replies)
        if COMMANDS[name].min_params:
            assert "461" in commands(replies), name
    assert not alice.closed
