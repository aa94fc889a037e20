"""The closed lists of values the product speaks in, each declared once.

Configuration validates against them, the core switches on them, storage
writes their ``value``, and the web client receives them from the server
(``/vocab.json``) instead of repeating them. A leaf module: it imports
nothing of confchat, so every layer may import it.

Each enum is a ``str`` enum: a member equals its text (``ConferenceState.LIVE
== "live"``), so values read from TOML, storage or IRC compare directly, and
the declaration order is the order shown to people (and, for states, the
order a schedule moves in).
"""

from __future__ import annotations

import enum


class ConferenceState(str, enum.Enum):
    SCHEDULED = "scheduled"  # announced; visitors may join, not write
    OPEN = "open"  # questions collected before the start
    LIVE = "live"  # the guest is answering
    CLOSED = "closed"  # over; the transcript is written

    def __str__(self) -> str:
        return self.value


class RoomMode(str, enum.Enum):
    MODERATED = "moderated"  # every visitor message is held for review
    OPEN = "open"  # visitor messages are published at once
    READONLY = "readonly"  # visitors cannot send

    def __str__(self) -> str:
        return self.value


class ExportFormat(str, enum.Enum):
    HTML = "html"
    MD = "md"
    JSON = "json"
    TXT = "txt"
    CSV = "csv"  # one row per queue item, for spreadsheets

    def __str__(self) -> str:
        return self.value


class QuestionOrder(str, enum.Enum):
    """How the visitor page lists the published questions by default."""

    RECENT = "recent"  # in the order they were published
    POPULAR = "popular"  # most votes first

    def __str__(self) -> str:
        return self.value


class SyncMode(str, enum.Enum):
    """SQLite ``synchronous``: FULL survives a power cut, NORMAL a crash."""

    FULL = "full"
    NORMAL = "normal"

    def __str__(self) -> str:
        return self.value


def values(kind: type[enum.Enum]) -> tuple[str, ...]:
    """The texts of an enum's members, in declaration order."""
    return tuple(member.value for member in kind)


def spoken(kind: type[enum.Enum]) -> str:
    """The values as a person reads them: "moderated, open or readonly"."""
    *first, last = values(kind)
    return f"{', '.join(first)} or {last}" if first else last


def as_json() -> dict[str, list[str]]:
    """What the web client is told (served as ``/vocab.json``)."""
    return {
        "conference_states": list(values(ConferenceState)),
        "room_modes": list(values(RoomMode)),
        "export_formats": list(values(ExportFormat)),
    }
