"""A node's link to the cluster: the trio shell around the log in Redis.

The core proposes conference operations (``Link.propose``, synchronous);
the writer task appends them to the log in one pipeline per batch, in the
order proposed. The reader task reads the log from where this node stands
and hands each entry to the core (``Server.logged``), which carries it out
on its conferences and delivers the effects to its own connections. So a
node's own operations take effect when they come back from the log, after
every entry before them, on every node alike.

Private messages and a conference's staff-only messages are not logged but
*told* (``Link.tell``, core/direct.py): the writer publishes them in the same
pipeline, a private message on its recipient's node's pub/sub channel
(``confchat:told:<node>``), the rest on every node's (``confchat:told``),
and the listener task, with a client of its own, hands the other nodes' to
the core (``Server.told``). Pub/sub
keeps nothing: a node that is not connected at that moment misses them.

The reader has a Redis client of its own and blocks for a short while at a
time (``READ_BLOCK_MS``), never cancelled mid-call: coredis loses a pooled
connection for each cancelled blocking read.

Redis gone: proposals are refused (the actor gets ``FAIL ... CLUSTER_UNAVAILABLE``,
nothing changed), the staff of every conference on this node are told, and
both tasks retry with back-off; once back, the reader carries out what the
log took meanwhile, in order, and the staff are told again.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import urllib.parse
from typing import Any

import attrs
import coredis
import structlog
import trio

from ..core.addresses import crowded, heard
from ..core.direct import destination
from ..core.members import announce, forget_nodes
from ..core.ops import Op, actor_of, link_changed, refused
from ..config import parse_hostport
from ..core.server import Server
from ..storage.sqlite import StorageError
from . import log as clog

READ_BLOCK_MS = 200  # one blocking read's wait
READ_COUNT = 1000  # entries per read
HEARTBEAT = 2.0  # seconds between two heartbeats (and audience counts)
NODE_TTL = 7  # seconds a node is listed without a heartbeat (three missed)
BACKOFF = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)

log = structlog.get_logger("confchat.cluster")

REDIS_ERRORS = (coredis.exceptions.RedisError, OSError, trio.TooSlowError)


@attrs.define
class LinkStats:
    proposed: int = 0  # ops this node appended
    refused: int = 0  # ops refused (logged or told): Redis could not be reached
    told: int = 0  # told ops this node published (core/direct.py)
    applied_local: int = 0  # entries carried out that this node proposed
    applied_remote: int = 0  # and that other nodes proposed
    outages: int = 0  # times the link went down
    up: bool = False
    nodes: int = 0  # nodes listed by their heartbeat, this one included
    lag: float = 0.0  # seconds from the log taking the latest entry to its carrying out here
    position: str = clog.START


def only(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether ``exc`` is one of ``kinds``, or a group of nothing else
    (trio's nurseries and coredis's task groups wrap what they raise)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(only(inner, kinds) for inner in exc.exceptions)
    return isinstance(exc, kinds)


def redacted(url: str) -> str:
    """The URL without its password, for the logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


class Moved(Exception):
    """Redis (found through Sentinel) is gone: ask the sentinels again."""


