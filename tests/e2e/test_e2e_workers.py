"""``confchat serve --workers 2`` for real: a supervisor and two worker
processes on one TCP port (SO_REUSEPORT), with a real redis-server.

Which process answered a client is told by the msgid of the client's own
JOIN: every server process draws a random boot id at start and prefixes
each msgid with it (core/server.py, ``boot_id``). The workers' pids are the
supervisor's children, read from /proc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import tomli_w

from conftest import ServerProcess, wait_until
from e2e_client import IRCClient
from redis_server import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing and /proc: Linux")

WORKERS = 2
CLIENTS = 20


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def boot_id(client: IRCClient, channel: str) -> str:
    """The boot id of the process serving ``client`` (registered with
    message-tags): the prefix of its own JOIN's msgid."""
    client.send(f"JOIN {channel}")
    join = client.expect(lambda m: m.command == "JOIN" and (m.source or "").startswith(client.nick + "!"))
    return join.tags["msgid"][:8]


class Workers:
    def __init__(self, tmp_path: Path, redis_url: str, extra: dict | None = None) -> None:
        self.workdir = tmp_path / "server"
        self.workdir.mkdir()
        self.data = self.workdir / "data"
        self.tcp_port, self.http_port = free_port(), free_port()
        config = self.workdir / "config.toml"
        # Visitors may make channels: each client joins one of its own.
        settings = {"server": {"visitor_channels": True}, "cluster": {"redis_url": redis_url}, **(extra or {})}
        config.write_text(tomli_w.dumps(settings))
        self.args = [
            "serve", "--config", str(config), "--workers", str(WORKERS), "--no-demo",
            "--tcp", f"127.0.0.1:{self.tcp_port}", "--http", f"127.0.0.1:{self.http_port}",
            "--data-dir", str(self.data),
        ]
        self.server = ServerProcess(self.args, self.workdir)
        self.clients: list[IRCClient] = []
        self._nicks = 0

    @property
    def pid(self) -> int:
        return self.server.proc.pid

    def workers(self) -> set[int]:
        return children(self.pid)

    def visitor(self, caps: tuple[str, ...] = ("message-tags",), sasl: tuple[str, str] | None = None,
                nick: str = "") -> tuple[IRCClient, str]:
        """A new registered client, and the boot id of the worker it got."""
        self._nicks += 1
        nick = nick or f"v{self._nicks}"
        client = self.server.client(nick, caps=caps, sasl=sasl)
        self.clients.append(client)
        return client, boot_id(client, f"#room{self._nicks}")

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()


@pytest.fixture
def workers(tmp_path, redis_server):
    started = Workers(tmp_path, redis_server.url)
    # Both workers listen once the banner is out.
    wait_until(lambda: len(started.workers()) == WORKERS, timeout=10)
    yield started
    started.close()


def test_two_workers_answer_on_one_port_each_with_its_own_database(workers):
    seen = [workers.visitor()[1] for _ in range(CLIENTS)]
    # Two processes answered, on the one port: the kernel spread the
    # connections (all 20 on one worker: a chance of 2 in a million).
    assert len(set(seen)) == WORKERS, seen
    # HTTP shares its port too, whichever worker gets the connection.
    for _ in range(6):
        with urllib.request.urlopen(f"http://127.0.0.1:{workers.http_port}/readyz", timeout=5) as reply:
            assert reply.status == 200
    # One banner, from the supervisor.
    log = workers.server.log
    assert log.count("Stop with Ctrl-C.") == 1 and log.count("IRC over TCP:") == 1
    assert f"  Workers:             {WORKERS} processes share these ports" in log
    # A database per worker; the cloak key shared, so cloaks match across workers.
    for index in range(1, WORKERS + 1):
        assert (workers.data / f"worker-{index}" / "confchat.sqlite3").is_file()
        assert not (workers.data / f"worker-{index}" / "cloak.key").exists()
    assert (workers.data / "cloak.key").is_file()
    assert not (workers.data / "confchat.sqlite3").exists()


def test_a_worker_killed_with_sigkill_is_started_again(workers):
    before = workers.workers()
    boots: set[str] = set()
    while len(boots) < WORKERS:
        assert len(workers.clients) < 60, boots
        boots.add(workers.visitor()[1])
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in workers.workers() and len(workers.workers()) == WORKERS, timeout=15)
    (new_pid,) = workers.workers() - before
    # Listening again (the supervisor logs it when the new worker says so).
    wait_until(lambda: "worker.restarted" in workers.server.log, timeout=15)
    log = workers.server.log
    assert "worker.died" in log and "killed by SIGKILL" in log
    # The new worker serves on the same port: a boot id never seen before
    # shows up, while the other worker still answers.
    fresh: set[str] = set()
    while not (fresh - boots and fresh & boots):
        assert len(workers.clients) < 120, (boots, fresh)
        fresh.add(workers.visitor()[1])
    assert len(fresh) == WORKERS, (boots, fresh)
    assert alive(new_pid)


