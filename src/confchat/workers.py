"""``confchat serve --workers N``: N server processes on this host sharing
the listening ports, and the small supervisor that runs them.

One Python process serves one core. To use more of a machine, the
supervisor (the process ``confchat serve`` was started as) starts N
workers: each is a whole server, the same ``confchat serve`` with the same
configuration, and each opens every listener with ``SO_REUSEPORT``, so the
kernel spreads the incoming connections over them. The workers share their
conferences through Redis (``cluster.redis_url``; confchat/cluster/), which
is why more than one worker needs it.

What is shared and what is not, in ``server.data_dir``:

- ``cloak.key`` is one for all (the supervisor makes it before any worker
  starts): a visitor's cloak and identity are the same whichever worker
  the kernel hands the connection to, so bans and votes hold;
- ``demo.toml`` is read and written by the supervisor only (the workers get
  the demo's accounts and conference in their configuration);
- the SQLite database is one per worker, ``data_dir/worker-<i>/``
  (``worker_data_dir``): SQLite takes one writer, and each worker has its
  own copy of the conferences to restore from;
- ``transcripts/`` stays where it is.

The supervisor hands each worker its configuration (as the supervisor
resolved it: file, options, demo) on the worker's standard input and marks
it with the environment: ``CONFCHAT_WORKER`` (1..N), ``CONFCHAT_WORKERS``
(N) and ``CONFCHAT_READY_FD``, a pipe the worker writes to once it listens.
The banner is printed once, by the supervisor, when all the workers listen.
SIGTERM and SIGINT stop the workers (each shuts down gracefully) and then
the supervisor; SIGHUP is passed on (the TLS certificate is loaded again).
A worker that dies unexpectedly is started again after a short back-off,
which grows while it keeps dying (``RESTART_DELAY`` .. ``RESTART_DELAY_MAX``);
a worker that fails before the first banner stops the whole start.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import attrs
import structlog
import trio

from .config import Config, ConfigError, from_dict, parse_hostport, to_dict

if TYPE_CHECKING:
    from .demo import Demo

log = structlog.get_logger("confchat")

#: The environment that marks a worker process (set by the supervisor).
WORKER_ENV = "CONFCHAT_WORKER"
WORKERS_ENV = "CONFCHAT_WORKERS"
READY_FD_ENV = "CONFCHAT_READY_FD"
READY = b"ready\n"

#: A dead worker is started again after RESTART_DELAY seconds; the delay
#: doubles while it keeps dying within STABLE_AFTER seconds of its start,
#: up to RESTART_DELAY_MAX.
RESTART_DELAY = 0.5
RESTART_DELAY_MAX = 30.0
STABLE_AFTER = 30.0
#: Workers still running this long after SIGTERM are killed: their own
#: shutdown gives up after twice app.SHUTDOWN_GRACE.
STOP_TIMEOUT = 15.0


# -- configuration -----------------------------------------------------------


def check(config: Config) -> None:
    """Refuse, with what to do instead, a configuration that workers cannot
    run: no Redis to share the conferences through, or a listener on port 0
    (each worker would get a port of its own)."""
    count = config.cluster.workers
    if count <= 1:
        return
    if not (config.cluster.redis_url or config.cluster.sentinels):
        raise ConfigError(
            f"{count} workers (--workers or cluster.workers): the workers share their conferences "
            "through Redis, and cluster.redis_url is not set. Add to the config file\n"
            "    [cluster]\n"
            '    redis_url = "redis://127.0.0.1:6379/0"\n'
            "with the address of your Redis (or Valkey), or run a single process (--workers 1)"
        )
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError(f"{count} workers: this system has no SO_REUSEPORT, which the workers share their ports with")
    for key, address in _listen_addresses(config):
        _, port = parse_hostport(address)
        if port == 0:
            raise ConfigError(
                f'{key} = "{address}": port 0 would give each of the {count} workers a port of its own; '
                "with --workers, give a fixed port"
            )


def _listen_addresses(config: Config) -> list[tuple[str, str]]:
    """Every configured listener as (its key, "host:port")."""
    listen = config.listen
    found = [("listen.tcp", a) for a in listen.tcp]
    found += [("listen.proxy_protocol", a) for a in listen.proxy_protocol]
    found += [("listen.tls", a) for a in listen.tls]
    if listen.http:
        found.append(("listen.http", listen.http))
    if listen.https:
        found.append(("listen.https", listen.https))
    return found


def with_workers(config: Config, workers: int | None) -> Config:
    """``config`` with ``--workers`` applied (None: as configured)."""
    if workers is None:
        return config
    return attrs.evolve(config, cluster=attrs.evolve(config.cluster, workers=workers))


def worker_data_dir(config: Config, index: int) -> str:
    """The directory of worker ``index`` (1..N)'s own storage, inside
    ``server.data_dir``."""
    return os.path.join(config.server.data_dir, f"worker-{index}")


def worker_database_path(config: Config, index: int) -> str:
    """Worker ``index``'s SQLite database: ``storage.path`` inside its
    worker directory; an absolute ``storage.path`` gets a ``worker-<i>``
    folder beside its file, so that no two workers ever share one."""
    path = config.storage.path
    if os.path.isabs(path):
        return os.path.join(os.path.dirname(path), f"worker-{index}", os.path.basename(path))
    return os.path.join(worker_data_dir(config, index), path)


def worker_config(config: Config, index: int) -> Config:
    """The configuration worker ``index`` serves: its own database
    (``storage.path`` pointing into ``worker_data_dir``, so that
    ``app.database_path`` finds it; everything else in ``data_dir`` stays
    shared), and, when ``cluster.node`` names this host, a node name of
    its own ("web1" -> "web1-2")."""
    path = config.storage.path
    if os.path.isabs(path):
        storage_path = worker_database_path(config, index)
    else:  # kept relative to data_dir, as app.database_path joins it
        storage_path = os.path.join(f"worker-{index}", path)
    cluster = config.cluster
    if cluster.node:
        cluster = attrs.evolve(cluster, node=f"{cluster.node}-{index}")
    return attrs.evolve(config, storage=attrs.evolve(config.storage, path=storage_path), cluster=cluster)


def encode_config(config: Config) -> bytes:
    """The configuration as the supervisor hands it to a worker."""
    return json.dumps(to_dict(config)).encode()


def decode_config(data: bytes | str) -> Config:
    return from_dict(json.loads(data))


# -- listening ---------------------------------------------------------------

# Set in a worker process: every listener is opened with SO_REUSEPORT.
_share_ports = False


def share_ports(on: bool = True) -> None:
    """Open this process's listeners with SO_REUSEPORT (in a worker)."""
    global _share_ports
    _share_ports = on


