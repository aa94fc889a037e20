"""Policies on a visitor's own history: duplicates, rate, newcomers.

They read ``Message.history`` (the visitor's earlier messages, with their
times) and ``Message.joined_at``; all times are the shell's clock, passed in.
Each has ``action`` (``hold`` or ``drop``, default ``hold``) and ``exempt``
besides the options below (defaults in brackets).

``duplicate``: ``window`` [300 s], ``similarity`` [0.9], ``min_length`` [8].
The same text again from one visitor within ``window`` seconds. "The same"
is compared in :func:`key` form (folded, words only, repeated letters once:
``Merci !!!`` and ``merciii`` are one text), and near copies count too: a
difflib ratio of at least ``similarity`` between the two forms, computed
only for texts that share at least half their words (the ratio costs tens
of microseconds; the word test a fraction of one). ``similarity = 1`` keeps
exact copies only. Texts shorter than ``min_length`` (``oui``, ``merci``,
``+1``) never count.

``rate``: ``messages`` [5], ``seconds`` [60]. More than ``messages``
messages in ``seconds`` seconds, this one included.

``newcomers``: ``seconds`` [60]. Messages in a visitor's first ``seconds``
seconds in the conference; nothing is said when the join time is unknown.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

import attrs

from .base import Decision, Message, Options, Verdict, action, integer, number, option
from .normalize import squash

_REPEATS = re.compile(r"(.)\1+")
WORD_GATE = 0.5  # share of words in common before difflib is asked
DIFF_LIMIT = 1000  # characters difflib compares at most (its cost grows as the square)


@lru_cache(maxsize=4096)
def key(text: str) -> tuple[str, frozenset[str]]:
    """The comparison form of a text and its set of words (memoised: a
    visitor's history is compared again at each of its messages)."""
    form = _REPEATS.sub(r"\1", squash(text))
    return form, frozenset(form.split())


def similar(a: tuple[str, frozenset[str]], b: tuple[str, frozenset[str]], threshold: float) -> bool:
    if a[0] == b[0]:
        return True
    if threshold >= 1.0:
        return False
    shorter, longer = sorted((len(a[0]), len(b[0])))
    if 2 * shorter < threshold * (shorter + longer):
        return False  # even a perfect match of the shorter could not reach it
    union = len(a[1] | b[1])
    if not union or len(a[1] & b[1]) < WORD_GATE * union:
        return False
    return difflib.SequenceMatcher(None, a[0][:DIFF_LIMIT], b[0][:DIFF_LIMIT], autojunk=False).ratio() >= threshold


@attrs.frozen
class DuplicatePolicy(Options):
    kind = "duplicate"
    window: float = option(300.0, number(0.0), "seconds within which a copy counts")
    similarity: float = option(0.9, number(0.0, 1.0), "difflib ratio of a near copy (1: exact only)")
    min_length: int = option(8, integer(0), "shorter texts never count")
    action: Verdict = option(Verdict.HOLD, action, "hold or drop")

    def check(self, message: Message) -> Decision | None:
        if not message.history:
            return None
        this = key(message.text)
        if len(this[0]) < self.min_length:
            return None
        for earlier in reversed(message.since(self.window)):
            if similar(this, key(earlier.text), self.similarity):
                ago = max(0, round(message.now - earlier.at))
                return self.decide(self.action, f"duplicate of a message sent {ago} s ago")
        return None


@attrs.frozen
class RatePolicy(Options):
    kind = "rate"
    messages: int = option(5, integer(1), "messages allowed in the period")
    seconds: float = option(60.0, number(0.0), "the period")
    action: Verdict = option(Verdict.HOLD, action, "hold or drop")

    def check(self, message: Message) -> Decision | None:
        if len(message.history) < self.messages:
            return None  # fast path: not enough messages at all
        count = len(message.since(self.seconds)) + 1
        if count <= self.messages:
            return None
        return self.decide(self.action, f"rate: {count} messages in {self.seconds:g} s (at most {self.messages})")


@attrs.frozen
class NewcomersPolicy(Options):
    kind = "newcomers"
    seconds: float = option(60.0, number(0.0), "how long a visitor is new")
    action: Verdict = option(Verdict.HOLD, action, "hold or drop")

    def check(self, message: Message) -> Decision | None:
        present = message.present_for
        if present is None or present >= self.seconds:
            return None
        return self.decide(self.action, f"newcomer: joined {present:.0f} s ago")
