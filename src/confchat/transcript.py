"""Transcripts: the file a city publishes or archives after a conference.

:func:`build` turns what storage holds about one conference into a plain
structure; :func:`render` writes it as HTML, Markdown, JSON or text. Both are
pure. The **public** transcript is the published exchange in order, with
times, deleted messages left out; the **internal** archive adds every queue
item with its fate, the deleted messages, and the audit log.

Every piece of user text is made inert for its format: control and IRC
formatting characters are removed everywhere, HTML is escaped in HTML, and
Markdown's special characters (and HTML) are escaped in Markdown, so a
transcript pasted into a web page cannot carry markup or scripts.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import mimetypes
import os
import re
from datetime import datetime, timezone
from typing import Any, Iterable

from .config import BrandingSection, Config
from .proto.casemap import casefold

FORMATS = ("html", "md", "json", "txt")  # also the files' extensions

# C0/C1 controls (IRC formatting codes among them), except tab, and the
# bidirectional overrides that can disguise text. Tabs and the Unicode line
# and paragraph separators become spaces: no user text starts a new line.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = str.maketrans({"\t": " ", "\u2028": " ", "\u2029": " "})
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")

WORDS = {
    "en": {
        "transcript": "Transcript",
        "archive": "Internal archive",
        "question": "Question",
        "answer": "Answer",
        "message": "Message",
        "in_reply_to": "in reply to",
        "no_messages": "Nothing was published.",
        "items": "Moderation queue",
        "audit": "Audit log",
        "deleted": "Deleted messages",
        "published_by": "Published",
        "generated": "Generated",
        "schedule": "Schedule",
    },
    "fr": {
        "transcript": "Transcription",
        "archive": "Archive interne",
        "question": "Question",
        "answer": "Réponse",
        "message": "Message",
        "in_reply_to": "en réponse à",
        "no_messages": "Rien n'a été publié.",
        "items": "File de modération",
        "audit": "Journal d'audit",
        "deleted": "Messages supprimés",
        "published_by": "Publié",
        "generated": "Généré",
        "schedule": "Programme",
    },
}


def clean(text: str) -> str:
    """User text without control characters, on one line."""
    return _CONTROL.sub("", text.translate(_SPACES))


def _iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nick(source: str) -> str:
    return source.split("!", 1)[0]


def build(data: dict[str, Any], *, internal: bool = False, now: float | None = None) -> dict[str, Any]:
    """The transcript as plain data, from ``Store.read``'s result."""
    row = data["conference"]
    settings = row["settings"]
    roles = {account: role for account, role in row.get("roles", {}).items()}
    by_msgid: dict[str, dict[str, Any]] = {}
    messages = []
    for pub in data["publications"]:
        if pub.get("redacted_at") is not None:
            continue
        tags = pub.get("tags", {})
        reply_to = tags.get("+draft/reply")
        nick = _nick(pub["source"])
        kind = "answer" if reply_to else ("question" if pub.get("item") is not None else "message")
        entry = {
            "time": _iso(pub["at"]),
            "author": clean(nick),
            "role": roles.get(casefold(nick), "visitor" if kind == "question" else "staff"),
            "kind": kind,
            "text": clean(pub["text"]),
            "msgid": pub["msgid"],
            "reply_to": reply_to if reply_to in by_msgid else None,
            "item": pub.get("item"),
        }
        by_msgid[pub["msgid"]] = entry
        messages.append(entry)
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
        "generated": _iso(now),
        "messages": messages,
    }
    if internal:
        result["deleted"] = [
            {
                "time": _iso(p["at"]),
                "author": clean(_nick(p["source"])),
                "address": clean(p["source"]),
                "text": clean(p["text"]),
                "msgid": p["msgid"],
                "deleted_at": _iso(p["redacted_at"]),
                "deleted_by": clean(p.get("redacted_by") or ""),
            }
            for p in data["publications"]
            if p.get("redacted_at") is not None
        ]
        result["items"] = [
            {
                "id": i["id"],
                "author": clean(i["author"]),
                "address": clean(i["author_prefix"]),
                "account": i["author_account"],
                "submitted": _iso(i["submitted_at"]),
                "state": i["state"],
                "text": clean(i["text"]),
                "original": clean(i["original"]) if i["original"] is not None else None,
                "decided_by": clean(i["decided_by"] or ""),
                "decided": _iso(i["decided_at"]),
                "reason": clean(i["reason"]),
                "flags": i["flags"],
                "votes": len(i["votes"]),
                "answered": i["answered"],
                "deleted": i["redacted"],
            }
            for i in data["items"]
        ]
        result["audit"] = [
            {
                "time": _iso(a["at"]),
                "actor": clean(a["actor"]),
                "action": a["action"],
                "item": a["item"],
                "detail": {k: clean(v) if isinstance(v, str) else v for k, v in a["detail"].items()},
            }
            for a in data["audit"]
        ]
    return result