def sharing_ports() -> bool:
    return _share_ports


async def open_tcp_listeners(port: int, *, host: str | None = None) -> list[trio.SocketListener]:
    """``trio.open_tcp_listeners``, with SO_REUSEPORT in a worker: the
    workers bind the same addresses and the kernel spreads the connections
    over them."""
    if not _share_ports:
        return await trio.open_tcp_listeners(port, host=host)
    addresses = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    listeners: list[trio.SocketListener] = []
    unsupported: list[OSError] = []
    try:
        for family, type_, proto, _, sockaddr in addresses:
            try:
                sock = trio.socket.socket(family, type_, proto)
            except OSError as exc:
                if exc.errno == errno.EAFNOSUPPORT:  # an IPv6 address on a host without IPv6
                    unsupported.append(exc)
                    continue
                raise
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                await sock.bind(sockaddr)
                sock.listen(0xFFFF)  # as trio: the system's maximum
                listeners.append(trio.SocketListener(sock))
            except BaseException:
                sock.close()
                raise
    except BaseException:
        for listener in listeners:
            listener.socket.close()
        raise
    if unsupported and not listeners:
        raise OSError(errno.EAFNOSUPPORT, f"no socket of a kind that {host}:{port} needs") from unsupported[0]
    return listeners


# -- the worker process --------------------------------------------------------


def is_worker(environ: Any = os.environ) -> bool:
    return bool(environ.get(WORKER_ENV))


