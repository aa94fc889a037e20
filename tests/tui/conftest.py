"""Fixtures of the terminal client's tests: the real server (started as the
end-to-end tests start it, ``tests/e2e/conftest.py``), its TCP clients, and
the asyncio backend Textual needs."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parents[1] / "e2e"
sys.path.insert(0, str(E2E))

_spec = importlib.util.spec_from_file_location("e2e_fixtures", E2E / "conftest.py")
e2e_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e_fixtures)
ServerProcess = e2e_fixtures.ServerProcess
start_server = e2e_fixtures.start_server  # the same fixture, under the same name
start_event = e2e_fixtures.start_event  # one process, then two nodes of a cluster


@pytest.fixture
def anyio_backend():
    """Textual runs on asyncio (the rest of the suite runs on trio)."""
    return "asyncio"


async def until(pilot, predicate, timeout: float = 10.0, what: str = "") -> None:
    """Let the app run until ``predicate()`` holds (a wait with a deadline,
    not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in time: {what or predicate}")
        await pilot.pause(0.05)


async def in_thread(function, *args):
    """A blocking test client's call, off the event loop the app runs on."""
    return await asyncio.to_thread(function, *args)
