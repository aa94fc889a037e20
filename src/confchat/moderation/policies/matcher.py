"""A blocklist compiled once: a few regexes that read a message in one go.

The terms become tries of letters written as regexes (``con`` and ``conne``
share ``c+o+n+``), so the cost of a message grows with its words, hardly with
the size of the list: sre's branches reject a wrong first letter at once.
Each letter repeated ``k`` times in a term is ``x{k,}``: repeats in the
message are absorbed, missing letters are not (``as`` is not ``ass``).

Three passes over the :func:`.normalize.words` form (words between single
spaces): ``start`` for exact and ``prefix*`` terms, anchored on the space
before a word (the search jumps from space to space); ``end`` for
``*suffix`` terms, the same way over the reversed text; ``inside`` for
``*inside*`` terms, anywhere. A match is then checked against the
allow-list, and its term and action looked up (a drop wins over a hold on
the same word). Masks (``c*nnard``) need the letters of the pattern to
accept ``*`` and ``#`` too: a second set of patterns, used only when the
text has a mask inside a word; there each action has its own group, and
the masked word itself stands for the term.
"""

from __future__ import annotations

import re
from itertools import groupby

import attrs

from .base import Verdict
from .normalize import MASKS
from .terms import Term

_RUNS = re.compile(r"(.)\1*")
PASSES = {"start": ("exact", "prefix"), "end": ("suffix",), "inside": ("contains",)}


def runs(text: str) -> list[tuple[str, int]]:
    """``connard`` -> c1 o1 n2 a1 r1 d1."""
    return [(char, len(list(group))) for char, group in groupby(text)]


def collapse(text: str) -> str:
    return _RUNS.sub(r"\1", text)


def trie_regex(terms: list[Term], masked: bool = False, reverse: bool = False) -> str:
    """One regex for ``terms``, a trie of their letters: the alternatives at
    each point begin with distinct literals, which sre rejects at once. The
    last letter of each run may repeat (``connard``: ``con+ar+d``, with
    ``nn`` required). An exact term must end at a word's end."""
    root: dict = {}
    for term in terms:
        node = root
        for char, count in runs(term.words[::-1] if reverse else term.words):
            for i in range(count):
                node = node.setdefault((char, i == count - 1), {})
        node["open" if (term.starts_open if reverse else term.ends_open) else "word"] = None

    def emit(node: dict) -> str:
        by_char: dict[str, list[tuple[bool, dict]]] = {}
        for key, child in node.items():
            if isinstance(key, tuple):
                by_char.setdefault(key[0], []).append((key[1], child))
        alternatives = []
        for char, branches in by_char.items():
            one = " " if char == " " else f"[{re.escape(char)}*#]" if masked else re.escape(char)
            more = "" if char == " " else one + "*"
            inner = [(more if last else "") + emit(child) for last, child in sorted(branches, key=lambda b: b[0])]
            alternatives.append(one + (inner[0] if len(inner) == 1 else "(?:" + "|".join(inner) + ")"))
        if "word" in node and "open" not in node:
            alternatives.append("(?= )")
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
        return f"(?:{body})?" if "open" in node else body

    return emit(root)


@attrs.frozen
class Hit:
    term: str  # the term as listed (the masked word, for a masked hit)
    action: Verdict
    found: str  # the words of the message that matched


