"""Name rules: case mapping, nick and channel validation, mask matching.

confchat advertises ``CASEMAPPING=rfc1459``: ASCII letters fold as usual and
``[]\\~`` fold to ``{}|^`` (RFC 1459 section 2.2), which every IRC client
understands.
"""

from __future__ import annotations

import re
from functools import lru_cache

_FOLD = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~",
    "abcdefghijklmnopqrstuvwxyz{}|^",
)

# RFC 2812 section 2.3.1: nick = ( letter / special ) *( letter / digit / special / "-" )
_NICK_RE = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*\Z")
CHANNEL_PREFIXES = "#&"
# Characters RFC 2812 forbids in channel names (space, comma, BEL), plus
# NUL/CR/LF which the codec already refuses.
_CHANNEL_BAD = set(" ,\x07\x00\r\n:")


def casefold(name: str) -> str:
    return name.translate(_FOLD)


def is_valid_nick(nick: str, max_len: int) -> bool:
    return 0 < len(nick) <= max_len and _NICK_RE.match(nick) is not None


def is_valid_channel(name: str, max_len: int) -> bool:
    return (
        1 < len(name) <= max_len
        and name[0] in CHANNEL_PREFIXES
        and not any(ch in _CHANNEL_BAD for ch in name)
    )


@lru_cache(maxsize=4096)
def _mask_regex(mask: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(mask):
        ch = mask[i]
        if ch == "\\" and i + 1 < len(mask) and mask[i + 1] in "*?":
            out.append(re.escape(mask[i + 1]))  # an escaped wildcard is literal
            i += 2
            continue
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(casefold(ch)))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def mask_match(mask: str, text: str) -> bool:
    """Glob match as IRC does for bans: ``*`` any run, ``?`` one character,
    case-insensitive under the server's case mapping."""
    return _mask_regex(mask).match(casefold(text)) is not None
