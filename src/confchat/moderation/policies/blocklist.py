"""The blocklist policy: listed words and phrases, however they are disguised.

Options (defaults in brackets):

``lists`` [``["fr", "en"]``]
    Built-in lists (``lists/<name>.txt``, written for confchat: common
    insults, each with its action, and the allow-list of words that look
    like them).
``terms`` [``[]``]
    More lines in the list format (:mod:`.terms`): ``"connard drop"``,
    ``"idiot hold"``, ``"con*"``, ``"concarneau allow"``.
``allow`` [``[]``]
    More allowed words (``"saint-nazaire"``, ``"conseil*"``).
``default_action`` [``hold``]
    The action of a term whose line names none.

The message is read as :func:`.normalize.words` puts it (accents, case,
look-alikes, zero-width characters, leetspeak, spelt-out letters), in both
readings when it has two (``1`` as i and as l), and matched on word
boundaries (see :mod:`.terms` and :mod:`.matcher`). The decision names the
terms found (a drop if any is a drop term); its score is their number.

What the word-boundary rule does with the classic traps:

- ``Concarneau``, ``conseil``, ``compte``, ``classe``, ``passe``,
  ``bosser``, ``Saint-Nazaire``, ``Scunthorpe``: one word each (a hyphen
  separates words, so Saint-Nazaire is ``saint`` ``nazaire``), none is a
  listed word: untouched. They are in the built-in allow-list as well, so a
  wildcard added later (``con*``, ``*cunt*``, ``naz*``) does not catch them.
- ``député``, ``Puteaux``, ``dispute``: ``pute*`` matches words that begin
  with ``pute``, never a ``pute`` inside a word.
- ``saTURDay``: case is folded and the word is ``saturday``; ``turd`` would
  match only as ``*turd*``. Spaces are never removed between words of two
  letters or more, so ``sat urday`` is two words too.
- ``as``, ``assess``: letters are never taken away, so ``as`` is not
  ``ass``; ``asssss`` is.
- ``Il est con-vaincu``: the hyphen separates ``con`` from ``vaincu``, and
  ``con`` is a listed word (hold): held for a moderator. That is the pun's
  point; a hold, not a drop, because the moderator decides. ``chili con
  carne`` is held too, for the same reason.
- ``c o n`` or ``c.o.n``: three or more one-letter words in a row are one
  word, ``con``. Two are not (``y a`` stays ``y a``).
- Words the French list leaves out on purpose because they have an innocent
  use at a city's meeting: ``ordure`` (household waste), ``porc`` (the
  canteen), ``cul`` (cul-de-sac), ``douche`` (the public showers).
"""

from __future__ import annotations

from typing import Any

import attrs

from .base import Decision, Message, Options, Verdict, action, option, strings
from .matcher import Matcher
from .normalize import words
from .terms import Term, TermError, builtin_list, parse_lines


def _lists(value: Any) -> tuple[str, ...]:
    names = strings(value)
    for name in names:
        try:
            builtin_list(name)
        except TermError as error:
            raise ValueError(str(error)) from None
    return names


def _terms(value: Any) -> tuple[str, ...]:
    lines = strings(value)
    try:
        parse_lines(lines, Verdict.HOLD)
    except TermError as error:
        raise ValueError(str(error)) from None
    return lines


def _allowed(value: Any) -> tuple[str, ...]:
    entries = strings(value)
    try:
        parse_lines([f"{entry} allow" for entry in entries], Verdict.HOLD)
    except TermError as error:
        raise ValueError(str(error)) from None
    return entries


@attrs.frozen
class BlocklistPolicy(Options):
    kind = "blocklist"
    lists: tuple[str, ...] = option(("fr", "en"), _lists, "built-in lists: fr, en")
    terms: tuple[str, ...] = option((), _terms, "more list lines: 'term [drop|hold|allow]'")
    allow: tuple[str, ...] = option((), _allowed, "more allowed words ('word' or 'word*')")
    default_action: Verdict = option(Verdict.HOLD, action, "action of a term without one")
    compiled: Matcher = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        lines: list[str] = []
        for name in self.lists:
            lines.extend(builtin_list(name))
        lines.extend(self.terms)
        lines.extend(f"{word} allow" for word in self.allow)
        terms: tuple[Term, ...] = parse_lines(lines, self.default_action)
        object.__setattr__(self, "compiled", Matcher(terms))

    def check(self, message: Message) -> Decision | None:
        main, variant = words(message.text)
        hits = self.compiled.find(main)
        if variant is not None:
            seen = {h.found for h in hits}
            hits.extend(h for h in self.compiled.find(variant) if h.found not in seen)
        if not hits:
            return None
        drops = [h for h in hits if h.action is Verdict.DROP]
        chosen = drops or hits
        listed = ", ".join(dict.fromkeys(h.term for h in chosen))
        verdict = Verdict.DROP if drops else Verdict.HOLD
        return self.decide(verdict, f"blocked words: {listed}", float(len(chosen)))
