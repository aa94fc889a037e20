"""The raid detector: one text from many visitors, in bounded memory."""

from __future__ import annotations

from confchat.moderation.policies import Message, Verdict, build_policy
from confchat.moderation.policies.raid import RaidCounter

SPAM = "Votez pour la liste Machin aux prochaines élections !"


def send(policy, text: str, connection: int, now: float, account: str | None = None):
    return policy.check(Message(text, f"v{connection}", now, account=account, connection=connection))


def test_the_fifth_visitor_with_one_text_is_held():
    raid = build_policy({"policy": "raid"})
    for visitor in range(4):
        assert send(raid, SPAM, visitor, 100.0 + visitor) is None
    decision = send(raid, SPAM.upper() + "!!", 4, 104.0)  # the same text once normalised
    assert decision.verdict is Verdict.HOLD
    assert decision.reason == "raid: the same text from 5 visitors in 60 s"
    assert send(raid, SPAM, 5, 105.0) is not None


def test_one_visitor_repeating_is_not_a_raid():
    raid = build_policy({"policy": "raid", "visitors": 3})
    for n in range(10):
        assert send(raid, SPAM, 1, 100.0 + n) is None
    assert send(raid, SPAM, 2, 111.0, account="Bob") is None
    assert send(raid, SPAM, 3, 112.0, account="BOB") is None  # one account, two connections


def test_the_window_slides():
    raid = build_policy({"policy": "raid", "visitors": 3, "window": 10})
    assert send(raid, SPAM, 1, 100.0) is None
    assert send(raid, SPAM, 2, 105.0) is None
    assert send(raid, SPAM, 3, 111.0) is None  # the first is out of the window
    assert send(raid, SPAM, 4, 112.0).verdict is Verdict.HOLD


def test_short_texts_are_what_a_crowd_says():
    raid = build_policy({"policy": "raid", "visitors": 2})
    assert send(raid, "Bravo !", 1, 1.0) is None
    assert send(raid, "Bravo !", 2, 2.0) is None


def test_memory_is_bounded():
    counter = RaidCounter(window=1e9, visitors=3, max_texts=100)
    for n in range(10_000):
        counter.add(f"text {n % 500}", f"visitor {n}", float(n))
    assert len(counter) == 100
    assert all(len(senders) <= 3 for _, senders in counter._texts.values())
    counter.add("late", "x", 1e12)  # everything else expired
    assert len(counter) == 1
