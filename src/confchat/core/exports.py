"""Single-use download links for transcripts (``CONF <channel> EXPORT``).

A moderator asks for a link over IRC; the HTTP port redeems it once, within
``EXPORT_TTL`` seconds. No password ever travels in a URL.
"""

from __future__ import annotations

import os
from typing import Callable, NamedTuple

EXPORT_TTL = 300.0  # seconds a download link stays valid


class Export(NamedTuple):
    conference: str  # folded channel name
    format: str
    internal: bool


class ExportTokens:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._tokens: dict[str, tuple[Export, float]] = {}  # token -> (what, expiry)

    def new(self, folded: str, fmt: str, internal: bool, ttl: float = EXPORT_TTL) -> str:
        now = self.clock()
        self._tokens = {t: e for t, e in self._tokens.items() if e[1] > now}
        token = os.urandom(16).hex()
        self.add(token, folded, fmt, internal, ttl)
        return token

    def add(self, token: str, folded: str, fmt: str, internal: bool, ttl: float = EXPORT_TTL) -> None:
        """A link made by another node of the cluster: any node redeems it
        (once in the whole cluster: the shell claims it in Redis first)."""
        self._tokens[token] = (Export(folded, fmt, internal), self.clock() + ttl)

    def take(self, token: str) -> Export | None:
        """Redeem a token: what it downloads, once; None if unknown,
        used or expired."""
        entry = self._tokens.pop(token, None)
        if entry is None or entry[1] <= self.clock():
            return None
        return entry[0]
