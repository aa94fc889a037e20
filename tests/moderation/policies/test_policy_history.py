"""Duplicate, rate and newcomers: a visitor's own history, times passed in."""

from __future__ import annotations

import pytest

from confchat.moderation.policies import Message, Recent, Verdict, build_policy
from confchat.moderation.policies.history import key, similar

NOW = 10_000.0


def visitor(text: str, *earlier: tuple[str, float], joined: float | None = None) -> Message:
    """``earlier``: (text, seconds ago)."""
    history = tuple(Recent(t, NOW - ago) for t, ago in sorted(earlier, key=lambda e: -e[1]))
    return Message(text, "alice", NOW, history=history, joined_at=joined)


DUPLICATE = build_policy({"policy": "duplicate"})
QUESTION = "Quand la piscine de Concarneau va-t-elle rouvrir ?"


@pytest.mark.parametrize(
    "again",
    [
        QUESTION,
        "quand la piscine de concarneau va t elle rouvrir",  # case, accents, punctuation
        "QUAND LA PISCINE DE CONCARNEAU VA-T-ELLE ROUVRIR ???",
        "Quand   la piscine de Concarneau va-t-elle rouvrir ?!!",
        "Quand la piscime de Concarneau va-t-elle rouvrir ?",  # a typo: near copy
        "Quand la piscine de Concarneau va-t-elle donc rouvrir ?",  # a word more: near copy
    ],
)
def test_duplicates_are_held(again):
    decision = DUPLICATE.check(visitor(again, (QUESTION, 120)))
    assert decision is not None and decision.verdict is Verdict.HOLD
    assert decision.reason == "duplicate of a message sent 120 s ago"


def test_not_duplicates():
    assert DUPLICATE.check(visitor(QUESTION, (QUESTION, 301))) is None  # outside the window
    other = "Et la médiathèque, elle rouvre quand ?"
    assert DUPLICATE.check(visitor(other, (QUESTION, 10))) is None
    assert DUPLICATE.check(visitor("Merci !", ("merci", 5))) is None  # too short to count
    assert DUPLICATE.check(visitor(QUESTION)) is None  # no history


def test_exact_only_and_drop():
    exact = build_policy({"policy": "duplicate", "similarity": 1.0, "action": "drop"})
    assert exact.check(visitor("Quand la piscime de Concarneau va-t-elle rouvrir ?", (QUESTION, 10))) is None
    assert exact.check(visitor(QUESTION.upper(), (QUESTION, 10))).verdict is Verdict.DROP


def test_similar_bounds():
    a, b = key("bonjour monsieur le maire"), key("bonsoir madame la mairesse")
    assert not similar(a, b, 0.9)
    assert similar(key("merciiii beaucoup"), key("Merci beaucoup !"), 1.0)  # repeated letters once


RATE = build_policy({"policy": "rate", "messages": 3, "seconds": 60})


def test_rate():
    assert RATE.check(visitor("4", ("1", 50), ("2", 30))) is None  # the third in a minute
    decision = RATE.check(visitor("4", ("1", 50), ("2", 30), ("3", 10)))
    assert decision.verdict is Verdict.HOLD
    assert decision.reason == "rate: 4 messages in 60 s (at most 3)"
    assert RATE.check(visitor("4", ("1", 61), ("2", 30), ("3", 10))) is None  # the first is old


NEWCOMERS = build_policy({"policy": "newcomers", "seconds": 120})


def test_newcomers():
    decision = NEWCOMERS.check(visitor("Bonjour", joined=NOW - 30))
    assert decision.verdict is Verdict.HOLD and decision.reason == "newcomer: joined 30 s ago"
    assert NEWCOMERS.check(visitor("Bonjour", joined=NOW - 120)) is None
    assert NEWCOMERS.check(visitor("Bonjour", joined=None)) is None  # unknown: nothing to say
    assert NEWCOMERS.check(visitor("Bonjour", joined=NOW + 5)).reason == "newcomer: joined 0 s ago"
