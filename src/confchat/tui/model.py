"""What the terminal client knows of one conference: a state model fed with
parsed IRC messages (and a clock reading where time matters), pure.

:class:`View` holds the queue, the published stream, the questions and
their votes, the audience page, the prepared answers, the settings and a
log; :meth:`View.apply` takes one message and updates them. It sends
nothing: :mod:`.session` decides what to ask the server. Every collection
is bounded (the stream and the log keep their latest entries, the audience
one page), so a long event does not grow the client.
"""

from __future__ import annotations

from collections import deque

import attrs

from ..proto.casemap import casefold
from ..proto.message import Message
from .lines import (
    TAG_ITEM,
    TAG_REPLY,
    Member,
    Prepared,
    QueueItem,
    Role,
    State,
    item_id,
    parse_broadcast,
    parse_conf,
    parse_item,
    parse_prepared,
    parse_reply,
)

STREAM_KEEP = 1000  # published messages shown; older ones scroll away
LOG_KEEP = 500  # log lines kept
DECIDED_KEEP = 200  # recently decided items remembered (for the log and the guest)


@attrs.define
class Entry:
    """One published message (question, answer, staff message or notice)."""

    msgid: str
    nick: str
    text: str
    time: str = ""  # the server-time tag, as sent
    item: int | None = None  # the question it is, or answers
    reply_to: str | None = None  # the msgid it answers
    notice: bool = False
    deleted: bool = False

    @property
    def is_question(self) -> bool:
        return self.item is not None and self.reply_to is None and not self.notice


@attrs.define
class Question:
    id: int
    votes: int = 0
    answered: bool = False
    msgid: str = ""
    author: str = ""
    text: str = ""


@attrs.define
class LogLine:
    kind: str  # note, fail, notice, info, listing, error
    text: str


def nick_of(source: str | None) -> str:
    return (source or "").partition("!")[0]


