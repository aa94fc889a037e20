"""A connection's bounded send queue, pure: the core pushes, the transport drains.

The core never waits on a client: ``push`` appends bytes and returns at once.
When more than ``limit`` bytes wait, the client is too slow to keep up; its
queue is dropped and replaced by ``ERROR :SendQ exceeded`` so that memory stays
bounded and nobody else waits for it (Ergo's ``max-sendq`` does the same).

With storage, an outbox has a ``gate`` (the core's :class:`~.journal.Journal`):
bytes pushed while a change is not yet committed are held, tagged with the
change's sequence number, and ``take`` hands them out only once the journal
has committed that far.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .journal import Journal

SENDQ_EXCEEDED = b"ERROR :SendQ exceeded\r\n"


def _nothing() -> None:
    return None


class Outbox:
    __slots__ = ("limit", "_chunks", "_held", "_size", "closed", "overflowed", "wake", "gate")

    def __init__(
        self, limit: int, wake: Callable[[], None] = _nothing, gate: Journal | None = None
    ) -> None:
        self.limit = limit
        self._chunks: list[bytes] = []  # free to send
        self._held: list[tuple[int, bytes]] = []  # waiting for a commit: (seq, bytes)
        self._size = 0
        # Once closed, nothing more is accepted; the transport sends what is
        # left, then closes the connection.
        self.closed = False
        self.overflowed = False
        # Called when the outbox goes from empty to non-empty, or closes: the
        # transport's writer wakes up. Set by the transport.
        self.wake = wake
        self.gate = gate

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
            self._held = []
            self._size = len(SENDQ_EXCEEDED)
            self.closed = self.overflowed = True
            self.wake()
            return False
        gate = self.gate
        if gate is not None and (self._held or gate.appended > gate.committed_seq):
            self._hold(gate, data)
        else:
            self._chunks.append(data)
            if was_empty:
                self.wake()
        return True

    def _hold(self, gate: Journal, data: bytes) -> None:
        self._held.append((gate.appended, data))
        gate.held.add(self)

    def release(self) -> None:
        """The gate opened further: wake the writer if anything is now free."""
        held, gate = self._held, self.gate
        if held and gate is not None and held[0][0] <= gate.committed_seq:
            self.wake()
        elif held and gate is not None:
            gate.held.add(self)

    def close(self, final: bytes = b"") -> None:
        """Queue ``final`` (e.g. an ERROR line) and accept nothing more."""
        if self.closed:
            return
        if final:
            if self._held and self.gate is not None:
                self._hold(self.gate, final)
            else:
                self._chunks.append(final)
            self._size += len(final)
        self.closed = True
        self.wake()

    @property
    def drained(self) -> bool:
        """Nothing left to send, free or held."""
        return not self._size

    def take(self) -> bytes:
        """Everything free to send so far, as one buffer (coalesced writes)."""
        chunks = self.take_chunks()
        if not chunks:
            return b""
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def take_chunks(self) -> list[bytes]:
        """Everything free to send so far, as the chunks pushed (shared
        objects: the same message for many recipients is one object)."""
        if self._held:
            committed = self.gate.committed_seq if self.gate is not None else 0
            held = self._held
            index = 0
            while index < len(held) and held[index][0] <= committed:
                self._chunks.append(held[index][1])
                index += 1
            if index:
                del held[:index]
            if held and self.gate is not None:
                self.gate.held.add(self)
        chunks = self._chunks
        if not chunks:
            return chunks
        self._chunks = []
        self._size -= sum(map(len, chunks))
        return chunks
