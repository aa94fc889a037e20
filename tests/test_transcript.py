"""Transcripts from a real store: the public exchange, the internal archive,
hostile text made inert in every format, branding, and the files written
when a conference closes.

The data is made the way the server makes it: a Conference driven like the
handlers in core/handlers/conference.py drive it, committed with
``Store.write(take_changes())`` and read back with ``Store.read``.
"""

from __future__ import annotations

import base64
import itertools
import hashlib
import json
import os
import re
import unicodedata
from datetime import datetime, timezone
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confchat.config import BrandingSection, Config, ConferenceConfig, ServerSection, StorageSection
from confchat.moderation.conference import Conference, Publication
from confchat.storage.sqlite import Store
from confchat.transcript import FORMATS, build, clean, md_escape, render, write_closed_transcripts
from confchat.storage.rows import take_rows

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
CHAN = "#townhall"

MODA = "moda!~moda@192.0.2.10"
MAYOR = "mayor!~mayor@192.0.2.20"
ALICE = "alice!~alice@198.51.100.7"
BOB = "bob!~bob@198.51.100.8"
CAROL = "carol!~carol@203.0.113.9"
DAVE = "dave!~dave@198.51.100.10"
ERIN = "erin!~erin@2001:db8::5"
FRANK = "frank!~frank@198.51.100.12"
IP_FRAGMENTS = ("192.0.2.", "198.51.100.", "203.0.113.", "2001:db8", "~alice", "~carol", "~mayor", "~moda")
IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")

# What must never survive into any output: C0/C1 controls (a newline only
# between lines, added by the renderer), bidi overrides and isolates.
CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# The HTML template's vocabulary: user text must never add to it.
TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "p", "h1", "h2", "main", "ol", "li",
    "article", "strong", "time", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "footer",
}
TEMPLATE_ATTRS = {
    "lang", "charset", "name", "content", "http-equiv", "class", "id", "href", "datetime",
    "aria-label", "src", "alt", "scope",
}
VOID = {"meta", "img"}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M")


def inert(text: str) -> str:
    """Independent oracle for clean(): tabs and line/paragraph separators
    become spaces; every Cc character, bidi override and isolate goes."""
    text = text.replace("\t", " ").replace("\u2028", " ").replace("\u2029", " ")
    return "".join(
        c for c in text
        if unicodedata.category(c) != "Cc" and not ("\u202a" <= c <= "\u202e" or "\u2066" <= c <= "\u2069")
    )


# ---------------------------------------------------------------- driving a conference


class Event:
    """Drives a Conference the way the server's handlers do (publish,
    _approve, _queue_drop, answer, handle_redact, _set_state)."""

    msgids = itertools.count(1)  # server msgids are unique across conferences

    def __init__(self, conference: Conference) -> None:
        self.conf = conference

    def _publish(self, source, text, at, tags, item=None):
        msgid = f"msg{next(self.msgids):05d}"
        self.conf.add_publication(Publication(msgid, source, text, at, dict(tags), "PRIVMSG", item))
        return msgid

    def submit(self, prefix, text, at, account=None):
        nick = prefix.split("!", 1)[0]
        item = self.conf.queue.submit(nick, prefix, text, at, account=account)
        self.conf.record(at, nick, "submit", item.id, text=text)
        return item

    def approve(self, item, actor, at, text=None):
        self.conf.queue.approve(item.id, actor, at, text)
        detail = {"wait": round(at - item.submitted_at, 1)}
        if text is not None:
            detail.update(original=item.original, text=item.text)
        self.conf.record(at, actor, "edit-approve" if text is not None else "approve", item.id, **detail)
        item.msgid = self._publish(item.author_prefix, item.text, at, {"confchat/item": str(item.id)}, item.id)
        return item.msgid

    def drop(self, item, actor, at, reason=""):
        self.conf.queue.drop(item.id, actor, at, reason)
        self.conf.record(at, actor, "drop", item.id, reason=reason, wait=round(at - item.submitted_at, 1))

    def hold(self, item, actor, at):
        self.conf.queue.hold(item.id, actor)
        self.conf.record(at, actor, "hold", item.id)

    def vote(self, item, voter):
        self.conf.queue.vote(item.id, voter)
        self.conf.touch(item.id)

    def answer(self, item, prefix, actor, text, at):
        msgid = self._publish(prefix, text, at, {"+draft/reply": item.msgid, "confchat/item": str(item.id)})
        self.conf.record(at, actor, "answer", item.id, msgid=msgid, text=text)
        return msgid

    def say(self, prefix, text, at):
        return self._publish(prefix, text, at, {})

    def redact(self, msgid, actor, at, reason=""):
        self.conf.remove_publication(msgid, at, actor)
        item = self.conf.queue.by_msgid(msgid)
        if item is not None:
            self.conf.queue.redact(item.id)
        self.conf.record(at, actor, "redact", item.id if item else None, msgid=msgid, reason=reason)

    def state(self, state, actor, at):
        self.conf.state = state
        self.conf.record(at, actor, "state", None, state=state)


