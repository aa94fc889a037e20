"""Comparison forms of a text: what the policies match, never what anyone sees.

:func:`fold` is the base form every policy compares:

1. IRC formatting removed (colour codes ``\\x03NN,NN`` and ``\\x04RRGGBB``
   whole, with their digits, so ``\\x0304idiot`` is ``idiot``, not
   ``04idiot``); other control characters become a space when they are
   whitespace (tab, line feed) and vanish otherwise (bold, reset, NUL).
2. Unicode NFKD: the compatibility folding of NFKC (full-width ``ｃｏｎ``,
   mathematical ``𝐜𝐨𝐧``, ligatures, superscripts become plain letters), left
   decomposed so that step 3 can drop the accents.
3. Combining marks (accents: ``é`` is ``e`` + U+0301), format characters
   (zero-width space and joiners, soft hyphen, bidi controls, the invisible
   tag characters U+E0000-E007F) and variation selectors are removed.
4. Look-alikes are folded to Latin (:data:`LOOKALIKES`): the Cyrillic ``с``
   of ``сonnard`` is ``c``, the Greek ``ο`` is ``o``.
5. Unicode case folding (``ß`` is ``ss``).

The look-alike map comes from Unicode's confusables data (UTS #39), as the
``confusable-homoglyphs`` package ships it (MIT): for every non-ASCII
character whose prototype is a plain Latin letter or digit, that letter.
Only this direction is used: ASCII is never rewritten (the full TR39 skeleton
turns ``m`` into ``rn`` and ``compte`` into ``cornpte``). A capital mapped to
``l`` becomes ``i`` (TR39 writes capital I as ``l``), and a short table adds
the lowercase Cyrillic and Greek letters that imitate Latin small capitals,
which TR39 sends to other prototypes (``к`` looks like ``ĸ`` to it).

:func:`words` is the blocklist's form on top of :func:`fold`: single letters
spaced out are joined (``c.o.n.n.a.r.d``, ``c o n``, ``c-o-n``), leetspeak is
read inside words that have two letters or more (``c0nn@rd``, ``1d10t``;
``455`` and ``10h30`` stay as they are), masks at the ends of a word are
emphasis and go (``*idiot*``, ``#concert``), masks inside stay for the
blocklist to read as wildcards (``c*nnard``), and the words come out
separated by single spaces with a space at each end. A run of one character
is cut to :data:`MAX_RUN` and a word to :data:`MAX_WORD` characters: no term
needs more, and it bounds what the blocklist's regexes may have to try.
Some words have a second reading, and then so has the text: ``1`` as ``l``
rather than ``i``, a leading ``@`` as ``a`` rather than a mention, and a
one-letter word kept apart before letters spelt out (``a l o s e r`` reads
``aloser`` and ``a loser``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from confusable_homoglyphs.utils import load as _load_confusables

# ---------------------------------------------------------------- fold

# mIRC colours (\x03, 0-2 digits, optional comma and 0-2 digits) and hex
# colours (\x04 RRGGBB[,RRGGBB]).
_COLOURS = re.compile(r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?")

# TR39 sends these to prototypes that are not Latin (small capitals, kra,
# script letters); in chat they stand for the Latin letter they imitate.
_SMALL_CAPITALS = {
    "к": "k", "м": "m", "т": "t", "н": "h", "в": "b", "г": "r", "п": "n", "ш": "w",
    "κ": "k", "τ": "t", "χ": "x", "β": "b", "η": "n", "ε": "e", "ω": "w", "μ": "u",
}


def _strip_marks(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _lookalikes() -> dict[str, str]:
    folded: dict[str, str] = {}
    for char, entries in _load_confusables("confusables.json").items():
        if len(char) != 1 or char.isascii() or unicodedata.normalize("NFKD", char) != char:
            continue  # ASCII stays as it is; NFKD already folds the others
        targets = set()
        for entry in entries:
            target = _strip_marks(entry["c"]).casefold()
            if target and target.isascii() and target.isalnum():
                targets.add(target)
        if len(targets) == 1:
            target = targets.pop()
            folded[char] = "i" if target == "l" and char.isupper() else target
    for char, target in _SMALL_CAPITALS.items():
        folded[char] = target
        folded.setdefault(char.upper(), target)
    return folded


LOOKALIKES: dict[str, str] = _lookalikes()


def _scan() -> dict[str, str]:
    """One pass over the code points in use: what :func:`fold` removes
    (value ``""``) or turns into a space, and the letters whose case folding
    is a look-alike (Cherokee small letters fold to capitals)."""
    out: dict[str, str] = {}
    for block in (range(0x20000), range(0xE0000, 0xE1000)):
        for cp in block:
            char = chr(cp)
            category = unicodedata.category(char)
            if category in ("Mn", "Me", "Cf"):
                out[char] = ""
            elif category == "Cc" and cp != 0x20:
                out[char] = " " if char.isspace() else ""
            elif category[0] == "L" and cp > 0x7F and char not in LOOKALIKES:
                target = LOOKALIKES.get(char.casefold())
                if target is not None:
                    out[char] = target
    return out


_TABLE: dict[str, str] = {**_scan(), **LOOKALIKES}
_TABLE_ORDS = {ord(char): value for char, value in _TABLE.items()}  # for str.translate
# What may have an entry in _TABLE: all that is not printable ASCII.
_SPECIAL = re.compile("[^\x20-\x7e]")
# Up to this many such characters, a regex with a call for each is faster
# than str.translate over the whole text (French: a few accents; Chinese:
# every character).
_FEW_SPECIAL = 16


def _replace(match: re.Match[str]) -> str:
    char = match.group()
    return _TABLE.get(char, char)


@lru_cache(maxsize=256)
def fold(text: str) -> str:
    """The comparison form of ``text`` (see the module's docstring).
    Memoised: the policies of one chain fold the same text."""
    if "\x03" in text or "\x04" in text:
        text = _COLOURS.sub("", text)
    if text.isascii():
        if not text.isprintable():
            text = _SPECIAL.sub(_replace, text)
        return text.lower()
    text = unicodedata.normalize("NFKD", text)
    if len(text) - len(text.encode("ascii", "ignore")) > _FEW_SPECIAL:
        return text.translate(_TABLE_ORDS).casefold()
    return _SPECIAL.sub(_replace, text).casefold()


_WORD = re.compile(r"[^\W_]+")


def squash(text: str) -> str:
    """:func:`fold`, keeping only words (letters and digits) between single
    spaces: what two messages must share to be "the same text"."""
    return " ".join(_WORD.findall(fold(text)))


# ---------------------------------------------------------------- words

# A word for the blocklist: letters and digits, leet symbols, masks. Anything
# else separates words (the underscore too).
_TOKEN = re.compile(r"[\w@$*#]+")
_LETTERS = re.compile(r"[^\W\d_]")
MASKS = "*#"
# Single characters in a row that make a word: c.o.n.n.a.r.d, c o n, c-o-n.
SPELT_RUN = 3
# Longer runs of one character are cut to this: no term needs more, and a
# run of hundreds would make the blocklist's regexes backtrack for long.
MAX_RUN = 4
# A longer word is read by its first MAX_WORD characters (no term is longer).
MAX_WORD = 64
_LONG_RUN = re.compile("(?=(.)" + r"\1" * MAX_RUN + ")")  # the fast test
_LONG_RUNS = re.compile("(.)" + r"\1" * MAX_RUN + "+")

LEET = str.maketrans({"0": "o", "@": "a", "3": "e", "$": "s", "1": "i", "4": "a", "5": "s", "7": "t"})
# "1" reads as i (1diot) or l (1oser): the second reading, with a leading
# "@" read as "a" (@bruti) rather than a mention (@alice), is the variant.
LEET_VARIANT = str.maketrans({"1": "l"})


def _read(token: str) -> tuple[str, str | None]:
    """One word: its main reading and, when it has one, its variant."""
    if token.isalpha():
        return token, None
    token = token.strip(MASKS)
    body = token.lstrip("@")
    if len(_LETTERS.findall(body)) < 2:
        return body, None  # a number, a price, a time (10h30), a lone symbol
    variant = None
    if len(body) < len(token) or "1" in body:
        variant = ("a" * (len(token) - len(body)) + body).translate(LEET_VARIANT).translate(LEET)
    return body.translate(LEET), variant


# One-letter words that may stand before a word spelt out ("a l o s e r"):
# the variant reading keeps them apart.
ONE_LETTER_WORDS = frozenset("aiyo")


def _spelt(tokens: list[str]) -> list[tuple[str, str | None]]:
    """Runs of :data:`SPELT_RUN` or more one-character words joined; each
    word with its other spelling, if it has one."""
    out: list[tuple[str, str | None]] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) < SPELT_RUN:
            out.extend((token, None) for token in run)
        else:
            lead = 0  # one-letter words before the spelt word: "il y a c o n"
            while len(run) - lead > SPELT_RUN and run[lead] in ONE_LETTER_WORDS:
                lead += 1
            joined = _LONG_RUNS.sub(r"\1" * MAX_RUN, "".join(run[lead:]))
            apart = " ".join((*run[:lead], joined)) if lead else None
            out.append(("".join(run[:lead]) + joined, apart))
        run.clear()

    for token in tokens:
        if len(token) == 1:
            run.append(token)
            continue
        if run:
            flush()
        out.append((token, None))
    if run:
        flush()
    return out


def words(text: str) -> tuple[str, str | None]:
    """The blocklist's form of ``text``: `` word word ... `` (a space at each
    end); and, when some words read otherwise, those words in their other
    reading, in the same form (else ``None``)."""
    main: list[str] = []
    other: list[str] = []  # the words that read otherwise, in their other reading
    folded = fold(text).replace("_", " ")
    if _LONG_RUN.search(folded):
        folded = _LONG_RUNS.sub(r"\1" * MAX_RUN, folded)
    for token, apart in _spelt(_TOKEN.findall(folded)):
        reading, variant = _read(token[:MAX_WORD])
        if not reading:
            continue
        main.append(reading)
        if apart is not None:
            variant = " ".join(_read(part)[0] for part in apart.split())
        if variant is not None:
            other.append(variant)
    first = " " + " ".join(main) + " "
    return first, (" " + " ".join(other) + " ") if other else None
