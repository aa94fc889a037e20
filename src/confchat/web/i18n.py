"""The words of the web pages, one JSON file per language in
``translations/`` (``en.json``, ``fr.json``): a language is a file, and
adding a file adds the language (Accept-Language then picks it too).

A file holds the locale for dates and times, then one section per use:
``shell`` (the words the server writes into the HTML shell), ``common``
(every page), and one section per page (``visitor``, ``moderator``,
``guest``, ``embed``, ``screen``, ``admin``). A page is sent its words in its settings block:
shell, common and its own section, the English words under the others so
that a missing translation shows in English rather than as a key.

A value is a text with ``{name}`` placeholders, a list of texts, or a
plural: ``{"one": "1 vote", "other": "{n} votes"}``, chosen by the count
``n`` with the language's plural rules (``Intl.PluralRules``), an exact
form such as ``"=1"`` first. The files are read once, at start.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

DEFAULT_LANGUAGE = "en"
PAGES = ("visitor", "moderator", "guest", "embed", "screen", "admin")
SECTIONS = ("shell", "common", *PAGES)
PLURAL_FORMS = frozenset({"zero", "one", "two", "few", "many", "other"})
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_EXACT = re.compile(r"=[0-9]+")


class TranslationError(ValueError):
    """A translation file that cannot be used; the message names it."""


def _check_value(where: str, value: Any) -> None:
    if isinstance(value, str):
        return
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return
    if (
        isinstance(value, dict)
        and "other" in value
        and all((k in PLURAL_FORMS or _EXACT.fullmatch(k)) and isinstance(v, str) for k, v in value.items())
    ):
        return
    raise TranslationError(f"{where} must be a text, a list of texts or a plural with an 'other' form")


def _read(entry: Traversable) -> dict[str, Any]:
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
    except ValueError as error:
        raise TranslationError(f"translations/{entry.name}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("locale", ""), str):
        raise TranslationError(f"translations/{entry.name}: not a translation file")
    for section in SECTIONS:
        words = data.setdefault(section, {})
        if not isinstance(words, dict):
            raise TranslationError(f"translations/{entry.name}: {section} must be an object")
        for key, value in words.items():
            _check_value(f"translations/{entry.name}: {section}.{key}", value)
    return data


class Translations:
    """The translation files of one folder, merged per page."""

    def __init__(self, folder: Traversable | Path) -> None:
        files: dict[str, dict[str, Any]] = {}
        for entry in folder.iterdir():
            language = entry.name.removesuffix(".json")
            if entry.name.endswith(".json") and _LANGUAGE.fullmatch(language):
                files[language] = _read(entry)
        if DEFAULT_LANGUAGE not in files:
            raise TranslationError(f"translations/{DEFAULT_LANGUAGE}.json is missing")
        self._files = files
        # English first: the fallback when nothing else fits.
        self.languages: tuple[str, ...] = (DEFAULT_LANGUAGE, *sorted(set(files) - {DEFAULT_LANGUAGE}))
        self.shell = {language: self._merged(language, ("shell",)) for language in self.languages}
        self._pages = {
            (language, page): self._merged(language, ("shell", "common", page))
            for language in self.languages
            for page in PAGES
        }

    def _merged(self, language: str, sections: tuple[str, ...]) -> dict[str, Any]:
        words: dict[str, Any] = {}
        for source in dict.fromkeys((DEFAULT_LANGUAGE, language)):
            for section in sections:
                words.update(self._files[source][section])
        return words

    def page_words(self, language: str, page: str) -> dict[str, Any]:
        """Every word ``page`` needs in ``language`` (English where a
        translation is missing)."""
        return self._pages[(language if language in self.languages else DEFAULT_LANGUAGE, page)]

    def locale(self, language: str) -> str:
        """The locale the pages format dates and times in (``en-GB``)."""
        data = self._files.get(language, self._files[DEFAULT_LANGUAGE])
        return data.get("locale") or language


TRANSLATIONS = Translations(resources.files("confchat.web") / "translations")
LANGUAGES = TRANSLATIONS.languages
# The shell's words: what the server writes into a page itself.
WORDS: dict[str, dict[str, str]] = TRANSLATIONS.shell
page_words = TRANSLATIONS.page_words
locale = TRANSLATIONS.locale


def choose_language(configured: str, accept_language: str, languages: tuple[str, ...] = LANGUAGES) -> str:
    """The browser's preferred supported language (Accept-Language: highest
    q, earliest on a tie), else the configured one."""
    best_q, best = 0.0, ""
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        if primary in languages and q > best_q:
            best_q, best = q, primary
    if best:
        return best
    return configured if configured in languages else DEFAULT_LANGUAGE
