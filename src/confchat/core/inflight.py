"""A client's command whose conference ops are out in the cluster's log.

On one process a command is carried out while it runs: its replies are
made then, and the client's next command sees what it changed. In a
cluster a conference op is only proposed then (core/ops.py); it is carried
out when it comes back from the log, a round trip to Redis later. Two things
a client relies on are kept by making the command wait for its ops:

* **its next lines wait** until its ops are carried out (or refused), and are
  then handled in order: ``PREPARED ADD`` then ``PREPARED LIST``, or
  ``QUEUE APPROVE`` then ``QUEUE LIST``, answer as on one process; messages
  (:func:`sends_only`) go on unless lines already wait. While lines wait the
  transport reads the next one ``HOLD_PACE`` later, so a client pipelining
  commands keeps them in its socket; at most ``MAX_HELD_BYTES`` (a
  visitor's) are held here, past it the client is flooding;
* **labeled-response**: every reply to a labeled command carries its label
  or comes in one batch under it (or is an ``ACK``); a labeled command
  keeps what it replied so far, each of its ops adds what it made when
  carried out here, and the last one sends it all under the label.

A command that proposes ops leaves a :class:`Waiting`, whose ticket each op
carries (a number of this node; other nodes ignore it). Should this node
lose the log, the waiting clients' lines go on at once (their ops may come
back much later, once the log is reachable again).

Pure: no sockets, no Redis.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import TYPE_CHECKING, Callable, TypeVar

import attrs

from ..proto.codec import MAX_LINE_BYTES, LineTooLong

from ..proto.message import Message

if TYPE_CHECKING:
    from .client import Client
    from .ops import Op
    from .server import Server

R = TypeVar("R")

# Bytes a visitor may send while its ops are out (about 35 KB: some 80
# ordinary lines, or four of the longest with tags; flood control lets a
# visitor send a few lines a second anyway); a Redis that stalls for
# seconds under a flooding client does not hold more than this for it
# ("Excess Flood", as logins.py does). Staff (signed in) may pipeline more:
# a console's or a script's burst of commands.
MAX_HELD_BYTES = 4 * MAX_LINE_BYTES
STAFF_MAX_HELD_BYTES = 1 << 20
# While a client's ops are out, its next line is read this much later (the
# flood delay the core returns): about one round trip to Redis, so a client
# pipelining commands leaves them in its socket rather than held here.
HOLD_PACE = 0.002


@attrs.define(eq=False)
class Waiting:
    client: Client
    ticket: int
    label: str | None = None  # labeled-response: its label, and its replies so far
    captured: list[Message] | None = None
    pending: int = 0  # ops proposed for it and not carried out yet
    holding: bool = False  # the client's next lines wait for it


class InFlight:
    """This node's commands waiting for the log, and the lines waiting with them."""

    def __init__(self) -> None:
        self._tickets = itertools.count(1)
        self.running: Client | None = None  # whose command runs now
        self.open: Waiting | None = None  # its record, once labeled or once it proposed an op
        self.waiting: dict[int, Waiting] = {}
        self.released: list[Client] = []  # clients whose held lines may go on

    def start(self, client: Client, label: str | None = None, captured: list[Message] | None = None) -> None:
        """``client``'s command begins (labeled: with its label and capture)."""
        self.running = client
        self.open = Waiting(client, 0, label, captured) if label else None

    def ticket_for(self, client: Client | None) -> int:
        """The ticket of an op ``client`` proposes now (0: not from its command)."""
        if client is None or self.running is not client:
            return 0
        record = self.open
        if record is None:
            record = self.open = Waiting(client, 0)
        if not record.ticket:
            record.ticket = next(self._tickets)
        record.pending += 1
        return record.ticket

    def finish(self) -> Waiting | None:
        """The command is done: its record if its ops are still out (its
        replies, if labeled, wait for them), else None."""
        record, self.open, self.running = self.open, None, None
        if record is None or record.pending <= 0:
            return None
        self.waiting[record.ticket] = record
        record.holding = True
        record.client.awaiting += 1
        return record

    def release_all(self) -> None:
        """The log is lost: nobody's lines wait for it any more."""
        for record in self.waiting.values():
            self._unhold(record)

    def _unhold(self, record: Waiting) -> None:
        if record.holding:
            record.holding = False
            record.client.awaiting -= 1
            if not record.client.awaiting and record.client.held:
                self.released.append(record.client)


