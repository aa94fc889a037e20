"""Transcript downloads (/export/<token>) in-process: only a GET takes the
single-use token, and an export reads beside the storage writer, never
waiting for a commit (nor a commit for it)."""

from __future__ import annotations

import threading

import pytest
import trio

from confchat.app import export_route
from confchat.config import Config, ConferenceConfig
from confchat.core.server import Server
from confchat.storage.sqlite import Store, read_snapshot
from confchat.storage.writer import Writer
from confchat.transport.http import Request

pytestmark = pytest.mark.anyio

CONFIG = Config(conferences=(ConferenceConfig(channel="#townhall", title="Ask the mayor", state="live"),))


class SlowStore(Store):
    """A real store whose commits, once ``stall`` is cleared, wait until
    ``resume`` is set: a commit as long as the test likes."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.stall = threading.Event()
        self.stall.set()
        self.stalled = threading.Event()
        self.resume = threading.Event()

    def write(self, batch):
        if not self.stall.is_set():
            self.stalled.set()
            self.resume.wait(30)
        return super().write(batch)


def get(path: str, method: str = "GET") -> Request:
    return Request(method, path, {}, {}, b"", "127.0.0.1")


async def stored_core(tmp_path) -> tuple[Server, SlowStore, Writer]:
    store = SlowStore(str(tmp_path / "db.sqlite3"))
    store.open()
    core = Server(CONFIG)
    core.journal.enable(core.conferences.values())
    writer = Writer(core, store)
    await writer.flush()
    return core, store, writer


async def test_head_and_post_leave_the_link_working(tmp_path):
    core, store, writer = await stored_core(tmp_path)
    download = export_route(core, writer, CONFIG)
    token = core.exports.new("#townhall", "txt", False)
    for method in ("HEAD", "POST"):
        response = await download(get(f"/export/{token}", method))
        assert (response.status, response.headers) == (405, [("Allow", "GET")])
    response = await download(get(f"/export/{token}"))
    assert response.status == 200 and b"Ask the mayor" in response.body
    assert (await download(get(f"/export/{token}"))).status == 404
    store.close()


async def test_an_export_is_read_while_a_commit_is_in_progress(tmp_path):
    core, store, writer = await stored_core(tmp_path)
    download = export_route(core, writer, CONFIG)
    token = core.exports.new("#townhall", "json", True)
    store.stall.clear()
    core.conferences["#townhall"].record(1.0, "mod", "note", None)
    events = []
    async with trio.open_nursery() as nursery:

        async def commit() -> None:
            await writer.flush()
            events.append("committed")

        nursery.start_soon(commit)
        await trio.to_thread.run_sync(store.stalled.wait, 30)  # the commit is under way
        with trio.fail_after(30):  # only a download waiting for the commit gets near it
            response = await download(get(f"/export/{token}"))
        events.append("downloaded")
        store.resume.set()
    assert events == ["downloaded", "committed"]
    assert response.status == 200 and b"Ask the mayor" in response.body
    store.close()


async def test_a_snapshot_reads_what_the_writer_committed(tmp_path):
    core, store, writer = await stored_core(tmp_path)
    core.conferences["#townhall"].record(1.0, "mod", "note", None, n=1)
    await writer.flush()
    assert read_snapshot(store.path, "#townhall") == store.read("#townhall")
    assert [entry["action"] for entry in read_snapshot(store.path, "#townhall")["audit"]] == ["note"]
    assert read_snapshot(store.path, "#nowhere") is None
    store.close()