def townhall(store: Store, channel: str = CHAN) -> SimpleNamespace:
    """A realistic event, committed in two batches like the journal does."""
    conf = Conference(ConferenceConfig(
        channel=channel, title="Ask the mayor", description="Budget questions",
        moderators=("moda",), guests=("mayor",), state="live",
    ))
    ev = Event(conf)
    conf.record(T0, "admin", "create", None, title="Ask the mayor")
    welcome = ev.say(MODA, "Welcome everyone", T0 + 5)
    q1 = ev.submit(ALICE, "When will the library reopen", T0 + 10)
    q2 = ev.submit(BOB, "You are all crooks", T0 + 11)
    q3 = ev.submit(CAROL, "wat about teh bus lines", T0 + 12)
    q4 = ev.submit(DAVE, "Call me on 555 0100", T0 + 13)
    q5 = ev.submit(ERIN, "Is the pool closing", T0 + 14)  # stays pending
    q6 = ev.submit(FRANK, "Parking fees question", T0 + 15)  # held
    ev.approve(q1, "moda", T0 + 20)
    ev.drop(q2, "moda", T0 + 21, reason="insults")
    ev.approve(q3, "moda", T0 + 22, text="What about the bus lines")
    ev.hold(q6, "moda", T0 + 23)
    oops = ev.say(MODA, "Wrong room sorry", T0 + 24)
    store.write([take_rows(conf)])  # first commit, mid-event
    ev.approve(q4, "moda", T0 + 30)
    ev.vote(q1, "account:x")
    ev.vote(q1, "connection:b:7")
    a1 = ev.answer(q1, MAYOR, "mayor", "It reopens in March", T0 + 40)
    a4 = ev.answer(q4, MAYOR, "mayor", "Please use the contact form", T0 + 45)
    ev.redact(q4.msgid, "moda", T0 + 50, reason="personal data")
    ev.redact(oops, "moda", T0 + 56)  # published in the first batch
    a3 = ev.answer(q3, MAYOR, "mayor", "New lines open in June", T0 + 60)
    store.write([take_rows(conf)])
    return SimpleNamespace(conf=conf, ev=ev, welcome=welcome, oops=oops, a1=a1, a3=a3, a4=a4,
                           q1=q1, q2=q2, q3=q3, q4=q4, q5=q5, q6=q6)


# Everything that must stay out of the public transcript.
PRIVATE_TEXTS = (
    "You are all crooks",  # dropped
    "insults",  # drop reason
    "wat about teh",  # the original of an edited question
    "555 0100",  # deleted question
    "personal data",  # deletion reason
    "Wrong room",  # deleted staff message
    "Is the pool closing",  # pending
    "Parking fees",  # held
)


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "confchat.sqlite3"), "normal")
    store.open()
    yield store
    store.close()


@pytest.fixture
def event(store):
    return townhall(store)


@pytest.fixture
def data(store, event):
    data = store.read(CHAN)
    assert data is not None
    return data


# ---------------------------------------------------------------- parsing HTML


class Page(HTMLParser):
    """Every tag and attribute, every piece of text data with the elements
    around it, and the exchange's <li> elements."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[tuple[tuple[str, ...], str]] = []
        self.other: list[str] = []
        self.items: list[dict] = []
        self.current: dict | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "li" and a.get("id"):
            self.current = {"id": a["id"], "class": a.get("class"), "author": "", "text": "",
                            "datetime": None, "href": None}
            self.items.append(self.current)
        elif self.current is not None and tag == "time":
            self.current["datetime"] = a.get("datetime")
        elif self.current is not None and tag == "a":
            self.current["href"] = a.get("href")
        if tag not in VOID:
            self.stack.append((tag, a))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == "li":
            self.current = None
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        path = tuple(t if not a.get("class") else f"{t}.{a['class']}" for t, a in self.stack)
        self.data.append((path, data))
        if self.current is not None and path:
            if path[-1] == "strong":
                self.current["author"] += data
            elif path[-1] == "p.text":
                self.current["text"] += data

    def handle_comment(self, data):
        self.other.append("comment:" + data)

    def handle_pi(self, data):
        self.other.append("pi:" + data)

    def unknown_decl(self, data):
        self.other.append("decl:" + data)

    def text(self) -> str:
        return "".join(d for _, d in self.data)

    def attr_values(self) -> list[str]:
        return [v for _, a in self.tags for v in a.values() if v is not None]


def assert_inert_html(out: str) -> Page:
    """No markup but the template's; returns the parsed page."""
    assert "<script" not in out.lower()
    for tag in re.findall(r"<[^>]*>", out):
        assert "onerror" not in tag.lower() and "javascript:" not in tag.lower(), tag
    page = Page(out)
    assert {t for t, _ in page.tags} <= TEMPLATE_TAGS
    assert {k for _, a in page.tags for k in a} <= TEMPLATE_ATTRS
    assert page.other == []
    for value in page.attr_values():
        assert not value.lower().startswith("javascript:")
    assert not CONTROLS.search(out)
    return page


def md_to_html(text: str) -> str:
    # markdown-it-py is in the venv (through rich), not a declared test dependency.
    markdown_it = pytest.importorskip("markdown_it")
    # CommonMark with raw HTML allowed, plus GFM tables: the most permissive
    # common setting, so any escaping gap shows as a tag or a link.
    return markdown_it.MarkdownIt("commonmark").enable("table").render(text)


MD_TAGS = {"h1", "h2", "p", "em", "strong", "blockquote", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "code"}


