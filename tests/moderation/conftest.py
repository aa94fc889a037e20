"""Fixtures of the engine's tests: a fake clock and an engine on it."""

from __future__ import annotations

import itertools

import pytest

from confchat.moderation.engine import Engine
from engine_helpers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(clock: Clock) -> Engine:
    ids = itertools.count(1)
    return Engine(clock, lambda: f"m{next(ids)}")