def worker_main(environ: Any = os.environ, stdin: Any = None) -> int:
    """A worker's ``confchat serve``: the configuration from standard input,
    its index from the environment. Returns the exit status."""
    from .log import configure_logging

    try:
        index = int(environ[WORKER_ENV])
        count = int(environ[WORKERS_ENV])
        ready_fd = int(environ.get(READY_FD_ENV, "-1"))
        config = decode_config((stdin or sys.stdin.buffer).read())
    except (KeyError, ValueError, ConfigError) as exc:
        print(
            f"confchat: {WORKER_ENV} is set, but this is no worker of confchat serve --workers N "
            f"(which passes its configuration on standard input): {exc}",
            file=sys.stderr,
        )
        return 2
    configure_logging(config.logging)
    # Every line this worker logs says which one it is (trio.run copies
    # the context into its tasks).
    structlog.contextvars.bind_contextvars(worker=index)
    log.info("worker.starting", worker=index, workers=count, pid=os.getpid())
    return run_worker(config, index, ready_fd)


def run_worker(config: Config, index: int, ready_fd: int = -1) -> int:
    """Serve as worker ``index`` until SIGTERM or SIGINT; like ``app.run``,
    without the banner (the supervisor prints it)."""
    from .app import GC_THRESHOLDS, first_cause
    from .storage.sqlite import StorageError

    share_ports()
    config = worker_config(config, index)
    os.makedirs(worker_data_dir(config, index), exist_ok=True)
    gc.set_threshold(*GC_THRESHOLDS)
    failure: BaseException | None = None
    try:
        trio.run(_worker_main, config, index, ready_fd)
    except* (OSError, StorageError, ConfigError) as group:
        failure = first_cause(group)
    if failure is not None:
        print(f"confchat: worker {index} cannot start: {failure}", file=sys.stderr)
        return 1
    return 0


async def _worker_main(config: Config, index: int, ready_fd: int) -> None:
    # As app._main: signals are caught before anything listens.
    from .app import Running, follow_signals, serve

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(serve, config)
            log.info("worker.ready", worker=index, pid=os.getpid())
            if ready_fd >= 0:
                try:
                    os.write(ready_fd, READY)
                    os.close(ready_fd)
                except OSError:  # the supervisor is gone: its death signal follows
                    pass
            await follow_signals(signals, running)


# -- the supervisor ------------------------------------------------------------


def supervise(config: Config, demo: Demo | None = None) -> int:
    """The supervisor of ``confchat serve --workers N`` (N > 1): start the
    workers, print the banner once they all listen, restart the ones that
    die, stop them all on SIGTERM/SIGINT. Returns the exit status."""
    from .app import cloak_key

    try:
        os.makedirs(config.server.data_dir, exist_ok=True)
        # Made here, once: workers starting together would race to create it.
        cloak_key(config.server.data_dir)
    except (OSError, ConfigError) as exc:
        print(f"confchat: cannot start: {exc}", file=sys.stderr)
        return 1

    def ready() -> None:
        if demo is not None:
            # Only now that they all listen, as app._main: a start that
            # failed keeps no password that nobody saw.
            demo.save()
        announce(config, demo)

    supervisor = Supervisor(config.cluster.workers, encode_config(config))
    return supervisor.run(ready)


def announce(config: Config, demo: Demo | None = None) -> None:
    """The banner of a single server (app._announce), for the addresses
    every worker binds, and a line about the workers."""
    from .app import _announce

    def bound(addresses: Sequence[str]) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        for address in addresses:
            host, port = parse_hostport(address)
            for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
                pair = (str(sockaddr[0]), int(sockaddr[1]))
                if pair not in found:
                    found.append(pair)
        return found

    listen = config.listen
    running = SimpleNamespace(
        tcp_addresses=bound(listen.tcp),
        proxy_addresses=bound(listen.proxy_protocol),
        http_addresses=bound([listen.http] if listen.http else []),
        tls_addresses=bound(listen.tls),
        https_addresses=bound([listen.https] if listen.https else []),
    )
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        _announce(running, config, demo)  # type: ignore[arg-type]
    lines = text.getvalue().rstrip("\n").split("\n")
    workers = (
        f"  Workers:             {config.cluster.workers} processes share these ports; "
        f"their conferences go through Redis at {redacted_url(config.cluster.redis_url)}"
    )
    # Before "Stop with Ctrl-C.", which ends the banner.
    lines.insert(len(lines) - 1, workers)
    print("\n".join(lines), flush=True)


def redacted_url(url: str) -> str:
    """A Redis URL without its password, for the banner."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urllib.parse.urlunsplit(parts._replace(netloc=user + netloc))


@attrs.define
class Slot:
    """One worker's place: the process that fills it now, if any."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    ready_fd: int | None = None  # the read end of its ready pipe, until it wrote or died
    ready: bool = False
    started_at: float = 0.0
    delay: float = RESTART_DELAY  # before the next restart
    restart_at: float | None = None


