"""A real Redis for the tests: Debian's ``redis-server`` (scripts/install-test-deps)
on a free loopback port, its data in the test's temporary directory.

Durable like a production Redis should be for the cluster (append-only file,
fsync on every write, no RDB snapshots), so a test can stop or kill it and
start it again on the same port and directory with its data intact::

    def test_something(redis_server):
        config = {"cluster": {"redis_url": redis_server.url, "workers": 2}}
        ...
        redis_server.kill()      # or .stop(): SIGTERM, a clean shutdown
        redis_server.start()     # same port, same append-only file

No Redis library here: readiness is a PING over a raw socket, and
``command`` speaks just enough RESP for a test to look at the data.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# Ports picked for a first start that were taken in between: tries.
PORT_TRIES = 5


def redis_binary() -> str:
    """The redis-server executable; skips the test without one (fails it
    under CI, where scripts/install-test-deps has installed it)."""
    path = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if path is None:
        message = "redis-server not installed (Debian: apt-get install redis-server; see scripts/install-test-deps)"
        if os.environ.get("CI"):
            pytest.fail(message + " (required when CI is set)")
        pytest.skip(message)
    return path


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (redis-server has
    no port 0 that it would report back)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def encode(*args: str | bytes | int) -> bytes:
    """A command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._more()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def exactly(self, n: int) -> bytes:
        while len(self.buffer) < n + 2:
            self._more()
        data, self.buffer = self.buffer[:n], self.buffer[n + 2:]
        return data

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buffer += chunk

    def reply(self) -> object:
        """One RESP2 reply: str for +simple, int, bytes or None for bulk,
        list for arrays; an -error raises RedisError."""
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exactly(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError(f"not a RESP reply: {line!r}")


class RedisError(Exception):
    """An error reply from Redis."""


class RedisServer:
    """``redis-server`` on 127.0.0.1, data in ``tmp_path/redis``."""

    def __init__(self, tmp_path: Path, port: int | None = None, extra: tuple[str, ...] = ()) -> None:
        self.binary = redis_binary()
        self.extra = extra  # more options, e.g. ("--replicaof", "127.0.0.1", "6390")
        self.dir = Path(tmp_path) / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir / "redis.log"
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> RedisServer:
        """Start (or start again: same port, same directory and append-only
        file) and wait until it answers PING."""
        if self.running:
            raise RuntimeError("redis-server is already running")
        for attempt in range(PORT_TRIES):
            if self._launch():
                # Later starts keep this port: clients hold the URL.
                self._fixed_port = True
                return self
            if self._fixed_port or attempt == PORT_TRIES - 1:
                break
            self.port = free_port()  # taken between the probe and the bind
        raise RuntimeError(f"redis-server did not start on port {self.port}:\n{self.log}")

    def _launch(self) -> bool:
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.log_path),
            *self.extra,
        ]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.command("PING") == "PONG":
                    return True
            except (OSError, RedisError):
                # Refused until it listens; LOADING while it replays the AOF.
                pass
            time.sleep(0.02)
        self.kill()
        return False

    def command(self, *args: str | bytes | int, timeout: float = 5.0) -> object:
        """Send one command over a new raw connection; return the reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(encode(*args))
            return _Reader(sock).reply()

    def stop(self) -> int | None:
        """SIGTERM (Redis flushes and exits cleanly), then wait for it."""
        return self._end(signal.SIGTERM)

    def kill(self) -> int | None:
        """SIGKILL: a crash, nothing flushed past the last fsync."""
        return self._end(signal.SIGKILL)

    def _end(self, signum: int) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        return self.proc.returncode

    @property
    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class SentinelServer:
    """``redis-server --sentinel`` on 127.0.0.1 watching ``primary`` under
    ``name`` (quorum 1, down after 1 s): kill the primary and it promotes a
    replica within a few seconds."""

    def __init__(self, tmp_path: Path, primary: RedisServer, name: str = "confchat") -> None:
        self.dir = Path(tmp_path) / "sentinel"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.name = name
        conf = self.dir / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\nlogfile {self.dir / 'sentinel.log'}\n"
            f"sentinel monitor {name} 127.0.0.1 {primary.port} 1\n"
            f"sentinel down-after-milliseconds {name} 1000\nsentinel failover-timeout {name} 5000\n"
        )
        self.proc = subprocess.Popen([redis_binary(), str(conf), "--sentinel"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if self.command("PING") == "PONG":
                    break
            except (OSError, RedisError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server --sentinel did not start")
            time.sleep(0.05)

    def command(self, *args: str | bytes | int, timeout: float = 5.0) -> object:
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(encode(*args))
            return _Reader(sock).reply()

    def primary(self) -> int:
        """The port of the primary the sentinel names now."""
        return int(self.command("SENTINEL", "get-master-addr-by-name", self.name)[1])

    def wait_for_replicas(self, count: int = 1, timeout: float = 30.0) -> None:
        """Until the sentinel has found ``count`` replicas (it needs them to fail over)."""
        deadline = time.monotonic() + timeout
        while len(self.command("SENTINEL", "replicas", self.name) or []) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinel found no replica")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(STOP_TIMEOUT)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running Redis of this test's own, stopped at the end."""
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
