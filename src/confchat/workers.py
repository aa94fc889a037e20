"""``confchat serve --workers N``: N server processes on this host sharing
the listening ports: their configuration, their start, their listeners.
The small supervisor that runs them is confchat/supervisor.py.

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
import signal
import socket
import sys
import urllib.parse
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import attrs
import structlog
import trio

from .config import Config, ConfigError, from_dict, parse_hostport, to_dict
from .supervisor import READY, READY_FD_ENV, WORKER_ENV, WORKERS_ENV, Supervisor

if TYPE_CHECKING:
    from .demo import Demo

log = structlog.get_logger("confchat")



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
