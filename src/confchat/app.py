"""Run the server: listeners, the core's clock tick, signals, graceful shutdown.

Lifecycle (after hypercorn's): the store is opened and the conferences
restored before anything listens. Connections live in an outer nursery; the
accept loops (IRC over TCP; HTTP, which carries the WebSockets), the ticker,
the retention sweep, the storage writer and the password checker in an
inner one. ``Running.stop()`` (on SIGINT/SIGTERM) cancels the inner one, so
nothing new is accepted; the core then sends every client ``ERROR :Server
shutting down``, the last changes are committed (given up after
``SHUTDOWN_GRACE`` seconds), and the connections get ``SHUTDOWN_GRACE``
seconds more to flush before they are cut.
"""

from __future__ import annotations

import gc
import ipaddress
import os
import signal
import socket
import sys
from typing import Any

import attrs
import structlog
import trio

from . import __version__
from .config import Config, ConfigError, parse_hostport
from .core.cloak import KEY_BYTES
from .core.server import Server
from .demo import Demo, banner
from .storage.sqlite import Store, StorageError, read_snapshot
from .storage.writer import Writer
from .plugins import check_policies, load_policies
from .screener import Screener
from .transcript import write_closed_transcripts
from .transport.http import HttpServer, Request, Response, serve_http
from .transport.forwarded import TrustedProxies
from .transport.tcp import serve_proxied_tcp, serve_tcp
from .transport.tls import Certificates, serve_https, serve_tls, sts_policy
from .verifier import Verifier
from .web.pages import WebApp
from .workers import open_tcp_listeners

SHUTDOWN_GRACE = 5.0
GC_THRESHOLDS = (50_000, 50, 100)
TICK_INTERVAL = 1.0
RETENTION_INTERVAL = 3600.0

log = structlog.get_logger("confchat")


@attrs.define
class Running:
    """What ``serve`` hands back through ``task_status``: the bound addresses
    (for the announcement and /readyz), the core and its storage writer (for
    a caller that embeds the server) and a way to stop."""

    core: Server
    tcp_addresses: list[tuple[str, int]]
    _stop: trio.Event
    writer: Writer | None = None
    http_addresses: list[tuple[str, int]] = attrs.field(factory=list)
    # listen.proxy_protocol: IRC over TCP behind a PROXY protocol proxy.
    proxy_addresses: list[tuple[str, int]] = attrs.field(factory=list)

    def stop(self) -> None:
        self._stop.set()

    # TLS (transport/tls.py): IRC over TLS, HTTPS, and the certificate
    # they serve (None without TLS listeners).
    tls_addresses: list[tuple[str, int]] = attrs.field(factory=list)
    https_addresses: list[tuple[str, int]] = attrs.field(factory=list)
    certificates: Certificates | None = None
    # The cluster's link (cluster/link.py), when [cluster] redis_url is set.
    link: Any = None

    def reload_tls(self) -> str | None:
        """Load the certificate and key again (SIGHUP): new handshakes get
        them, open connections keep theirs. None when done, else why not
        (the old certificate stays in use)."""
        if self.certificates is None:
            log.info("tls.reload_skipped", reason="no TLS listener")
            return None
        return self.certificates.reload()


# Closings waiting for their transcripts; past it one is skipped with a
# warning (`confchat export` writes it from the database any time).
TRANSCRIPT_BACKLOG = 64


def closes(changes: dict[str, Any]) -> bool:
    """Whether one conference's committed changes close it."""
    return any(a["action"] == "state" and a["detail"].get("state") == "closed" for a in changes.get("audit", ()))


async def write_waiting_transcripts(config: Config, store: Store, waiting: trio.MemoryReceiveChannel) -> None:
    """At shutdown: the transcripts of closings still waiting for the task
    that writes them (stopped by then)."""
    reader = SnapshotReader(store.path)
    while True:
        try:
            batch = waiting.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            return
        try:
            await trio.to_thread.run_sync(write_closed_transcripts, config, reader, batch)
        except Exception:
            log.exception("transcripts.failed")


