"""The commit task: replies are released after their commit, a failing
disk holds them (nothing dropped) and the batch is retried."""

from __future__ import annotations

import sqlite3

import pytest
import trio

from confchat.config import Config, ConferenceConfig
from confchat.core.outbox import Outbox
from confchat.core.server import Server
from confchat.storage import writer as writer_module
from confchat.storage.sqlite import Store
from confchat.storage.writer import Writer

pytestmark = pytest.mark.anyio


class FlakyStore(Store):
    """A real store whose first ``failures`` commits fail like a full disk."""

    def __init__(self, path: str, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def write(self, batch):
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return super().write(batch)


def core_with_conference() -> Server:
    config = Config(conferences=(ConferenceConfig(channel="#c", title="C", state="live"),))
    return Server(config)


async def test_a_failing_disk_holds_replies_until_the_retry_succeeds(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_module, "RETRY_INTERVAL", 0.05)
    store = FlakyStore(str(tmp_path / "db.sqlite3"), failures=2)
    store.open()
    core = core_with_conference()
    core.journal.enable([])
    writer = Writer(core, store)
    conference = core.conferences["#c"]
    outbox = Outbox(10_000, gate=core.journal)
    conference.record(1.0, "mod", "set", None, key="title")
    outbox.push(b"NOTE CONF SET\r\n")
    assert outbox.take() == b""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run)
        with trio.fail_after(5):
            while core.journal.pending:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert writer.stats.errors == 2 and not writer.stats.failing
    assert outbox.take() == b"NOTE CONF SET\r\n"
    (restored,) = store.load()
    assert [entry.action for entry in restored.audit] == ["set"]
    store.close()


async def test_changes_marked_during_a_commit_go_in_the_next_batch(tmp_path):
    store = Store(str(tmp_path / "db.sqlite3"))
    store.open()
    core = core_with_conference()
    core.journal.enable([])
    writer = Writer(core, store)
    conference = core.conferences["#c"]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run)
        for n in range(50):
            conference.record(float(n), "mod", "note", None, n=n)
            if n % 7 == 0:
                await trio.sleep(0)
        with trio.fail_after(5):
            while core.journal.pending:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    (restored,) = store.load()
    assert [entry.detail["n"] for entry in restored.audit] == list(range(50))
    assert 1 <= writer.stats.batches < 50  # grouped
    store.close()
