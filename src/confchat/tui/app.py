"""The Textual interface: a thin layer over :class:`~.session.Session`.

Tabs by role: moderators and admins get Queue, Published, Audience and Log;
guests get Forwarded, Questions, Prepared and Log. Each table's keys are
its ``BINDINGS`` (the help screen lists them from there); what they do is
one call into the session, whose lines the :class:`~.net.Link` writes. The
tables are redrawn from the model after each batch of messages, keeping the
cursor on the same item. Colours come from the theme (``--light`` for light
terminals); ``NO_COLOR`` turns them off (Textual reads it).
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, RichLog, Static, TabbedContent, TabPane

from . import commands
from .lines import Role, State
from .net import Link
from .session import ActionError, Session

STATE_WORDS = {State.PENDING: "wait", State.HELD: "held", State.FORWARDED: "fwd"}
TEXT_WIDTH = 34  # the text column in 80 columns; the whole text is on the detail line


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


def clip(text: str, width: int = TEXT_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class Prompt(ModalScreen[str | None]):
    """One line asked of the person: Enter gives it, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", password: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.password = password

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Static(self.title_text, id="prompt-title")
            yield Input(value=self.value, password=self.password, id="prompt-input")
            yield Static("Enter: OK   Esc: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key and every command, from the bindings and the command table."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        log = RichLog(id="help", wrap=True, markup=False, auto_scroll=False)
        yield log

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        for title, bindings in help_sections():
            log.write(Text(title, style="bold"))
            for keys, description in bindings:
                log.write(f"  {keys:<16} {description}")
        log.write(Text("Commands (type : first)", style="bold"))
        for command in commands.COMMANDS.values():
            log.write(f"  {command.usage}")
            log.write(f"      {command.help}")
        log.write("Esc, q or ? closes this help.")
        log.scroll_home(animate=False)
        log.focus()

    def action_close(self) -> None:
        self.dismiss(None)


def _keys(bindings: Iterable[Binding]) -> list[tuple[str, str]]:
    return [(b.key.replace(",", " "), b.description) for b in bindings if b.description]


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    return [
        ("Everywhere", _keys(ConfchatApp.BINDINGS)),
        ("Queue (moderators)", _keys(QueueTable.BINDINGS) + [("↑ ↓ PgUp PgDn", "move the cursor")]),
        ("Published", _keys(PublishedTable.BINDINGS)),
        ("Audience", _keys(AudienceTable.BINDINGS)),
        ("Forwarded and Questions (guest)", _keys(AnswerTable.BINDINGS)),
        ("Answer composer", [("enter", "send the answer"), ("escape", "back to the list (the draft stays)")]),
        ("Prepared answers", _keys(PreparedTable.BINDINGS)),
    ]


class Table(DataTable):
    """A row-cursor table whose rows are keyed by an id."""

    def __init__(self, *columns: str, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._columns = columns
        self._shown: list = []

    def on_mount(self) -> None:
        self.add_columns(*self._columns)

    @property
    def current(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        except Exception:
            return None

    def show(self, rows: list[tuple[str, tuple]]) -> None:
        """Replace the rows, keeping the cursor on the same key (or place)."""
        if rows == self._shown:
            return
        keep, place = self.current, self.cursor_row
        self._shown = rows
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if not rows:
            return
        keys = [key for key, _ in rows]
        index = keys.index(keep) if keep in keys else min(place, len(rows) - 1)
        self.move_cursor(row=index)

    @property
    def confchat(self) -> "ConfchatApp":
        return self.app  # type: ignore[return-value]


class QueueTable(Table):
    BINDINGS = [
        Binding("a", "do('approve')", "approve"),
        Binding("x", "drop", "drop (asks a reason)"),
        Binding("e", "edit", "edit, then publish"),
        Binding("f", "do('forward')", "forward to the guest"),
        Binding("n", "next", "release the next pending"),
        Binding("h", "do('hold')", "hold / unhold"),
        Binding("c", "do('claim')", "claim / unclaim"),
        Binding("u", "move('up')", "move up"),
        Binding("d", "move('down')", "move down"),
        Binding("t", "move('top')", "move to the top"),
        Binding("b", "move('bottom')", "move to the bottom"),
        Binding("space", "select", "select (bulk actions)"),
        Binding("asterisk", "select_all", "select all / none"),
    ]

    def targets(self) -> list[int]:
        app = self.confchat
        if app.selected:
            return sorted(app.selected)
        return [int(self.current)] if self.current else []

    def action_do(self, what: str) -> None:
        app, ids = self.confchat, self.targets()
        s = app.session
        run = {"approve": s.approve, "forward": s.forward, "hold": s.toggle_hold, "claim": s.toggle_claim}[what]
        if app.act(lambda: run(ids)):
            app.selected.clear()

    def action_drop(self) -> None:
        ids = self.targets()
        if not ids:
            return self.confchat.say("No item selected")
        label = ",".join(map(str, ids))

        def done(reason: str | None) -> None:
            if reason is not None and self.confchat.act(lambda: self.confchat.session.drop(ids, reason.strip())):
                self.confchat.selected.clear()

        self.app.push_screen(Prompt(f"Drop {label}: the reason (empty: none)"), done)

    def action_edit(self) -> None:
        item = self.confchat.session.view.queue.get(int(self.current)) if self.current else None
        if item is None:
            return
        self.app.push_screen(
            Prompt(f"Edit #{item.id} by {item.author}, then publish", item.text),
            lambda text: text is not None and self.confchat.act(lambda: self.confchat.session.edit(item.id, text)),
        )

    def action_next(self) -> None:
        self.confchat.act(self.confchat.session.release_next)

    def action_move(self, where: str) -> None:
        if self.current:
            ident = int(self.current)
            self.confchat.act(lambda: self.confchat.session.move(ident, where))

    def action_select(self) -> None:
        if self.current:
            self.confchat.selected ^= {int(self.current)}
            self.confchat.refresh_views()
            if self.cursor_row < self.row_count - 1:
                self.move_cursor(row=self.cursor_row + 1)

    def action_select_all(self) -> None:
        app = self.confchat
        app.selected = set() if app.selected else set(app.session.view.queue)
        app.refresh_views()


class PublishedTable(Table):
    BINDINGS = [
        Binding("D,delete", "delete", "delete (REDACT, asks a reason)"),
        Binding("w", "answering", "now answering this question"),
        Binding("W", "answered", "mark it answered"),
    ]

    def _entry(self):
        return self.confchat.session.view.entry(self.current) if self.current else None

    def action_delete(self) -> None:
        entry = self._entry()
        if entry is None or entry.deleted:
            return
        self.app.push_screen(
            Prompt(f"Delete “{clip(entry.text, 40)}” by {entry.nick}: the reason (empty: none)"),
            lambda r: r is not None and self.confchat.act(lambda: self.confchat.session.redact(entry.msgid, r.strip())),
        )

    def _question(self) -> int | None:
        entry = self._entry()
        if entry is None or entry.item is None:
            self.confchat.say("Not a question")
            return None
        return entry.item

    def action_answering(self) -> None:
        if (item := self._question()) is not None:
            self.confchat.act(lambda: self.confchat.session.answering(item))

    def action_answered(self) -> None:
        if (item := self._question()) is not None:
            self.confchat.act(lambda: self.confchat.session.answered(item))


class AudienceTable(Table):
    BINDINGS = [
        Binding("slash", "search", "search by nick or account"),
        Binding("right_square_bracket", "page(1)", "next page"),
        Binding("left_square_bracket", "page(-1)", "previous page"),
        Binding("r", "page(0)", "reload the page"),
        Binding("M", "restrict('MUTE')", "mute (asks seconds and reason)"),
        Binding("B", "restrict('BAN')", "ban (asks seconds and reason)"),
        Binding("X", "disconnect", "disconnect"),
    ]

    def action_search(self) -> None:
        view = self.confchat.session.view
        self.app.push_screen(
            Prompt("Search the audience (empty: everyone)", view.audience_search),
            lambda text: text is not None and self.confchat.act(lambda: self.confchat.session.audience_page(1, text.strip())),
        )

    def action_page(self, step: int) -> None:
        view = self.confchat.session.view
        if step > 0:
            if view.audience_next is None:
                return self.confchat.say("This is the last page")
            start = view.audience_next
        elif step < 0:
            start = max(1, view.audience_from - 200)
        else:
            start = view.audience_from
        self.confchat.act(lambda: self.confchat.session.audience_page(start, view.audience_search))

    def action_restrict(self, kind: str) -> None:
        nick = self.current
        if not nick:
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            seconds, _, reason = text.strip().partition(" ")
            if not seconds.isdigit():
                seconds, reason = "", text.strip()
            self.confchat.act(lambda: self.confchat.session.restrict(kind, nick, seconds, reason))

        self.app.push_screen(Prompt(f"{kind.title()} {nick}: [seconds] [reason] (empty: for good)"), done)

    def action_disconnect(self) -> None:
        nick = self.current
        if nick:
            self.app.push_screen(
                Prompt(f"Disconnect {nick}: the reason (empty: the default)"),
                lambda r: r is not None
                and self.confchat.act(lambda: self.confchat.session.restrict("DISCONNECT", nick, "", r.strip())),
            )


class AnswerTable(Table):
    """The guest's forwarded items and published questions: the composer
    below answers the one under the cursor."""

    BINDINGS = [
        Binding("enter", "compose", "write the answer"),
        Binding("w", "answering", "now answering this question"),
        Binding("W", "answered", "mark it answered"),
        Binding("p", "publish", "publish a prepared answer to it"),
    ]

    def action_compose(self) -> None:
        self.confchat.query_one("#composer", Input).focus()

    def action_answering(self) -> None:
        if self.current:
            item = int(self.current)
            self.confchat.act(lambda: self.confchat.session.answering(item))

    def action_answered(self) -> None:
        if self.current:
            item = int(self.current)
            self.confchat.act(lambda: self.confchat.session.answered(item))

    def action_publish(self) -> None:
        if not self.current:
            return
        item = int(self.current)
        names = ", ".join(sorted(self.confchat.session.view.prepared)) or "none yet"
        self.app.push_screen(
            Prompt(f"Publish which prepared answer in reply to #{item}? ({names})"),
            lambda name: bool(name)
            and self.confchat.act(lambda: self.confchat.session.publish_prepared(name.strip(), item)),
        )


class PreparedTable(Table):
    BINDINGS = [
        Binding("a", "add", "write a new one"),
        Binding("e", "edit", "edit its text"),
        Binding("D,delete", "delete", "delete it"),
        Binding("p", "publish", "publish it (asks the question's id)"),
    ]

    def _prepared(self):
        return self.confchat.session.view.prepared.get(self.current) if self.current else None

    def action_add(self) -> None:
        def named(name: str | None) -> None:
            if name:
                self.app.push_screen(
                    Prompt(f"Text of the prepared answer “{name.strip()}”"),
                    lambda text: text is not None
                    and self.confchat.act(lambda: self.confchat.session.prepare(name.strip(), text)),
                )

        self.app.push_screen(Prompt("Name of the prepared answer (one word)"), named)

    def action_edit(self) -> None:
        prepared = self._prepared()
        if prepared:
            self.app.push_screen(
                Prompt(f"Text of “{prepared.name}”", prepared.text),
                lambda text: text is not None
                and self.confchat.act(lambda: self.confchat.session.prepare(prepared.name, text)),
            )

    def action_delete(self) -> None:
        prepared = self._prepared()
        if prepared:
            self.confchat.act(lambda: self.confchat.session.unprepare(prepared.name))

    def action_publish(self) -> None:
        prepared = self._prepared()
        if not prepared:
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            text = text.strip().lstrip("#")
            if text and not text.isdigit():
                return self.confchat.say(f"'{text}' is not an item id")
            self.confchat.act(lambda: self.confchat.session.publish_prepared(prepared.name, int(text) if text else None))

        self.app.push_screen(Prompt(f"Publish “{prepared.name}” in reply to which question? (id; empty: none)"), done)


MODERATOR_TABS = ("queue", "published", "audience", "log")
GUEST_TABS = ("forwarded", "questions", "prepared", "log")


class ConfchatApp(App):
    TITLE = "confchat-tui"
    CSS = """
    Screen { layout: vertical; }
    #title { height: 1; background: $primary; color: $text; text-style: bold; padding: 0 1; }
    #status { height: 1; background: $panel; color: $text; padding: 0 1; }
    #detail { height: 2; color: $text-muted; padding: 0 1; }
    #message { height: 1; color: $warning; padding: 0 1; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    DataTable { height: 1fr; }
    #composer, #command { height: 3; }
    #command { display: none; }
    #command.open { display: block; }
    #composer { display: none; }
    #composer.open { display: block; }
    Prompt, HelpScreen { align: center middle; }
    #prompt { width: 76; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    #prompt-title { color: $text; }
    .hint { color: $text-muted; }
    #help { width: 78; height: 22; border: round $accent; background: $surface; }
    """
    BINDINGS = [
        Binding("question_mark", "help", "help: every key"),
        Binding("colon", "command", "command line (:help for the list)"),
        Binding("1", "tab(0)", "first tab", show=False),
        Binding("2", "tab(1)", "second tab", show=False),
        Binding("3", "tab(2)", "third tab", show=False),
        Binding("4", "tab(3)", "fourth tab (log)", show=False),
        Binding("ctrl+r", "reconnect", "reconnect now", show=False),
        Binding("ctrl+q", "quit", "quit"),
    ]

    def __init__(
        self,
        session: Session,
        host: str,
        port: int,
        tls=None,
        light: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.session = session
        self.link = Link(session, host, port, tls, on_change=self.refresh_views)
        self.clock = clock
        self.selected: set[int] = set()
        self.theme = "textual-light" if light else "textual-dark"
        self._pending_refresh = False
        self._role_shown: Role | None = None
        self._composing: int | None = None
        self._log_seen = 0

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static("confchat-tui", id="title")
        with TabbedContent(id="tabs"):
            with TabPane("1 Queue", id="queue"):
                yield QueueTable(" ", "id", "st", "author", "age", "flags", "claim", "text", id="queue-table")
            with TabPane("2 Published", id="published"):
                yield PublishedTable("time", "who", "votes", "", "text", id="published-table")
            with TabPane("3 Audience", id="audience"):
                yield AudienceTable("nick", "address", "account", id="audience-table")
            with TabPane("1 Forwarded", id="forwarded"):
                yield AnswerTable("id", "author", "age", "text", id="forwarded-table")
            with TabPane("2 Questions", id="questions"):
                yield AnswerTable("id", "votes", "", "author", "text", id="questions-table")
            with TabPane("3 Prepared", id="prepared"):
                yield PreparedTable("name", "by", "text", id="prepared-table")
            with TabPane("4 Log", id="log"):
                yield RichLog(id="log-view", wrap=True, markup=False, max_lines=500)
        yield Static("", id="detail")
        yield Input(placeholder="Answer (Enter sends, Esc goes back; the draft is kept)", id="composer",
                    max_length=400)
        yield Input(placeholder=":command (Esc closes; :help lists them)", id="command")
        yield Static("", id="message")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._show_tabs(self.session.view.role)
        self.run_worker(self.link.run(), name="link", exclusive=True)
        self.set_interval(1.0, self.refresh_views)
        self.refresh_views()

    async def action_quit(self) -> None:
        await self.link.stop("confchat-tui closed")
        self.exit()

    # ------------------------------------------------------------ acting

    def act(self, action: Callable[[], list[str]]) -> bool:
        """Run a session action and write its lines; False (and a word on
        the message line) when it could not be sent."""
        try:
            lines = action()
        except ActionError as error:
            self.say(str(error))
            return False
        if not self.link.send(lines):
            self.say("Offline: not sent")
            return False
        self.say("")
        self.refresh_views()
        return True

    def say(self, text: str) -> None:
        self.query_one("#message", Static).update(text)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_command(self) -> None:
        box = self.query_one("#command", Input)
        box.add_class("open")
        box.value = ""
        box.focus()

    def action_tab(self, index: int) -> None:
        tabs = GUEST_TABS if self._role_shown is Role.GUEST else MODERATOR_TABS
        self.query_one(TabbedContent).active = tabs[index]
        self._focus_tab()

    def action_reconnect(self) -> None:
        self.link.reconnect_now()

    def _focus_tab(self) -> None:
        active = self.query_one(TabbedContent).active
        for widget in self.query_one(f"#{active}", TabPane).query("DataTable, RichLog"):
            widget.focus()
            break
        self._update_composer()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_tab()
        self.refresh_views()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "command":
            text = event.value
            event.input.value = ""
            event.input.remove_class("open")
            if text.strip().removeprefix(":").strip() in ("help", "h"):
                self.action_help()
            elif text.strip():
                if self.act(lambda: commands.run(self.session, text)) and not commands.is_secret(text):
                    self.say(f"sent: {text.strip()}")
            self._focus_tab()
        elif event.input.id == "composer" and self._composing is not None:
            item = self._composing
            if self.act(lambda: self.session.answer(item, event.value)):
                event.input.value = ""
                self.say(f"Answer to #{item} sent")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "composer" and self._composing is not None:
            self.session.view.keep_draft(self._composing, event.value)

    def on_key(self, event) -> None:
        if event.key == "escape":
            focused = self.focused
            if isinstance(focused, Input) and focused.id in ("command", "composer"):
                if focused.id == "command":
                    focused.remove_class("open")
                event.stop()
                self._refocus_table()

    def _refocus_table(self) -> None:
        active = self.query_one(TabbedContent).active
        for widget in self.query_one(f"#{active}", TabPane).query("DataTable, RichLog"):
            widget.focus()
            break

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._update_composer()
        self._update_detail()

    # ------------------------------------------------------------ drawing

    def _show_tabs(self, role: Role) -> None:
        tabs = self.query_one(TabbedContent)
        guest = role is Role.GUEST
        for pane in MODERATOR_TABS + GUEST_TABS:
            if pane == "log":
                continue
            if (pane in GUEST_TABS) == guest:
                tabs.show_tab(pane)
            else:
                tabs.hide_tab(pane)
        self._role_shown = role
        # hiding the active tab activates another, once processed: choose after
        self.call_after_refresh(self.action_tab, 0)

    def refresh_views(self) -> None:
        """Redraw soon (many messages in a row make one redraw)."""
        if not self._pending_refresh:
            self._pending_refresh = True
            self.call_later(self._redraw)

    def _redraw(self) -> None:
        self._pending_refresh = False
        if not self.is_mounted_ok():
            return
        view = self.session.view
        now = self.clock()
        if view.joined and view.role is not self._role_shown:
            self._show_tabs(view.role)
        self.selected &= set(view.queue)
        self.query_one("#title", Static).update(
            f"confchat-tui  {view.channel or '(no conference)'}  {view.info.get('title', '')}  ·  "
            f"{view.nick or self.session.account} ({view.role.value})"
        )
        self.query_one("#status", Static).update(self._status(now))
        active = self.query_one(TabbedContent).active
        if active == "queue":
            self.query_one("#queue-table", Table).show([
                (str(i.id), ("✓" if i.id in self.selected else " ", str(i.id), STATE_WORDS.get(i.state, i.state.value),
                             clip(i.author, 10), age(now - i.submitted), clip(",".join(i.flags), 10),
                             clip(i.claimed_by or "", 8), clip(i.text)))
                for i in view.ordered_queue()
            ])
        elif active == "published":
            rows = []
            for e in reversed(view.stream):
                q = view.questions.get(e.item) if e.is_question else None
                mark = "DEL" if e.deleted else "▶" if e.is_question and view.answering == e.item else (
                    "✓" if q and q.answered else "↳" if e.reply_to else "")
                rows.append((e.msgid or f"x{id(e)}", (e.time[11:16], clip(e.nick, 12),
                             str(q.votes) if q else "", mark, clip(e.text, 44))))
            self.query_one("#published-table", Table).show(rows)
        elif active == "audience":
            self.query_one("#audience-table", Table).show([
                (m.nick, (m.nick, clip(m.userhost, 34), m.account or "")) for m in view.audience
            ])
        elif active == "forwarded":
            self.query_one("#forwarded-table", Table).show([
                (str(i.id), (str(i.id), clip(i.author, 12), age(now - i.submitted), clip(i.text, 50)))
                for i in view.forwarded()
            ])
        elif active == "questions":
            self.query_one("#questions-table", Table).show([
                (str(q.id), (str(q.id), str(q.votes),
                             "▶" if view.answering == q.id else "✓" if q.answered else "", clip(q.author, 12),
                             clip(q.text, 44)))
                for q in view.questions_by_votes()
            ])
        elif active == "prepared":
            self.query_one("#prepared-table", Table).show([
                (p.name, (p.name, clip(p.author, 10), clip(p.text, 50))) for p in view.prepared.values()
            ])
        log = self.query_one("#log-view", RichLog)
        count = min(view.logged - self._log_seen, len(view.log))
        fresh = list(view.log)[len(view.log) - count:] if count > 0 else []
        self._log_seen = view.logged
        for entry in fresh:
            style = {"fail": "bold", "error": "bold reverse"}.get(entry.kind, "")
            log.write(Text(entry.text, style=style))
        if fresh and fresh[-1].kind in ("fail", "error"):
            self.say(fresh[-1].text)
        self._update_detail()
        self._update_composer()

    def is_mounted_ok(self) -> bool:
        try:
            self.query_one("#status", Static)
        except Exception:
            return False
        return True

    def _status(self, now: float) -> str:
        view = self.session.view
        info = view.info
        slow = info.get("slow_mode", "0")
        parts = [
            info.get("state", "?"),
            info.get("mode", "?"),
            f"slow {slow}s" if slow not in ("", "0") else "slow off",
            f"audience {view.audience_size if view.audience_size is not None else '?'}",
        ]
        if view.moderating or view.role is Role.GUEST:
            parts.append(f"queue {len(view.queue)}" if view.moderating else f"forwarded {len(view.forwarded())}")
        if view.moderating:
            parts.append(f"oldest {age(view.oldest_wait(now))}")
        if view.answering:
            parts.append(f"answering #{view.answering}")
        if self.selected:
            parts.append(f"{len(self.selected)} selected")
        status = self.link.status if self.session.fatal is None else "login refused"
        return " · ".join(parts) + f"   [{status}]"

    def _current_item(self) -> int | None:
        active = self.query_one(TabbedContent).active
        if active not in ("forwarded", "questions"):
            return None
        current = self.query_one(f"#{active}-table", Table).current
        return int(current) if current else None

    def _update_composer(self) -> None:
        composer = self.query_one("#composer", Input)
        item = self._current_item()
        if item is None:
            composer.remove_class("open")
            self._composing = None
            return
        composer.add_class("open")
        if item != self._composing or composer.value != self.session.view.drafts.get(item, ""):
            self._composing = item
            composer.value = self.session.view.drafts.get(item, "")
        composer.placeholder = f"Answer to #{item} (Enter sends, Esc goes back; the draft is kept)"

    def _update_detail(self) -> None:
        view = self.session.view
        active = self.query_one(TabbedContent).active
        text = ""
        if active in ("queue", "forwarded", "questions", "published", "prepared"):
            current = self.query_one(f"#{active}-table", Table).current
            if current and active in ("queue", "forwarded") and current.isdigit():
                item = view.queue.get(int(current))
                if item:
                    found = f"  [{'; '.join(item.reasons)}]" if item.reasons else ""
                    text = f"#{item.id} {item.author}: {item.text}{found}"
            elif current and active == "questions" and current.isdigit():
                q = view.questions.get(int(current))
                text = f"#{q.id} {q.author}: {q.text}" if q else ""
            elif current and active == "published":
                e = view.entry(current)
                text = f"{e.nick}: {e.text}" if e else ""
            elif current and active == "prepared":
                p = view.prepared.get(current)
                text = f"{p.name}: {p.text}" if p else ""
        self.query_one("#detail", Static).update(Text(text, overflow="ellipsis"))
