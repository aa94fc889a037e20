"""Shouting, max_length, repeated characters, mentions."""

from __future__ import annotations

import pytest

from confchat.moderation.policies import Message, Verdict, build_policy


def check(config: dict, text: str, **fields):
    return build_policy(config).check(Message(text, "alice", 0.0, **fields))


@pytest.mark.parametrize(
    "text, shouting",
    [
        ("IL FAUT ARRÊTER CE PROJET TOUT DE SUITE", True),
        ("ÉCOUTEZ LES HABITANTS DU QUARTIER", True),  # accented capitals count
        ("POURQUOI les impôts AUGMENTENT ENCORE ?", True),  # 24 capitals in 31 letters
        ("MERCI !", False),  # too short to shout
        ("La SNCF et la RATP, quand ?", False),
        ("Bonjour monsieur le maire", False),
        ("1234567890 !!!!", False),  # no letters
    ],
)
def test_shouting(text, shouting):
    decision = check({"policy": "shouting"}, text)
    assert (decision is not None) is shouting, text
    if shouting:
        assert decision.verdict is Verdict.HOLD and decision.flags == ("shouting",)


def test_shouting_options():
    assert check({"policy": "shouting", "min_letters": 3}, "MERCI !") is not None
    assert check({"policy": "shouting", "ratio": 0.9}, "POURQUOI les impôts AUGMENTENT ENCORE ?") is None
    assert check({"policy": "shouting", "action": "drop"}, "ARRÊTEZ TOUT CE CIRQUE").verdict is Verdict.DROP


def test_max_length_counts_characters():
    assert check({"policy": "max_length", "max_chars": 10}, "é" * 10) is None  # 20 bytes, 10 characters
    decision = check({"policy": "max_length", "max_chars": 10}, "é" * 11)
    assert decision.reason == "too long: 11 characters (at most 10)"
    assert check({"policy": "max_length"}, "x" * 500) is None
    assert check({"policy": "max_length"}, "x" * 501) is not None


@pytest.mark.parametrize(
    "text, reason",
    [
        ("non!!!!!!!!", "repeated: 8 times '!'"),
        ("aaaaaaaaaa", "repeated: 10 times 'a'"),
        ("AaAaAaA", "repeated: 7 times 'a'"),  # case ignored
        ("ééééééé", "repeated: 7 times 'e'"),  # accents too
        ("Noooooon", None),  # six: allowed
        ("Le budget: 10000000 euros", None),  # digits do not count by default
        ("a          b", None),  # nor spaces
        ("......", None),
    ],
)
def test_repeated(text, reason):
    decision = check({"policy": "repeated"}, text)
    assert (decision and decision.reason) == reason


def test_repeated_options():
    assert check({"policy": "repeated", "digits": True}, "10000000 euros").reason == "repeated: 7 times '0'"
    assert check({"policy": "repeated", "max_run": 2}, "Nooon") is not None


@pytest.mark.parametrize(
    "text, count",
    [
        ("@bob @carol @dave @erin regardez", 4),
        ("bob, carol, dave, erin: regardez", 4),
        ("bob: carol: dave: erin: regardez", 4),
        ("@bob @bob @BOB @carol", 2),  # distinct nicks, casefolded
        ("@alice moi-même", 0),  # the author does not count
        ("https://x.com/a", 0),
        ("Bonjour, une question", 1),
        ("écrivez à mairie@ville.fr", 0),
    ],
)
def test_mentions_counted(text, count):
    policy = build_policy({"policy": "mentions"})
    assert len(policy.mentioned(Message(text, "alice", 0.0))) == count


def test_mentions_hold_beyond_the_limit_and_read_members():
    assert check({"policy": "mentions"}, "@bob @carol @dave regardez") is None
    decision = check({"policy": "mentions"}, "@bob @carol @dave @erin regardez")
    assert decision.reason == "mentions 4 nicks (at most 3)"
    members = frozenset({"bob", "carol", "dave", "erin"})
    assert check({"policy": "mentions"}, "hey bob carol dave erin", members=members) is not None
    assert check({"policy": "mentions"}, "hey bob carol dave erin") is None