# ================================================================ public transcript


# The exchange in reading order: each answer under its question, the answer
# to the deleted question where it was published.
READING = [
    ("message", "moda", "Welcome everyone", 5),
    ("question", "alice", "When will the library reopen", 20),
    ("answer", "mayor", "It reopens in March", 40),
    ("question", "carol", "What about the bus lines", 22),
    ("answer", "mayor", "New lines open in June", 60),
    ("answer", "mayor", "Please use the contact form", 45),
]


def test_public_exchange_in_reading_order_with_times_and_threads(data, event):
    t = build(data, now=T0 + 500)
    assert t["internal"] is False
    assert t["generated"] == iso(T0 + 500)
    assert t["timezone"] == "UTC"
    assert t["conference"]["channel"] == CHAN
    assert t["conference"]["title"] == "Ask the mayor"
    got = [(m["kind"], m["author"], m["text"], m["time"]) for m in t["messages"]]
    assert got == [(kind, who, text, iso(T0 + s)) for kind, who, text, s in READING]
    by_text = {m["text"]: m for m in t["messages"]}
    assert by_text["It reopens in March"]["reply_to"] == event.q1.msgid
    assert by_text["New lines open in June"]["reply_to"] == event.q3.msgid
    # The answer to the deleted question is kept, but does not point at it.
    assert by_text["Please use the contact form"]["reply_to"] is None
    assert by_text["When will the library reopen"]["item"] == event.q1.id
    assert by_text["When will the library reopen"]["msgid"] == event.q1.msgid
    assert by_text["When will the library reopen"]["role"] == "visitor"
    assert by_text["It reopens in March"]["role"] == "guest"
    assert by_text["Welcome everyone"]["role"] == "moderator"
    # Nothing internal in the public structure.
    assert not {"items", "audit", "deleted"} & set(t)


def test_public_transcript_leaves_out_deleted_dropped_and_undecided(data):
    for fmt in FORMATS:
        out = render(build(data, now=T0 + 500), fmt)
        flat = out.replace("\\", "")  # Markdown escapes
        for private in PRIVATE_TEXTS:
            assert private not in flat, (fmt, private)
        assert "When will the library reopen" in flat  # and the check can see text


def test_no_ip_address_anywhere_in_the_public_output(data):
    for fmt in FORMATS:
        for branding in (BrandingSection(), BrandingSection(organisation="Ville", language="fr")):
            out = render(build(data, now=T0 + 500), fmt, branding).replace("\\", "")
            for fragment in IP_FRAGMENTS:
                assert fragment not in out, (fmt, fragment)
            assert not IPV4.search(out), (fmt, IPV4.search(out))
    # The same check does see addresses where they belong: the archive.
    archive = render(build(data, internal=True), "txt")
    assert "198.51.100.7" in archive and "2001:db8::5" in archive


def test_public_html_exchange(data, event):
    out = render(build(data, now=T0 + 500), "html")
    page = assert_inert_html(out)
    items = page.items
    classes = ["message", "question", "answer", "question", "answer", "answer orphan"]
    assert [(i["class"], i["author"], i["text"]) for i in items] == [
        (cls, who, text) for cls, (_, who, text, _) in zip(classes, READING)
    ]
    assert [i["datetime"] for i in items] == [iso(T0 + s) for *_, s in READING]
    assert f"{hhmm(T0 + 40)} UTC" in page.text()
    ids = {i["id"] for i in items}
    assert items[2]["href"] == f"#m-{event.q1.msgid}"
    assert items[4]["href"] == f"#m-{event.q3.msgid}"
    assert items[5]["href"] is None
    assert "in reply to a deleted message" in page.text()
    assert all(i["href"] is None or i["href"][1:] in ids for i in items)  # no dangling link


def test_public_markdown_and_text_keep_the_reading_order(data):
    texts = [text for _, _, text, _ in READING]
    for fmt in ("md", "txt"):
        out = render(build(data, now=T0 + 500), fmt)
        positions = [out.find(t) for t in texts]
        assert -1 not in positions and positions == sorted(positions), fmt
    txt = render(build(data, now=T0 + 500), "txt").splitlines()
    assert f"[{iso(T0 + 20)}] alice (question): When will the library reopen" in txt
    assert f"    [{iso(T0 + 40)}] mayor (answer): It reopens in March" in txt
    md = render(build(data, now=T0 + 500), "md")
    assert f"**alice** (question, {hhmm(T0 + 20)} UTC): When will the library reopen" in md
    assert f"> **mayor** (answer, {hhmm(T0 + 40)} UTC): It reopens in March" in md
    # The answer to the deleted question is not quoted under the question before it.
    assert f"    [{iso(T0 + 45)}] mayor" not in txt
    assert f"[{iso(T0 + 45)}] mayor (answer) (in reply to a deleted message): Please use the contact form" in txt
    assert f"**mayor** (answer, in reply to a deleted message, {hhmm(T0 + 45)} UTC): Please use the contact form" in md
    assert "> **mayor** (answer, in reply" not in md


def test_public_json_round_trips(data):
    t = build(data, now=T0 + 500)
    assert json.loads(render(t, "json")) == t


