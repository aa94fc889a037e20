"""rfc1459 case mapping, nick and channel name rules, mask matching."""

from __future__ import annotations

import pytest

from confchat.proto.casemap import casefold, is_valid_channel, is_valid_nick, mask_match


def test_rfc1459_folds_brackets_backslash_and_tilde():
    # RFC 1459 section 2.2: {}| are the lower case of []\ ; CASEMAPPING=rfc1459 adds ~ -> ^.
    assert casefold("[]\\~") == "{}|^"
    assert casefold("{}|^") == "{}|^"


def test_ascii_letters_fold_and_others_do_not():
    assert casefold("ABCXYZ abcxyz 0123_-`") == "abcxyz abcxyz 0123_-`"
    # rfc1459 is ASCII-only: non-ASCII letters are left alone.
    assert casefold("ÉÀ") == "ÉÀ"


@pytest.mark.parametrize(
    ("a", "b"), [("Alice", "alice"), ("[x]", "{x}"), ("a\\b", "A|B"), ("x~", "X^"), ("Joe[Work]", "joe{work}")]
)
def test_equivalent_nicks_fold_alike(a, b):
    assert casefold(a) == casefold(b)


@pytest.mark.parametrize(
    "nick",
    ["a", "Alice", "[away]", "\\o", "`tick", "_under", "^caret", "{x}", "|pipe", "a-b", "n1ck", "a" * 9],
)
def test_valid_nicks(nick):
    assert is_valid_nick(nick, 30)


@pytest.mark.parametrize(
    "nick",
    [
        "",
        "1abc",  # RFC 2812: must start with a letter or special
        "-dash",
        "a b",
        "a,b",
        "a!b",
        "a@b",
        "a*",
        "a?",
        "#chan",
        ":colon",
        "a.b",
        "né",
        "a\x00",
        "a\n",
        "nick\n",
    ],
)
def test_invalid_nicks(nick):
    assert not is_valid_nick(nick, 30)


def test_nick_length_limit_is_inclusive():
    assert is_valid_nick("a" * 9, 9)
    assert not is_valid_nick("a" * 10, 9)
    assert is_valid_nick("a" * 30, 30)
    assert not is_valid_nick("a" * 31, 30)


@pytest.mark.parametrize("name", ["#a", "&local", "#chan-name", "#ÜñÍ¢ødé", "#with.dot", "#a" + "b" * 62])
def test_valid_channels(name):
    assert is_valid_channel(name, 64)


@pytest.mark.parametrize(
    "name",
    [
        "#",  # prefix alone
        "chan",  # no prefix
        "!chan",  # not in CHANTYPES=#&
        "+chan",
        "#a b",
        "#a,b",
        "#bell\x07",
        "#a:b",
        "#nul\x00",
        "#cr\r",
        "#lf\n",
        "",
    ],
)
def test_invalid_channels(name):
    assert not is_valid_channel(name, 64)


def test_channel_length_limit_is_inclusive():
    assert is_valid_channel("#" + "a" * 49, 50)
    assert not is_valid_channel("#" + "a" * 50, 50)


def test_mask_match_is_case_insensitive_under_rfc1459():
    assert mask_match("*!*@EXAMPLE.com", "nick!user@example.COM")
    assert mask_match("[x]!*@*", "{X}!u@h")
    assert mask_match("a|b!*@*", "A\\B!u@h")


def test_mask_match_wildcards():
    assert mask_match("*", "")
    assert mask_match("a?c", "abc")
    assert not mask_match("a?c", "ac")
    assert not mask_match("abc", "abcd")  # anchored at the end
    assert not mask_match("bcd", "abcd")  # anchored at the start
    assert mask_match("a*z", "a\nz")  # * crosses any character


def test_mask_match_escaped_wildcards_are_literal():
    assert mask_match("a\\*", "a*")
    assert not mask_match("a\\*", "ab")
    assert mask_match("a\\?", "a?")
    assert not mask_match("a\\?", "ab")


def test_mask_match_backslash_not_before_a_wildcard_is_a_literal_nick_char():
    assert mask_match("a\\b!*@*", "a\\b!u@h")
    assert mask_match("a\\b!*@*", "A|B!u@h")  # rfc1459: \ and | are the same letter


def test_mask_match_regex_metacharacters_are_literal():
    assert mask_match("a.b+(c)", "a.b+(c)")
    assert not mask_match("a.b", "axb")
