"""Carry out the moderation engine's effects on this server's connections.

The engine (``moderation/engine.py``) decides and returns effects as data;
this module is the one place that turns them into output: an audience into
the members of the conference channel, a connection id into a client, a line
into one encoding per tag variant (``Server.relay``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from ..moderation.conference import MODERATING
from ..moderation import effects as fx
from ..proto.casemap import casefold
from .presence import refresh_status

if TYPE_CHECKING:
    from .channel import Channel
    from .client import Client
    from .server import Server


def members_of(server: Server, channel: Channel, audience: fx.Audience) -> Iterable[Client]:
    if audience is fx.Audience.EVERYONE:
        return channel.members
    if audience is fx.Audience.STAFF:
        return channel.staff
    if audience is fx.Audience.VISITORS:
        return [c for c in channel.members if c not in channel.staff]
    return [c for c in channel.staff if server.role(c, channel) in MODERATING]


def apply(server: Server, channel: Channel, effects: Iterable[fx.Effect]) -> None:
    """Apply ``effects`` in order, for the conference of ``channel``."""
    conference = channel.conference
    assert conference is not None
    for effect in effects:
        if isinstance(effect, fx.Broadcast):
            recipients: Iterable[Client] = members_of(server, channel, effect.audience)
            if effect.skip is not None or effect.without_caps:
                skip, without = effect.skip, effect.without_caps
                recipients = [
                    c for c in recipients if c.id != skip and not (without and without in c.caps)
                ]
            source = effect.source or server.name
            server.relay(
                recipients, source, effect.command, (channel.name, *effect.params), effect.tags,
                only_caps=effect.only_caps, msgid=effect.msgid, at=effect.at,
            )
        elif isinstance(effect, fx.Notify):
            client = server.clients.get(effect.to)
            if client is not None and not client.gone:
                server.note(client, effect.command, effect.code, effect.description, channel.name, *effect.context)
        elif isinstance(effect, fx.Count):
            server.stats.message(conference.channel, effect.outcome, effect.decider)
            if effect.wait is not None:
                server.stats.decided(conference.channel, effect.wait)
        elif isinstance(effect, fx.Restricted):
            _restricted(server, channel, effect)
        elif isinstance(effect, fx.RoleChanged):
            folded = casefold(effect.account)
            for member in list(channel.members):
                if member.account and casefold(member.account) == folded:
                    refresh_status(server, channel, member)
        elif isinstance(effect, fx.TopicChanged):
            channel.topic, channel.topic_by, channel.topic_at = effect.topic, server.name, int(server.wallclock())
            server.relay(list(channel.members), server.name, "TOPIC", (channel.name, effect.topic))
        elif isinstance(effect, fx.Disconnect):
            target = server.clients.get(effect.to)
            if target is not None:
                server.disconnect(target, effect.reason, kind="moderator")
        elif isinstance(effect, fx.PolicyRun):
            _policy_run(server, conference.channel, effect)
        elif isinstance(effect, fx.Screen):
            server.screenings.request(effect)
        elif isinstance(effect, fx.ShieldChanged):
            state = "on" if effect.on else "off"
            if effect.on:
                if server.counting:
                    server.stats.shield_raised[(conference.channel, "auto" if effect.by == "auto" else "human")] += 1
            server.log("conference.shield", level="warning" if effect.on else "info",
                       conference=conference.channel, state=state, by=effect.by, reason=effect.reason)
            server.relay(channel.staff, server.name, "CONF", (channel.name, "SHIELD", state, effect.by, effect.reason))


def _policy_run(server: Server, conference: str, run: fx.PolicyRun) -> None:
    stats = server.stats
    stats.policy_seconds.observe(run.seconds)
    for policy, verdict in run.decisions:
        stats.policy_decisions[(policy, verdict)] += 1
    for policy, kind, detail in run.failures:
        stats.policy_failures[(policy, kind)] += 1
        server.log("policy.failed", level="error", conference=conference, policy=policy, kind=kind, error=detail)


def _restricted(server: Server, channel: Channel, effect: fx.Restricted) -> None:
    restriction = effect.restriction
    conference = channel.conference
    assert conference is not None
    if server.counting:  # in a cluster, where the moderator asked (core/ops.py)
        server.stats.restrictions[(conference.channel, restriction.kind)] += 1
    if restriction.kind != "ban":
        return
    actor = server.clients.get(effect.actor)
    reason = restriction.reason or "Banned"
    now = server.wallclock()
    server.last_ban_removed = 0
    for member in list(channel.members):
        if member not in channel.staff and conference.restricted("ban", member.prefix, member.account, now, member.marks):
            server.last_ban_removed += 1
            seen_by = set(server.audience(channel, member))
            if actor is not None:
                seen_by.add(actor)
            server.relay(seen_by, effect.by_prefix, "KICK", (channel.name, member.nick, reason))
            server.part_channel(member, channel, f"Kicked: {reason}")