def test_nothing_published(store):
    conf = Conference(ConferenceConfig(channel="#empty", title="Quiet"))
    Event(conf).submit(ALICE, "anyone?", T0)
    store.write([take_rows(conf)])
    t = build(store.read("#empty"))
    assert t["messages"] == []
    assert "Nothing was published." in render(t, "txt")
    assert "Rien n'a été publié." in render(t, "txt", BrandingSection(language="fr"))
    assert "<p>Nothing was published.</p>" in render(t, "html")
    assert "anyone" not in render(t, "html")


def test_unknown_format_is_refused(data):
    with pytest.raises(ValueError, match="pdf"):
        render(build(data), "pdf")


# ================================================================ internal archive


def test_archive_items_with_their_fate(data, event):
    t = build(data, internal=True, now=T0 + 500)
    assert t["internal"] is True
    items = {i["id"]: i for i in t["items"]}
    assert sorted(items) == [1, 2, 3, 4, 5, 6]
    fate = {i: (items[i]["state"], items[i]["decided_by"], items[i]["reason"]) for i in items}
    assert fate == {
        1: ("published", "moda", ""),
        2: ("dropped", "moda", "insults"),
        3: ("published", "moda", ""),
        4: ("published", "moda", ""),
        5: ("pending", "", ""),
        6: ("held", "", ""),
    }
    assert items[2]["decided"] == iso(T0 + 21)
    assert items[5]["decided"] == ""
    assert items[2]["text"] == "You are all crooks"
    assert items[3]["text"] == "What about the bus lines"
    assert items[3]["original"] == "wat about teh bus lines"
    assert items[1]["original"] is None
    assert items[1]["votes"] == 2
    assert items[4]["deleted"] is True and items[1]["deleted"] is False
    assert items[1]["address"] == ALICE
    assert items[5]["address"] == ERIN
    assert items[1]["submitted"] == iso(T0 + 10)


def test_archive_deleted_messages_with_who_and_when(data, event):
    t = build(data, internal=True)
    deleted = [(d["msgid"], d["author"], d["address"], d["text"], d["deleted_at"], d["deleted_by"]) for d in t["deleted"]]
    assert deleted == [
        (event.oops, "moda", MODA, "Wrong room sorry", iso(T0 + 56), "moda"),
        (event.q4.msgid, "dave", DAVE, "Call me on 555 0100", iso(T0 + 50), "moda"),
    ]
    # Deleted messages are not part of the exchange, even in the archive.
    assert "Call me on 555 0100" not in [m["text"] for m in t["messages"]]


def test_archive_audit_log(data, event):
    t = build(data, internal=True)
    assert [(a["actor"], a["action"], a["item"]) for a in t["audit"]] == [
        (e.actor, e.action, e.item) for e in event.conf.audit
    ]
    assert [a["action"] for a in t["audit"]][:3] == ["create", "submit", "submit"]
    edit = next(a for a in t["audit"] if a["action"] == "edit-approve")
    assert edit["detail"] == {"wait": 10.0, "original": "wat about teh bus lines", "text": "What about the bus lines"}
    redact = next(a for a in t["audit"] if a["action"] == "redact")
    assert redact["detail"] == {"msgid": event.q4.msgid, "reason": "personal data"}
    assert redact["time"] == iso(T0 + 50) and redact["item"] == event.q4.id


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "csv"])  # CSV: one row per item, below
def test_archive_in_every_format_has_everything(data, fmt):
    out = render(build(data, internal=True, now=T0 + 500), fmt)
    flat = out.replace("\\", "")
    for private in PRIVATE_TEXTS:
        assert private in flat, private
    assert "198.51.100.7" in flat  # addresses are for the archive
    for word in ("Deleted messages", "Moderation queue", "Audit log"):
        assert word in flat or fmt == "json"
    if fmt == "json":
        assert json.loads(out)["audit"][-1]["action"] == "answer"


def test_archive_html_tables(data):
    page = assert_inert_html(render(build(data, internal=True), "html"))
    headings = [d for path, d in page.data if path and path[-1] == "h2"]
    assert headings == ["Deleted messages", "Moderation queue", "Audit log"]
    cells = [d for path, d in page.data if path and path[-1] == "td"]
    assert "What about the bus lines (original: wat about teh bus lines)" in cells
    assert f"moda, {iso(T0 + 21)[:10]} {iso(T0 + 21)[11:19]} (reason: insults)" in cells
    assert "Call me on 555 0100" in cells
    assert "held" in cells and "pending" in cells  # the conference is not closed: still waiting
    # Audit details in words, not JSON.
    assert "wait: 10 s; original: wat about teh bus lines; text: What about the bus lines" in cells
    assert not [c for c in cells if c.startswith("{")]


# ================================================================ hostile content

HOSTILE = (
    '<script>alert(1)</script> <img src=x onerror=alert(1)> "quotes\' &amp; '
    "[link](javascript:alert(1)) **bold** \x02B\x02 \x0304,05red\x03 \x1dit\x1d "
    "a\r\nINJECTED: b\x00c\x1b[31md \u202eevil\u2067x\u2069 \tend"
)
HOSTILE_CLEAN = (
    '<script>alert(1)</script> <img src=x onerror=alert(1)> "quotes\' &amp; '
    "[link](javascript:alert(1)) **bold** B 04,05red it "
    "aINJECTED: bc[31md evilx  end"
)
EVIL_NICK = '"><img src=x onerror=alert(2)>\x02'
EVIL_NICK_CLEAN = '"><img src=x onerror=alert(2)>'
EVIL_STAFF = "m**[x](javascript:alert(3))**\u202e"
EVIL_STAFF_CLEAN = "m**[x](javascript:alert(3))**"
EVIL_TITLE = 'Town <b>hall</b> & "friends"\x03'
EVIL_DESCRIPTION = "line one\r\n<iframe src=//evil.example>\n# heading"


