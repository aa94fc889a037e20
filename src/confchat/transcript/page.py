"""HTML: one self-contained, accessible page (no script, nothing loaded but
an https logo), with the organisation's branding and a print stylesheet."""

from __future__ import annotations

import base64
import html
import mimetypes
import os
import re
from typing import Any, Iterable

from ..config import BrandingSection
from .model import clean, clock, detail_text, when, zone_label
from .text import item_state, summary_rows, title
from .words import words_for

DEFAULT_COLOUR = "#1d4f91"


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
body.archive{max-width:75rem}
header{border-bottom:4px solid var(--brand);margin-bottom:1.5rem}
h1,h2{color:var(--brand)}
.logo{max-height:4rem}
ol.exchange{list-style:none;padding:0}
ol.exchange>li{margin:0 0 1rem}
.answer{margin-left:2rem;border-left:4px solid var(--brand);padding-left:1rem}
.answer.orphan{margin-left:0}
.meta{color:#4a4a4a;font-size:.9rem}
.text{margin:.25rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:.9rem}
th,td{border:1px solid #767676;padding:.25rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
table.summary{width:auto;table-layout:auto}
table.items th:nth-child(1),table.audit th:nth-child(4){width:3.5rem}
table.items th:nth-child(2),table.items th:nth-child(7){width:6rem}
table.items th:nth-child(3),table.audit th:nth-child(1),table.deleted th:nth-child(1),table.deleted th:nth-child(4){width:10rem}
table.audit th:nth-child(2),table.audit th:nth-child(3){width:8rem}
footer{margin-top:2rem;color:#4a4a4a;font-size:.9rem}
@media print{
body,body.archive{max-width:none;margin:0;padding:0;font-size:10pt;color:#000}
h1,h2{color:#000;break-after:avoid}
header{border-bottom-color:#000}
a{color:inherit;text-decoration:none}
.answer{border-left-color:#000}
ol.exchange>li,tr{break-inside:avoid}
thead{display:table-header-group}
table{font-size:8pt}
}
"""


def render_html(t: dict[str, Any], branding: BrandingSection) -> str:
    w = words_for(branding.language)
    e = html.escape
    c = t["conference"]
    zone = t["timezone"]
    colour = branding.colour if re.fullmatch(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}", branding.colour) else DEFAULT_COLOUR
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e(branding.language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Self-contained and inert: no scripts, nothing loaded but the logo.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data: https:\">",
        f"<title>{e(title(t, w))}</title>",
        f"<style>:root{{--brand:{colour}}}{_CSS}</style>",
        "</head>",
        '<body class="archive">' if t["internal"] else "<body>",
        "<header>",
        _logo(branding),
        f"<p>{e(clean(branding.organisation))}</p>" if branding.organisation else "",
        f"<h1>{e(title(t, w))}</h1>",
        f"<p>{e(c['description'])}</p>" if c["description"] else "",
        f'<p class="meta">{e(w["times"])}: {e(zone)}</p>',
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
            elif cls == "answer":
                cls = "answer orphan"
                reply = f" · {e(w['reply_deleted'])}"
            parts.append(
                f'<li id="m-{e(m["msgid"])}" class="{cls}"><article>'
                f'<p class="meta"><strong>{e(m["author"])}</strong> · {e(w[m["kind"]])} · '
                f'<time datetime="{e(m["time"])}">{e(clock(m["time"]))} {e(zone_label(m["time"], zone))}</time>{reply}</p>'
                f'<p class="text">{e(m["text"])}</p></article></li>'
            )
        parts.append("</ol>")
    if t["internal"]:
        if t.get("summary"):
            parts.append(f"<h2>{e(w['summary'])}</h2>")
            body = "".join(f'<tr><th scope="row">{e(label)}</th><td>{e(value)}</td></tr>'
                           for label, value in summary_rows(t["summary"], w))
            parts.append(f'<table class="summary"><tbody>{body}</tbody></table>')
        parts.append(f"<h2>{e(w['deleted'])}</h2>")
        parts.append(_html_table(
            "deleted",
            (w["time"], w["author"], w["text"], w["deleted_at"], w["by"]),
            [(when(d["time"]), d["address"], d["text"], when(d["deleted_at"]), d["deleted_by"]) for d in t["deleted"]],
        ))
        parts.append(f"<h2>{e(w['items'])}</h2>")
        parts.append(_html_table(
            "items",
            ("#", w["state"], w["submitted"], w["author"], w["text"], w["decision"], w["votes"]),
            [(i["id"], item_state(i), when(i["submitted"]), i["address"], _item_text(i, w), _decision(i, w), i["votes"])
             for i in t["items"]],
        ))
        parts.append(f"<h2>{e(w['audit'])}</h2>")
        parts.append(_html_table(
            "audit",
            (w["time"], w["actor"], w["action"], w["item"], w["detail"]),
            [(when(a["time"]), a["actor"], a["action"], "" if a["item"] is None else a["item"], detail_text(a["detail"]))
             for a in t["audit"]],
        ))
    parts += [
        "</main>",
        f'<footer>{e(w["generated"])} <time datetime="{e(t["generated"])}">{e(when(t["generated"]))}</time></footer>',
        "</body>",
        "</html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _item_text(item: dict[str, Any], w: dict[str, str]) -> str:
    if item["original"]:
        return f"{item['text']} ({w['original']}: {item['original']})"
    return item["text"]


def _decision(item: dict[str, Any], w: dict[str, str]) -> str:
    if not item["decided_by"]:
        return ""
    said = f"{item['decided_by']}, {when(item['decided'])}"
    return said + (f" ({w['reason']}: {item['reason']})" if item["reason"] else "")


def _html_table(name: str, headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    e = html.escape
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="{name}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
