"""Asynchronous policies as effects: the engine asks, the shell waits, the
engine finishes.

A policy that must wait (a classification service on the city's network)
cannot run inside the core: the engine puts the item in the queue held and
flagged ``screening`` (so it is stored and never lost), and returns a
:class:`~confchat.moderation.effects.Screen`, which the core queues here and
wakes the shell (``confchat.screener``). The shell runs the policies with a
deadline, each in its own task, and hands their decisions back with
``Server.screened``; a policy that fails or runs out of time makes the item
wait for a person, flagged ``policy-error``. Nobody else waits: other
visitors' messages and PINGs go on meanwhile.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from ..moderation.effects import Screen


def _nothing() -> None:
    return None


class Screenings:
    """Screens the engine asked for that the shell has not taken yet."""

    __slots__ = ("pending", "wake")

    def __init__(self) -> None:
        self.pending: deque[Screen] = deque()
        # The shell's wakeup; without a shell (core tests) nothing runs them
        # and the items wait for the moderators, flagged "screening".
        self.wake: Callable[[], None] = _nothing

    def request(self, screen: Screen) -> None:
        self.pending.append(screen)
        self.wake()

    def next(self) -> Screen | None:
        return self.pending.popleft() if self.pending else None