@pytest.fixture
def hostile(store):
    conf = Conference(ConferenceConfig(channel="#evil", title=EVIL_TITLE, description=EVIL_DESCRIPTION, state="live"))
    ev = Event(conf)
    q1 = ev.submit(f"{EVIL_NICK}!~x@198.51.100.66", HOSTILE, T0 + 1)
    q2 = ev.submit(f"{EVIL_NICK}!~x@198.51.100.66", "second " + HOSTILE, T0 + 2)
    q3 = ev.submit(f"{EVIL_NICK}!~x@198.51.100.66", "third " + HOSTILE, T0 + 3)
    ev.approve(q1, EVIL_STAFF, T0 + 10)
    ev.drop(q2, EVIL_STAFF, T0 + 11, reason="reason " + HOSTILE)
    ev.approve(q3, EVIL_STAFF, T0 + 12, text="edited " + HOSTILE)
    ev.answer(q1, f"{EVIL_STAFF}!~s@192.0.2.5", EVIL_STAFF, "answer " + HOSTILE, T0 + 20)
    gone = ev.say(f"{EVIL_STAFF}!~s@192.0.2.5", "deleted " + HOSTILE, T0 + 21)
    ev.redact(gone, EVIL_STAFF, T0 + 22, reason="why " + HOSTILE)
    store.write([take_rows(conf)])
    return store.read("#evil")


EVIL_BRANDING = BrandingSection(organisation='<Ville> & "Co"\u202e<script>x</script>', language="en")


def test_clean_removes_controls_and_bidi():
    assert clean(HOSTILE) == HOSTILE_CLEAN
    assert clean(HOSTILE) == inert(HOSTILE)
    assert clean("a\tb") == "a b"
    assert clean("caf\u00e9 \u00a0ok \U0001f600") == "caf\u00e9 \u00a0ok \U0001f600"  # ordinary text intact


@pytest.mark.parametrize("internal", [False, True], ids=["public", "internal"])
def test_hostile_json_round_trips_to_the_cleaned_text(hostile, internal):
    out = render(build(hostile, internal=internal), "json")
    assert not CONTROLS.search(out.replace("\n", ""))
    t = json.loads(out)
    assert [(m["author"], m["text"]) for m in t["messages"]] == [
        (EVIL_NICK_CLEAN, HOSTILE_CLEAN),
        (EVIL_STAFF_CLEAN, "answer " + HOSTILE_CLEAN),  # under its question
        (EVIL_NICK_CLEAN, "edited " + HOSTILE_CLEAN),
    ]
    assert t["conference"]["title"] == 'Town <b>hall</b> & "friends"'
    assert t["conference"]["description"] == "line one<iframe src=//evil.example># heading"
    if internal:
        items = {i["id"]: i for i in t["items"]}
        assert items[2]["reason"] == "reason " + HOSTILE_CLEAN
        assert items[3]["original"] == "third " + HOSTILE_CLEAN
        assert items[3]["decided_by"] == EVIL_STAFF_CLEAN
        assert t["deleted"][0]["text"] == "deleted " + HOSTILE_CLEAN
        assert t["deleted"][0]["deleted_by"] == EVIL_STAFF_CLEAN
        assert t["audit"][0]["detail"]["text"] == HOSTILE_CLEAN
        assert t["audit"][0]["actor"] == EVIL_NICK_CLEAN
        redact = next(a for a in t["audit"] if a["action"] == "redact")
        assert redact["detail"]["reason"] == "why " + HOSTILE_CLEAN


@pytest.mark.parametrize("internal", [False, True], ids=["public", "internal"])
def test_hostile_html_is_inert(hostile, internal):
    out = render(build(hostile, internal=internal), "html", EVIL_BRANDING)
    page = assert_inert_html(out)
    assert [(i["author"], i["text"]) for i in page.items] == [
        (EVIL_NICK_CLEAN, HOSTILE_CLEAN),
        (EVIL_STAFF_CLEAN, "answer " + HOSTILE_CLEAN),  # under its question
        (EVIL_NICK_CLEAN, "edited " + HOSTILE_CLEAN),
    ]
    # The answer's link is the template's, to its question.
    assert page.items[1]["href"] == f"#{page.items[0]['id']}"
    titles = [d for path, d in page.data if path and path[-1] in ("title", "h1")]
    kind = "Internal archive" if internal else "Transcript"
    assert titles == [f'{kind}: Town <b>hall</b> & "friends"'] * 2
    assert "line one<iframe src=//evil.example># heading" in page.text()
    assert '<Ville> & "Co"<script>x</script>' in page.text()
    # User text is nowhere in an attribute (the logo alt would be, but no logo here).
    for value in page.attr_values():
        assert "alert" not in value and "<" not in value
    if internal:
        cells = [d for path, d in page.data if path and path[-1] == "td"]
        assert any(c.endswith("(reason: reason " + HOSTILE_CLEAN + ")") for c in cells)
        assert any(c.endswith("(original: third " + HOSTILE_CLEAN + ")") for c in cells)
        assert "deleted " + HOSTILE_CLEAN in cells
        assert "text: " + HOSTILE_CLEAN in cells  # audit detail, in words


