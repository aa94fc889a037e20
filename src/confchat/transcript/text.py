"""Plain text: one line per entry, replies indented under what they answer."""

from __future__ import annotations

from typing import Any

from ..config import BrandingSection
from .model import NOT_TAKEN, clean, detail_text
from .words import SUMMARY_KEYS, words_for


def title(t: dict[str, Any], words: dict[str, str]) -> str:
    kind = words["archive"] if t["internal"] else words["transcript"]
    return f"{kind}: {t['conference']['title'] or t['conference']['channel']}"


def summary_rows(summary: dict[str, Any], words: dict[str, str]) -> list[tuple[str, str]]:
    """(label, value) of each number of the closing summary."""
    rows = []
    for key in SUMMARY_KEYS:
        if key not in summary:
            continue
        value = summary[key]
        if key == "median_wait":
            shown = words["none"] if value is None else f"{value:g} {words['seconds']}"
        else:
            shown = str(value)
        rows.append((words[key], shown))
    return rows


def item_state(item: dict[str, Any]) -> str:
    return NOT_TAKEN if item["not_taken"] else item["state"]


def render_txt(t: dict[str, Any], branding: BrandingSection) -> str:
    w = words_for(branding.language)
    lines = [title(t, w)]
    if branding.organisation:
        lines.append(clean(branding.organisation))
    if t["conference"]["description"]:
        lines.append(t["conference"]["description"])
    lines.append(f"{w['times']}: {t['timezone']}")
    lines.append("")
    if not t["messages"]:
        lines.append(w["no_messages"])
    for m in t["messages"]:
        threaded = m["kind"] == "answer" and m["reply_to"] is not None
        indent = "    " if threaded else ""
        orphan = f" ({w['reply_deleted']})" if m["kind"] == "answer" and not threaded else ""
        lines.append(f"{indent}[{m['time']}] {m['author']} ({w[m['kind']].lower()}){orphan}: {m['text']}")
    if t["internal"]:
        if t.get("summary"):
            lines += ["", w["summary"]]
            lines += [f"{label}: {value}" for label, value in summary_rows(t["summary"], w)]
        lines += ["", w["deleted"]]
        lines += [f"[{d['time']}] {d['author']}: {d['text']} (deleted {d['deleted_at']} by {d['deleted_by']})" for d in t["deleted"]]
        lines += ["", w["items"]]
        for i in t["items"]:
            lines.append(
                f"#{i['id']} {item_state(i)} {i['submitted']} {i['address']}: {i['text']}"
                + (f" (original: {i['original']})" if i["original"] else "")
                + (f" by {i['decided_by']} at {i['decided']}" if i["decided_by"] else "")
                + (f" reason: {i['reason']}" if i["reason"] else "")
            )
        lines += ["", w["audit"]]
        for a in t["audit"]:
            item = f" #{a['item']}" if a["item"] is not None else ""
            detail = detail_text(a["detail"])
            lines.append(f"[{a['time']}] {a['actor']} {a['action']}{item}" + (f" ({detail})" if detail else ""))
    return "\n".join(lines) + "\n"