class Link:
    def __init__(self, core: Server, url: str, *, node: str = "", prefix: str = "confchat",
                 position: str = clog.START, sentinels: tuple[str, ...] = (), sentinel_master: str = "",
                 retention: float = 0.0) -> None:
        self.retention = retention  # seconds of log kept (cluster.log_retention; 0: all)
        self.core = core
        self.url = url or "redis://"
        # With Sentinel, where Redis is comes from the sentinels (each
        # "host:port"), asked again whenever it is lost; the URL gives the
        # rest (database, password).
        self.sentinels = [parse_hostport(s) for s in sentinels]
        self.sentinel_master = sentinel_master
        self.address: tuple[str, int] | None = None
        self.name = node or f"{socket.gethostname()}-{os.getpid()}"
        self.prefix = prefix
        self.stream = clog.key(prefix, clog.STREAM)
        self.channel = clog.key(prefix, clog.TOLD)
        self.stats = LinkStats()
        self.position = clog.Position(position)  # how far this node's storage is (stored, cluster/log.py)
        self._pending: list[tuple[Op, bool]] = []  # (op, logged: else told)
        self._wake = trio.Event()
        self.number = 0

    # ------------------------------------------------------------------ from the core

    def propose(self, op: Op) -> None:
        if not self.stats.up:
            self.stats.refused += 1
            refused(self.core, op)
            return
        self._pending.append((op, True))
        self._wake.set()

    def tell(self, op: Op) -> bool:
        if not self.stats.up:
            self.stats.refused += 1
            refused(self.core, op)
            return False
        self._pending.append((op, False))
        self._wake.set()
        return True

    async def claim(self, token: str) -> bool:
        """Whether this node is the first of the cluster to redeem a
        download link (single use across the cluster)."""
        try:
            with trio.fail_after(5):
                return bool(await self._claims.set(clog.key(self.prefix, f"used:{token}"), "1",
                                                   condition=coredis.PureToken.NX, ex=3600))
        except REDIS_ERRORS:
            return False  # not known to be the first: refused

    # ------------------------------------------------------------------ the tasks

    def _client(self) -> coredis.Redis:
        options: dict[str, Any] = {"decode_responses": True, "connect_timeout": 2.0, "stream_timeout": 10.0}
        if self.address is None:
            return coredis.Redis.from_url(self.url, **options)
        # Found through Sentinel: its address, the URL's database and credentials.
        url = urllib.parse.urlsplit(self.url)
        db = int(url.path.strip("/") or 0)
        return coredis.Redis(self.address[0], self.address[1], db, username=url.username or None,
                             password=url.password or None, **options)

    async def _locate(self) -> None:
        """Ask the sentinels where the primary is now (the first that knows)."""
        for host, port in self.sentinels:
            try:
                with trio.fail_after(2):
                    async with coredis.Redis(host, port, decode_responses=True, connect_timeout=1.0) as sentinel:
                        found = await sentinel.sentinel_get_master_addr_by_name(self.sentinel_master)
            except REDIS_ERRORS:
                continue
            if found:
                self.address = (found[0], int(found[1]))
                return
        raise coredis.exceptions.ConnectionError(f"no sentinel knows {self.sentinel_master!r}")

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Join the cluster, carry out the log up to its end (before this
        node serves anyone), then follow it until cancelled. With Sentinel,
        a lost primary is looked up again and the link starts over there."""
        failures = 0
        while True:
            if self.sentinels:
                try:
                    await self._locate()
                except REDIS_ERRORS as exc:
                    if not self.number:
                        log.warning("cluster.unreachable", node=self.name, sentinels=self.sentinels, error=str(exc))
                    self._down(exc)
                    await trio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
                    failures += 1
                    continue
            try:
                await self._session(task_status)
            except BaseException as exc:
                if only(exc, (Moved,)):  # Sentinel: the primary went away
                    log.warning("cluster.primary_lost", node=self.name, address=self.address)
                elif not self.number and only(exc, REDIS_ERRORS):
                    # Not joined yet (Redis not up, a wrong address): say so
                    # and retry; nothing listens meanwhile.
                    log.warning("cluster.unreachable", node=self.name, url=redacted(self.url), address=self.address,
                                error=str(exc), retry_in=BACKOFF[min(failures, len(BACKOFF) - 1)])
                else:
                    raise
                await trio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
                failures += 1

    async def _session(self, task_status: Any) -> None:
        writer, reader, listener = self._client(), self._client(), self._client()
        self._claims = writer
        async with writer, reader, listener:
            if not self.number:  # the first time: join, catch up, then serve
                alive = clog.key(self.prefix, "alive")
                while True:  # a number no running node has (the counter may be new: a Redis that lost its data)
                    self.number = await writer.incr(clog.key(self.prefix, clog.NODES))
                    if await writer.zscore(alive, str(self.number)) is None:
                        break
                self.core.join_cluster(self.number, self)
                self.stats.position = self.position.entry
                caught_up = await self._catch_up(reader)
                await self._heartbeat_once(writer)
                self.stats.up = True
                log.info("cluster.joined", node=self.name, number=self.number, caught_up=caught_up,
                         position=self.stats.position, address=self.address)
                self.propose(Op("", "hello", None, (), node=self.number))  # the others tell this node their visitors
                task_status.started(self)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write, writer)
                nursery.start_soon(self._read, reader)
                nursery.start_soon(self._heartbeat, writer)
                nursery.start_soon(self._listen, listener)

    async def _catch_up(self, reader: coredis.Redis) -> int:
        try:
            info = await reader.xinfo_stream(self.stream)
        except coredis.exceptions.ResponseError:
            info = None  # no log yet: the cluster's first node
        if info is not None and clog.gap(self.stats.position, info.get("recorded-first-entry-id"),
                                         int(info.get("entries-added") or 0), int(info.get("length") or 0)):
            raise StorageError(
                f"this node's database stands at {self.stats.position} in the cluster's log, but the log now "
                f"starts at {info.get('recorded-first-entry-id')}: what happened in between was removed "
                "(cluster.log_retention). Stop this node, copy a running node's database into its data "
                "directory (docs/cluster.md, 'A node away too long'), and start it again."
            )
        count = 0
        while True:
            batch = await reader.xread({self.stream: self.stats.position}, count=READ_COUNT)
            if not batch:
                return count
            count += self._carry_out(batch[self.stream])

    def _carry_out(self, entries: Any) -> int:
        journal = self.core.journal
        for entry in entries:
            op = clog.read(entry.field_values)
            marked = journal.appended
            self.core.logged(op, entry.identifier, clog.entry_time(entry.identifier))
            if journal.appended != marked:  # it changed something stored: so does the position, in the same commit
                self.position.entry = entry.identifier
                journal.mark(self.position)
            if op.node == self.number:
                self.stats.applied_local += 1
            else:
                self.stats.applied_remote += 1
            self.stats.position = entry.identifier
        if entries:
            self.stats.lag = max(0.0, time.time() - clog.entry_time(entries[-1].identifier))
        return len(entries)

    async def _read(self, reader: coredis.Redis) -> None:
        failures = 0
        while True:
            try:
                batch = await reader.xread({self.stream: self.stats.position}, count=READ_COUNT, block=READ_BLOCK_MS)
            except REDIS_ERRORS as exc:
                self._down(exc)
                if self.sentinels:
                    raise Moved from exc
                await trio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
                failures += 1
                continue
            failures = 0
            if batch:
                self._carry_out(batch[self.stream])
            else:
                self.stats.lag = 0.0  # nothing new for a whole read: caught up
            self._back()

    async def _write(self, writer: coredis.Redis) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                with trio.fail_after(5):
                    async with writer.pipeline(transaction=False) as pipe:
                        results = [pipe.xadd(self.stream, clog.fields(op)) if logged else
                                   pipe.publish(self._told_channel(destination(op)), clog.fields(op)["op"])
                                   for op, logged in batch]
                    for result in results:
                        await result
                self.stats.proposed += sum(1 for _, logged in batch if logged)
                self.stats.told += sum(1 for _, logged in batch if not logged)
            except REDIS_ERRORS as exc:
                # Not known to be in the log: the actors are told it was
                # not done (should Redis have taken it after all, it is
                # carried out when read back, and its effects are seen).
                self.stats.refused += len(batch)
                for op, _ in batch:
                    refused(self.core, op)
                self._down(exc)

    async def _listen(self, listener: coredis.Redis) -> None:
        """The other nodes' told ops, as they come. A lost connection is
        subscribed again here, at once and then with back-off (coredis's own
        retries wait up to 16 s); what was told meanwhile is missed."""
        failures = 0
        while True:
            try:
                # retry_policy=None: a lost connection raises here at once.
                channels = [self._told_channel(0), self._told_channel(self.number)]
                async with listener.pubsub(channels=channels, ignore_subscribe_messages=True,
                                           retry_policy=None) as messages:
                    failures = 0
                    async for message in messages:
                        if message["type"] == "message":
                            self._told(message["data"])
            except BaseException as exc:
                if trio.current_effective_deadline() == -math.inf:
                    # Stopping: coredis's pubsub, cancelled, may raise
                    # something else than Cancelled while it closes (anyio's
                    # ClosedResourceError); this raises Cancelled instead.
                    await trio.lowlevel.checkpoint()
                if not only(exc, REDIS_ERRORS):
                    raise
            await trio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
            failures += 1

    def _told_channel(self, node: int) -> str:
        """Where told ops for ``node`` are published (0: for every node)."""
        return self.channel if not node else f"{self.channel}:{node}"

    def _told(self, data: str) -> None:
        try:
            self.core.told(clog.told(data))
        except Exception as exc:  # one bad message must not end the link
            log.error("cluster.told_failed", node=self.name, error=repr(exc), exc_info=True)

    async def _heartbeat_once(self, writer: coredis.Redis) -> None:
        node = clog.key(self.prefix, f"node:{self.number}")
        await writer.hset(node, {
            "name": self.name, "pid": str(os.getpid()), "clients": str(len(self.core.clients)),
            "position": self.stats.position, "stored": self.position.entry, "at": str(time.time()),
            "addresses": json.dumps(crowded(self.core), separators=(",", ":")),  # core/addresses.py
        })
        await writer.expire(node, NODE_TTL)
        alive, now = clog.key(self.prefix, "alive"), time.time()
        await writer.zadd(alive, {str(self.number): now})
        await writer.zremrangebyscore(alive, "-inf", now - NODE_TTL)
        living = [int(n) for n in await writer.zrange(alive, 0, -1)]
        self.stats.nodes = len(living)
        forget_nodes(self.core, living)  # a node not heard of: its visitors are gone
        reports = [await writer.hget(clog.key(self.prefix, f"node:{n}"), "addresses") for n in living if n != self.number]
        heard(self.core, [json.loads(r) for r in reports if r])
        if self.retention and living and self.number == min(living):  # one node keeps the log short
            positions = [await writer.hget(clog.key(self.prefix, f"node:{n}"), "stored") for n in living]
            cut = clog.trim_before([p for p in positions if p], now, self.retention)
            if cut is not None:
                await writer.xtrim(self.stream, trim_strategy=coredis.PureToken.MINID, threshold=cut)

    async def _heartbeat(self, writer: coredis.Redis) -> None:
        while True:
            await trio.sleep(HEARTBEAT)
            try:
                with trio.fail_after(5):
                    await self._heartbeat_once(writer)
            except REDIS_ERRORS as exc:
                self._down(exc)

    def _down(self, exc: BaseException) -> None:
        if self.stats.up:
            self.stats.up = False
            self.stats.outages += 1
            log.warning("cluster.link_down", node=self.name, error=repr(exc))
            link_changed(self.core, False)

    def _back(self) -> None:
        if not self.stats.up:
            self.stats.up = True
            log.info("cluster.link_back", node=self.name, position=self.stats.position)
            link_changed(self.core, True)
            self.tell_roster()

    def tell_roster(self) -> None:
        """After an outage: this node's visitors, told again from scratch
        (arrivals and departures meanwhile were not logged)."""
        if not self.stats.up:  # catching up at start (older nodes' hellos): nobody here yet to tell of
            return
        self.propose(Op("", "roster", None, (), node=self.number))
        for folded, client in list(self.core.nicks.items()):
            self.propose(Op("", "nick", actor_of(client), (folded,), node=self.number))
        for conference in self.core.conferences.values():
            channel = self.core.channels.get(conference.folded)
            if channel is not None:
                for member in list(channel.members):
                    announce(self.core, member, channel, here=True)
        self.propose(Op("", "roster_done", None, (), node=self.number))