class Supervisor:
    """Runs ``count`` workers. ``command``: what a worker runs (default:
    this Python's ``-m confchat serve``); ``config``: what it reads on its
    standard input."""

    def __init__(
        self,
        count: int,
        config: bytes,
        *,
        command: Sequence[str] | None = None,
        environ: dict[str, str] | None = None,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.count = count
        self.config = config
        self.command = list(command) if command is not None else [sys.executable, "-m", "confchat", "serve"]
        self.environ = dict(os.environ if environ is None else environ)
        self.stop_timeout = stop_timeout
        self.slots = [Slot(i) for i in range(1, count + 1)]
        self.announced = False
        self.stopping = False
        self.failed = False
        self.kill_at: float | None = None
        self._signals: list[int] = []
        self._death_signal = _death_signal_setter()

    # The loop ----------------------------------------------------------------

    def run(self, on_ready: Callable[[], None] = lambda: None) -> int:
        """Until every worker is gone after a stop; 0, or 1 when the start
        failed."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)
        previous = {signum: signal.signal(signum, self._on_signal) for signum in handled}
        previous_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        try:
            log.info("workers.starting", workers=self.count, pid=os.getpid())
            for slot in self.slots:
                if not self.stopping:
                    self._start(slot)
            while not (self.stopping and not self._alive()):
                self._step(wake_r, on_ready)
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(wake_r)
            os.close(wake_w)
            for slot in self.slots:  # only after an error of our own
                if slot.proc is not None and slot.proc.poll() is None:
                    slot.proc.kill()
                    slot.proc.wait()
                self._close_ready(slot)
        log.info("workers.stopped", failed=self.failed)
        return 1 if self.failed else 0

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signals.append(signum)  # the wakeup fd wakes the loop

    def _step(self, wake_r: int, on_ready: Callable[[], None]) -> None:
        now = time.monotonic()
        deadlines = [s.restart_at for s in self.slots if s.restart_at is not None]
        if self.kill_at is not None:
            deadlines.append(self.kill_at)
        timeout = max(0.0, min(deadlines) - now) if deadlines else 1.0
        fds = [wake_r] + [s.ready_fd for s in self.slots if s.ready_fd is not None]
        try:
            readable, _, _ = select.select(fds, [], [], min(timeout, 1.0))
        except InterruptedError:
            readable = []
        if wake_r in readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
        while self._signals:
            self._signal(self._signals.pop(0))
        for slot in self.slots:
            if slot.ready_fd is not None and slot.ready_fd in readable:
                self._read_ready(slot)
        # Before reaping: a worker that said it listens and died since is
        # one to restart, not a failed start.
        if not self.announced and not self.stopping and all(s.ready for s in self.slots):
            self.announced = True
            log.info("workers.ready", workers=self.count)
            try:
                on_ready()
            except Exception as exc:  # the banner or demo.toml could not be written
                log.exception("workers.announce_failed")
                print(f"confchat: cannot start: {exc}", file=sys.stderr, flush=True)
                self.failed = True
                self.stop()
        self._reap()
        now = time.monotonic()
        for slot in self.slots:
            if slot.restart_at is not None and now >= slot.restart_at and not self.stopping:
                slot.restart_at = None
                self._start(slot)
        if self.kill_at is not None and now >= self.kill_at:
            self.kill_at = None
            for slot in self.slots:
                if slot.proc is not None and slot.proc.poll() is None:
                    log.error("worker.kill", worker=slot.index, pid=slot.proc.pid, after=self.stop_timeout)
                    slot.proc.kill()

    def _signal(self, signum: int) -> None:
        if signum == signal.SIGCHLD:
            return  # _reap looks at every worker
        name = signal.Signals(signum).name
        if signum == signal.SIGHUP:
            log.info("signal.received", signal=name, forwarded_to=self._ready_pids())
            self._send(signal.SIGHUP, ready_only=True)
            return
        if self.stopping:
            log.info("signal.received", signal=name, note="already stopping")
            return
        log.info("signal.received", signal=name)
        self.stop()

    def stop(self) -> None:
        """SIGTERM to every worker; no more restarts."""
        self.stopping = True
        self.kill_at = time.monotonic() + self.stop_timeout
        for slot in self.slots:
            slot.restart_at = None
        self._send(signal.SIGTERM)

    # Workers -----------------------------------------------------------------

    def _start(self, slot: Slot) -> None:
        ready_r, ready_w = os.pipe()
        env = dict(
            self.environ,
            **{WORKER_ENV: str(slot.index), WORKERS_ENV: str(self.count), READY_FD_ENV: str(ready_w)},
        )
        try:
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                env=env,
                pass_fds=(ready_w,),
                # A group of its own: a Ctrl-C in the terminal reaches the
                # supervisor only, which stops the workers in order.
                process_group=0,
                preexec_fn=self._death_signal,
            )
        except OSError as exc:
            os.close(ready_r)
            log.error("worker.start_failed", worker=slot.index, error=str(exc))
            self._died(slot, None)
            return
        finally:
            os.close(ready_w)  # the worker has its copy
        slot.proc, slot.ready_fd, slot.ready = proc, ready_r, False
        slot.started_at = time.monotonic()
        log.info("worker.started", worker=slot.index, pid=proc.pid)
        assert proc.stdin is not None
        try:
            proc.stdin.write(self.config)
            proc.stdin.close()
        except OSError:  # it died before reading: _reap sees it
            pass

    def _read_ready(self, slot: Slot) -> None:
        assert slot.ready_fd is not None
        try:
            data = os.read(slot.ready_fd, 64)
        except OSError:
            data = b""
        if data.startswith(READY):
            slot.ready = True
            if self.announced:
                log.info("worker.restarted", worker=slot.index, pid=slot.proc.pid if slot.proc else None)
        self._close_ready(slot)

    def _close_ready(self, slot: Slot) -> None:
        if slot.ready_fd is not None:
            os.close(slot.ready_fd)
            slot.ready_fd = None

    def _reap(self) -> None:
        for slot in self.slots:
            if slot.proc is None:
                continue
            code = slot.proc.poll()
            if code is None:
                continue
            proc, slot.proc = slot.proc, None
            self._close_ready(slot)
            slot.ready = False
            if self.stopping:
                log.info("worker.stopped", worker=slot.index, pid=proc.pid, status=_status(code))
                continue
            self._died(slot, proc, code)

    def _died(self, slot: Slot, proc: subprocess.Popen[bytes] | None, code: int | None = None) -> None:
        pid = proc.pid if proc is not None else None
        if not self.announced:
            # Not every worker has started yet: an address in use, a damaged
            # database… (the worker said why). Restarting would only repeat it.
            log.error("worker.failed_to_start", worker=slot.index, pid=pid, status=_status(code))
            print(f"confchat: cannot start: worker {slot.index} exited ({_status(code)})", file=sys.stderr, flush=True)
            self.failed = True
            self.stop()
            return
        lived = time.monotonic() - slot.started_at
        if lived >= STABLE_AFTER:
            slot.delay = RESTART_DELAY
        slot.restart_at = time.monotonic() + slot.delay
        log.warning(
            "worker.died", worker=slot.index, pid=pid, status=_status(code),
            lived=round(lived, 1), restart_in=slot.delay,
        )
        slot.delay = min(slot.delay * 2, RESTART_DELAY_MAX)

    def _send(self, signum: int, ready_only: bool = False) -> None:
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None and (slot.ready or not ready_only):
                with contextlib.suppress(ProcessLookupError):
                    slot.proc.send_signal(signum)

    def _alive(self) -> bool:
        return any(slot.proc is not None for slot in self.slots)

    def _ready_pids(self) -> list[int]:
        return [s.proc.pid for s in self.slots if s.proc is not None and s.ready]

    def pids(self) -> dict[int, int]:
        """Worker index -> pid, for the workers running now."""
        return {s.index: s.proc.pid for s in self.slots if s.proc is not None}


def _status(code: int | None) -> str:
    if code is None:
        return "not started"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _death_signal_setter() -> Callable[[], None] | None:
    """For a worker between fork and exec: SIGTERM when the supervisor dies
    (Linux's PR_SET_PDEATHSIG), so that a supervisor killed with SIGKILL
    leaves no worker serving on its own."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # it died before the prctl
            os._exit(1)

    return set_death_signal
