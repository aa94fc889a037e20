"""The client's side of the protocol, sans-IO: lines in, lines out.

:class:`Session` registers (CAP, SASL PLAIN, or ``PASS account:password``
where the server offers no SASL), joins the conference, loads it (``CONF
INFO``, ``QUEUE LIST`` page by page, the questions, the prepared answers,
the audience's first page, the history with ``CHATHISTORY`` when the server
advertises ``draft/chathistory``) and turns a person's actions into lines.
After a lost connection, :meth:`Session.connected` starts it all again and
the history picks up after the last message shown: the view is restored,
drafts included.

It never touches a socket: :mod:`.net` feeds it messages and writes what it
returns, the tests feed it the server core's output directly.
"""

from __future__ import annotations

import base64
import time
from collections import deque
from typing import Callable, Iterable

import attrs

from ..proto.codec import format_line
from ..proto.message import Message
from .lines import Role, State, item_id, parse_more, parse_reply
from .model import View

# What the client asks for, when offered. labeled-response is not needed:
# each listing is followed by a PING whose PONG closes it (the server answers
# one command at a time, in order).
WANTED_CAPS = (
    "message-tags",
    "server-time",
    "echo-message",
    "standard-replies",
    "batch",
    "multi-prefix",
    "draft/message-redaction",
    "draft/chathistory",
    "draft/event-playback",
    "sasl",
)
HISTORY_PAGE = 100  # CHATHISTORY page (the server cuts to its own limit)
SASL_CHUNK = 400  # IRCv3 SASL: payload in 400-byte pieces
REFRESH_EVERY = 15.0  # seconds between CONF INFO readings (audience, oldest wait)
# Listings followed page after page by themselves; the others wait for :more.
FOLLOWED = {("QUEUE", "LIST"), ("CONF", "QUESTIONS")}
# Requests that never send a MORE line.
UNPAGED = {("CONF", "INFO"), ("CONF", "BANS"), ("CONF", "EXPORT"), ("PREPARED", ""), ("CHATHISTORY", "")}


class ActionError(Exception):
    """An action that cannot be sent: offline, nothing selected, bad input."""


@attrs.define
class Request:
    token: str
    command: str
    params: tuple[str, ...]  # as sent; a listing's start goes after ``slot``
    slot: int  # index in params where the page's start goes


