"""The transcript as plain data: :func:`build` turns what storage holds about
one conference (``Store.read``) into the structure every format renders.

The exchange is in **reading order**: each question or staff message where it
was published, followed at once by everything published in reply to it (the
``+draft/reply`` tag), whenever that came. A prepared answer published in
reply to the third question, after the fifth was asked, is read under the
third; an answer to a deleted message stays where it was published and says
so (``reply_to`` null).

Times are ISO 8601 in the configured time zone (``server.timezone``): ``Z``
for UTC, an offset otherwise (``2026-12-01T18:05:00+01:00``).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone, tzinfo
from typing import Any

from ..config import time_zone
from ..proto.casemap import casefold
from ..vocab import ConferenceState

# C0/C1 controls (IRC formatting codes among them), except tab, and the
# bidirectional overrides that can disguise text. Tabs and the Unicode line
# and paragraph separators become spaces: no user text starts a new line.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = str.maketrans({"\t": " ", "\u2028": " ", "\u2029": " "})

# Item states still waiting for a decision: at the close, "not taken".
UNDECIDED = ("pending", "held", "forwarded")
NOT_TAKEN = "not-taken"


def clean(text: str) -> str:
    """User text without control characters, on one line."""
    return _CONTROL.sub("", text.translate(_SPACES))


def zone(name: str) -> tzinfo:
    """The time zone ``name``; ValueError for one that does not exist."""
    found = time_zone(name)
    if found is None:
        raise ValueError(f"unknown time zone {name!r}")
    return found


def iso(ts: float | None, tz: tzinfo = timezone.utc) -> str:
    """``ts`` as ISO 8601 in ``tz``: ``Z`` for UTC, else the offset."""
    if ts is None:
        return ""
    moment = datetime.fromtimestamp(ts, tz)
    if tz is timezone.utc:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="seconds")


def clock(stamp: str) -> str:
    """``HH:MM`` of an :func:`iso` time (local to its zone)."""
    return stamp[11:16] if stamp else ""


def when(stamp: str) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of an :func:`iso` time: what a person (or a
    spreadsheet) reads; the zone is said once, in the header."""
    return stamp[:10] + " " + stamp[11:19] if stamp else ""


def zone_label(stamp: str, timezone_name: str) -> str:
    """The zone's short name at that time ("UTC", "CET", "CEST")."""
    if not stamp:
        return ""
    if timezone_name == "UTC":
        return "UTC"
    moment = datetime.fromisoformat(stamp).astimezone(zone(timezone_name))
    return moment.tzname() or timezone_name


def _nick(source: str) -> str:
    return source.split("!", 1)[0]


