"""Shield mode: a conference's emergency state against a raid.

While the shield is up, every visitor message is held for the moderators
(even in an open conference), messages with links are dropped, visitors who
arrive are muted, and with ``closed`` no new visitor may join. Moderators
raise and lower it (``CONF <channel> SHIELD``); it also rises by itself when
the rate of visitor messages or of arriving visitors passes the configured
thresholds within a window, and the moderators are told why.

Pure state; the counters keep at most ``threshold + 1`` times each.
"""

from __future__ import annotations

from collections import deque

import attrs

SHIELD_FLAG = "shield"


@attrs.frozen
class Thresholds:
    window: float = 10.0  # seconds
    messages: int = 100  # visitor messages within the window (0: never)
    joins: int = 200  # arriving visitors within the window (0: never)


def _passed(times: deque[float], now: float, window: float, threshold: int) -> bool:
    """Count one event at ``now``; True when more than ``threshold`` fell
    within the last ``window`` seconds."""
    if not threshold:
        return False
    times.append(now)
    while times and now - times[0] > window:
        times.popleft()
    while len(times) > threshold + 1:
        times.popleft()
    return len(times) > threshold


@attrs.define
class Shield:
    on: bool = False
    closed: bool = False  # also refuse new visitors
    since: float = 0.0
    by: str = ""  # a moderator's name, or "auto"
    reason: str = ""
    # When it was raised: visitors who joined after this are muted.
    _messages: deque[float] = attrs.field(factory=deque, repr=False)
    _joins: deque[float] = attrs.field(factory=deque, repr=False)

    def raise_(self, now: float, by: str, reason: str, closed: bool = False) -> None:
        self.on, self.closed, self.since, self.by, self.reason = True, closed, now, by, reason

    def lower(self) -> None:
        self.on, self.closed, self.by, self.reason = False, False, "", ""
        self._messages.clear()
        self._joins.clear()

    def message(self, now: float, limits: Thresholds) -> str | None:
        """A visitor message arrived; why the shield should rise, if it should."""
        if not self.on and _passed(self._messages, now, limits.window, limits.messages):
            return f"more than {limits.messages} visitor messages in {limits.window:g} seconds"
        return None

    def join(self, now: float, limits: Thresholds) -> str | None:
        """A visitor arrived; why the shield should rise, if it should."""
        if not self.on and _passed(self._joins, now, limits.window, limits.joins):
            return f"more than {limits.joins} new visitors in {limits.window:g} seconds"
        return None

    def row(self) -> dict[str, object]:
        return {"on": self.on, "closed": self.closed, "since": self.since, "by": self.by, "reason": self.reason}

    @classmethod
    def from_row(cls, row: dict[str, object] | None) -> Shield:
        shield = cls()
        if row and row.get("on"):
            shield.raise_(float(row["since"]), str(row["by"]), str(row["reason"]), bool(row["closed"]))  # type: ignore[arg-type]
        return shield
