"""What the engine's tests share: a clock that moves only when told, and a
live conference with alice moderating and the mayor as guest (visitors
write at test speed: slow mode off). The ``clock`` and ``engine`` fixtures
are in conftest.py."""

from __future__ import annotations

from confchat.config import ConferenceConfig
from confchat.moderation.conference import Conference

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def live(**settings) -> Conference:
    fields = dict(channel="#hall", title="Hall", state="live", moderators=("alice",), guests=("mayor",), slow_mode=0)
    fields.update(settings)
    return Conference(ConferenceConfig(**fields))