class Matcher:
    """Terms and allowed words, compiled once; :meth:`find` reads a text."""

    def __init__(self, terms: tuple[Term, ...]) -> None:
        allowed: set[str] = set()
        prefixes: set[str] = set()
        listed: list[Term] = []
        for term in terms:
            if term.action is None:  # every word of an allowed "saint-nazaire"
                *whole, last = term.words.split()
                allowed.update(map(collapse, whole))
                (prefixes if term.ends_open else allowed).add(collapse(last))
            else:
                listed.append(term)
        self.allowed = frozenset(allowed)
        self.allowed_prefixes = tuple(sorted(prefixes))
        self.size = len(listed)
        # The terms by their letters, each once, with their runs: to name
        # the term behind a match.
        self.by_letters: dict[str, list[tuple[Term, list[tuple[str, int]]]]] = {}
        for term in listed:
            self.by_letters.setdefault(collapse(term.words), []).append((term, runs(term.words)))
        self._plain: list[tuple[str, re.Pattern[str]]] = []
        self._masked: list[tuple[str, re.Pattern[str]]] = []
        for where, kinds in PASSES.items():
            chosen = [t for t in listed if t.kind in kinds]
            if not chosen:
                continue
            reverse, lead = where == "end", "" if where == "inside" else " "
            self._plain.append((where, re.compile(lead + "(?:" + trie_regex(chosen, False, reverse) + ")")))
            groups = [
                f"(?P<{verdict.value}>{trie_regex(some, True, reverse)})"
                for verdict in (Verdict.DROP, Verdict.HOLD)
                if (some := [t for t in chosen if t.action is verdict])
            ]
            self._masked.append((where, re.compile(lead + "(?:" + "|".join(groups) + ")")))

    def is_allowed(self, word: str) -> bool:
        letters = collapse(word)
        return letters in self.allowed or letters.startswith(self.allowed_prefixes)

    def find(self, text: str) -> list[Hit]:
        """The hits in ``text``, a form from :func:`.normalize.words` (a
        space at each end)."""
        masked = "*" in text or "#" in text  # MASKS
        hits: list[Hit] = []
        for where, pattern in self._masked if masked else self._plain:
            reverse = where == "end"
            subject = text[::-1] if reverse else text
            for match in pattern.finditer(subject):
                found = match.group().lstrip(" ")
                start, end = match.end() - len(found), match.end()
                covering = subject[subject.rfind(" ", 0, start) + 1 : subject.find(" ", end)]
                if reverse:
                    found, covering = found[::-1], covering[::-1]
                if " " not in covering and self.is_allowed(covering):
                    continue
                hit = self._masked_hit(match, found, covering) if masked else self._hit(where, found, covering)
                if hit is not None:
                    hits.append(hit)
        return hits

    @staticmethod
    def _masked_hit(match: re.Match[str], found: str, covering: str) -> Hit | None:
        masks = sum(found.count(mask) for mask in MASKS)
        letters = len(found) - found.count(" ") - masks
        if masks and (letters < 2 or letters < masks):
            return None  # "****" or "f***": too little left to read
        return Hit(covering, Verdict(match.lastgroup), covering)

    def _hit(self, where: str, found: str, covering: str) -> Hit:
        """The term behind a match. The regex matched ``found``; a term of
        the other action may match the same word (``con*`` hold, ``connard``
        drop), so the word's own readings are looked up too: the whole word
        for exact terms, each of its beginnings (or ends) for open ones."""
        kinds = PASSES[where] if found == covering else tuple(k for k in PASSES[where] if k != "exact")
        readings = [(runs(found), kinds)]
        if " " not in covering and where != "inside":
            word = runs(covering)
            if where == "start":
                readings.append((word, ("exact",)))
            for size in range(1, len(word) + 1):
                readings.append((word[:size], ("prefix",)) if where == "start" else (word[-size:], ("suffix",)))
        best: tuple[bool, int] = (False, -1)
        chosen: Term | None = None
        for have, kinds in readings:
            for term, need in self.by_letters.get("".join(char for char, _ in have), ()):
                if term.kind in kinds and all(h[1] >= n[1] for h, n in zip(have, need)):
                    rank = (term.action is Verdict.DROP, sum(n for _, n in need))
                    if rank > best:
                        best, chosen = rank, term
        if chosen is None or chosen.action is None:  # cannot happen: the regex matched a term
            return Hit(found, Verdict.HOLD, covering)
        return Hit(chosen.text, chosen.action, covering)
