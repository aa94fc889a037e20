"""Work the core asks the shell to do, queued in order: the shape shared by
password checks (``logins.py``) and asynchronous policies (``screening.py``).

The core appends a request and calls ``wake`` (the way the journal wakes the
storage writer); the shell's task takes requests with :meth:`Requests.next`
and hands each answer back through an entry point of ``Server``.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


def _nothing() -> None:
    return None


class Requests(Generic[T]):
    __slots__ = ("pending", "wake")

    def __init__(self) -> None:
        self.pending: deque[T] = deque()
        # The shell's wakeup; without a shell (core tests) the driver takes
        # the requests itself, or nothing does.
        self.wake: Callable[[], None] = _nothing

    def request(self, request: T) -> None:
        self.pending.append(request)
        self.wake()

    def next(self) -> T | None:
        """The oldest request not taken yet, or None."""
        return self.pending.popleft() if self.pending else None
