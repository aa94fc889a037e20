"""How the core writes to clients: one message, a reply, a numeric, a standard
reply, and the fan-out of one message to many (encoded once per tag variant).

A part of :class:`~.server.Server` (which mixes it in): it uses the server's
clocks, name, statistics, msgid counter, the labeled-response capture and the
list of clients to evict once the current step is done. Nothing here awaits:
bytes go into each client's :class:`~.outbox.Outbox`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from ..proto.codec import format_line
from ..proto.message import Message
from ..proto.servertime import format_server_time
from .client import TAGS_ACCOUNT, TAGS_MESSAGE, TAGS_TIME, Client

if TYPE_CHECKING:
    from .stats import Stats


# Errors whose spec makes them FAIL lines whether or not the client asked for
# standard-replies: the UTF8ONLY spec's INVALID_UTF8 (any command), and every
# REDACT error of draft/message-redaction (a client that sends REDACT knows it).
ALWAYS_FAIL = frozenset({"INVALID_UTF8"})
ALWAYS_FAIL_COMMANDS = frozenset({"REDACT"})


class Output:
    # Set by Server.__init__.
    name: str
    stats: Stats
    clock: Callable[[], float]
    wallclock: Callable[[], float]
    _msgid_prefix: str
    _msgids: Iterator[int]
    _capture: Client | None
    _captured: list[Message]
    _doomed: list[tuple[Client, str]]

    def new_msgid(self) -> str:
        return f"{self._msgid_prefix}{next(self._msgids):x}"

    def server_time(self) -> str:
        return format_server_time(self.wallclock())

    @staticmethod
    def encode(msg: Message, tagmask: int, extra: dict[str, str] | None = None) -> bytes:
        """Serialize ``msg`` with the tags a client of ``tagmask`` may see:
        ``time`` with server-time, ``account`` with account-tag, the rest
        with message-tags."""
        tags = msg.tags
        full = TAGS_MESSAGE | TAGS_TIME | (TAGS_ACCOUNT if "account" in tags else 0)
        if tags and tagmask & full != full:
            tags = {
                k: v for k, v in tags.items()
                if (tagmask & TAGS_TIME if k == "time" else tagmask & TAGS_ACCOUNT if k == "account" else tagmask & TAGS_MESSAGE)
            }
        if extra:
            tags = {**tags, **extra}
        if tags is not msg.tags:
            msg = Message(msg.command, msg.params, msg.source, tags)
        return format_line(msg, strict=False).encode("utf-8", "surrogateescape") + b"\r\n"

    def _push(self, client: Client, msg: Message, durable: bool = True) -> None:
        durable = durable and client.welcomed  # see Client.welcomed
        extra = {}
        for key in ("label", "batch"):
            if key in msg.tags:
                extra[key] = msg.tags[key]
        self._push_bytes(client, self.encode(msg, client.tagmask, extra or None), durable)

    def _push_bytes(self, client: Client, data: bytes, durable: bool = True) -> None:
        if not client.outbox.push(data, durable) and not client.gone:
            self._doomed.append((client, "SendQ exceeded"))

    def send(self, client: Client, msg: Message, durable: bool = True) -> None:
        """Send one message to one client, stamped with server-time.
        ``durable=False``: it tells of nothing stored (see Outbox.push)."""
        if "time" not in msg.tags:
            msg = Message(msg.command, msg.params, msg.source, {**msg.tags, "time": self.server_time()})
        if client is self._capture:
            self._captured.append(msg)
        else:
            self._push(client, msg, durable)

    def reply(self, client: Client, command: str, *params: str) -> None:
        self.send(client, Message(command, params, self.name))

    def numeric(self, client: Client, code: str, *params: str) -> None:
        self.send(client, Message(code, (client.nick, *params), self.name))

    def fail(self, client: Client, command: str, code: str, description: str, *context: str) -> None:
        self._standard_reply(client, "FAIL", command, code, description, context)

    def note(self, client: Client, command: str, code: str, description: str, *context: str) -> None:
        self._standard_reply(client, "NOTE", command, code, description, context)

    def _standard_reply(
        self, client: Client, kind: str, command: str, code: str, description: str, context: tuple[str, ...]
    ) -> None:
        if "standard-replies" in client.caps or (kind == "FAIL" and (code in ALWAYS_FAIL or command in ALWAYS_FAIL_COMMANDS)):
            self.reply(client, kind, command, code, *context, description)
        else:  # clients that did not ask for FAIL/NOTE get a NOTICE they can show
            self.reply(client, "NOTICE", client.nick, f"{command} {code}: {description}")

    def relay(
        self,
        recipients: Iterable[Client],
        source: str,
        command: str,
        params: tuple[str, ...],
        client_tags: dict[str, str] | None = None,
        *,
        only_caps: str | None = None,
        msgid: str | None = None,
        at: float | None = None,
        uncaptured: bool = False,
    ) -> str:
        """Deliver one user message to many clients: the fan-out path.

        The line is encoded once per tag variant (at most eight) and the same
        bytes object is queued for every recipient. Returns the msgid; pass
        ``msgid`` to send one event in several shapes (e.g. extended-join),
        and ``at`` to stamp it with a recorded time (a publication's, so that
        history replays it with the very same ``time``).
        """
        msgid = msgid or self.new_msgid()
        stamp = format_server_time(at) if at is not None else self.server_time()
        tags = {"time": stamp, "msgid": msgid}
        if client_tags:
            tags.update(client_tags)
        msg = Message(command, params, source, tags)
        encoded: dict[int, bytes] = {}
        capture = None if uncaptured else self._capture
        started = self.clock()
        delivered = 0
        for client in recipients:
            if client.gone or (only_caps and only_caps not in client.caps):
                continue
            if client is capture:
                self._captured.append(msg)
                continue
            mask = client.tagmask
            data = encoded.get(mask)
            if data is None:
                data = encoded[mask] = self.encode(msg, mask)
            delivered += 1
            if not client.outbox.push(data):
                self._doomed.append((client, "SendQ exceeded"))
        stats = self.stats
        stats.deliveries += delivered
        if delivered > 1:
            stats.fanout_seconds.observe(self.clock() - started)
        return msgid