@pytest.mark.parametrize("internal", [False, True], ids=["public", "internal"])
def test_hostile_markdown_is_inert(hostile, internal):
    out = render(build(hostile, internal=internal), "md", EVIL_BRANDING)
    assert not CONTROLS.search(out)
    # Outside code spans (the audit details), no raw "<" and no unescaped
    # bracket, so neither HTML nor a link can form.
    prose = re.sub(r"`[^`\n]*`", "", out)
    assert "<" not in prose
    assert not re.search(r"(?<!\\)[\[\]]", prose)
    assert not re.search(r"(?<!\\)\*\*bold", prose)
    assert "\\*\\*bold\\*\\*" in prose
    assert ("third " in out) == internal  # the archive's table is there to be checked


@pytest.mark.parametrize("internal", [False, True], ids=["public", "internal"])
def test_hostile_markdown_renders_as_text(hostile, internal):
    out = render(build(hostile, internal=internal), "md", EVIL_BRANDING)
    # Rendered by a permissive CommonMark renderer: no tag or link from user text.
    rendered = md_to_html(out)
    page = Page(rendered)
    assert {t for t, _ in page.tags} <= MD_TAGS
    assert all(not a for _, a in page.tags)  # no href, no src, no onerror
    strong = [d for path, d in page.data if path and path[-1] == "strong"]
    assert "bold" not in strong
    text = page.text()
    assert HOSTILE_CLEAN in text
    assert "edited " + HOSTILE_CLEAN in text and "answer " + HOSTILE_CLEAN in text
    assert ("third " + HOSTILE_CLEAN in text) == internal
    assert ("reason " + HOSTILE_CLEAN in text) == internal
    assert '<Ville> & "Co"<script>x</script>' in text


@pytest.mark.parametrize("internal", [False, True], ids=["public", "internal"])
def test_hostile_text_cannot_add_lines(hostile, internal):
    out = render(build(hostile, internal=internal), "txt", EVIL_BRANDING)
    assert out.endswith("\n")
    lines = out[:-1].split("\n")
    for line in lines:
        assert not CONTROLS.search(line), repr(line)
        assert not line.startswith("INJECTED")
        assert "\r" not in line
    # Every line with user text is one entry that starts with its own header.
    injected = [line for line in lines if "INJECTED" in line]
    assert injected and all(re.match(r"^(    )?\[|^#\d+ |^Transcript:|^Internal archive:", l) for l in injected)
    if not internal:
        assert len(injected) == 3
        assert lines[0] == 'Transcript: Town <b>hall</b> & "friends"'
        assert lines[1] == '<Ville> & "Co"<script>x</script>'
        assert lines[2] == "line one<iframe src=//evil.example># heading"


def test_unicode_line_separators_cannot_add_lines(store):
    conf = Conference(ConferenceConfig(channel="#sep", title="Sep", state="live"))
    ev = Event(conf)
    q = ev.submit(ALICE, "real question\u2028[2023-11-14T22:20:00Z] mayor (answer): Yes, free tickets\u2029!", T0)
    ev.approve(q, "moda", T0 + 1)
    store.write([take_rows(conf)])
    out = render(build(store.read("#sep")), "txt")
    assert out.splitlines() == out[:-1].split("\n")


# -- any text at all


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    store = Store(str(tmp_path_factory.mktemp("prop") / "confchat.sqlite3"), "normal")
    store.open()
    counter = iter(range(10**6))
    yield store, counter
    store.close()


def _one_question(scratch, text):
    store, counter = scratch
    channel = f"#p{next(counter)}"
    conf = Conference(ConferenceConfig(channel=channel, title="P", state="live"))
    ev = Event(conf)
    q = ev.submit(ALICE, text, T0)
    ev.approve(q, "moda", T0 + 1)
    store.write([take_rows(conf)])
    return build(store.read(channel))


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=1, max_size=60))
def test_any_text_is_only_text_in_html(scratch, text):
    out = render(_one_question(scratch, text), "html")
    page = assert_inert_html(out)
    assert [i["text"] for i in page.items] == [inert(text)]


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=60)
       | st.text(alphabet="<>[]()!*_`~#\\&;:/|-+.=\"' ajx\t\n\x02\u202e", min_size=1, max_size=40))
def test_any_text_is_only_text_in_markdown(scratch, text):
    out = render(_one_question(scratch, text), "md")
    page = Page(md_to_html(out))
    assert {t for t, _ in page.tags} <= MD_TAGS
    assert all(not a for _, a in page.tags)
    paragraph = [d for path, d in page.data if path == ("p",)]
    assert paragraph[0] == "Times: UTC"  # the header's paragraph, then the one entry
    paragraph = paragraph[1:]
    assert len(paragraph) == 1

    def words(s):
        return " ".join(s.split())

    assert words(paragraph[0]) == words(f" (question, {hhmm(T0 + 1)} UTC): " + inert(text))


