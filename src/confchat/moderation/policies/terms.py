"""Blocklists: the list format, and the lists shipped with confchat.

The format, one term a line (``lists/*.txt`` and the ``terms`` option)::

    # a comment
    connard* drop
    idiot hold
    fils de pute drop
    concarneau allow

A term is one or more words; its last word is its action when that word is
``drop``, ``hold`` or ``allow`` (else the policy's ``default_action``). A
``*`` at the end of a term lets its last word go on (``connard*``: connards,
connasse is not); at its start lets the first word begin earlier
(``*connard``: ``grosconnard``); at both ends of one word the word may sit
anywhere inside another (``*cunt*``). A ``*`` anywhere else is an error.
``allow`` lines form the allow-list: a word written there never matches,
whatever the terms say (``con*`` with ``concarneau allow``). Terms are
normalised as messages are (:func:`.normalize.words`: accents, case, leet),
so ``enculé`` and ``encule`` are one term.

Matching is on word boundaries: a term matches whole words of the message
(one word, or consecutive words for a phrase), unless a ``*`` says otherwise.
A letter repeated in the message counts once more than needed: ``connnnard``
matches ``connard``, but ``as`` does not match ``ass`` (every letter of a
term must be there as many times as in the term). A mask inside a word
(``c*nnard``, ``c#nnard``) stands for any letters, provided at least two
letters are real and no fewer letters than masks: ``c**nard`` matches,
``****`` and ``f***`` do not.

:class:`.matcher.Matcher` compiles a list for matching.
"""

from __future__ import annotations

from importlib import resources

import attrs

from .base import Verdict
from .normalize import MASKS, MAX_WORD, words

ACTIONS = {"drop": Verdict.DROP, "hold": Verdict.HOLD}
ALLOW = "allow"
MAX_TERM = MAX_WORD  # characters; longer is a mistake in a list, not a term


class TermError(ValueError):
    """A line of a list that is not a term."""


@attrs.frozen
class Term:
    text: str  # as the list wrote it (what a reason shows)
    words: str  # normalised words, single spaces
    action: Verdict | None  # None: allow-list entry
    starts_open: bool = False  # "*word": the first word may begin earlier
    ends_open: bool = False  # "word*": the last word may go on

    @property
    def kind(self) -> str:
        if self.starts_open:
            return "contains" if self.ends_open else "suffix"
        return "prefix" if self.ends_open else "exact"


def parse_line(line: str, default: Verdict) -> Term | None:
    """One line of a list; ``None`` for a blank line or a comment."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    parts = line.split()
    action: Verdict | None = default
    if len(parts) > 1 and parts[-1].lower() in (*ACTIONS, ALLOW):
        word = parts.pop().lower()
        action = None if word == ALLOW else ACTIONS[word]
    raw = " ".join(parts)
    if len(raw) > MAX_TERM:
        raise TermError(f"term longer than {MAX_TERM} characters: {raw[:20]}...")
    core = raw.strip("*")
    if "*" in core or "#" in core:
        raise TermError(f"a * may only begin or end a term: {raw}")
    normal = words(core)[0].strip()
    if not normal or any(mask in normal for mask in MASKS):
        raise TermError(f"no letters in term: {raw}")
    starts, ends = raw.startswith("*"), raw.endswith("*")
    if action is None and starts:
        raise TermError(f"an allowed word may end with * but not begin with it: {raw}")
    return Term(raw, normal, action, starts, ends)


def parse_lines(lines: list[str] | tuple[str, ...], default: Verdict) -> tuple[Term, ...]:
    out = []
    for number, line in enumerate(lines, 1):
        try:
            term = parse_line(line, default)
        except TermError as error:
            raise TermError(f"line {number}: {error}") from None
        if term is not None:
            out.append(term)
    return tuple(out)


def builtin_list(name: str) -> list[str]:
    """The lines of ``lists/<name>.txt``, shipped with confchat."""
    path = resources.files(__package__).joinpath("lists", f"{name}.txt")
    if not (name.isascii() and name.isalnum()) or not path.is_file():
        raise TermError(f"no built-in list named {name!r}")
    return path.read_text(encoding="utf-8").splitlines()