def test_sighup_is_passed_on_and_sigterm_stops_every_worker_within_seconds(workers):
    clients = [workers.visitor()[0] for _ in range(6)]
    pids = workers.workers()
    assert len(pids) == WORKERS
    # SIGHUP is passed on: each worker would load its TLS certificate again.
    workers.server.signal(signal.SIGHUP)
    wait_until(lambda: workers.server.log.count("tls.reload_skipped") == WORKERS)
    assert workers.workers() == pids
    started = time.monotonic()
    workers.server.signal(signal.SIGTERM)
    assert workers.server.wait(timeout=10) == 0
    assert time.monotonic() - started < 8
    assert not any(alive(pid) for pid in pids)
    for client in clients:  # each worker said goodbye to its own clients
        lines = client.wait_closed(timeout=5)
        assert any(m.command == "ERROR" and "shutting down" in m.params[-1] for m in lines), lines
    assert "workers.stopped" in workers.server.log


def test_a_worker_that_cannot_start_stops_the_whole_start(tmp_path, redis_server):
    # The port is taken by a listener without SO_REUSEPORT: neither worker
    # can bind it, and the supervisor gives up instead of restarting them.
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "config.toml"
        config.write_text(tomli_w.dumps({"cluster": {"redis_url": redis_server.url}}))
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "confchat", "serve", "--config", str(config), "--workers", "2",
             "--no-demo", "--tcp", f"127.0.0.1:{port}", "--http", "", "--data-dir", str(tmp_path / "data")],
            capture_output=True, text=True, timeout=30,
        )
    assert result.returncode == 1, result
    assert "cannot start" in result.stderr
    assert "Stop with Ctrl-C" not in result.stdout
    assert time.monotonic() - started < 20


def test_a_visitor_and_a_moderator_on_different_workers_hold_one_event(tmp_path, redis_server):
    """The same moderated event whichever worker each lands on: the question
    asked through one worker is in the other's queue, the approval made
    there reaches the visitors of both, and private messages cross."""
    from confchat.core.passwords import hash_password

    chan = "#townhall"
    extra = {
        "accounts": [{"name": "moda", "password_hash": hash_password("moda-secret")}],
        "conferences": [{"channel": chan, "title": "Ask the mayor", "moderators": ["moda"], "state": "live",
                         "mode": "moderated", "slow_mode": 0}],
    }
    event = Workers(tmp_path, redis_server.url, extra)
    try:
        wait_until(lambda: len(event.workers()) == WORKERS, timeout=10)
        caps = ("message-tags", "standard-replies", "echo-message")
        moderator, mod_worker = event.visitor(caps, sasl=("moda", "moda-secret"), nick="moda")
        # Visitors until one lands on the other worker, and a viewer on each.
        others = []
        for _ in range(40):
            client, worker = event.visitor(caps)
            others.append((client, worker))
            if {w for _, w in others if w != mod_worker} and {w for _, w in others if w == mod_worker}:
                break
        citizen = next(c for c, w in others if w != mod_worker)
        same_side = next(c for c, w in others if w == mod_worker)
        for client in (moderator, citizen, same_side):
            client.send(f"JOIN {chan}")
            client.expect(lambda m: m.command == "366")
        citizen.send(f"PRIVMSG {chan} :Asked through one worker")
        citizen.expect(lambda m: m.command == "NOTE" and m.params[1] == "HELD")
        item = moderator.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM"
                                and m.params[-1] == "Asked through one worker")
        moderator.send(f"QUEUE {chan} APPROVE {item.params[2]}")
        for viewer in (same_side, citizen):
            line = viewer.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == "Asked through one worker")
            assert line.source.startswith(citizen.nick + "!")
        citizen.expect(lambda m: m.command == "NOTE" and m.params[1] == "PUBLISHED")
        # A private word across workers, and the visitor's answer to it.
        moderator.send(f"PRIVMSG {citizen.nick} :Thank you, a follow-up?")
        line = citizen.expect(lambda m: m.command == "PRIVMSG" and m.params[0] == citizen.nick)
        assert line.source.startswith("moda!") and line.params[1] == "Thank you, a follow-up?"
        citizen.send("PRIVMSG moda :Yes: when?")
        assert moderator.expect(lambda m: m.command == "PRIVMSG" and m.params[0] == "moda").params[1] == "Yes: when?"
    finally:
        event.close()


def test_each_worker_has_its_own_metrics_port(tmp_path, redis_server):
    """cluster.worker_metrics: worker i answers /metrics on the port after
    worker i-1's, so Prometheus scrapes each worker, not a random one."""
    base = free_port()
    while True:  # two free ports in a row
        try:
            import socket as _socket

            with _socket.socket() as probe:
                probe.bind(("127.0.0.1", base + 1))
            break
        except OSError:
            base = free_port()
    event = Workers(tmp_path, redis_server.url, {"cluster": {"redis_url": redis_server.url,
                                                             "worker_metrics": f"127.0.0.1:{base}"}})
    try:
        wait_until(lambda: len(event.workers()) == WORKERS, timeout=10)
        numbers = set()
        for port in (base, base + 1):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                body = response.read().decode()
            (line,) = [line for line in body.splitlines() if line.startswith("confchat_node_info{")]
            numbers.add(line.split('number="')[1].split('"')[0])
        assert len(numbers) == WORKERS  # two processes, one port each
    finally:
        event.close()
