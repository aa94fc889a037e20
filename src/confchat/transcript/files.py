"""Transcript files: their names, and the ones written when a conference closes."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime, timezone
from typing import Any

from ..config import Config
from ..proto.casemap import casefold


def transcript_name(channel: str, when: float, internal: bool, fmt: str) -> str:
    """A readable, safe file name; a short hash of the channel keeps names
    apart that read the same once made safe (#town.hall and #town-hall)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", channel.lstrip("#&")).strip("-") or "conference"
    digest = hashlib.sha256(casefold(channel).encode()).hexdigest()[:6]
    stamp = datetime.fromtimestamp(when, timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stem}-{digest}-{stamp}{'-internal' if internal else ''}.{fmt}"


def write_closed_transcripts(config: Config, store: Any, batch: list[dict[str, Any]], now: float | None = None) -> list[str]:
    """After a commit: for each conference the batch closed, write its public
    transcript (and the internal archive as JSON) in data_dir/transcripts,
    with the configuration's branding and time zone. Runs in a worker
    thread; ``store`` is anything that reads a conference's rows by its
    folded name (the server passes a read-only connection of its own, so
    the writer goes on committing meanwhile). Returns the paths written."""
    import time

    from . import build, render

    now = time.time() if now is None else now
    written: list[str] = []
    if not config.storage.transcripts:
        return written
    for changes in batch:
        if "audit" not in changes:  # the staff accounts' entry
            continue
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
            transcript = build(data, internal=internal, now=now, timezone_name=config.server.timezone)
            text = render(transcript, fmt, config.branding)
            name = transcript_name(data["conference"]["channel"], now, internal, fmt)
            path = os.path.join(directory, name)
            partial = os.path.join(directory, f".{name}.partial")  # never seen half-written
            with open(partial, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            os.replace(partial, path)
            written.append(path)
    return written
