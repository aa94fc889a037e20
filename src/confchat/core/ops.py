"""Conference operations as data: what a cluster replicates.

Every change to a conference goes through :func:`decide` as an :class:`Op`:
a name from :data:`OPS`, who asks (an :class:`Actor`), plain arguments, and
what to tell the actor once it went through. On one process the op is
carried out at once. In a cluster (``cluster/``) the shell appends it to the
cluster's log and every node carries it out, in the log's order, with the
time and msgids the log entry gives: the engine is deterministic, so every
node's conferences stay the same, and a race (two moderators approving one
item) is decided by the log's order the same way everywhere. Each node
delivers the effects to its own connections; only the node whose connection
asked answers it (a FAIL, a confirmation) and counts the metrics.

Pure: no trio, no sockets, no Redis; the encoding is JSON-ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol

import attrs

from ..moderation import effects as fx
from ..moderation.conference import Role
from ..moderation.effects import Actor
from ..moderation.intake import Outcome
from ..moderation.policies.base import Verdict
from ..moderation.queue import QueueError
from ..vocab import ConferenceState
from .effects import apply
from .inflight import answering, release

if TYPE_CHECKING:
    from .channel import Channel
    from .client import Client
    from .server import Server


@attrs.frozen
class Op:
    conference: str  # folded channel name
    name: str  # a key of OPS
    actor: Actor | None
    args: tuple[Any, ...] = ()
    command: str = "CONF"  # the command a refusal FAILs
    context: tuple[str, ...] = ()  # the refusal's context when it has none
    # On success, to the actor: a NOTE (command, code, description, *context)
    # or the name of a follow-up in FOLLOW_UPS.
    done: tuple[str, ...] | str | None = None
    node: int = 0  # the node whose connection asked (0: this one, no cluster)
    ticket: int = 0  # the asking node's command waiting for it (core/inflight.py; 0: none)


class Proposals(Protocol):
    """Where a cluster node's ops go: the shell appends them to the log."""

    def propose(self, op: Op) -> None: ...

    def tell(self, op: Op) -> bool:
        """Pass ``op`` to the nodes running now, unlogged (core/direct.py);
        false if refused at once (the actor was told)."""

    def tell_roster(self) -> None:
        """Log this node's visitors again, from scratch."""

    async def claim(self, token: str) -> bool:
        """Whether this node redeems a download link first (the HTTP shell asks)."""


def _outcome(data: dict[str, Any]) -> Outcome:
    return Outcome(
        Verdict(data["verdict"]), tuple(data["flags"]), data["score"], tuple(data["reasons"]),
        data["dropped_by"], data["drop_reason"], tuple(tuple(d) for d in data["decisions"]),
        tuple(tuple(f) for f in data["failures"]), data["seconds"],
    )


def outcome_data(outcome: Outcome) -> dict[str, Any]:
    return {
        "verdict": outcome.verdict.value, "flags": list(outcome.flags), "score": outcome.score,
        "reasons": list(outcome.reasons), "dropped_by": outcome.dropped_by, "drop_reason": outcome.drop_reason,
        "decisions": [list(d) for d in outcome.decisions], "failures": [list(f) for f in outcome.failures],
        "seconds": outcome.seconds,
    }


Call = Callable[..., "list[fx.Effect] | None"]

# name -> (engine, conference, actor, *args) -> effects. Arguments are
# plain values (JSON): enums and outcomes are rebuilt here.
OPS: dict[str, Call] = {
    "admit": lambda e, c, a, text, outcome, readonly, banned: e.admit(
        c, a, text, _outcome(outcome), readonly=readonly, banned=banned),
    "speak": lambda e, c, a, command, text, tags: e.speak(c, a, command, text, tags),
    "approve": lambda e, c, a, item, text=None: e.approve(c, a, item, text),
    "next": lambda e, c, a: e.next(c, a),
    "drop": lambda e, c, a, item, reason="": e.drop(c, a, item, reason),
    "act": lambda e, c, a, action, item: e.act(c, a, action, item),
    "move": lambda e, c, a, item, where: e.move(c, a, item, where),
    "withdraw": lambda e, c, a, item: e.withdraw(c, a, item),
    "state": lambda e, c, a, state: e.set_state_by_hand(c, a, ConferenceState(state)),
    "schedule": lambda e, c, a, state: (
        e.set_state(c, "schedule", ConferenceState(state)) if c.scheduled_state(e.wallclock()) is not None else []),
    "set": lambda e, c, a, key, value: e.set_setting(c, a, key, value),
    "role": lambda e, c, a, account, role: e.set_role(c, a, account, Role(role)),
    "restrict": lambda e, c, a, kind, mask, duration, reason: e.restrict(c, a, kind, mask, duration, reason),
    "unrestrict": lambda e, c, a, kind, mask: e.unrestrict(c, a, kind, mask),
    "disconnect": lambda e, c, a, target, nick, reason: e.disconnect(c, a, target, nick, reason),
    "answering": lambda e, c, a, item: e.answering(c, a, item),
    "answered": lambda e, c, a, item: e.answered(c, a, item),
    "shield": lambda e, c, a, on, reason, closed: e.set_shield(c, a, on, reason, closed),
    "auto_shield": lambda e, c, a, reason: [] if c.shield.on else e._raise_shield(c, "auto", reason),
    "answer": lambda e, c, a, item, text: e.answer(c, a, item, text)[0],
    "prepare": lambda e, c, a, name, text: e.prepare(c, a, name, text),
    "unprepare": lambda e, c, a, name: e.unprepare(c, a, name),
    "publish_prepared": lambda e, c, a, name, item: e.publish_prepared(c, a, name, item),
    "vote": lambda e, c, a, voter, item: e.vote(c, voter, a, item),
    "redact": lambda e, c, a, msgid, reason: e.redact(c, a, msgid, reason),
    "screened": lambda e, c, a, item, outcome: e.screened(c, item, _outcome(outcome)),
    "log": lambda e, c, a, actor, action, detail: e.log(c, actor, action, **detail),
}