class SnapshotReader:
    """``read`` as the writer's store has it, through a read-only
    connection of its own (storage/sqlite.py:read_snapshot)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self, folded: str) -> dict[str, Any] | None:
        return read_snapshot(self.path, folded)


def _core_logger(event: str, level: str = "info", **fields: Any) -> None:
    getattr(log, level)(event, **fields)


# Every listener opens through workers.open_tcp_listeners: trio's, with
# SO_REUSEPORT in a worker of `serve --workers N` (the workers share the ports).
async def _open_tcp_listeners(config: Config) -> list[trio.SocketListener]:
    listeners: list[trio.SocketListener] = []
    for address in config.listen.tcp:
        host, port = parse_hostport(address)
        listeners.extend(await open_tcp_listeners(port, host=host))
    return listeners


async def _open_proxy_listeners(config: Config) -> list[trio.SocketListener]:
    listeners: list[trio.SocketListener] = []
    for address in config.listen.proxy_protocol:
        host, port = parse_hostport(address)
        listeners.extend(await open_tcp_listeners(port, host=host))
    return listeners


async def _open_listeners(addresses: list[str]) -> list[trio.SocketListener]:
    listeners: list[trio.SocketListener] = []
    for address in addresses:
        host, port = parse_hostport(address)
        listeners.extend(await open_tcp_listeners(port, host=host))
    return listeners


async def _open_http_listeners(config: Config) -> list[trio.SocketListener]:
    if not config.listen.http:
        return []
    host, port = parse_hostport(config.listen.http)
    return await open_tcp_listeners(port, host=host)


def http_routes(core: Server, writer: Writer, running: Running) -> dict[str, Any]:
    """The supervision endpoints; the web client adds its own."""
    from .metrics import exposition, registry_for

    registry = registry_for(core, writer, ("tcp", "websocket"))

    async def healthz(request: Request) -> Response:
        return Response.text(200, "ok")

    async def readyz(request: Request) -> Response:
        problems = []
        if writer.stats.failing:
            problems.append(f"storage: {writer.stats.last_error}")
        listening = (running.tcp_addresses, running.http_addresses, running.proxy_addresses,
                     running.tls_addresses, running.https_addresses)
        if not any(listening):
            problems.append("no listener")
        if problems:
            return Response.text(503, "not ready: " + "; ".join(problems))
        return Response.text(200, "ready")

    async def metrics(request: Request) -> Response:
        body, content_type = exposition(registry, request.headers.get("accept"))
        return Response(200, body, content_type)

    return {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}


def export_route(core: Server, writer: Writer, config: Config) -> Any:
    """/export/<token>: a transcript, for the moderator who asked for the
    link with CONF <channel> EXPORT (single use, five minutes). Only a GET
    takes the token: a HEAD or POST (a link checker, a chat's preview) gets
    405 and leaves the link working."""
    import time

    from .storage.sqlite import read_snapshot
    from .transcript import CONTENT_TYPES, build, render, transcript_name

    path = writer.store.path
    # Exports read and rendered at once; more wait their turn. Each takes a
    # worker thread and holds a whole transcript in memory.
    exporting = trio.CapacityLimiter(2)

    def transcript(folded: str, fmt: str, internal: bool) -> tuple[bytes, str] | None:
        # In a worker thread, through a read-only connection of its own and
        # outside the writer's lock: reading and rendering a whole conference
        # holds up neither the event loop nor the commits (which every
        # acknowledgement waits for).
        data = read_snapshot(path, folded)
        if data is None:
            return None
        now = time.time()
        transcript = build(data, internal=internal, now=now, timezone_name=config.server.timezone)
        body = render(transcript, fmt, config.branding).encode()
        return body, transcript_name(data["conference"]["channel"], now, internal, fmt)

    async def download(request: Request) -> Response:
        if request.method != "GET":
            return Response(405, b"Download links answer GET only.\n", headers=[("Allow", "GET")])
        found = core.exports.take(request.path[len("/export/"):])
        if found is None:
            return Response.text(404, "This download link is unknown, used or expired; ask for a new one.")
        folded, fmt, internal = found
        link = core.cluster  # in a cluster (cluster/link.py): any node has the link, one redeems it
        if link is not None and not await link.claim(request.path[len("/export/"):]):
            return Response.text(404, "This download link is unknown, used or expired; ask for a new one.")
        result = await trio.to_thread.run_sync(transcript, folded, fmt, internal, limiter=exporting)
        if result is None:
            return Response.text(404, "No such conference.")
        body, name = result
        headers = [("Content-Disposition", f'attachment; filename="{name}"')]
        if fmt == "html":
            headers.append(("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:"))
        return Response(200, body, CONTENT_TYPES[fmt], headers)

    return download


async def _ticker(core: Server) -> None:
    while True:
        await trio.sleep(TICK_INTERVAL)
        core.tick()


async def _retention(core: Server, writer: Writer) -> None:
    """Purge personal data past ``storage.retention_days``, hourly."""
    while True:
        cutoff = core.retention_cutoff()
        if cutoff is not None:
            items = core.purge_personal_data()
            rows = await writer.in_store(writer.store.purge, cutoff)
            if items or rows:
                log.info("retention.purged", items=items, rows=rows)
        await trio.sleep(RETENTION_INTERVAL)


def database_path(config: Config) -> str:
    return os.path.join(config.server.data_dir, config.storage.path)


# The key of cloaked hosts and visitor identities (core/cloak.py), made on
# the first start and kept: cloaks and identities stay the same across
# restarts, so bans and votes keyed on them hold.
CLOAK_KEY_FILE = "cloak.key"


def cloak_key(data_dir: str) -> bytes:
    """Read ``data_dir/cloak.key``, creating it (readable by the owner only)
    on the first start."""
    path = os.path.join(data_dir, CLOAK_KEY_FILE)
    try:
        with open(path, "rb") as f:
            key = bytes.fromhex(f.read().decode("ascii").strip())
        if len(key) >= KEY_BYTES:
            return key
    except FileNotFoundError:
        pass
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a cloak key (hex digits); remove it to make a new one") from exc
    else:
        raise ConfigError(f"{path} is too short for a cloak key; remove it to make a new one")
    key = os.urandom(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


async def serve(config: Config, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Serve until ``Running.stop()``; bind port 0 in tests and read the real
    port from the value passed to ``task_status.started``."""
    os.makedirs(config.server.data_dir, exist_ok=True)
    store = Store(database_path(config), config.storage.synchronous)
    await trio.to_thread.run_sync(store.open)
    try:
        restored = await trio.to_thread.run_sync(store.load)
        stored_accounts, account_audit = await trio.to_thread.run_sync(store.load_accounts)
        log.info("storage.opened", path=store.path, conferences=len(restored))
        policies = load_policies(_core_logger)
        check_policies(config, policies)
        core = Server(config, log=_core_logger, restored=restored, policies=policies,
                      stored_accounts=stored_accounts, account_audit=account_audit,
                      cloak_key=cloak_key(config.server.data_dir))
        core.journal.enable(core.conferences.values())

        # Transcripts of the conferences a commit closed are written by a task
        # of their own, reading through a read-only connection: the writer
        # goes on committing (and so acknowledging) meanwhile.
        closed_send, closed_receive = trio.open_memory_channel[list[dict[str, Any]]](TRANSCRIPT_BACKLOG)

        # Workers of `serve --workers N` share data_dir/transcripts: the first
        # writes them (each has the same conferences, from the cluster's log).
        writes_transcripts = os.environ.get("CONFCHAT_WORKER", "1") == "1"

        async def after_commit(batch: list[dict[str, Any]]) -> None:
            if not writes_transcripts or not config.storage.transcripts or not any(closes(changes) for changes in batch):
                return
            try:
                closed_send.send_nowait(batch)
            except trio.WouldBlock:
                log.warning("transcripts.backlog_full", waiting=TRANSCRIPT_BACKLOG)

        async def transcripts() -> None:
            reader = SnapshotReader(store.path)
            async for batch in closed_receive:
                try:
                    await trio.to_thread.run_sync(write_closed_transcripts, config, reader, batch)
                except Exception:  # e.g. a full disk: the database still has it all
                    log.exception("transcripts.failed")

        writer = Writer(core, store, after_commit)
        listeners = await _open_tcp_listeners(config)
        addresses = [listener.socket.getsockname()[:2] for listener in listeners]
        http_listeners = await _open_http_listeners(config)
        http_addresses = [listener.socket.getsockname()[:2] for listener in http_listeners]
        # A worker's own port for its metrics (cluster.worker_metrics).
        worker = int(os.environ.get("CONFCHAT_WORKER", "0") or 0)
        own_listeners: list[trio.SocketListener] = []
        if worker and config.cluster.worker_metrics:
            host, port = parse_hostport(config.cluster.worker_metrics)
            own_listeners = await trio.open_tcp_listeners(port + worker - 1, host=host)
        proxy_listeners = await _open_proxy_listeners(config)
        proxy_addresses = [listener.socket.getsockname()[:2] for listener in proxy_listeners]
        stop_event = trio.Event()
        running = Running(core, addresses, stop_event, writer, http_addresses, proxy_addresses)
        web = WebApp(config, lambda: [c.channel for c in core.conferences.values()])
        # TLS: the certificate is loaded (and checked) before anyone connects.
        if config.listen.tls or config.listen.https:
            running.certificates = Certificates(config.tls)
        tls_listeners = await _open_listeners(list(config.listen.tls))
        https_listeners = await _open_listeners([config.listen.https] if config.listen.https else [])
        running.tls_addresses = [listener.socket.getsockname()[:2] for listener in tls_listeners]
        running.https_addresses = [listener.socket.getsockname()[:2] for listener in https_listeners]
        core.sts = sts_policy(config.tls, [port for _, port in running.tls_addresses])
        http = HttpServer(
            core,
            {**web.routes(), **http_routes(core, writer, running)},
            prefix_routes={**web.prefix_routes(), "/export/": export_route(core, writer, config)},
            allowed_origins=config.listen.websocket_origins,
        )
        async with trio.open_nursery() as connections:
            async with trio.open_nursery() as services:
                services.start_soon(writer.run)
                services.start_soon(transcripts)
                services.start_soon(Verifier(core).run)  # password checks, in worker threads
                # asynchronous moderation policies, with their deadline
                services.start_soon(Screener(core, config.moderation.policy_timeout).run)
                await writer.flush()  # the config's conferences are stored before anyone connects
                cluster = config.cluster
                if cluster.redis_url or cluster.sentinels:  # the cluster's log, carried out to its end before serving
                    from .cluster.link import Link

                    position = await trio.to_thread.run_sync(store.load_position)
                    running.link = await services.start(Link(
                        core, cluster.redis_url, node=cluster.node, position=position,
                        sentinels=cluster.sentinels, sentinel_master=cluster.sentinel_master,
                        retention=cluster.log_retention,
                    ).run)
                services.start_soon(serve_tcp, core, listeners, connections)
                if http_listeners:
                    services.start_soon(serve_http, http, http_listeners, connections)
                if own_listeners:
                    own = HttpServer(core, http_routes(core, writer, running), websocket=False)
                    services.start_soon(serve_http, own, own_listeners, connections)
                    for listener in own_listeners:
                        log.info("listener.started", transport="http", metrics_only=True,
                                 port=listener.socket.getsockname()[1])
                if proxy_listeners:
                    trusted = TrustedProxies(config.listen.trusted_proxies)
                    services.start_soon(serve_proxied_tcp, core, proxy_listeners, connections, trusted)
                services.start_soon(_ticker, core)
                services.start_soon(_retention, core, writer)
                if running.certificates is not None:
                    if tls_listeners:
                        services.start_soon(serve_tls, core, running.certificates, tls_listeners, connections)
                    if https_listeners:
                        services.start_soon(serve_https, http, running.certificates, https_listeners, connections)
                for host, port in running.tls_addresses:
                    log.info("listener.started", transport="tcp", tls=True, host=host, port=port)
                for host, port in running.https_addresses:
                    log.info("listener.started", transport="http", tls=True, host=host, port=port)
                for host, port in addresses:
                    log.info("listener.started", transport="tcp", host=host, port=port)
                for host, port in http_addresses:
                    log.info("listener.started", transport="http", host=host, port=port)
                for host, port in proxy_addresses:
                    log.info("listener.started", transport="tcp", proxy_protocol=True, host=host, port=port)
                task_status.started(running)
                await stop_event.wait()
                services.cancel_scope.cancel()
            log.info("server.stopping", clients=len(core.clients))
            core.shutdown("Server shutting down")
            with trio.move_on_after(SHUTDOWN_GRACE) as flushing:
                await writer.flush()  # the last changes, then the replies they held
                await write_waiting_transcripts(config, store, closed_receive)  # closings of the last moments
            if flushing.cancelled_caught:
                log.error("storage.final_flush_failed", error=writer.stats.last_error)
            connections.cancel_scope.deadline = trio.current_time() + SHUTDOWN_GRACE
    finally:
        store.close()
    log.info("server.stopped")


def _announce(running: Running, config: Config, demo: Demo | None = None) -> None:
    """Tell the person who started the server where to connect (and, with
    the first-run demo, which pages to open with which accounts)."""
    lines = [f"confchat {__version__} is running as {config.server.name}."]
    for host, port in running.tcp_addresses:
        name = _public_name(host)
        shown = f"[{name}]" if ":" in name else name
        lines.append(f"  IRC over TCP:        irc://{shown}:{port}   (irssi: /connect {name} {port})")
        lines.extend(_all_addresses(host, "irc://{}:" + str(port)))
    for host, port in running.proxy_addresses:
        shown = f"[{host}]" if ":" in host else host
        lines.append(f"  IRC via TCP proxy:   irc://{shown}:{port}   (PROXY protocol, from listen.trusted_proxies only)")
    for host, port in running.http_addresses:
        name = _public_name(host)
        shown = f"[{name}]" if ":" in name else name
        lines.append(f"  Web chat:            http://{shown}:{port}/   (moderators: /moderator, guests: /guest)")
        lines.extend(_all_addresses(host, "http://{}:" + str(port) + "/"))
        lines.append(f"  IRC over WebSocket:  ws://{shown}:{port}/ws")
        lines.append(f"  Metrics and health:  http://{shown}:{port}/metrics  /healthz  /readyz")
    for host, port in running.tls_addresses:
        shown = f"[{host}]" if ":" in host else host
        lines.append(f"  IRC over TLS:        ircs://{shown}:{port}   (irssi: /connect -tls {host} {port})")
    for host, port in running.https_addresses:
        shown = f"[{host}]" if ":" in host else host
        lines.append(f"  Web chat (HTTPS):    https://{shown}:{port}/")
        lines.append(f"  IRC over WebSocket:  wss://{shown}:{port}/ws")
    if demo is not None:
        origins = [f"http://{_url_host(host)}:{port}" for host, port in running.http_addresses]
        lines.extend(banner(demo, origins))
    lines.append("  Stop with Ctrl-C.")
    print("\n".join(lines), flush=True)


#: Bound addresses that mean every interface of one family.
_WILDCARDS = {"0.0.0.0": socket.AF_INET, "::": socket.AF_INET6}


def _public_name(host: str) -> str:
    """How people reach a listener bound to ``host``: the machine's name
    for all interfaces, which nobody can type as 0.0.0.0."""
    return socket.gethostname() or host if host in _WILDCARDS else host


def _all_addresses(host: str, template: str) -> list[str]:
    """For a listener on all interfaces, a banner line with the machine's
    addresses, each in ``template`` ("http://{}:8080/"); none otherwise."""
    if host not in _WILDCARDS:
        return []
    shown = [template.format(f"[{a}]" if ":" in a else a) for a in machine_addresses(_WILDCARDS[host])]
    return ["                       all addresses of this machine: " + "  ".join(shown)] if shown else []


def machine_addresses(family: int) -> list[str]:
    """This machine's addresses of ``family``: the one of its default route
    first (a UDP socket's connect sends nothing), then those its name
    resolves to, then loopback; link-local ones left out."""
    found: list[str] = []

    def add(text: str) -> None:
        try:
            parsed = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            return
        if not parsed.is_link_local and str(parsed) not in found:
            found.append(str(parsed))

    probe = "192.0.2.1" if family == socket.AF_INET else "2001:db8::1"  # documentation ranges
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.connect((probe, 9))
            add(udp.getsockname()[0])
    except OSError:
        pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, family, socket.SOCK_STREAM)
    except OSError:
        infos = []
    for info in infos:
        add(str(info[4][0]))
    add("127.0.0.1" if family == socket.AF_INET else "::1")
    return found