# ------------------------------------------------------------------ formats


def render(transcript: dict[str, Any], fmt: str, branding: BrandingSection | None = None) -> str:
    branding = branding or BrandingSection()
    if fmt == "json":
        return json.dumps(transcript, ensure_ascii=False, indent=2) + "\n"
    if fmt == "txt":
        return _render_txt(transcript, branding)
    if fmt == "md":
        return _render_md(transcript, branding)
    if fmt == "html":
        return _render_html(transcript, branding)
    raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


def _words(branding: BrandingSection) -> dict[str, str]:
    return WORDS.get(branding.language, WORDS["en"])


def _clock(iso: str) -> str:
    return iso[11:16] if iso else ""


def _title(transcript: dict[str, Any], words: dict[str, str]) -> str:
    kind = words["archive"] if transcript["internal"] else words["transcript"]
    return f"{kind}: {transcript['conference']['title'] or transcript['conference']['channel']}"


def _render_txt(t: dict[str, Any], branding: BrandingSection) -> str:
    w = _words(branding)
    lines = [_title(t, w)]
    if branding.organisation:
        lines.append(clean(branding.organisation))
    if t["conference"]["description"]:
        lines.append(t["conference"]["description"])
    lines.append("")
    if not t["messages"]:
        lines.append(w["no_messages"])
    for m in t["messages"]:
        indent = "    " if m["kind"] == "answer" else ""
        lines.append(f"{indent}[{m['time']}] {m['author']} ({w[m['kind']].lower()}): {m['text']}")
    if t["internal"]:
        lines += ["", w["deleted"]]
        lines += [f"[{d['time']}] {d['author']}: {d['text']} (deleted {d['deleted_at']} by {d['deleted_by']})" for d in t["deleted"]]
        lines += ["", w["items"]]
        for i in t["items"]:
            lines.append(
                f"#{i['id']} {i['state']} {i['submitted']} {i['address']}: {i['text']}"
                + (f" (original: {i['original']})" if i["original"] else "")
                + (f" by {i['decided_by']} at {i['decided']}" if i["decided_by"] else "")
                + (f" reason: {i['reason']}" if i["reason"] else "")
            )
        lines += ["", w["audit"]]
        for a in t["audit"]:
            item = f" #{a['item']}" if a["item"] is not None else ""
            lines.append(f"[{a['time']}] {a['actor']} {a['action']}{item} {json.dumps(a['detail'], ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def md_escape(text: str) -> str:
    """Markdown-inert text: HTML escaped, then every special character."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(clean(text), quote=False))


def _render_md(t: dict[str, Any], branding: BrandingSection) -> str:
    w = _words(branding)
    c = t["conference"]
    out = [f"# {md_escape(_title(t, w))}", ""]
    if branding.organisation:
        out += [f"*{md_escape(branding.organisation)}*", ""]
    if c["description"]:
        out += [md_escape(c["description"]), ""]
    if not t["messages"]:
        out.append(md_escape(w["no_messages"]))
    for m in t["messages"]:
        prefix = "> " if m["kind"] == "answer" else ""
        out.append(
            f"{prefix}**{md_escape(m['author'])}** ({md_escape(w[m['kind']].lower())}, {_clock(m['time'])} UTC): "
            f"{md_escape(m['text'])}"
        )
        out.append("")
    if t["internal"]:
        out += [f"## {md_escape(w['deleted'])}", ""]
        out += [f"- {_clock(d['time'])} **{md_escape(d['author'])}**: {md_escape(d['text'])} "
                f"(deleted {d['deleted_at']} by {md_escape(d['deleted_by'])})" for d in t["deleted"]]
        out += ["", f"## {md_escape(w['items'])}", "", "| # | state | author | text | decided by | reason |", "|---|---|---|---|---|---|"]
        for i in t["items"]:
            text = md_escape(i["text"]) + (f" (original: {md_escape(i['original'])})" if i["original"] else "")
            out.append(f"| {i['id']} | {i['state']} | {md_escape(i['address'])} | {text} | {md_escape(i['decided_by'])} | {md_escape(i['reason'])} |")
        out += ["", f"## {md_escape(w['audit'])}", ""]
        for a in t["audit"]:
            item = f" #{a['item']}" if a["item"] is not None else ""
            out.append(f"- {a['time']} {md_escape(a['actor'])} {md_escape(a['action'])}{item} "
                       f"`{json.dumps(a['detail'], ensure_ascii=False).replace('`', chr(39))}`")
    return "\n".join(out).rstrip() + "\n"


def _logo(branding: BrandingSection) -> str:
    """An <img> for the logo: a file is embedded as a data URI, so the page
    stays self-contained; only https URLs are linked."""
    logo = branding.logo
    if not logo:
        return ""
    if logo.startswith("https://"):
        src = logo
    elif os.path.isfile(logo):
        mime = mimetypes.guess_type(logo)[0] or "application/octet-stream"
        if not mime.startswith("image/"):
            return ""
        with open(logo, "rb") as f:
            src = f"data:{mime};base64,{base64.b64encode(f.read()).decode()}"
    else:
        return ""
    alt = html.escape(clean(branding.organisation) or "Logo")
    return f'<img class="logo" src="{html.escape(src)}" alt="{alt}">'


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#1b1b1b;
background:#fff;max-width:50rem;margin:0 auto;padding:1rem}
header{border-bottom:4px solid var(--brand);margin-bottom:1.5rem}
h1,h2{color:var(--brand)}
.logo{max-height:4rem}
ol.exchange{list-style:none;padding:0}
ol.exchange>li{margin:0 0 1rem}
.answer{margin-left:2rem;border-left:4px solid var(--brand);padding-left:1rem}
.meta{color:#4a4a4a;font-size:.9rem}
.text{margin:.25rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #767676;padding:.25rem .5rem;text-align:left;vertical-align:top}
footer{margin-top:2rem;color:#4a4a4a;font-size:.9rem}
"""


def _render_html(t: dict[str, Any], branding: BrandingSection) -> str:
    w = _words(branding)
    e = html.escape
    c = t["conference"]
    colour = branding.colour if re.fullmatch(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}", branding.colour) else "#1d4f91"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e(branding.language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Self-contained and inert: no scripts, nothing loaded but the logo.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data: https:\">",
        f"<title>{e(_title(t, w))}</title>",
        f"<style>:root{{--brand:{colour}}}{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        _logo(branding),
        f"<p>{e(clean(branding.organisation))}</p>" if branding.organisation else "",
        f"<h1>{e(_title(t, w))}</h1>",
        f"<p>{e(c['description'])}</p>" if c["description"] else "",
        "</header>",
        "<main>",
    ]
    if not t["messages"]:
        parts.append(f"<p>{e(w['no_messages'])}</p>")
    else:
        parts.append(f'<ol class="exchange" aria-label="{e(w["transcript"])}">')
        for m in t["messages"]:
            cls = m["kind"]
            reply = ""
            if m["reply_to"]:
                reply = f' <a href="#m-{e(m["reply_to"])}">{e(w["in_reply_to"])}</a>'
            parts.append(
                f'<li id="m-{e(m["msgid"])}" class="{cls}"><article>'
                f'<p class="meta"><strong>{e(m["author"])}</strong> · {e(w[cls])} · '
                f'<time datetime="{e(m["time"])}">{e(_clock(m["time"]))} UTC</time>{reply}</p>'
                f'<p class="text">{e(m["text"])}</p></article></li>'
            )
        parts.append("</ol>")
    if t["internal"]:
        parts.append(f"<h2>{e(w['deleted'])}</h2>")
        parts.append(_html_table(
            ("time", "author", "text", "deleted", "by"),
            [(d["time"], d["address"], d["text"], d["deleted_at"], d["deleted_by"]) for d in t["deleted"]],
        ))
        parts.append(f"<h2>{e(w['items'])}</h2>")
        parts.append(_html_table(
            ("#", "state", "submitted", "author", "text", "original", "decided by", "decided", "reason", "votes"),
            [(i["id"], i["state"], i["submitted"], i["address"], i["text"], i["original"] or "",
              i["decided_by"], i["decided"], i["reason"], i["votes"]) for i in t["items"]],
        ))
        parts.append(f"<h2>{e(w['audit'])}</h2>")
        parts.append(_html_table(
            ("time", "actor", "action", "item", "detail"),
            [(a["time"], a["actor"], a["action"], "" if a["item"] is None else a["item"],
              json.dumps(a["detail"], ensure_ascii=False)) for a in t["audit"]],
        ))
    parts += [
        "</main>",
        f'<footer>{e(w["generated"])} <time datetime="{e(t["generated"])}">{e(t["generated"])}</time></footer>',
        "</body>",
        "</html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _html_table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    e = html.escape
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ------------------------------------------------------------------ files


def transcript_name(channel: str, when: float, internal: bool, fmt: str) -> str:
    """A readable, safe file name; a short hash of the channel keeps names
    apart that read the same once made safe (#town.hall and #town-hall)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", channel.lstrip("#&")).strip("-") or "conference"
    digest = hashlib.sha256(casefold(channel).encode()).hexdigest()[:6]
    stamp = datetime.fromtimestamp(when, timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stem}-{digest}-{stamp}{'-internal' if internal else ''}.{fmt}"


def write_closed_transcripts(config: Config, store: Any, batch: list[dict[str, Any]], now: float | None = None) -> list[str]:
    """After a commit: for each conference the batch closed, write its public
    transcript (and the internal archive as JSON) in data_dir/transcripts.
    Runs in the storage thread. Returns the paths written."""
    import time

    now = time.time() if now is None else now
    written: list[str] = []
    if not config.storage.transcripts:
        return written
    for changes in batch:
        closed = any(a["action"] == "state" and a["detail"].get("state") == "closed" for a in changes["audit"])
        if not closed:
            continue
        data = store.read(changes["conference"])
        if data is None:
            continue
        directory = os.path.join(config.server.data_dir, "transcripts")
        os.makedirs(directory, exist_ok=True)
        jobs = [(fmt, False) for fmt in config.storage.transcripts] + [("json", True)]
        for fmt, internal in jobs:
            text = render(build(data, internal=internal, now=now), fmt, config.branding)
            name = transcript_name(data["conference"]["channel"], now, internal, fmt)
            path = os.path.join(directory, name)
            partial = os.path.join(directory, f".{name}.partial")  # never seen half-written
            with open(partial, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(partial, path)
            written.append(path)
    return written