# Effects only the node that took the request carries out: metrics (each
# node counts what it took, so the cluster's figures add up) and the
# asynchronous policies (run once).
ORIGIN_ONLY = (fx.Count, fx.PolicyRun, fx.Screen)


def encode(op: Op) -> dict[str, Any]:
    actor = None if op.actor is None else [
        op.actor.id, op.actor.nick, op.actor.prefix, op.actor.account, op.actor.echo, op.actor.address,
        list(op.actor.marks),
    ]
    return {
        "c": op.conference, "n": op.name, "a": actor, "p": list(op.args), "cmd": op.command,
        "ctx": list(op.context), "done": op.done if isinstance(op.done, str) or op.done is None else list(op.done),
        "node": op.node, "t": op.ticket,
    }


def decode(data: dict[str, Any]) -> Op:
    a = data["a"]
    actor = None if a is None else Actor(a[0], a[1], a[2], a[3], a[4], a[5], tuple(a[6]))
    done = data["done"]
    return Op(
        data["c"], data["n"], actor, tuple(data["p"]), data["cmd"], tuple(data["ctx"]),
        tuple(done) if isinstance(done, list) else done, data["node"], data.get("t", 0),
    )


def decide(
    server: Server, client: Client | None, channel: Channel | str, name: str, *args: Any,
    command: str = "CONF", context: tuple[str, ...] = (), done: tuple[str, ...] | str | None = None,
) -> None:
    """The one way a handler changes a conference: at once on one process,
    through the cluster's log otherwise (refused there if the log cannot
    be reached: the actor is told, nothing happens). ``channel``: the
    conference's, or its folded name for one not created yet."""
    actor = None if client is None else actor_of(client)
    folded = channel if isinstance(channel, str) else channel.folded
    if server.cluster is None:
        carry_out(server, Op(folded, name, actor, args, command, context, done))
    else:  # its command (replies and next lines) waits for it (core/inflight.py)
        server.cluster.propose(Op(folded, name, actor, args, command, context, done, server.node_number,
                                  server.inflight.ticket_for(client)))


def actor_of(client: Client) -> Actor:
    return Actor(client.id, client.nick, client.prefix, client.account, "echo-message" in client.caps, client.ip,
                 client.marks)


def carry_out(server: Server, op: Op) -> bool:
    """Carry ``op`` out on this node's conferences; answer the actor if it
    is connected here. True if it went through."""
    if not op.ticket or op.node != server.node_number:
        return _carry_out(server, op)
    return answering(server, op, _carry_out)  # the answer joins its waiting command's