def _url_host(host: str) -> str:
    """A bound address as a browser reaches it: all interfaces are reached
    through the loopback one."""
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    return f"[{host}]" if ":" in host else host


async def _main(config: Config, demo: Demo | None = None) -> None:
    # Signals are caught before anything listens or is announced: a stop
    # sent the moment the server says it is running is a clean shutdown.
    # SIGHUP (systemctl reload) loads the TLS certificate again.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(serve, config)
            if demo is not None:
                # Only now that it listens: a start that failed keeps no
                # password that nobody saw.
                await trio.to_thread.run_sync(demo.save)
            _announce(running, config, demo)
            await follow_signals(signals, running)


async def follow_signals(signals: Any, running: Running) -> None:
    """SIGHUP loads the TLS certificate again; SIGINT or SIGTERM stops."""
    async for signum in signals:
        log.info("signal.received", signal=signal.Signals(signum).name)
        if signum == signal.SIGHUP:
            # Reading the files and building the context is disk and
            # CPU work: in a thread, so the event loop keeps serving.
            await trio.to_thread.run_sync(running.reload_tls)
            continue
        running.stop()
        break


def first_cause(exc: BaseException) -> BaseException:
    """The first error inside nested exception groups (nurseries wrap
    what their tasks raise): the one to tell."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def run(config: Config, demo: Demo | None = None) -> None:
    """Blocking entry point for ``confchat serve``; ``demo``: the first-run
    demo (confchat.demo), whose accounts ``config`` already holds."""
    # Fewer garbage-collector passes: a large audience is many long-lived
    # objects, and the default threshold (700) scans them over and over
    # during a fan-out (10,000 viewers flat out: 0.48 -> 0.63 M deliveries/s).
    gc.set_threshold(*GC_THRESHOLDS)
    failure: BaseException | None = None
    try:
        trio.run(_main, config, demo)
    except* (OSError, StorageError, ConfigError) as group:  # address in use, damaged database, bad policy…
        failure = first_cause(group)
    if failure is not None:
        print(f"confchat: cannot start: {failure}", file=sys.stderr)
        raise SystemExit(1)
