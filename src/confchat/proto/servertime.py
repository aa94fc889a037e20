"""IRCv3 ``server-time``: the ``time`` tag's format.

Pure formatting: the caller passes the wall-clock time (the core's injected
clock), so nothing here reads a clock.
"""

from __future__ import annotations

from datetime import datetime, timezone


def format_server_time(ts: float) -> str:
    """ISO 8601 UTC, truncated to the millisecond (never rounded up into the
    next second): ``2023-11-14T22:13:20.123Z``."""
    millis = int(ts * 1000)
    seconds, ms = divmod(millis, 1000)
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms:03d}Z"