def reading_order(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each message not in reply to another where it was published, then
    its replies (and replies to those) in the order they were published."""
    roots: list[dict[str, Any]] = []
    replies: dict[str, list[dict[str, Any]]] = {}
    root_of: dict[str, str] = {}
    for m in messages:
        parent = m["reply_to"]
        if parent is not None and parent in root_of:
            root = root_of[parent]
            replies[root].append(m)
        else:
            root = m["msgid"]
            roots.append(m)
            replies[root] = []
        root_of[m["msgid"]] = root
    ordered: list[dict[str, Any]] = []
    for m in roots:
        ordered.append(m)
        ordered.extend(replies[m["msgid"]])
    return ordered


def build(
    data: dict[str, Any], *, internal: bool = False, now: float | None = None, timezone_name: str = "UTC"
) -> dict[str, Any]:
    """The transcript as plain data, from ``Store.read``'s result."""
    tz = zone(timezone_name)
    row = data["conference"]
    settings = row["settings"]
    roles = {account: role for account, role in row.get("roles", {}).items()}
    items = {i["id"]: i for i in data["items"]}
    by_msgid: dict[str, dict[str, Any]] = {}
    messages = []
    for pub in data["publications"]:
        if pub.get("redacted_at") is not None:
            continue
        tags = pub.get("tags", {})
        reply_to = tags.get("+draft/reply")
        nick = _nick(pub["source"])
        kind = "answer" if reply_to else ("question" if pub.get("item") is not None else "message")
        entry: dict[str, Any] = {
            "time": iso(pub["at"], tz),
            "author": clean(nick),
            "role": roles.get(casefold(nick), "visitor" if kind == "question" else "staff"),
            "kind": kind,
            "text": clean(pub["text"]),
            "msgid": pub["msgid"],
            "reply_to": reply_to if reply_to in by_msgid else None,
            "item": pub.get("item"),
        }
        if kind == "question":
            item = items.get(pub.get("item"))
            entry["asked"] = iso(item["submitted_at"], tz) if item else ""
            entry["votes"] = len(item["votes"]) if item else 0
            entry["answered"] = bool(item and item["answered"])
        by_msgid[pub["msgid"]] = entry
        messages.append(entry)
    # A question with a reply published under it was answered too.
    for m in messages:
        if m["kind"] == "answer" and m["reply_to"] is not None and by_msgid[m["reply_to"]]["kind"] == "question":
            by_msgid[m["reply_to"]]["answered"] = True
    closed = settings.get("state") == ConferenceState.CLOSED.value
    result: dict[str, Any] = {
        "conference": {
            "channel": row["channel"],
            "title": clean(settings.get("title", "")),
            "description": clean(settings.get("description", "")),
            "opens": settings.get("opens", ""),
            "starts": settings.get("starts", ""),
            "ends": settings.get("ends", ""),
            "state": settings.get("state", ""),
        },
        "internal": internal,
        "timezone": timezone_name,
        "generated": iso(now, tz),
        "messages": reading_order(messages),
    }
    if internal:
        result["deleted"] = [
            {
                "time": iso(p["at"], tz),
                "author": clean(_nick(p["source"])),
                "address": clean(p["source"]),
                "text": clean(p["text"]),
                "msgid": p["msgid"],
                "deleted_at": iso(p["redacted_at"], tz),
                "deleted_by": clean(p.get("redacted_by") or ""),
            }
            for p in data["publications"]
            if p.get("redacted_at") is not None
        ]
        published_at = {p["item"]: p["at"] for p in data["publications"] if p.get("item") is not None}
        answered = {m["item"] for m in messages if m["kind"] == "question" and m["answered"]}
        result["items"] = [
            {
                "id": i["id"],
                "author": clean(i["author"]),
                "address": clean(i["author_prefix"]),
                "account": i["author_account"],
                "submitted": iso(i["submitted_at"], tz),
                "state": i["state"],
                # Still waiting when the conference closed: it was not taken.
                "not_taken": closed and i["state"] in UNDECIDED,
                "text": clean(i["text"]),
                "original": clean(i["original"]) if i["original"] is not None else None,
                "decided_by": clean(i["decided_by"] or ""),
                "decided": iso(i["decided_at"], tz),
                "published": iso(published_at.get(i["id"]), tz) if i["state"] == "published" else "",
                "reason": clean(i["reason"]),
                "flags": i["flags"],
                "votes": len(i["votes"]),
                "answered": bool(i["answered"]) or i["id"] in answered,
                "deleted": i["redacted"],
            }
            for i in data["items"]
        ]
        result["audit"] = [
            {
                "time": iso(a["at"], tz),
                "actor": clean(a["actor"]),
                "action": a["action"],
                "item": a["item"],
                "detail": {k: clean(v) if isinstance(v, str) else v for k, v in a["detail"].items()},
            }
            for a in data["audit"]
        ]
        summaries = [a for a in result["audit"] if a["action"] == "summary"]
        result["summary"] = summaries[-1]["detail"] if summaries else None
    return result


def value_text(value: Any) -> str:
    """One audit detail value as words, not JSON."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {value_text(v)}" for k, v in value.items())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return clean(str(value))


# Detail keys that are a number of seconds.
SECONDS = frozenset({"wait", "median_wait", "duration"})


def detail_text(detail: dict[str, Any]) -> str:
    """An audit entry's detail as ``key: value; key: value``."""
    parts = []
    for key, value in detail.items():
        shown = value_text(value)
        if key in SECONDS and shown:
            shown += " s"
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return "; ".join(parts)
