"""The trio task that makes the core's changes durable.

One writer per process: it sleeps until the journal marks a change, collects
every dirty conference in one batch, commits it in a worker thread (so the
event loop never waits on the disk), then opens the journal's gate so the
replies that waited for that commit go out. Changes marked while a commit is
running form the next batch: under load, batches grow and commits stay few
(group commit).

If a commit fails (disk full, file locked), the same batch is retried every
``RETRY_INTERVAL`` seconds; meanwhile nothing new is acknowledged, nothing is
dropped, and the failure is logged and counted.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import attrs
import structlog
import trio

from ..core.server import Server
from ..core.stats import Histogram
from .rows import changes_rows
from .sqlite import Store

RETRY_INTERVAL = 1.0

log = structlog.get_logger("confchat.storage")


@attrs.define
class StorageStats:
    """Counters for supervision (metrics read them)."""

    batches: int = 0
    rows: int = 0
    errors: int = 0
    failing: bool = False
    last_error: str = ""
    commit_seconds: Histogram = attrs.field(factory=Histogram)


class Writer:
    def __init__(
        self,
        core: Server,
        store: Store,
        on_commit: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
    ) -> None:
        self.core = core
        self.store = store
        self.stats = StorageStats()
        self.on_commit = on_commit
        self._wakeup = trio.Event()
        self._lock = trio.Lock()  # one batch at a time, in order
        core.journal.wake = self._wake
        core.journal.snapshot = changes_rows

    def _wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Commit batches until cancelled (a commit in progress finishes)."""
        journal = self.core.journal
        while True:
            if not journal.pending:
                await self._wakeup.wait()
            self._wakeup = trio.Event()
            await self.flush()

    async def in_store(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` in the storage thread, between batches."""
        async with self._lock:
            return await trio.to_thread.run_sync(function, *args)

    async def flush(self) -> None:
        """Commit everything marked so far, retrying until it succeeds."""
        async with self._lock:
            await self._flush()

    async def _flush(self) -> None:
        journal = self.core.journal
        if not journal.pending:
            return
        seq, batch = journal.collect()
        while True:
            started = trio.current_time()
            try:
                rows = await trio.to_thread.run_sync(self.store.write, batch)
            except Exception as exc:  # sqlite3.Error, OSError: keep the batch, retry
                self.stats.errors += 1
                self.stats.last_error = str(exc)
                if not self.stats.failing:
                    log.error("storage.write_failed", error=str(exc), retry_in=RETRY_INTERVAL)
                self.stats.failing = True
                await trio.sleep(RETRY_INTERVAL)
                continue
            break
        elapsed = trio.current_time() - started
        if self.stats.failing:
            log.warning("storage.write_recovered", errors=self.stats.errors)
        self.stats.failing = False
        self.stats.batches += 1
        self.stats.rows += rows
        self.stats.commit_seconds.observe(elapsed)
        journal.committed(seq)
        if self.on_commit is not None:
            try:
                await self.on_commit(batch)
            except Exception:  # e.g. a transcript that cannot be written
                log.exception("storage.after_commit_failed")
