"""A connection's bounded send queue, pure: the core pushes, the transport drains.

The core never waits on a client: ``push`` appends bytes and returns at once.
When more than ``limit`` bytes wait, the client is too slow to keep up; its
queue is dropped and replaced by ``ERROR :SendQ exceeded`` so that memory stays
bounded and nobody else waits for it (Ergo's ``max-sendq`` does the same).
"""

from __future__ import annotations

from typing import Callable

SENDQ_EXCEEDED = b"ERROR :SendQ exceeded\r\n"


def _nothing() -> None:
    return None


class Outbox:
    __slots__ = ("limit", "_chunks", "_size", "closed", "overflowed", "wake")

    def __init__(self, limit: int, wake: Callable[[], None] = _nothing) -> None:
        self.limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        # Once closed, nothing more is accepted; the transport sends what is
        # left, then closes the connection.
        self.closed = False
        self.overflowed = False
        # Called when the outbox goes from empty to non-empty, or closes: the
        # transport's writer wakes up. Set by the transport.
        self.wake = wake

    @property
    def pending(self) -> int:
        return self._size

    def push(self, data: bytes) -> bool:
        """Queue ``data``; False if the queue overflowed and is now closed."""
        if self.closed:
            return not self.overflowed
        was_empty = not self._size
        self._size += len(data)
        if self._size > self.limit:
            self._chunks = [SENDQ_EXCEEDED]
            self._size = len(SENDQ_EXCEEDED)
            self.closed = self.overflowed = True
            self.wake()
            return False
        self._chunks.append(data)
        if was_empty:
            self.wake()
        return True

    def close(self, final: bytes = b"") -> None:
        """Queue ``final`` (e.g. an ERROR line) and accept nothing more."""
        if self.closed:
            return
        if final:
            self._chunks.append(final)
            self._size += len(final)
        self.closed = True
        self.wake()

    def take(self) -> bytes:
        """Everything queued so far, as one buffer (coalesced writes)."""
        if not self._chunks:
            return b""
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = []
        self._size = 0
        return data
