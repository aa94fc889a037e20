"""Property tests: serialize then parse gives back the same Message."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from confchat.proto.codec import (
    escape_tag_value,
    parse_line,
    parse_tags,
    serialize,
    serialize_tags,
    unescape_tag_value,
)
from confchat.proto.message import Message

# Any unicode character except surrogates (not encodable) and NUL, which an
# escaped tag value may not hold (message-tags: "any characters except NUL,
# CR, LF, semicolon and SPACE" after escaping; CR, LF, ; and SPACE have escapes).
_TEXT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
# Make the characters with special meaning show up often.
_TRICKY = st.sampled_from([";", " ", "\\", "\r", "\n", "=", ":", "@", "\\s", "\\:"])

tag_values = st.lists(st.one_of(_TRICKY, st.text(_TEXT_CHARS, max_size=5)), max_size=8).map("".join)

_KEY_CHARS = st.characters(whitelist_categories=(), whitelist_characters="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_key_names = st.text(_KEY_CHARS, min_size=1, max_size=10)
_vendors = st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9]{1,8}){0,2}", fullmatch=True)
tag_keys = st.builds(
    lambda plus, vendor, name: ("+" if plus else "") + (vendor + "/" if vendor else "") + name,
    st.booleans(),
    st.none() | _vendors,
    _key_names,
)
tags = st.dictionaries(tag_keys, tag_values, max_size=5)

# Anything but the separators: no spaces, CR, LF or NUL.
_WORD_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters=" \r\n\x00")
sources = st.none() | st.text(_WORD_CHARS, min_size=1, max_size=30)
commands = st.from_regex(r"[A-Za-z]+", fullmatch=True) | st.from_regex(r"[0-9]{3}", fullmatch=True)
middles = st.text(_WORD_CHARS, min_size=1, max_size=15).filter(lambda s: not s.startswith(":"))
_LAST_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00")
lasts = st.text(_LAST_CHARS, max_size=40) | st.sampled_from(["", " ", ":", "::x", " lead", "trail ", "a :b"])


@st.composite
def messages(draw):
    params = draw(st.lists(middles, max_size=5))
    if draw(st.booleans()):
        params.append(draw(lasts))
    return Message(draw(commands), params, draw(sources), draw(tags))


@given(messages())
@settings(max_examples=500)
def test_serialize_then_parse_is_identity(msg):
    data = serialize(msg)
    assert data.endswith(b"\r\n")
    body = data[:-2]
    assert b"\r" not in body and b"\n" not in body and b"\x00" not in body
    assert parse_line(body.decode("utf-8")) == msg


@given(tag_values)
@settings(max_examples=500)
def test_escape_then_unescape_is_identity(value):
    escaped = escape_tag_value(value)
    # The escaped form may not hold the characters that delimit tags or lines.
    assert not any(ch in escaped for ch in "; \r\n")
    assert unescape_tag_value(escaped) == value


@given(tags)
def test_tag_section_round_trips(tag_map):
    assert parse_tags(serialize_tags(tag_map)) == tag_map


def test_escape_table_matches_the_spec():
    # message-tags "Escaping values" table.
    assert escape_tag_value("; \\\r\n") == "\\:\\s\\\\\\r\\n"
    assert escape_tag_value("raw+:=,escaped; \\") == "raw+:=,escaped\\:\\s\\\\"
    assert unescape_tag_value("raw+:=,escaped\\:\\s\\\\") == "raw+:=,escaped; \\"


def test_unescape_edge_cases_from_the_spec():
    # A lone trailing backslash produces nothing; an unknown escape is the char itself.
    assert unescape_tag_value("test\\") == "test"
    assert unescape_tag_value("a\\bc") == "abc"
