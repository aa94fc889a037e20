"""Transcripts: the file a city publishes or archives after a conference.

:func:`build` (``model.py``) turns what storage holds about one conference
into a plain structure; :func:`render` writes it as HTML (``page.py``),
Markdown (``markdown.py``), JSON, text (``text.py``) or CSV (``sheet.py``).
Both are pure. The **public** transcript is the published exchange in reading
order (each answer under its question, whenever it was published), with
times in the configured zone, deleted messages left out; the **internal**
archive adds every queue item with its fate (``not-taken`` for a question
still waiting when the conference closed), the closing summary, the deleted
messages, and the audit log in words.

Every piece of user text is made inert for its format: control and IRC
formatting characters are removed everywhere, HTML is escaped in HTML,
Markdown's special characters (and HTML) are escaped in Markdown, and a CSV
cell that a spreadsheet would run as a formula is quoted, so a transcript
pasted into a web page or opened in a spreadsheet cannot carry markup,
scripts or formulas.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import BrandingSection
from ..vocab import ExportFormat, values
from .files import transcript_name, write_closed_transcripts
from .markdown import md_escape, render_md
from .model import build, clean, reading_order
from .page import render_html
from .sheet import render_csv
from .text import render_txt
from .words import WORDS

FORMATS = values(ExportFormat)  # also the files' extensions

# What an HTTP download says it is.
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}


def render(transcript: dict[str, Any], fmt: str, branding: BrandingSection | None = None) -> str:
    branding = branding or BrandingSection()
    if fmt == "json":
        return json.dumps(transcript, ensure_ascii=False, indent=2) + "\n"
    if fmt == "txt":
        return render_txt(transcript, branding)
    if fmt == "md":
        return render_md(transcript, branding)
    if fmt == "html":
        return render_html(transcript, branding)
    if fmt == "csv":
        return render_csv(transcript)
    raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


__all__ = [
    "CONTENT_TYPES", "FORMATS", "WORDS", "build", "clean", "md_escape", "reading_order", "render",
    "transcript_name", "write_closed_transcripts",
]