@attrs.define
class View:
    """One conference as this client sees it."""

    channel: str = ""
    nick: str = ""
    account: str = ""
    role: Role = Role.VISITOR
    joined: bool = False
    info: dict[str, str] = attrs.field(factory=dict)
    queue: dict[int, QueueItem] = attrs.field(factory=dict)  # undecided items
    decided: dict[int, QueueItem] = attrs.field(factory=dict)  # the latest decided
    stream: deque[Entry] = attrs.field(factory=lambda: deque(maxlen=STREAM_KEEP))
    questions: dict[int, Question] = attrs.field(factory=dict)
    answering: int | None = None
    prepared: dict[str, Prepared] = attrs.field(factory=dict)
    audience: list[Member] = attrs.field(factory=list)
    audience_from: int = 1
    audience_next: int | None = None
    audience_total: int | None = None
    audience_search: str = ""
    log: deque[LogLine] = attrs.field(factory=lambda: deque(maxlen=LOG_KEEP))
    logged: int = 0  # lines ever logged (the log keeps the latest)
    # Half-typed answers, by item id (0: the composer without a question).
    drafts: dict[int, str] = attrs.field(factory=dict)
    # Answers sent and not yet seen published: restored as drafts when they fail.
    unconfirmed: dict[int, str] = attrs.field(factory=dict)
    _prepared_next: dict[str, Prepared] | None = None
    _audience_next_page: list[Member] | None = None
    _msgids: set[str] = attrs.field(factory=set)
    _staff_nicks: set[str] = attrs.field(factory=set)  # from NAMES and MODE: not audience
    _last_joined: str = ""

    # ------------------------------------------------------------ derived

    @property
    def moderating(self) -> bool:
        return self.role in (Role.ADMIN, Role.MODERATOR)

    @property
    def staff(self) -> bool:
        return self.role in (Role.ADMIN, Role.MODERATOR, Role.GUEST)

    def ordered_queue(self) -> list[QueueItem]:
        """The undecided items in the queue's order."""
        return sorted(self.queue.values(), key=lambda item: (item.position or 1 << 60, item.id))

    def forwarded(self) -> list[QueueItem]:
        return [item for item in self.ordered_queue() if item.state is State.FORWARDED]

    def questions_by_votes(self) -> list[Question]:
        return sorted(self.questions.values(), key=lambda q: (q.answered, -q.votes, q.id))

    def oldest_wait(self, now: float) -> float | None:
        """Seconds the oldest undecided item has waited, or ``None``."""
        if not self.queue:
            return None
        return max(0.0, now - min(item.submitted for item in self.queue.values()))

    @property
    def audience_size(self) -> int | None:
        value = self.info.get("audience", "")
        return int(value) if value.isdigit() else None

    def entry(self, msgid: str) -> Entry | None:
        for entry in self.stream:
            if entry.msgid == msgid:
                return entry
        return None

    def mine(self, source: str | None) -> bool:
        return casefold(nick_of(source)) == casefold(self.nick)

    def _same(self, channel: str) -> bool:
        return bool(self.channel) and casefold(channel) == casefold(self.channel)

    def note(self, kind: str, text: str) -> None:
        self.log.append(LogLine(kind, text))
        self.logged += 1

    # ------------------------------------------------------------ changes

    def reset_for_rejoin(self) -> None:
        """Before the conference is loaded again (a new connection): what the
        server will send whole again is cleared; the stream, the questions
        and the drafts stay (the history fills the gap)."""
        self.joined = False
        self.queue.clear()
        self._prepared_next = None
        self._audience_next_page = None

    def start_prepared_listing(self) -> None:
        self._prepared_next = {}

    def start_audience_page(self, start: int, search: str) -> None:
        self._audience_next_page = []
        self.audience_from = start
        self.audience_search = search

    def keep_draft(self, item: int, text: str) -> None:
        if text:
            self.drafts[item] = text
        else:
            self.drafts.pop(item, None)

    def answer_sent(self, item: int, text: str) -> None:
        self.unconfirmed[item] = text
        self.drafts.pop(item, None)

    def restore_unconfirmed(self, item: int | None = None) -> list[int]:
        """Put answers that never came back into their drafts again (kept
        ahead of anything typed since); the items restored."""
        items = [item] if item is not None else list(self.unconfirmed)
        restored = []
        for ident in items:
            text = self.unconfirmed.pop(ident, None)
            if text is None:
                continue
            typed = self.drafts.get(ident, "")
            self.drafts[ident] = text if not typed else f"{text} {typed}"
            restored.append(ident)
        return restored

    # ------------------------------------------------------------ messages

    def apply(self, msg: Message) -> str | None:
        """Take one message; a word saying what changed (``queue``,
        ``stream``, ``questions``, ``audience``, ``prepared``, ``info``,
        ``log``) or ``None`` when it was not about this conference."""
        handler = getattr(self, f"_on_{msg.command.lower()}", None)
        return handler(msg) if handler else None

    def _on_queue(self, msg: Message) -> str | None:
        item = parse_item(msg)
        if item is None or not self._same(item.channel):
            return None
        before = self.queue.get(item.id)
        if item.undecided:
            self.queue[item.id] = item
        else:
            self.queue.pop(item.id, None)
            self.decided[item.id] = item
            if before is not None and before.position:
                # the items after it move up one place (only its line comes)
                for ident, other in list(self.queue.items()):
                    if other.position > before.position:
                        self.queue[ident] = attrs.evolve(other, position=other.position - 1)
            while len(self.decided) > DECIDED_KEEP:
                del self.decided[next(iter(self.decided))]
            if item.event and before is not None and item.decided_by:
                self.note("info", f"#{item.id} {item.state.value} by {item.decided_by}")
        if item.event and before is not None and item.undecided:
            # Other moderators' moves shift positions: only the item's line
            # comes, so the neighbours' positions are adjusted here.
            self._shift(before, item)
        return "queue"

    def _shift(self, before: QueueItem, after: QueueItem) -> None:
        old, new = before.position, after.position
        if not old or not new or old == new:
            return
        for ident, other in list(self.queue.items()):
            if ident == after.id or not other.position:
                continue
            pos = other.position
            if old < new and old < pos <= new:
                self.queue[ident] = attrs.evolve(other, position=pos - 1)
            elif new < old and new <= pos < old:
                self.queue[ident] = attrs.evolve(other, position=pos + 1)

    def _on_privmsg(self, msg: Message) -> str | None:
        return self._published(msg, notice=False)

    def _on_notice(self, msg: Message) -> str | None:
        if not msg.params or not self._same(msg.params[0]):
            return None
        broadcast = parse_broadcast(msg)
        if broadcast is not None:
            if broadcast.state:
                self.info["state"] = broadcast.state
            if broadcast.mode:
                self.info["mode"] = broadcast.mode
            if broadcast.slow_mode is not None:
                self.info["slow_mode"] = str(broadcast.slow_mode)
            if broadcast.answering is not None:
                self.answering = broadcast.answering or None
            if broadcast.answered is not None:
                question = self.questions.get(broadcast.answered)
                if question:
                    question.answered = True
                if self.answering == broadcast.answered:
                    self.answering = None
            self.note("notice", msg.params[-1])
            return "info"
        return self._published(msg, notice=True)

    def _published(self, msg: Message, notice: bool) -> str | None:
        if len(msg.params) < 2 or not self._same(msg.params[0]):
            return None
        msgid = msg.tags.get("msgid", "")
        if msgid and msgid in self._msgids:
            return None  # the history repeats what we have
        entry = Entry(
            msgid=msgid,
            nick=nick_of(msg.source),
            text=msg.params[-1],
            time=msg.tags.get("time", ""),
            item=item_id(msg.tags.get(TAG_ITEM)),
            reply_to=msg.tags.get(TAG_REPLY) or None,
            notice=notice,
        )
        if len(self.stream) == self.stream.maxlen:
            self._msgids.discard(self.stream[0].msgid)
        self.stream.append(entry)
        if msgid:
            self._msgids.add(msgid)
        if entry.is_question and entry.item not in self.questions:
            self.questions[entry.item] = Question(entry.item, msgid=msgid, author=entry.nick, text=entry.text)
        if entry.item is not None and entry.reply_to and self.mine(msg.source):
            self.unconfirmed.pop(entry.item, None)  # our answer went out
        return "stream"

    def _on_redact(self, msg: Message) -> str | None:
        if len(msg.params) < 2 or not self._same(msg.params[0]):
            return None
        entry = self.entry(msg.params[1])
        if entry is not None:
            entry.deleted = True
            if entry.is_question and entry.item is not None:
                self.questions.pop(entry.item, None)
                if self.answering == entry.item:
                    self.answering = None
        return "stream"

    def _on_conf(self, msg: Message) -> str | None:
        line = parse_conf(msg)
        if line is None:
            return None
        if line.channel == "*" or not self._same(line.channel):
            return self._listing(msg)
        kind = line.kind
        if kind == "info":
            key, value = line.field(0), line.field(1)
            self.info[key] = value
            if key == "now_answering":
                self.answering = item_id(value)
            elif key == "role":
                try:
                    self.role = Role(value)
                except ValueError:
                    pass
            return "info"
        if kind == "question":
            ident = item_id(line.field(0))
            if ident is None:
                return None
            self.questions[ident] = Question(
                ident,
                votes=int(line.field(1)) if line.field(1).isdigit() else 0,
                answered=line.field(2) == "answered",
                msgid=line.field(3),
                author=line.field(4),
                text=line.field(5),
            )
            return "questions"
        if kind == "votes":
            ident = item_id(line.field(0))
            question = self.questions.get(ident) if ident is not None else None
            if question is not None and line.field(1).isdigit():
                question.votes = int(line.field(1))
            return "questions"
        if kind == "member":
            member = Member(line.field(0), line.field(1), None if line.field(2) in ("", "*") else line.field(2))
            if self._audience_next_page is None:
                self._audience_next_page = []
            self._audience_next_page.append(member)
            return None
        if kind == "more" and self._audience_next_page is not None:
            self.audience_next = item_id(line.field(0))
            return None
        if kind == "end" and self._audience_next_page is not None:
            text = line.field(0)
            if text.endswith("visitors"):
                self.audience = self._audience_next_page
                self._audience_next_page = None
                if self.audience_next is not None and self.audience_next <= self.audience_from:
                    self.audience_next = None
                count = text.split()[0]
                self.audience_total = int(count) if count.isdigit() else None
                return "audience"
            return None
        if kind in ("summary", "shield", "export", "restriction", "grant", "audit", "archived", "end", "more"):
            return self._listing(msg)
        return None

    def finish_audience_page(self) -> None:
        """The page asked for has no MORE line: there is no next page."""
        self.audience_next = None

    def _on_prepared(self, msg: Message) -> str | None:
        if len(msg.params) < 2 or not self._same(msg.params[0]):
            return None
        line = parse_prepared(msg)
        if line is None:
            return None
        if line == "end":
            if self._prepared_next is not None:
                self.prepared = self._prepared_next
                self._prepared_next = None
            return "prepared"
        if self._prepared_next is None:
            self._prepared_next = {}
        self._prepared_next[line.name] = line
        return None

    def _on_accounts(self, msg: Message) -> str | None:
        return self._listing(msg)

    def _listing(self, msg: Message) -> str:
        """A listing line for the log, as a person reads it."""
        p = msg.params
        text = " ".join(p[1:-1] + (f"“{p[-1]}”" if " " in p[-1] else p[-1],)) if len(p) > 1 else " ".join(p)
        self.note("listing", f"{msg.command} {p[0] if p else ''} {text}".strip())
        return "log"

    def _on_join(self, msg: Message) -> str | None:
        if not msg.params or not self._same(msg.params[0]):
            return None
        if self.mine(msg.source):
            return None
        self._audience_delta(+1, nick_of(msg.source))
        return "info"

    def _on_part(self, msg: Message) -> str | None:
        if not msg.params or not self._same(msg.params[0]) or self.mine(msg.source):
            return None
        self._audience_delta(-1, nick_of(msg.source))
        return "info"

    def _on_kick(self, msg: Message) -> str | None:
        if len(msg.params) < 2 or not self._same(msg.params[0]):
            return None
        self._audience_delta(-1, msg.params[1])
        self.note("info", f"{msg.params[1]} was removed by {nick_of(msg.source)}: {msg.params[-1]}")
        return "info"

    def _on_quit(self, msg: Message) -> str | None:
        if not self.joined or self.mine(msg.source):
            return None
        self._audience_delta(-1, nick_of(msg.source))
        return "info"

    def _audience_delta(self, delta: int, nick: str) -> None:
        """Staff see the visitors' joins and leaves: keep the count live
        between two CONF INFO readings (staff's own come and go uncounted
        when we can tell they are staff: the ones in the NAMES status)."""
        size = self.audience_size
        if size is None or casefold(nick) in self._staff_nicks:
            return
        self.info["audience"] = str(max(0, size + delta))
        self._last_joined = casefold(nick) if delta > 0 else ""

    def _on_353(self, msg: Message) -> str | None:
        if len(msg.params) < 4 or not self._same(msg.params[2]):
            return None
        for name in msg.params[-1].split():
            if name[:1] in "@+":
                self._staff_nicks.add(casefold(name.lstrip("@+").partition("!")[0]))
        return None

    def _on_mode(self, msg: Message) -> str | None:
        p = msg.params
        if len(p) >= 3 and self._same(p[0]) and p[1][:1] == "+":
            for nick in p[2:]:
                folded = casefold(nick)
                if folded not in self._staff_nicks and folded == self._last_joined:
                    # a staff member's JOIN, counted before its status came
                    size = self.audience_size
                    if size:
                        self.info["audience"] = str(size - 1)
                    self._last_joined = ""
                self._staff_nicks.add(folded)
        return None

    def _on_note(self, msg: Message) -> str | None:
        return self.reply(msg)

    def _on_fail(self, msg: Message) -> str | None:
        return self.reply(msg)

    def reply(self, msg: Message) -> str | None:
        """A NOTE or FAIL: into the log; a failed answer gets its text back."""
        reply = parse_reply(msg)
        if reply is None:
            return None
        self.note("fail" if reply.kind == "FAIL" else "note", f"{reply.command} {reply.code}: {reply.description}")
        if reply.kind == "FAIL" and reply.command in ("ANSWER", "PREPARED") and reply.item is not None:
            self.restore_unconfirmed(reply.item)
            return "drafts"
        return "log"
