"""Markdown: the exchange as paragraphs, replies quoted under what they
answer; in the archive, the queue as a table. Every piece of text is escaped
(HTML and Markdown's special characters), so no markup or link can form."""

from __future__ import annotations

import html
import re
from typing import Any

from ..config import BrandingSection
from .model import clean, clock, detail_text, zone_label
from .text import item_state, summary_rows, title
from .words import words_for

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")


def md_escape(text: str) -> str:
    """Markdown-inert text: HTML escaped, then every special character."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(clean(text), quote=False))


def render_md(t: dict[str, Any], branding: BrandingSection) -> str:
    w = words_for(branding.language)
    c = t["conference"]
    zone = t["timezone"]
    out = [f"# {md_escape(title(t, w))}", ""]
    if branding.organisation:
        out += [f"*{md_escape(branding.organisation)}*", ""]
    if c["description"]:
        out += [md_escape(c["description"]), ""]
    out += [md_escape(f"{w['times']}: {zone}"), ""]
    if not t["messages"]:
        out.append(md_escape(w["no_messages"]))
    for m in t["messages"]:
        threaded = m["kind"] == "answer" and m["reply_to"] is not None
        prefix = "> " if threaded else ""
        orphan = f", {w['reply_deleted']}" if m["kind"] == "answer" and not threaded else ""
        out.append(
            f"{prefix}**{md_escape(m['author'])}** ({md_escape(w[m['kind']].lower() + orphan)}, "
            f"{clock(m['time'])} {md_escape(zone_label(m['time'], zone))}): {md_escape(m['text'])}"
        )
        out.append("")
    if t["internal"]:
        if t.get("summary"):
            out += [f"## {md_escape(w['summary'])}", ""]
            out += [f"- {md_escape(label)}: {md_escape(value)}" for label, value in summary_rows(t["summary"], w)]
            out.append("")
        out += [f"## {md_escape(w['deleted'])}", ""]
        out += [f"- {clock(d['time'])} **{md_escape(d['author'])}**: {md_escape(d['text'])} "
                f"(deleted {md_escape(d['deleted_at'])} by {md_escape(d['deleted_by'])})" for d in t["deleted"]]
        out += ["", f"## {md_escape(w['items'])}", "", "| # | state | author | text | decided by | reason |", "|---|---|---|---|---|---|"]
        for i in t["items"]:
            text = md_escape(i["text"]) + (f" (original: {md_escape(i['original'])})" if i["original"] else "")
            out.append(f"| {i['id']} | {md_escape(item_state(i))} | {md_escape(i['address'])} | {text} | "
                       f"{md_escape(i['decided_by'])} | {md_escape(i['reason'])} |")
        out += ["", f"## {md_escape(w['audit'])}", ""]
        for a in t["audit"]:
            item = f" \\#{a['item']}" if a["item"] is not None else ""
            detail = detail_text(a["detail"])
            out.append(f"- {md_escape(a['time'])} {md_escape(a['actor'])} {md_escape(a['action'])}{item}"
                       + (f": {md_escape(detail)}" if detail else ""))
    return "\n".join(out).rstrip() + "\n"
