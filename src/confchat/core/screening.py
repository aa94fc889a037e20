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

from ..moderation.effects import Screen
from .requests import Requests


class Screenings(Requests[Screen]):
    """Screens the engine asked for that the shell has not taken yet.
    Without a shell (core tests) nothing runs them and the items wait for
    the moderators, flagged "screening"."""

    __slots__ = ()
