"""Faults, for real: the server's data directory on a small filesystem that
fills up (a tmpfs the test mounts), and a database made read-only. The
server says so (log, metric, /readyz), keeps answering what needs no disk
(PING), acknowledges nothing it has not stored, and when the disk comes back
everything acknowledged, and everything held meanwhile, is stored."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from conftest import wait_until

PASSWORD = "pw-for-faults"
HASH = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
CHAN = "#townhall"
CAPS = ("message-tags", "standard-replies")
CONFIG = {
    "moderation": {"max_pending_per_visitor": 0, "max_pending_per_address": 0},
    "accounts": [{"name": "moda", "password_hash": HASH}],
    "conferences": [{"channel": CHAN, "title": "Ask the mayor", "moderators": ["moda"], "state": "live"}],
}


def get(server, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, body


def held(msg) -> bool:
    return msg.command == "NOTE" and msg.params[1] == "HELD"


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MiB filesystem of its own (tmpfs), so that filling it fills only it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        message = f"cannot mount a tmpfs here: {result.stderr.decode().strip()}"
        if os.environ.get("CI"):
            pytest.fail(message + " (required when CI is set)")
        pytest.skip(message)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> Path:
    """Write until the filesystem says it is full."""
    filler = path / "filler"
    # Unbuffered: a partial last write leaves nothing for close() to flush
    # (a buffered file raises ENOSPC again from close, at random).
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            pass
    return filler


def metric(server, name: str) -> str:
    _, body = get(server, "/metrics")
    return next(line.split()[-1] for line in body.splitlines() if line.startswith(name + " "))


def test_a_full_disk_is_told_and_loses_nothing(small_disk, start_server):
    data = small_disk / "data"
    server = start_server(CONFIG, "--data-dir", str(data))
    moda = server.client("moda", caps=CAPS, sasl=("moda", PASSWORD))
    moda.send(f"JOIN {CHAN}")
    moda.expect("366")
    carol = server.client("carol", caps=CAPS)
    carol.send(f"JOIN {CHAN}")
    carol.expect("366")
    viewer = server.client("viewer", caps=CAPS)
    viewer.send(f"JOIN {CHAN}")
    viewer.expect("366")
    carol.send(f"PRIVMSG {CHAN} :before the disk filled up")
    first = carol.expect(held)

    filler = fill(small_disk)
    carol.send(f"PRIVMSG {CHAN} :while the disk is full")
    wait_until(lambda: "storage.write_failed" in server.log, timeout=15)
    status, body = get(server, "/readyz")
    assert status == 503 and "storage" in body
    assert float(metric(server, "confchat_storage_failing")) == 1
    # Nothing is acknowledged that is not stored, but whoever waits for
    # nothing stored is served: PING needs no disk.
    viewer.roundtrip()
    assert not [m for m in carol.drain() if held(m)]

    filler.unlink()
    second = carol.expect(held, timeout=15)  # stored at the next retry, then acknowledged
    assert int(second.params[3]) == int(first.params[3]) + 1
    wait_until(lambda: "storage.write_recovered" in server.log, timeout=10)
    assert get(server, "/readyz")[0] == 200

    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    again = start_server(CONFIG, "--data-dir", str(data))
    moda = again.client("moda", caps=CAPS, sasl=("moda", PASSWORD))
    moda.send(f"JOIN {CHAN}")
    moda.expect("366")
    moda.send(f"QUEUE {CHAN} LIST")
    texts = []
    while (msg := moda.expect("QUEUE")).params[1] != "END":
        texts.append(msg.params[-1])
    assert texts == ["before the disk filled up", "while the disk is full"]


def test_a_read_only_database_is_told_and_the_server_keeps_serving(tmp_path, start_server):
    data = tmp_path / "data"
    server = start_server(CONFIG, "--data-dir", str(data))
    carol = server.client("carol", caps=CAPS)
    carol.send(f"JOIN {CHAN}")
    carol.expect("366")
    carol.send(f"PRIVMSG {CHAN} :stored")
    carol.expect(held)
    database = data / "confchat.sqlite3"
    # Root ignores file modes: make the file immutable instead (chattr), or
    # skip where the filesystem cannot.
    made = subprocess.run(["chattr", "+i", str(database)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make the database read-only here: {made.stderr.decode().strip()}")
    try:
        for wal in (data / "confchat.sqlite3-wal",):
            subprocess.run(["chattr", "+i", str(wal)], capture_output=True)
        carol.send(f"PRIVMSG {CHAN} :not stored yet")
        deadline = time.monotonic() + 15
        while "storage.write_failed" not in server.log and time.monotonic() < deadline:
            time.sleep(0.2)
        if "storage.write_failed" not in server.log:
            pytest.skip("the database still accepted writes (the write-ahead log is reused)")
        assert get(server, "/readyz")[0] == 503
        # New connections are served (registration needs no disk); what
        # tells of the conference (joining it) waits for the disk.
        viewer = server.client("viewer", caps=CAPS)
        viewer.roundtrip()
    finally:
        subprocess.run(["chattr", "-i", str(database), str(data / "confchat.sqlite3-wal")], capture_output=True)
    carol.expect(held, timeout=15)
