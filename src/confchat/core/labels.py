"""labeled-response across the cluster's log: a label waits for its ops.

With IRCv3 labeled-response every reply to a labeled command carries its
label, or comes in one batch under it, or is an ``ACK`` if there is none.
On one process the replies are all made while the command runs. In a
cluster a conference op is only proposed then (core/ops.py): its answer
(the ``FAIL``, the ``NOTE``, the echo) comes when this node carries it out,
a round trip to Redis later. So a labeled command that proposes ops leaves a
:class:`Waiting`: what it replied so far and how many of its ops are still
out. Each of them, once carried out here (or refused), adds what it made and
settles; the last one sends it all under the label. The op carries the
waiting's ticket, a number of this node (other nodes ignore it).

Pure: no sockets, no Redis.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from ..proto.message import Message
    from .client import Client
    from .server import Server


@attrs.define
class Waiting:
    client: Client
    label: str
    captured: list[Message]
    ticket: int
    pending: int = 0  # ops proposed for it and not carried out yet


class Labels:
    """This node's labeled commands waiting for the log."""

    def __init__(self) -> None:
        self._tickets = itertools.count(1)
        self.open: Waiting | None = None  # the labeled command running now
        self.waiting: dict[int, Waiting] = {}

    def start(self, client: Client, label: str, captured: list[Message]) -> Waiting:
        self.open = Waiting(client, label, captured, next(self._tickets))
        return self.open

    def ticket_for(self, client: Client | None) -> int:
        """The ticket of an op ``client`` proposes now (0: nobody waits for it)."""
        record = self.open
        if record is None or record.client is not client:
            return 0
        record.pending += 1
        return record.ticket

    def close(self, record: Waiting) -> bool:
        """The command is done: True if its replies can go now, else they
        wait for its ops."""
        self.open = None
        if record.pending:
            self.waiting[record.ticket] = record
            return False
        return True


def carrying_out(server: Server, ticket: int) -> Waiting | None:
    """Before this node carries out one of its ops: the replies it makes to
    its actor join the waiting command's (None: no label waits for it)."""
    record = server.labels.waiting.get(ticket) if ticket else None
    if record is not None:
        server._capture, server._captured = record.client, record.captured
    return record


def settle(server: Server, ticket: int, record: Waiting | None = None) -> None:
    """One op of ``ticket`` is carried out or refused: the last one sends
    the command's replies under its label."""
    labels = server.labels
    if record is None:
        record = labels.waiting.get(ticket) if ticket else None
        if record is None:  # refused while its command still runs: that one flushes
            if labels.open is not None and labels.open.ticket == ticket:
                labels.open.pending -= 1
            return
    server._capture = None
    record.pending -= 1
    if record.pending <= 0:
        labels.waiting.pop(record.ticket, None)
        if not record.client.gone:
            server._flush_labeled(record.client, record.label, record.captured)
