"""What the moderation engine asks the core to do: effects, as plain data.

The engine (:mod:`.engine`) decides; it never sends. Each decision returns a
list of effects, applied in order by the core (``core/effects.py``), which
knows who is connected: it turns an :class:`Audience` into the members of the
conference channel, a client id into a connection, and a line into bytes.
A cluster can ship the same effects to another node, whose core delivers them
to its own connections.

Storage is not an effect: every change the engine makes goes through
:meth:`Conference.record` or :meth:`Conference.touch`, which tell the core's
journal at once, so the output that follows waits for the commit (see
``core/journal.py``).

Lines are addressed to the conference: their first parameter, the channel
name, is added by the core.
"""

from __future__ import annotations

import enum
from typing import Any, Union

import attrs

from .conference import Restriction


@attrs.frozen
class Actor:
    """Who does something: a connection, as the engine needs to know it."""

    id: int  # connection id (notes go back to it)
    nick: str
    prefix: str  # nick!user@host
    account: str | None = None
    echo: bool = False  # has echo-message: gets its own messages back
    address: str = ""  # the connection's address (per-address caps; "" for none)
    # Names a ban or mute may match besides prefix and account ($v:, $c:, the
    # prefix with the real address; moderation/conference.py Restriction).
    marks: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The name decisions are recorded under."""
        return self.account or self.nick


class Audience(enum.Enum):
    EVERYONE = "everyone"  # every member of the conference channel
    STAFF = "staff"  # admins, moderators and guests present
    MODERATORS = "moderators"  # admins and moderators present
    VISITORS = "visitors"  # the members who are not staff (the audience)


@attrs.frozen
class Broadcast:
    """One line to an audience, encoded once for all of them.

    ``source`` None is the server; ``skip`` a connection left out (a sender
    without echo-message); ``only_caps`` / ``without_caps`` keep the members
    that have / lack a capability; ``msgid`` is given for publications.
    """

    audience: Audience
    command: str
    params: tuple[str, ...]  # after the channel name
    source: str | None = None
    tags: dict[str, str] = attrs.field(factory=dict)
    skip: int | None = None
    msgid: str | None = None
    only_caps: str | None = None
    without_caps: str | None = None
    at: float | None = None  # a publication's recorded time, for its time tag


@attrs.frozen
class Notify:
    """A standard reply (NOTE) to one connection, e.g. a visitor's item was
    published; nothing if that connection is gone."""

    to: int  # connection id
    command: str
    code: str
    description: str
    context: tuple[str, ...] = ()  # after the channel name


@attrs.frozen
class Count:
    """A metric: a message's outcome, and the wait when it was decided."""

    outcome: str  # submitted, held, published, dropped, redacted
    decider: str = "none"  # human, auto, policy, none
    wait: float | None = None


@attrs.frozen
class Restricted:
    """A ban or mute was set; for a ban, the core removes the visitors
    present that it matches, each kicked by ``by_prefix``."""

    restriction: Restriction
    actor: int  # connection id of the moderator (sees the kicks)
    by_prefix: str


@attrs.frozen
class RoleChanged:
    """An account's role changed: its status in the channel follows."""

    account: str


@attrs.frozen
class TopicChanged:
    """The conference's title changed: it is the channel topic."""

    topic: str


@attrs.frozen
class Disconnect:
    """A moderator disconnected a visitor."""

    to: int  # connection id
    reason: str


@attrs.frozen
class PolicyRun:
    """The automatic policies looked at a message: for the metrics and the
    log. ``decisions``: (policy, verdict) of each that spoke; ``failures``:
    (policy, "error" or "timeout", what happened)."""

    seconds: float
    decisions: tuple[tuple[str, str], ...] = ()
    failures: tuple[tuple[str, str, str], ...] = ()


@attrs.frozen
class ShieldChanged:
    """Shield mode went up or down: the staff are told, it is counted."""

    on: bool
    by: str  # a moderator's name, or "auto"
    reason: str = ""


@attrs.frozen
class Screen:
    """Asynchronous policies must look at item ``item`` before it leaves
    the screening hold: the shell runs them with a deadline and hands the
    decisions back (``Server.screened``)."""

    conference: str  # folded channel name
    item: int
    message: Any  # the policies' view of it (policies.base.Message)
    policies: tuple[Any, ...]


Effect = Union[Broadcast, Notify, Count, Restricted, RoleChanged, TopicChanged, Disconnect, PolicyRun, ShieldChanged, Screen]