def test_md_escape():
    assert md_escape("[a](b)") == "\\[a\\]\\(b\\)"
    assert md_escape("<b>&") == "&lt;b&gt;&amp;"
    assert md_escape("*_`#|~!") == "\\*\\_\\`\\#\\|\\~\\!"
    assert md_escape("a\nb\x02") == "ab"


# ================================================================ branding and self-containment


def _head(page: Page) -> dict:
    html_attrs = next(a for t, a in page.tags if t == "html")
    metas = [a for t, a in page.tags if t == "meta"]
    style = "".join(d for path, d in page.data if path and path[-1] == "style")
    return {"lang": html_attrs.get("lang"), "metas": metas, "style": style}


def test_html_is_self_contained(data):
    out = render(build(data, internal=True), "html")
    page = assert_inert_html(out)
    tags = {t for t, _ in page.tags}
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    assert "@import" not in out and "url(" not in out
    assert out.startswith("<!DOCTYPE html>")
    csp = [m["content"] for m in _head(page)["metas"] if (m.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(csp) == 1
    directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp[0].split(";") if d.strip()}
    assert directives["default-src"] == ["'none'"]
    assert "script-src" not in directives
    assert not any(a.get("src") for t, a in page.tags)  # no logo configured: nothing loaded


@pytest.mark.parametrize("language, lang_words, other_words", [
    ("en", ("Transcript:", "Answer", "in reply to", "Generated"), ("Transcription", "Réponse", "en réponse à")),
    ("fr", ("Transcription:", "Réponse", "en réponse à", "Généré"), ("Transcript:", "in reply to", "Generated")),
])
def test_language(data, language, lang_words, other_words):
    out = render(build(data, now=T0), "html", BrandingSection(language=language))
    page = Page(out)
    assert _head(page)["lang"] == language
    text = page.text()
    for word in lang_words:
        assert word in text
    for word in other_words:
        assert word not in text
    archive = Page(render(build(data, internal=True), "html", BrandingSection(language=language))).text()
    assert ("Journal d'audit" in archive) == (language == "fr")
    assert ("Audit log" in archive) == (language == "en")
    md = render(build(data), "md", BrandingSection(language=language))
    assert md.startswith("# Transcription: " if language == "fr" else "# Transcript: ")


def test_organisation_shown_escaped(data):
    org = 'Ville de <Lyon> & "Co"'
    out = render(build(data), "html", BrandingSection(organisation=org))
    assert "Ville de &lt;Lyon&gt; &amp; &quot;Co&quot;" in out
    assert "<Lyon>" not in out
    page = assert_inert_html(out)
    header = [d for path, d in page.data if path[-2:] == ("header", "p")]
    assert header == [org, "Budget questions"]  # organisation, then the description
    assert '*Ville de &lt;Lyon&gt; &amp; "Co"*' in render(build(data), "md", BrandingSection(organisation=org))
    assert render(build(data), "txt", BrandingSection(organisation=org)).splitlines()[1] == org


@pytest.mark.parametrize("colour, shown", [
    ("#c0ffee", "#c0ffee"),
    ("teal", "teal"),
    ("red;}</style><script>alert(1)</script>", "#1d4f91"),
    ("url(https://evil.example/x.png)", "#1d4f91"),
    ("#123;background:url(//evil)", "#1d4f91"),
    ("", "#1d4f91"),
])
def test_colour_is_validated(data, colour, shown):
    out = render(build(data), "html", BrandingSection(colour=colour))
    page = assert_inert_html(out)
    style = _head(page)["style"]
    assert re.search(r"--brand:([^}]*)}", style).group(1) == shown
    assert "evil" not in out and "</style><" not in style


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_logo_file_is_embedded(data, tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    out = render(build(data), "html", BrandingSection(logo=str(logo), organisation="Ville <de> Lyon"))
    page = assert_inert_html(out)
    imgs = [a for t, a in page.tags if t == "img"]
    assert len(imgs) == 1
    src = imgs[0]["src"]
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    assert base64.b64decode(src[len(prefix):]) == PNG
    assert imgs[0]["alt"] == "Ville <de> Lyon"
    assert str(tmp_path) not in out  # the path itself is not published


@pytest.mark.parametrize("logo", [
    "http://insecure.example/logo.png",
    "//cdn.example/logo.png",
    "javascript:alert(1)",
    "/no/such/file.png",
])
def test_unusable_logo_is_ignored(data, logo):
    out = render(build(data), "html", BrandingSection(logo=logo))
    page = assert_inert_html(out)
    assert not [a for t, a in page.tags if t == "img"]
    assert "example" not in out and "alert" not in out


def test_logo_not_an_image_is_ignored(data, tmp_path):
    secret = tmp_path / "notes.txt"
    secret.write_text("not a logo")
    out = render(build(data), "html", BrandingSection(logo=str(secret)))
    assert "<img" not in out and base64.b64encode(b"not a logo").decode() not in out


def test_https_logo_is_linked(data):
    url = "https://city.example/logo.png?a=1&b=2"
    page = assert_inert_html(render(build(data), "html", BrandingSection(logo=url)))
    assert [a["src"] for t, a in page.tags if t == "img"] == [url]


# ================================================================ files when a conference closes


def _config(tmp_path, formats=("html", "md", "txt"), **branding):
    return Config(
        server=ServerSection(data_dir=str(tmp_path / "data")),
        storage=StorageSection(transcripts=formats),
        branding=BrandingSection(**branding),
    )


def _stamp(ts, channel="#townhall"):
    """The name's time stamp, after the channel's short hash."""
    digest = hashlib.sha256(channel.encode()).hexdigest()[:6]
    return digest + "-" + datetime.fromtimestamp(ts, timezone.utc).strftime("%Y%m%d-%H%M%S")


def test_closing_writes_the_configured_formats_and_the_archive(store, event, tmp_path):
    other = Conference(ConferenceConfig(channel="#Other", title="Still going", state="live"))
    Event(other).say(MODA, "hello", T0 + 1)
    store.write([take_rows(other)])

    config = _config(tmp_path, language="fr")
    event.ev.state("closed", "moda", T0 + 100)
    Event(other).state("open", "moda", T0 + 100)
    batch = [take_rows(event.conf), take_rows(other)]
    store.write(batch)
    now = T0 + 101
    written = write_closed_transcripts(config, store, batch, now=now)

    directory = tmp_path / "data" / "transcripts"
    stamp = _stamp(now)
    expected = {f"townhall-{stamp}.html", f"townhall-{stamp}.md", f"townhall-{stamp}.txt",
                f"townhall-{stamp}-internal.json"}
    assert sorted(os.listdir(directory)) == sorted(expected)  # nothing half-written left, nothing for #Other
    assert sorted(os.path.basename(p) for p in written) == sorted(expected)
    assert all(os.path.dirname(p) == str(directory) for p in written)

    html_text = (directory / f"townhall-{stamp}.html").read_text(encoding="utf-8")
    page = assert_inert_html(html_text)
    assert _head(page)["lang"] == "fr"
    assert "New lines open in June" in [i["text"] for i in page.items]  # from the earlier batches too
    for fmt in ("html", "md", "txt"):
        public = (directory / f"townhall-{stamp}.{fmt}").read_text(encoding="utf-8").replace("\\", "")
        assert "When will the library reopen" in public
        assert not IPV4.search(public) and "2001:db8" not in public
        assert "You are all crooks" not in public
    archive = json.loads((directory / f"townhall-{stamp}-internal.json").read_text(encoding="utf-8"))
    assert archive["internal"] is True
    assert archive["generated"] == iso(now)
    assert archive["conference"]["state"] == "closed"
    assert archive["audit"][-1]["action"] == "state" and archive["audit"][-1]["detail"] == {"state": "closed"}
    assert {i["state"] for i in archive["items"]} == {"published", "dropped", "pending", "held"}


def test_no_transcript_without_a_close(store, event, tmp_path):
    config = _config(tmp_path)
    event.ev.state("open", "moda", T0 + 100)  # a state change, not a close
    batch = [take_rows(event.conf)]
    store.write(batch)
    assert write_closed_transcripts(config, store, batch, now=T0 + 101) == []
    event.ev.say(MODA, "the end", T0 + 102)
    batch = [take_rows(event.conf)]
    store.write(batch)
    assert write_closed_transcripts(config, store, batch, now=T0 + 103) == []
    assert not (tmp_path / "data" / "transcripts").exists()


def test_default_formats_are_html_and_json(store, event, tmp_path):
    config = Config(server=ServerSection(data_dir=str(tmp_path / "data")))
    event.ev.state("closed", "moda", T0 + 100)
    batch = [take_rows(event.conf)]
    store.write(batch)
    written = write_closed_transcripts(config, store, batch, now=T0 + 100)
    names = sorted(os.path.basename(p) for p in written)
    stamp = _stamp(T0 + 100)
    assert names == [f"townhall-{stamp}-internal.json", f"townhall-{stamp}.html", f"townhall-{stamp}.json"]
    public = json.loads((tmp_path / "data" / "transcripts" / f"townhall-{stamp}.json").read_text())
    assert public["internal"] is False and "audit" not in public


def test_transcripts_can_be_switched_off(store, event, tmp_path):
    config = _config(tmp_path, formats=())
    event.ev.state("closed", "moda", T0 + 100)
    batch = [take_rows(event.conf)]
    store.write(batch)
    assert write_closed_transcripts(config, store, batch, now=T0 + 100) == []
    assert not (tmp_path / "data").exists()


def test_two_conferences_closed_together_keep_their_own_files(store, tmp_path):
    first = townhall(store, "#town.hall")
    second = townhall(store, "#town-hall")
    first.ev.state("closed", "moda", T0 + 100)
    second.ev.state("closed", "moda", T0 + 100)
    batch = [take_rows(first.conf), take_rows(second.conf)]
    store.write(batch)
    written = write_closed_transcripts(_config(tmp_path, formats=("json",)), store, batch, now=T0 + 100)
    assert len(set(written)) == len(written) == 4
    channels = sorted(
        json.loads((tmp_path / "data" / "transcripts" / name).read_text())["conference"]["channel"]
        for name in os.listdir(tmp_path / "data" / "transcripts")
    )
    assert channels == ["#town-hall", "#town-hall", "#town.hall", "#town.hall"]
