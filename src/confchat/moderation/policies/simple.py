"""Policies on the shape of one message: shouting, length, repeats, mentions.

Each has ``action`` (``hold`` or ``drop``, default ``hold``) and ``exempt``
besides the options below (defaults in brackets).

``shouting``: ``min_letters`` [12], ``ratio`` [0.7]. A message with at least
``min_letters`` letters of which at least ``ratio`` are capitals. Short
cries (``MERCI !``, ``SNCF``) pass.

``max_length``: ``max_chars`` [500]. Longer messages, counted in characters
(code points), not bytes.

``repeated``: ``max_run`` [6], ``digits`` [false]. More than ``max_run``
times the same character in a row (``!!!!!!!``, ``aaaaaaaaaa``, case and
accents ignored). Spaces never count; digits only with ``digits``, since
``10000000`` is a budget, not a flood.

``mentions``: ``max_mentions`` [3]. More than ``max_mentions`` different
nicks addressed: ``@nick`` anywhere, the ``nick:`` / ``nick,`` list that
opens a message, and, when the shell passes the conference's members, any
word that is a member's nick.
"""

from __future__ import annotations

import re

import attrs

from ...proto.casemap import casefold
from .base import Decision, Message, Options, Verdict, action, boolean, integer, number, option
from .normalize import fold


_ASCII_LOWER = bytes(range(ord("a"), ord("z") + 1))
_UPPER_OR_HIGH = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(0x80, 0x100))


@attrs.frozen
class ShoutingPolicy(Options):
    kind = "shouting"
    min_letters: int = option(12, integer(1), "letters a message needs before it can shout")
    ratio: float = option(0.7, number(0.0, 1.0), "share of capitals among letters that is shouting")
    action: Verdict = option(Verdict.HOLD, action, "hold or drop")

    def check(self, message: Message) -> Decision | None:
        text = message.text
        if text.islower() or len(text) < self.min_letters:
            return None
        # A bound first, on the UTF-8 bytes (fast): ASCII lowercase letters
        # are sure, capitals at most the ASCII ones plus every non-ASCII byte.
        raw = text.encode()
        lower = len(raw) - len(raw.translate(None, _ASCII_LOWER))
        upper = len(raw) - len(raw.translate(None, _UPPER_OR_HIGH))
        if upper < self.ratio * (upper + lower):
            return None
        letters = sum(map(str.isalpha, text))
        if letters < self.min_letters:
            return None
        capitals = sum(map(str.isupper, text))
        if capitals < self.ratio * letters:
            return None
        return self.decide(self.action, f"shouting: {capitals} capitals in {letters} letters")


@attrs.frozen
class MaxLengthPolicy(Options):
    kind = "max_length"
    max_chars: int = option(500, integer(1), "the longest message that passes")
    action: Verdict = option(Verdict.HOLD, action, "hold or drop")

    def check(self, message: Message) -> Decision | None:
        if len(message.text) <= self.max_chars:
            return None
        return self.decide(self.action, f"too long: {len(message.text)} characters (at most {self.max_chars})")


@attrs.frozen
class RepeatedPolicy(Options):
    kind = "repeated"
    max_run: int = option(6, integer(1), "the longest run of one character that passes")
    digits: bool = option(False, boolean, "whether runs of digits count")
    action: Verdict = option(Verdict.HOLD, action, "hold or drop")
    pattern: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # Where a run longer than max_run starts; a lookahead of back
        # references is the fastest form sre has for it.
        object.__setattr__(self, "pattern", re.compile(r"(?=(.)" + r"\1" * self.max_run + ")", re.DOTALL))

    def check(self, message: Message) -> Decision | None:
        text = fold(message.text)
        for match in self.pattern.finditer(text):
            char = match.group(1)
            if char.isspace() or (char.isdigit() and not self.digits):
                continue
            start = match.start()
            length = len(text) - start - len(text[start:].lstrip(char))
            return self.decide(self.action, f"repeated: {length} times {char!r}")
        return None


# An IRC nick (RFC 2812 letters and specials), after "@" or opening a message.
_NICK = r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*"
_AT = re.compile(rf"(?<![\w@])@({_NICK})")
_OPENING = re.compile(rf"\s*((?:{_NICK}\s*[,:](?!//)\s*)+)")  # not https://
_OPENING_NICK = re.compile(_NICK)
_WORDS = re.compile(r"[\w\[\]\\`^{|}-]+")


@attrs.frozen
class MentionsPolicy(Options):
    kind = "mentions"
    max_mentions: int = option(3, integer(0), "the most nicks a message may address")
    action: Verdict = option(Verdict.HOLD, action, "hold or drop")

    def mentioned(self, message: Message) -> set[str]:
        text = message.text
        nicks = {casefold(n) for n in _AT.findall(text)} if "@" in text else set()
        opening = _OPENING.match(text)
        if opening:
            nicks.update(casefold(n) for n in _OPENING_NICK.findall(opening.group(1)))
        if message.members:
            nicks.update(w for w in map(casefold, _WORDS.findall(text)) if w in message.members)
        nicks.discard(casefold(message.nick))
        return nicks

    def check(self, message: Message) -> Decision | None:
        nicks = self.mentioned(message)
        if len(nicks) <= self.max_mentions:
            return None
        return self.decide(self.action, f"mentions {len(nicks)} nicks (at most {self.max_mentions})")