_SENDS = (b"PRIVMSG ", b"NOTICE ", b"TAGMSG ")


def sends_only(raw: bytes | LineTooLong) -> bool:
    """Whether a line is a message (PRIVMSG, NOTICE, TAGMSG): it reads
    nothing its connection's ops in flight may change (a visitor's question
    is checked again when the log's order carries it out: slow mode, its
    pending questions), so it need not wait behind them, only behind lines
    already waiting. A client (a staff announcer, a visitor) pipelining
    messages keeps its pace."""
    if not isinstance(raw, bytes):
        return False
    line = raw.partition(b" ")[2] if raw[:1] == b"@" else raw  # tags
    line = line.partition(b" ")[2] if line[:1] == b":" else line  # a source, which a client may send
    return line[:8].upper().startswith(_SENDS)


def hold(client: Client, raw: bytes | LineTooLong) -> bool:
    """Keep one of ``client``'s lines until its ops are carried out; False
    if that is too much."""
    client.held_bytes += len(raw) if isinstance(raw, bytes) else MAX_LINE_BYTES
    if client.held_bytes > (MAX_HELD_BYTES if client.is_visitor else STAFF_MAX_HELD_BYTES):
        return False
    if client.held is None:
        client.held = deque()
    client.held.append(raw)
    return True


def answering(server: Server, op: Op, do: Callable[[Server, Op], R]) -> R:
    """``do(server, op)`` for one of this node's ops that its command waits
    for: what it answers joins the command's replies, and the command is
    settled once its last op is done (core/ops.py: carried out or refused)."""
    record = carrying_out(server, op.ticket)
    try:
        return do(server, op)
    finally:
        settle(server, op.ticket, record)


def carrying_out(server: Server, ticket: int) -> Waiting | None:
    """Before this node carries out (or refuses) one of its ops: the replies
    it makes to its actor join the waiting command's, if labeled."""
    record = server.inflight.waiting.get(ticket) if ticket else None
    if record is not None and record.label is not None:
        assert record.captured is not None  # a labeled command's, kept from its start
        server._capture, server._captured = record.client, record.captured
    return record


def settle(server: Server, ticket: int, record: Waiting | None = None) -> None:
    """One op of ``ticket`` is carried out or refused: the last one sends
    the command's replies under its label and lets its client's next lines go."""
    inflight = server.inflight
    if record is None:
        if inflight.open is not None and inflight.open.ticket == ticket:
            inflight.open.pending -= 1  # refused while its command still runs
        return
    if record.label is not None:
        server._capture = None
    record.pending -= 1
    if record.pending > 0:
        return
    inflight.waiting.pop(record.ticket, None)
    if record.label is not None and not record.client.gone:
        flush_labeled(server, record.client, record.label, record.captured if record.captured is not None else [])
    inflight._unhold(record)


def release(server: Server) -> None:
    """The lines of clients whose ops came back from the log (or were
    refused), in order, until one of them proposes more."""
    released, server.inflight.released = server.inflight.released, []
    for client in released:
        held = client.held
        while held and not client.gone and not client.awaiting and client.verifying is None:
            raw = held.popleft()
            client.held_bytes -= len(raw) if isinstance(raw, bytes) else MAX_LINE_BYTES
            server._handle_line(client, raw)
        if not held:
            client.held, client.held_bytes = None, 0


def flush_labeled(server: Server, client: Client, label: str, captured: list[Message]) -> None:
    """A labeled command's replies, under its label (IRCv3 labeled-response):
    an ``ACK`` for none, the label on a single one, a batch for more."""
    push = server._push
    if not captured:
        push(client, Message("ACK", (), server.name, {"label": label}))
    elif len(captured) == 1:
        m = captured[0]
        push(client, Message(m.command, m.params, m.source, {**m.tags, "label": label}))
    elif "batch" not in client.caps:
        for m in captured:
            push(client, m)
    else:
        ref = server.new_msgid()
        push(client, Message("BATCH", ("+" + ref, "labeled-response"), server.name, {"label": label}))
        for m in captured:
            # A message already in a batch of its own (e.g. history)
            # keeps it: only that batch's BATCH lines join the outer one.
            push(client, Message(m.command, m.params, m.source, {**m.tags, "batch": m.tags.get("batch", ref)}))
        push(client, Message("BATCH", ("-" + ref,), server.name))
