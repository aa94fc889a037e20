"""The pages' words: one translation file per language (web/translations),
checked against English and against the lists of values (confchat.vocab),
and delivered in each page's settings block with those lists."""

from __future__ import annotations

import http.client
import json
import re
import shutil
from importlib import resources
from pathlib import Path

import pytest

from confchat import vocab
from confchat.web.i18n import SECTIONS, TranslationError, Translations, choose_language, page_words

FOLDER = Path(str(resources.files("confchat.web") / "translations"))
FILES = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(FOLDER.glob("*.json"))}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def placeholders(value) -> set[str]:
    texts = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


@pytest.mark.parametrize("language", sorted(set(FILES) - {"en"}))
def test_a_translation_has_only_english_keys_with_the_same_placeholders(language):
    english, other = FILES["en"], FILES[language]
    assert set(other) <= {"locale", *SECTIONS}
    for section in SECTIONS:
        for key, value in other.get(section, {}).items():
            assert key in english[section], f"{language}: {section}.{key} is not an English key"
            assert placeholders(value) == placeholders(english[section][key]), f"{language}: {section}.{key}"
            assert type(value) is type(english[section][key]), f"{language}: {section}.{key}"


def test_french_is_complete():
    for section in SECTIONS:
        assert set(FILES["fr"][section]) == set(FILES["en"][section]), section


@pytest.mark.parametrize("language", sorted(FILES))
def test_every_state_and_mode_has_its_words(language):
    """The pages show each conference state and room mode the server
    declares: a new value needs its words in every language."""
    words = FILES[language]
    for state in vocab.values(vocab.ConferenceState):
        assert f"st_{state}" in words["moderator"], state
        assert f"state_{state}" in words["guest"], state
        assert f"state_{state}" in words["visitor"] and f"system_state_{state}" in words["visitor"], state
    for mode in vocab.values(vocab.RoomMode):
        assert f"md_{mode}" in words["moderator"], mode
        assert f"mode_{mode}" in words["visitor"] and f"system_mode_{mode}" in words["visitor"], mode


def test_a_third_language_is_a_file(tmp_path):
    shutil.copy(FOLDER / "en.json", tmp_path / "en.json")
    (tmp_path / "de.json").write_text(json.dumps({
        "locale": "de-DE",
        "shell": {"title_visitor": "Live-Fragen"},
        "visitor": {"join": "Dem Chat beitreten", "votes": {"one": "1 Stimme", "other": "{n} Stimmen"}},
    }), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a translation")
    translations = Translations(tmp_path)
    assert translations.languages == ("en", "de")
    assert translations.shell["de"]["title_visitor"] == "Live-Fragen"
    words = translations.page_words("de", "visitor")
    assert words["join"] == "Dem Chat beitreten" and words["votes"]["other"] == "{n} Stimmen"
    assert words["join_title"] == FILES["en"]["visitor"]["join_title"]  # not translated yet: English
    assert words["retry"] == "Retry" and words["title_guest"] == "Guest console"
    assert translations.locale("de") == "de-DE"
    assert choose_language("en", "de-DE,de;q=0.9,en;q=0.5", translations.languages) == "de"


@pytest.mark.parametrize(
    "content, complaint",
    [
        ("{not json", "de.json"),
        ('["a list"]', "not a translation file"),
        ('{"visitor": {"votes": {"one": "1 Stimme"}}}', "visitor.votes"),
        ('{"visitor": {"join": 3}}', "visitor.join"),
        ('{"guest": []}', "guest must be an object"),
    ],
)
def test_a_bad_translation_file_is_named(tmp_path, content, complaint):
    shutil.copy(FOLDER / "en.json", tmp_path / "en.json")
    (tmp_path / "de.json").write_text(content, encoding="utf-8")
    with pytest.raises(TranslationError, match=re.escape(complaint)):
        Translations(tmp_path)


def _get(server, path: str, language: str = "en") -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    conn.request("GET", path, headers={"Accept-Language": language})
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type") or "", response.read().decode()


def _settings(body: str) -> dict:
    block = re.search(r'<script type="application/json" id="confchat-settings">(.*?)</script>', body, re.S)
    assert block, body
    return json.loads(block.group(1))


@pytest.mark.parametrize("path, page", [("/", "visitor"), ("/moderator", "moderator"), ("/guest", "guest"), ("/embed", "embed")])
def test_each_page_is_sent_its_words_and_the_lists_of_values(server, path, page):
    for language, locale in (("en", "en-GB"), ("fr", "fr-FR")):
        status, _, body = _get(server, path, language)
        assert status == 200
        settings = _settings(body)
        assert settings["language"] == language and settings["locale"] == locale
        assert settings["words"] == page_words(language, page)
        assert settings["vocab"] == vocab.as_json()


def test_the_lists_of_values_are_served_as_json(server):
    status, content_type, body = _get(server, "/vocab.json")
    assert status == 200 and content_type == "application/json"
    assert json.loads(body) == vocab.as_json()
