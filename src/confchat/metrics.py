"""Prometheus metrics, read at scrape time from the core and storage.

Nothing on the hot paths talks to prometheus-client: the core keeps plain
counters (:mod:`confchat.core.stats`), and this collector turns them, plus a
walk over the live state (connections, queues, audiences), into metric
families when Prometheus scrapes ``/metrics``. Label values are transports,
reasons, outcomes and conference channels; never nicknames or addresses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from . import __version__
from .core.stats import LOGIN_FAILURE_REASONS, Histogram
from .moderation.conference import STAFF, Role
from .moderation.queue import State
from .vocab import ConferenceState

if TYPE_CHECKING:
    from .core.server import Server
    from .storage.writer import Writer

PREFIX = "confchat"


def _histogram(name: str, doc: str, labels: list[str]) -> HistogramMetricFamily:
    return HistogramMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


def _add_histogram(family: HistogramMetricFamily, values: list[str], histogram: Histogram) -> None:
    family.add_metric(values, histogram.cumulative(), histogram.sum)


class ConfchatCollector:
    def __init__(self, core: Server, writer: Writer | None = None, transports: tuple[str, ...] = ()) -> None:
        self.core = core
        self.writer = writer
        self.transports = transports  # always listed, even with no connection

    def describe(self) -> list[Metric]:
        return []  # collected on demand; no fixed description needed

    def collect(self) -> Iterator[Metric]:
        core, stats = self.core, self.core.stats
        info = InfoMetricFamily(f"{PREFIX}_build", "The running confchat version.")
        info.add_metric([], {"version": __version__})
        yield info

        # ---- connections
        current = GaugeMetricFamily(
            f"{PREFIX}_connections", "Open client connections, by transport and role.", labels=["transport", "role"]
        )
        counts: dict[tuple[str, str], int] = {}
        for client in core.clients.values():
            key = (client.transport, self._role(client))
            counts[key] = counts.get(key, 0) + 1
        for transport in sorted({*self.transports, *(k[0] for k in counts)}):
            for role in ("unregistered", "visitor", "guest", "moderator", "admin"):
                current.add_metric([transport, role], counts.get((transport, role), 0))
        yield current
        yield self._counter("connections_accepted", "Connections accepted.", ["transport"], stats.connections_accepted)
        yield self._counter("connections_refused", "Connections refused.", ["reason"], stats.connections_refused)
        yield self._counter("connections_closed", "Connections closed, by reason.", ["reason"], stats.connections_closed)
        yield self._counter("sendq_evictions", "Clients disconnected because they did not read (SendQ exceeded).", [], {(): stats.sendq_evictions})
        yield self._counter("flood_throttles", "Times a client started being slowed by flood control.", [], {(): stats.flood_throttles})
        yield self._counter("received_bytes", "Bytes received from clients.", ["transport"], stats.bytes_in)
        yield self._counter("received_lines", "Lines (commands) received from clients.", ["transport"], stats.lines_in)
        yield self._counter("sent_bytes", "Bytes sent to clients.", ["transport"], stats.bytes_out)
        # Every reason listed, 0 included: the alert's rate needs the series
        # before the first failure.
        yield self._counter("login_failures", "Failed logins (SASL, PASS account:password, OPER), by reason.",
                            ["reason"], {reason: stats.login_failures[reason] for reason in LOGIN_FAILURE_REASONS})

        # ---- fan-out
        yield self._counter("deliveries", "Messages queued to a recipient (one per recipient).", [], {(): stats.deliveries})
        fanout = _histogram("fanout_seconds", "Time to queue one message to all its recipients.", [])
        _add_histogram(fanout, [], stats.fanout_seconds)
        yield fanout

        # ---- moderation
        messages = CounterMetricFamily(
            f"{PREFIX}_messages", "Visitor messages in conferences, by outcome and by who decided.",
            labels=["conference", "outcome", "decider"],
        )
        for (conference, outcome, decider), value in sorted(stats.messages.items()):
            messages.add_metric([conference, outcome, decider], value)
        yield messages
        wait = _histogram("moderation_wait_seconds", "From submission to a moderator's decision.", ["conference"])
        for conference, histogram in sorted(stats.moderation_wait.items()):
            _add_histogram(wait, [conference], histogram)
        yield wait
        yield self._counter("restrictions", "Bans and mutes set in conferences.", ["conference", "kind"], stats.restrictions)

        # ---- automatic moderation
        yield self._counter("policy_decisions", "Automatic policies' decisions, by policy and verdict.",
                            ["policy", "verdict"], stats.policy_decisions)
        yield self._counter("policy_failures", "Automatic policies that failed (error) or ran past their time (timeout).",
                            ["policy", "kind"], stats.policy_failures)
        policy_time = _histogram("policy_seconds", "Time the automatic policies took on one visitor message.", [])
        _add_histogram(policy_time, [], stats.policy_seconds)
        yield policy_time
        yield self._counter("shield_raised", "Times shield mode was raised, by a moderator (human) or by itself (auto).",
                            ["conference", "by"], stats.shield_raised)
        shield = GaugeMetricFamily(f"{PREFIX}_shield", "1 while a conference's shield mode is up.", labels=["conference"])
        for conference in core.conferences.values():
            shield.add_metric([conference.channel], 1 if conference.shield.on else 0)
        yield shield

        depth = GaugeMetricFamily(f"{PREFIX}_queue_items", "Undecided queue items, by state.", labels=["conference", "state"])
        oldest = GaugeMetricFamily(
            f"{PREFIX}_queue_oldest_age_seconds", "Age of the oldest pending item (0: none).", labels=["conference"]
        )
        audience = GaugeMetricFamily(f"{PREFIX}_audience", "Members of a conference, by role.", labels=["conference", "role"])
        state = GaugeMetricFamily(f"{PREFIX}_conference_state", "1 for the conference's current state.", labels=["conference", "state"])
        now = core.wallclock()
        for conference in core.conferences.values():
            name = conference.channel
            by_state = {s: 0 for s in (State.PENDING, State.HELD, State.FORWARDED)}
            first_pending = None
            for item_id in conference.queue.order:
                item = conference.queue.items[item_id]
                by_state[item.state] += 1
                if item.state is State.PENDING and (first_pending is None or item.submitted_at < first_pending):
                    first_pending = item.submitted_at
            for s, value in by_state.items():
                depth.add_metric([name, s.value], value)
            oldest.add_metric([name], max(0.0, now - first_pending) if first_pending is not None else 0.0)
            channel = core.channels.get(conference.folded)
            members = len(channel.members) if channel else 0
            staff = len(channel.staff) if channel else 0
            audience.add_metric([name, "visitor"], members - staff)
            audience.add_metric([name, "staff"], staff)
            for s in ConferenceState:
                state.add_metric([name, s.value], 1 if conference.state is s else 0)
        yield from (depth, oldest, audience, state)

        # ---- the cluster (cluster/link.py)
        link = getattr(core.cluster, "stats", None)
        if link is not None:
            node = InfoMetricFamily(f"{PREFIX}_node", "This node of the cluster.")
            node.add_metric([], {"node": core.cluster.name, "number": str(core.node_number)})
            yield node
            up = GaugeMetricFamily(f"{PREFIX}_cluster_link_up", "1 while this node reaches the cluster's log (Redis).")
            up.add_metric([], 1 if link.up else 0)
            yield up
            nodes = GaugeMetricFamily(f"{PREFIX}_cluster_nodes", "Nodes whose heartbeat is recent, this one included.")
            nodes.add_metric([], link.nodes)
            yield nodes
            yield self._counter("cluster_ops", "Operations this node sent to the log, told the other nodes (private and "
                                "staff-only messages), or refused (Redis unreachable).",
                                ["result"], {"logged": link.proposed, "told": link.told, "refused": link.refused})
            yield self._counter("cluster_entries", "Log entries carried out here: proposed by this node or by others.",
                                ["origin"], {"local": link.applied_local, "remote": link.applied_remote})
            yield self._counter("cluster_outages", "Times this node lost the cluster's log.", [], {(): link.outages})
            lag = GaugeMetricFamily(f"{PREFIX}_cluster_lag_seconds", "From the log taking the latest entry to its carrying out here.")
            lag.add_metric([], link.lag)
            yield lag
            total = GaugeMetricFamily(f"{PREFIX}_cluster_audience", "Visitors of a conference on every node, as the heartbeats tell.",
                                      labels=["conference"])
            for conference in core.conferences.values():
                channel = core.channels.get(conference.folded)
                total.add_metric([conference.channel], core.visitors_present(channel) if channel else 0)
            yield total

        # ---- storage
        if self.writer is not None:
            w = self.writer.stats
            yield self._counter("storage_commits", "Storage transactions committed.", [], {(): w.batches})
            yield self._counter("storage_rows", "Rows written to storage.", [], {(): w.rows})
            yield self._counter("storage_errors", "Failed storage commits (each is retried).", [], {(): w.errors})
            failing = GaugeMetricFamily(f"{PREFIX}_storage_failing", "1 while storage commits fail.")
            failing.add_metric([], 1 if w.failing else 0)
            yield failing
            commit = _histogram("storage_commit_seconds", "Duration of one storage commit.", [])
            _add_histogram(commit, [], w.commit_seconds)
            yield commit
            pending = GaugeMetricFamily(f"{PREFIX}_storage_pending", "1 while changes wait for a commit.")
            pending.add_metric([], 1 if core.journal.pending else 0)
            yield pending

    def _role(self, client) -> str:
        if not client.registered:
            return "unregistered"
        if self.core.is_admin(client):
            return "admin"
        best = Role.VISITOR
        for channel in client.channels.values():
            if channel.conference is not None:
                role = self.core.role(client, channel)
                if role is Role.MODERATOR or (role in STAFF and best is Role.VISITOR):
                    best = role
        return best.value

    @staticmethod
    def _counter(name: str, doc: str, labels: list[str], values) -> CounterMetricFamily:
        family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
        for key, value in sorted(values.items()):
            family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
        return family


def registry_for(core: Server, writer: Writer | None = None, transports: tuple[str, ...] = ()) -> CollectorRegistry:
    """A registry with confchat's collector only (and no process metrics from
    the default registry's globals, so tests can run several servers)."""
    from prometheus_client.process_collector import ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConfchatCollector(core, writer, transports))
    ProcessCollector(namespace=PREFIX, registry=registry)
    return registry


def exposition(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The scrape body and its content type (OpenMetrics when asked)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