def _carry_out(server: Server, op: Op) -> bool:
    local = op.node == server.node_number
    client = server.clients.get(op.actor.id) if op.actor is not None and local else None
    if op.name in NICKS:  # nicks across the cluster, this node's claims confirmed too (core/members.py)
        from .members import carry_out_nick

        carry_out_nick(server, op.name, op.actor, op.args[0], op.node)
        return True
    if op.name in PRESENCE:  # another node's visitors (core/members.py)
        if not local:
            PRESENCE[op.name](server, op)
        return True
    if op.name.startswith("account_"):  # the staff accounts (core/handlers/admin.py)
        from .handlers.admin import carry_out_account

        assert op.actor is not None
        carry_out_account(server, client, op.name, op.actor, op.args)
        return True
    if op.name == "create":  # the one op before its conference exists
        from .handlers.conf import create_conference

        assert op.actor is not None
        create_conference(server, client, op.actor.name, *op.args)
        return True
    conference = server.conferences.get(op.conference)
    channel = server.channels.get(op.conference)
    if conference is None or channel is None or op.name not in OPS:
        server.log("op.unknown", level="warning", op=op.name, conference=op.conference)
        return False
    try:
        effects = OPS[op.name](server.engine, conference, op.actor, *op.args)
    except QueueError as exc:
        if client is not None and not client.gone:
            server.fail(client, op.command, exc.code, str(exc), channel.name, *(exc.context or op.context))
        return False
    if effects:
        if not local:
            effects = [e for e in effects if not isinstance(e, ORIGIN_ONLY)]
        server.counting = local  # bans and shields are counted where they were asked for
        try:
            apply(server, channel, effects)
        finally:
            server.counting = True
    if client is not None and not client.gone and op.done is not None:
        if isinstance(op.done, str):
            FOLLOW_UPS[op.done](server, client, channel, op)
        else:
            command, code, description, *context = op.done
            server.note(client, command, code, description, *context)
    return True


def _present(server: Server, op: Op) -> None:
    from .members import carry_out_presence

    carry_out_presence(server, op.name, op.conference, op.actor, op.args, op.node)


def _roster(server: Server, op: Op) -> None:
    from .members import roster_begins

    roster_begins(server, op.node)


def _roster_done(server: Server, op: Op) -> None:
    from .members import roster_ends

    roster_ends(server, op.node)


def _hello(server: Server, op: Op) -> None:
    """A node joined (or came back): each other node tells it its visitors."""
    if server.cluster is not None:
        server.cluster.tell_roster()


def _token(server: Server, op: Op) -> None:
    """Another node's download link (CONF EXPORT): valid here too."""
    token, fmt, internal = op.args
    server.exports.add(token, op.conference, fmt, internal)


# Ops that change no conference and store nothing: presence (core/members.py),
# and download links. Carried out by the other nodes only.
PRESENCE: dict[str, Callable[[Server, Op], None]] = {
    "present": _present, "absent": _present, "roster": _roster, "roster_done": _roster_done, "hello": _hello,
    "token": _token,
}


NICKS = ("nick", "unnick")


def refused(server: Server, op: Op) -> None:
    """The cluster's log could not take ``op``: its actor, if connected
    here, is told that nothing was done (presence is told again once the
    log is back, see cluster/link.py)."""
    if not op.ticket:
        _refused(server, op)
        return
    answering(server, op, _refused)  # the FAIL joins its waiting command's replies
    release(server)  # its client's next lines, if they waited for it


def _refused(server: Server, op: Op) -> None:
    if op.name in PRESENCE or op.name in NICKS:
        return
    from .direct import TOLD, told_refused

    client = server.clients.get(op.actor.id) if op.actor is not None else None
    if op.name in TOLD:  # told, not logged (core/direct.py): not sent
        if client is not None and not client.gone:
            told_refused(server, client, op)
        return
    channel = server.channels.get(op.conference)
    if client is not None and not client.gone and channel is not None:
        server.fail(client, op.command, "CLUSTER_UNAVAILABLE",
                    "The cluster cannot be reached: nothing was done, try again in a moment", channel.name)


def link_changed(server: Server, up: bool) -> None:
    """The staff present on this node hear when the cluster's log is lost
    and when it is back (what it took meanwhile is then carried out)."""
    code, text = ("CLUSTER_UP", "The cluster is reachable again; changes are taken") if up else (
        "CLUSTER_DOWN", "The cluster cannot be reached: changes are refused until it is back")
    if not up:  # lines waiting for ops out in the log go on (core/inflight.py)
        server.inflight.release_all()
    for conference in server.conferences.values():
        channel = server.channels.get(conference.folded)
        if channel is None:
            continue
        for member in list(channel.staff):
            if not member.gone:
                server.note(member, "CONF", code, text, channel.name)
    release(server)
    server._reap()


def _restricted(server: Server, client: Client, channel: Channel, op: Op) -> None:
    """CONF BAN/MUTE's confirmation: how many present visitors it covers
    (on this node: those a ban removed are gone from the channel)."""
    kind, mask, duration, _ = op.args
    conference = channel.conference
    assert conference is not None
    now = server.wallclock()
    covered = sum(
        1 for m in channel.members
        if m not in channel.staff and conference.restricted(kind, m.prefix, m.account, now, m.marks)
    ) if kind == "mute" else server.last_ban_removed
    until = f" for {duration} seconds" if duration else ""
    done = {"ban": "banned", "mute": "muted"}[kind]
    server.note(client, "CONF", kind.upper(), f"{mask} {done}{until} ({covered} present)", channel.name, mask,
                str(covered))


FOLLOW_UPS: dict[str, Callable[[Server, Client, Channel, Op], None]] = {"restricted": _restricted}