class Session:
    def __init__(
        self,
        account: str,
        password: str,
        channel: str = "",
        nick: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self.password = password
        self.wanted_nick = nick or account
        self.clock = clock
        self.view = View(channel=channel, account=account)
        self.online = False
        self.registered = False
        self.offered: set[str] = set()
        self.caps: set[str] = set()
        self.fatal: str | None = None  # set: do not reconnect (login refused)
        self.connections = 0
        self.more: tuple[str, tuple[str, ...], int, int] | None = None  # command, params, slot, next
        self._out: list[str] = []
        self._requests: deque[Request] = deque()
        self._token = 0
        self._history: dict[str, int] = {}  # open chathistory batches: ref -> lines
        self._nick_tries = 0
        self._next_refresh = 0.0
        self._conf_listed = False

    # ------------------------------------------------------------ I/O edges

    def connected(self) -> list[str]:
        """A new connection is open: the lines that start registration."""
        self.online = True
        self.registered = False
        self.offered.clear()
        self.caps.clear()
        self._requests.clear()
        self._history.clear()
        self._nick_tries = 0
        self.connections += 1
        self._line("CAP", "LS", "302")
        self._line("NICK", self.wanted_nick)
        self._line("USER", self.account, "0", "*", f"confchat-tui {self.account}")
        return self.take()

    def lost(self, reason: str = "connection lost") -> None:
        """The connection is gone. Answers sent but never seen published go
        back into their drafts."""
        was = self.online
        self.online = False
        self.registered = False
        self.view.joined = False
        self._requests.clear()
        restored = self.view.restore_unconfirmed()
        if was:
            self.view.note("error", f"Disconnected: {reason}; reconnecting")
        if restored:
            self.view.note("info", "Kept as drafts, not confirmed: " + ", ".join(f"#{i}" for i in restored))

    def take(self) -> list[str]:
        out, self._out = self._out, []
        return out

    def receive(self, msg: Message) -> list[str]:
        """One message from the server; the lines to send in return."""
        changed = self._dispatch(msg)
        if changed is None:
            self.view.apply(msg)
        return self.take()

    def tick(self) -> list[str]:
        """Call now and then: refreshes the figures CONF INFO gives."""
        now = self.clock()
        if self.registered and self.view.joined and now >= self._next_refresh:
            self._next_refresh = now + REFRESH_EVERY
            self._request("CONF", self.view.channel, "INFO")
        return self.take()

    # ------------------------------------------------------------ sending

    def _line(self, command: str, *params: str) -> None:
        try:
            self._out.append(format_line(Message(command, params)))
        except ValueError as error:
            raise ActionError(f"Cannot send that: {error}") from None

    def _request(self, command: str, *params: str, slot: int | None = None) -> None:
        """A listing whose replies are followed until its PONG, so that its
        MORE line is known to be its own (listings without pages are sent
        as they are: a PING each would only cost flood tokens)."""
        if (command, params[1] if command == "CONF" and len(params) > 1 else "") in UNPAGED:
            self._line(command, *params)
            return
        self._token += 1
        token = f"tui{self._token}"
        self._line(command, *params)
        self._line("PING", token)
        self._requests.append(Request(token, command, params, len(params) if slot is None else slot))

    def _act(self, command: str, *params: str) -> None:
        if not self.registered:
            raise ActionError("Offline: not sent (reconnecting)")
        self._line(command, *params)

    # ------------------------------------------------------------ receiving

    def _dispatch(self, msg: Message) -> str | None:
        """Protocol bookkeeping; returns a word when the message was used
        up here and the view should not see it."""
        command = msg.command
        p = msg.params
        if command == "PING":
            self._line("PONG", *p[-1:])
            return "ping"
        if command == "PONG":
            token = p[-1] if p else ""
            while self._requests:
                done = self._requests.popleft()
                if done.token == token:
                    self._finished(done)
                    break
            return "pong"
        if command == "CAP":
            self._on_cap(msg)
            return "cap"
        if command == "AUTHENTICATE" and p and p[0] == "+":
            payload = base64.b64encode(f"{self.account}\0{self.account}\0{self.password}".encode()).decode()
            chunks = [payload[i : i + SASL_CHUNK] for i in range(0, len(payload), SASL_CHUNK)]
            if len(payload) % SASL_CHUNK == 0:
                chunks.append("+")
            for chunk in chunks:
                self._line("AUTHENTICATE", chunk)
            return "sasl"
        if command == "903":
            self._line("CAP", "END")
            return "sasl"
        if command in ("904", "905"):
            self.fatal = f"Login refused for {self.account}: {p[-1] if p else ''}"
            self.view.note("error", self.fatal)
            self._line("QUIT", "Login refused")
            return "sasl"
        if command == "433" and not self.registered:
            self._nick_tries += 1
            self._line("NICK", f"{self.wanted_nick}_{self._nick_tries}")
            return "nick"
        if command == "001":
            self.registered = True
            self.view.nick = p[0] if p else self.wanted_nick
            self.view.note("info", f"Connected as {self.view.nick}")
            if self.view.channel:
                self._join()
            else:
                self._conf_listed = False
                self._request("CONF", "LIST")
            return None
        if command == "NICK" and self.view.mine(msg.source) and p:
            self.view.nick = p[0]
            return None
        if command == "JOIN" and self.view.mine(msg.source):
            self.view.joined = True
            return "join"
        if command == "ERROR":
            self.view.note("error", p[-1] if p else "ERROR")
            return "error"
        if command == "BATCH" and p:
            self._on_batch(msg)
            return "batch"
        if command == "CONF" and len(p) >= 3 and p[:2] == ("*", "LIST") and not self.view.channel:
            if not self._conf_listed:  # no --channel: the first conference listed
                self._conf_listed = True
                self.view.channel = p[2]
                self._join()
            return None
        more = parse_more(msg)
        if more is not None:
            self._on_more(more)
            return None
        reply = parse_reply(msg)
        if reply is not None and reply.command == "JOIN" and reply.code == "CONFERENCE":
            self._on_conference(reply.context)
            self.view.reply(msg)
            return "conference"
        batch = msg.tags.get("batch")
        if batch in self._history and command in ("PRIVMSG", "NOTICE", "REDACT"):
            self._history[batch] += 1
        return None

    def _on_cap(self, msg: Message) -> None:
        p = msg.params
        if len(p) < 3:
            return
        sub = p[1].upper()
        if sub == "LS":
            for token in p[-1].split():
                self.offered.add(token.partition("=")[0])
            if len(p) >= 4 and p[2] == "*":
                return  # more LS lines follow
            wanted = [cap for cap in WANTED_CAPS if cap in self.offered]
            if "sasl" not in self.offered and self.password:
                self._line("PASS", f"{self.account}:{self.password}")
            if wanted:
                self._line("CAP", "REQ", " ".join(wanted))
            else:
                self._line("CAP", "END")
        elif sub == "ACK":
            self.caps.update(p[-1].split())
            if "sasl" in self.caps and self.password:
                self._line("AUTHENTICATE", "PLAIN")
            else:
                self._line("CAP", "END")
        elif sub == "NAK":
            self._line("CAP", "END")

    def _join(self) -> None:
        self.view.reset_for_rejoin()
        self._line("JOIN", self.view.channel)

    def _on_conference(self, context: tuple[str, ...]) -> None:
        """NOTE JOIN CONFERENCE <channel> <state> <mode> <role>: load it all."""
        if len(context) >= 4:
            self.view.info["state"], self.view.info["mode"] = context[1], context[2]
            try:
                self.view.role = Role(context[3])
            except ValueError:
                self.view.role = Role.VISITOR
        channel = self.view.channel
        self.view.joined = True
        self._next_refresh = self.clock() + REFRESH_EVERY
        self._request("CONF", channel, "INFO")
        if self.view.moderating:
            self._request("QUEUE", channel, "LIST", slot=2)
            self._audience(1, self.view.audience_search)
        if self.view.staff:
            self._request("CONF", channel, "QUESTIONS", slot=2)
            self._list_prepared()
        if "draft/chathistory" in self.caps:
            last = next((e.msgid for e in reversed(self.view.stream) if e.msgid), None)
            if last:
                self._request("CHATHISTORY", "AFTER", channel, f"msgid={last}", str(HISTORY_PAGE))
            else:
                self._request("CHATHISTORY", "LATEST", channel, "*", str(HISTORY_PAGE))

    def _on_batch(self, msg: Message) -> None:
        p = msg.params
        ref = p[0]
        if ref.startswith("+") and len(p) >= 3 and p[1] == "chathistory":
            self._history[ref[1:]] = 0
        elif ref.startswith("-") and ref[1:] in self._history:
            count = self._history.pop(ref[1:])
            last = next((e.msgid for e in reversed(self.view.stream) if e.msgid), None)
            if count >= HISTORY_PAGE and last:  # a full page: more may follow
                self._request("CHATHISTORY", "AFTER", self.view.channel, f"msgid={last}", str(HISTORY_PAGE))

    def _on_more(self, more) -> None:
        """A page ended and more follow. The replies being read belong to
        the oldest request whose PONG has not come (answers come in order)."""
        if not self._requests or self._requests[0].command != more.command:
            return
        request = self._requests[0]
        params = list(request.params)
        index = 0 if request.command == "ACCOUNTS" else 1
        sub = params[index].upper() if len(params) > index else ""
        slot = request.slot
        if (request.command, sub) in FOLLOWED:
            params[slot : slot + 1 if len(params) > slot else slot] = [str(more.next)]
            self._request(request.command, *params, slot=slot)
        elif (request.command, sub) == ("CONF", "AUDIENCE"):
            self.view.audience_next = more.next
        else:
            self.more = (request.command, tuple(params), slot, more.next)
            self.view.note("info", "More follow: :more shows the next page")

    def _finished(self, request: Request) -> None:
        """A request's replies are all in."""

    # ------------------------------------------------------------ actions

    @property
    def channel(self) -> str:
        return self.view.channel

    @staticmethod
    def _ids(ids: Iterable[int]) -> str:
        text = ",".join(str(i) for i in ids)
        if not text:
            raise ActionError("No item selected")
        return text

    def queue(self, sub: str, ids: Iterable[int], *extra: str) -> list[str]:
        self._queue(sub, ids, *extra)
        return self.take()

    def _queue(self, sub: str, ids: Iterable[int], *extra: str) -> None:
        self._act("QUEUE", self.channel, sub, self._ids(ids), *extra)

    def approve(self, ids: Iterable[int]) -> list[str]:
        return self.queue("APPROVE", ids)

    def drop(self, ids: Iterable[int], reason: str = "") -> list[str]:
        return self.queue("DROP", ids, *([reason] if reason else []))

    def edit(self, ident: int, text: str) -> list[str]:
        if not text.strip():
            raise ActionError("The edited text is empty")
        return self.queue("EDIT", [ident], text)

    def forward(self, ids: Iterable[int]) -> list[str]:
        return self.queue("FORWARD", ids)

    def release_next(self) -> list[str]:
        self._act("QUEUE", self.channel, "NEXT")
        return self.take()

    def move(self, ident: int, where: str) -> list[str]:
        """``where``: ``up``, ``down``, ``top``, ``bottom`` or a position."""
        item = self.view.queue.get(ident)
        if item is None:
            raise ActionError(f"No item {ident} in the queue")
        size = len(self.view.queue)
        if where == "up":
            target = str(max(1, item.position - 1))
        elif where == "down":
            target = str(min(size, item.position + 1))
        else:
            target = where
        return self.queue("MOVE", [ident], target)

    def toggle_hold(self, ids: Iterable[int]) -> list[str]:
        ids = list(ids)
        held = [i for i in ids if (it := self.view.queue.get(i)) and it.state is State.HELD]
        others = [i for i in ids if i not in held]
        if held:
            self._queue("UNHOLD", held)
        if others:
            self._queue("HOLD", others)
        return self.take()

    def toggle_claim(self, ids: Iterable[int]) -> list[str]:
        ids = list(ids)
        me = {self.account.lower(), self.view.nick.lower()}
        mine = [i for i in ids if (it := self.view.queue.get(i)) and (it.claimed_by or "").lower() in me]
        others = [i for i in ids if i not in mine]
        if mine:
            self._queue("UNCLAIM", mine)
        if others:
            self._queue("CLAIM", others)
        return self.take()

    def redact(self, msgid: str, reason: str = "") -> list[str]:
        self._act("REDACT", self.channel, msgid, *([reason] if reason else []))
        return self.take()

    def conf(self, *params: str) -> list[str]:
        self._act("CONF", self.channel, *params)
        return self.take()

    def answering(self, item: int) -> list[str]:
        return self.conf("ANSWERING", str(item))

    def answered(self, item: int) -> list[str]:
        return self.conf("ANSWERED", str(item))

    def restrict(self, kind: str, target: str, seconds: str = "", reason: str = "") -> list[str]:
        """``kind``: BAN, MUTE, UNBAN, UNMUTE; DISCONNECT takes a reason only."""
        params = [kind, target]
        if seconds:
            if not seconds.isdigit():
                raise ActionError(f"'{seconds}' is not a number of seconds")
            params.append(seconds)
        if reason:
            params.append(reason)
        return self.conf(*params)

    def audience_page(self, start: int = 1, search: str = "") -> list[str]:
        if not self.registered:
            raise ActionError("Offline")
        self._audience(start, search)
        return self.take()

    def _audience(self, start: int, search: str) -> None:
        self.view.start_audience_page(start, search)
        self.view.audience_next = None
        params = ["AUDIENCE", str(start)] + ([search] if search else [])
        self._request("CONF", self.channel, *params, slot=2)

    def answer(self, item: int, text: str) -> list[str]:
        text = text.strip()
        if not text:
            raise ActionError("The answer is empty")
        self._act("ANSWER", self.channel, str(item), text)
        self.view.answer_sent(item, text)
        return self.take()

    def list_prepared(self) -> list[str]:
        self._list_prepared()
        return self.take()

    def _list_prepared(self) -> None:
        self.view.start_prepared_listing()
        self._request("PREPARED", self.channel, "LIST")

    def prepare(self, name: str, text: str) -> list[str]:
        if not name or " " in name:
            raise ActionError("A prepared answer is named by one word")
        if not text.strip():
            raise ActionError("The prepared answer is empty")
        self._act("PREPARED", self.channel, "ADD", name, text.strip())
        return self.list_prepared()

    def unprepare(self, name: str) -> list[str]:
        self._act("PREPARED", self.channel, "DEL", name)
        return self.list_prepared()

    def publish_prepared(self, name: str, item: int | None = None) -> list[str]:
        self._act("PREPARED", self.channel, "PUBLISH", name, *([str(item)] if item else []))
        return self.list_prepared()

    def say(self, text: str) -> list[str]:
        if not text.strip():
            raise ActionError("Nothing to send")
        self._act("PRIVMSG", self.channel, text)
        return self.take()

    def listing(self, command: str, *params: str, slot: int | None = None) -> list[str]:
        """An administration listing (its lines go to the log)."""
        if not self.registered:
            raise ActionError("Offline")
        self.more = None
        self._request(command, *params, slot=slot)
        return self.take()

    def next_page(self) -> list[str]:
        if self.more is None:
            raise ActionError("No listing has more pages")
        command, params, slot, start = self.more
        params = list(params)
        params[slot : slot + 1 if len(params) > slot else slot] = [str(start)]
        return self.listing(command, *params, slot=slot)

    def send_raw(self, command: str, *params: str) -> list[str]:
        self._act(command, *params)
        return self.take()

    def switch(self, channel: str) -> list[str]:
        """Leave this conference for another (the drafts stay)."""
        if not self.registered:
            raise ActionError("Offline")
        if self.view.channel:
            self._line("PART", self.view.channel)
        account, nick = self.view.account, self.view.nick
        self.view = View(channel=channel, account=account, nick=nick)
        self._join()
        return self.take()


def parse_ids(text: str) -> list[int]:
    ids = [item_id(part.strip()) for part in text.split(",") if part.strip()]
    if not ids or None in ids:
        raise ActionError(f"'{text}' is not a list of item ids")
    return [i for i in ids if i is not None]
