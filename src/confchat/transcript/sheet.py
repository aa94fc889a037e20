"""CSV for spreadsheets: one row per question (every queue item in the
archive), each followed by the answers published in reply to it.

Written for the spreadsheets people open it in: UTF-8 with a byte order
mark (Excel otherwise misreads accents), times as ``YYYY-MM-DD HH:MM:SS`` in
the configured zone (named in the headers), and any cell that a spreadsheet
would take for a formula (starting with ``=``, ``+``, ``-``, ``@``) prefixed
with ``'`` (OWASP's advice on CSV injection), so that no visitor's text runs
as a formula.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .model import when
from .text import item_state

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@")


def headers(timezone_name: str) -> list[str]:
    return ["id", "kind", "author", f"asked at ({timezone_name})", "state", f"published at ({timezone_name})",
            "answered", "text", "reply_to", "votes"]


def inert_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _rows(t: dict[str, Any]) -> list[list[Any]]:
    messages = t["messages"]
    by_msgid = {m["msgid"]: m for m in messages}

    def replied(m: dict[str, Any]) -> str:
        # A reply names the question's item id, as the moderators know it;
        # anything else it answers by its msgid.
        parent = by_msgid.get(m["reply_to"]) if m["reply_to"] else None
        if parent is None:
            return ""
        return str(parent["item"]) if parent["kind"] == "question" and parent["item"] is not None else parent["msgid"]

    def reply_row(m: dict[str, Any]) -> list[Any]:
        return [m["msgid"], m["kind"], m["author"], "", "published", when(m["time"]), "", m["text"], replied(m), ""]

    if not t["internal"]:
        rows = []
        for m in messages:
            if m["kind"] == "question":
                rows.append([m["item"], "question", m["author"], when(m.get("asked", "")), "published", when(m["time"]),
                             _yes(m.get("answered", False)), m["text"], "", m.get("votes", 0)])
            else:
                rows.append(reply_row(m))
        return rows
    # The archive: every item in the order it was asked, each followed by
    # its replies; then the staff messages (and their replies).
    question_of = {m["item"]: m["msgid"] for m in messages if m["kind"] == "question"}
    roots: list[dict[str, Any]] = []
    replies: dict[str, list[dict[str, Any]]] = {}
    for m in messages:  # reading order: a reply comes after its root
        if m["reply_to"] is None:
            roots.append(m)
            replies[m["msgid"]] = []
        else:
            replies[roots[-1]["msgid"]].append(m)
    rows = []
    for i in t["items"]:
        rows.append([i["id"], "question", i["author"], when(i["submitted"]), item_state(i), when(i["published"]),
                     _yes(i["answered"]), i["text"], "", i["votes"]])
        rows += [reply_row(r) for r in replies.get(question_of.get(i["id"], ""), ())]
    for m in roots:
        if m["kind"] != "question":
            rows.append(reply_row(m))
            rows += [reply_row(r) for r in replies[m["msgid"]]]
    return rows


def render_csv(t: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers(t["timezone"]))
    for row in _rows(t):
        writer.writerow([inert_cell(v) for v in row])
    return BOM + out.getvalue()
