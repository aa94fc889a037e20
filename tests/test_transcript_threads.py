"""Transcripts of an event driven by the real moderation engine: answers
read under their question in every format whatever the order they were
published in (answers to older questions after newer ones, prepared answers
published in reply, several answers to one question), times in the
configured zone, the branding, CSV read back with ``csv``, the archive in
words with the closing summary, and ``confchat export --config``.

The bug this guards: a prepared answer published in reply to the tram
question came out under the bike-lanes question (the question published
just before it) in html, md and txt.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import datetime, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from confchat.cli import main
from confchat.config import BrandingSection, ConferenceConfig
from confchat.moderation.conference import Conference
from confchat.moderation.engine import Actor, Engine
from confchat.storage.rows import take_rows
from confchat.storage.sqlite import Store
from confchat.transcript import build, render
from confchat.vocab import ConferenceState

from test_transcript import Page, assert_inert_html, md_to_html

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC, 23:13:20 in Paris (CET)
SUMMER = 1_720_000_000.0  # 2024-07-03 09:46:40 UTC, 11:46:40 in Paris (CEST)
CHAN = "#tram"

MODA = Actor(1, "moda", "moda!~moda@192.0.2.10", account="moda")
MAYOR = Actor(2, "mayor", "mayor!~mayor@192.0.2.20", account="mayor", echo=True)
ALICE = Actor(11, "alice", "alice!~alice@198.51.100.7")
BOB = Actor(12, "bob", "bob!~bob@198.51.100.8")
CAROL = Actor(13, "carol", "carol!~carol@198.51.100.9")
DAVE = Actor(14, "dave", "dave!~dave@198.51.100.10")

TRAM = "When will the tram reach the north?"
BIKES = "What about the bike lanes?"
PARKING = "Will parking get dearer?"
BIKES_ANSWER = "Twelve kilometres of bike lanes this spring."
TRAM_PREPARED = "The tram reaches the north in 2027."
TRAM_MORE = "And the second line in 2029."
PARKING_PREPARED = "No rise this year."
THANKS = "Thank you all for coming."

# The reading order, whatever the publication order: (kind, author, text, reply to).
READING = [
    ("question", "alice", TRAM, None),
    ("answer", "mayor", TRAM_PREPARED, TRAM),
    ("answer", "mayor", TRAM_MORE, TRAM),
    ("question", "bob", BIKES, None),
    ("answer", "mayor", BIKES_ANSWER, BIKES),
    ("question", "carol", PARKING, None),
    ("answer", "mayor", PARKING_PREPARED, PARKING),
    ("message", "moda", THANKS, None),
]


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def event(store: Store, start: float = T0, close: bool = True) -> SimpleNamespace:
    """An event as the server runs it: the engine decides, storage commits."""
    clock = Clock(start)
    ids = itertools.count(1)
    engine = Engine(clock, lambda: f"m{next(ids):03d}")
    conf = Conference(ConferenceConfig(channel=CHAN, title="The tram line", description="Ask the mayor",
                                       moderators=("moda",), guests=("mayor",), state="live", slow_mode=0))

    def at(seconds):
        clock.now = start + seconds

    def held(effects):
        return next(int(e.context[0]) for e in effects if getattr(e, "code", None) == "HELD")

    for visitor in (ALICE, BOB, CAROL, DAVE):
        engine.joined(conf, visitor)
    at(1)
    tram = held(engine.submit(conf, ALICE, TRAM))
    at(2)
    bikes = held(engine.submit(conf, BOB, BIKES))
    at(3)
    parking = held(engine.submit(conf, CAROL, PARKING))
    at(4)
    late = held(engine.submit(conf, DAVE, "Is the pool open on Sundays?"))
    at(4.5)
    rude = held(engine.submit(conf, DAVE, "You are all clowns"))
    engine.prepare(conf, MAYOR, "tram", TRAM_PREPARED)
    engine.prepare(conf, MAYOR, "parking", PARKING_PREPARED)
    at(10)
    engine.approve(conf, MODA, tram)  # 9 s
    at(20)
    engine.approve(conf, MODA, bikes)  # 18 s
    store.write([take_rows(conf)])  # a commit mid-event, as the journal makes them
    at(30)
    engine.answer(conf, MAYOR, bikes, BIKES_ANSWER)
    at(40)
    engine.publish_prepared(conf, MAYOR, "tram", tram)  # after the bike lanes: read under the tram
    at(50)
    engine.drop(conf, MODA, rude, "insults")  # 45.5 s
    at(60)
    engine.answer(conf, MAYOR, tram, TRAM_MORE)
    at(70)
    engine.publish_prepared(conf, MAYOR, "parking", parking)  # publishes the question too (67 s)
    at(80)
    engine.speak(conf, MODA, "PRIVMSG", THANKS, {})
    if close:
        at(90)
        engine.set_state_by_hand(conf, MODA, ConferenceState.CLOSED)
    store.write([take_rows(conf)])
    return SimpleNamespace(conf=conf, tram=tram, bikes=bikes, parking=parking, late=late, rude=rude, data=store.read(CHAN))


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "confchat.sqlite3"), "normal")
    store.open()
    yield store
    store.close()


@pytest.fixture
def ev(store):
    return event(store)


def paris(ts: float, fmt: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo("Europe/Paris")).strftime(fmt)


# ================================================================ reading order in every format


def test_json_reads_each_answer_under_its_question(ev):
    t = json.loads(render(build(ev.data), "json"))
    by_msgid = {m["msgid"]: m for m in t["messages"]}
    got = [(m["kind"], m["author"], m["text"], by_msgid[m["reply_to"]]["text"] if m["reply_to"] else None)
           for m in t["messages"]]
    assert got == READING
    # Published in another order: the bike-lanes answer came before the tram's.
    times = {m["text"]: m["time"] for m in t["messages"]}
    assert times[BIKES_ANSWER] < times[TRAM_PREPARED] < times[TRAM_MORE]
    question = t["messages"][0]
    assert (question["answered"], question["asked"], question["item"]) == (True, "2023-11-14T22:13:21Z", ev.tram)


def test_text_indents_each_answer_under_its_question(ev):
    lines = render(build(ev.data), "txt").splitlines()
    body = [line for line in lines if line.lstrip().startswith("[")]
    assert [(line.startswith("    "), line.split(": ", 1)[1]) for line in body] == [
        (kind == "answer", text) for kind, _, text, _ in READING
    ]


def test_markdown_quotes_each_answer_under_its_question(ev):
    md = render(build(ev.data), "md")
    entries = [line for line in md.splitlines() if line.startswith(("**", "> **"))]
    assert [(line.startswith("> "), line.rsplit(": ", 1)[1].replace("\\", "")) for line in entries] == [
        (kind == "answer", text) for kind, _, text, _ in READING
    ]
    # Rendered, each answer is a blockquote right after its question's paragraph.
    page = Page(md_to_html(md))
    blocks = [("blockquote" in path, d) for path, d in page.data if path and path[-1] == "p" and d.startswith(" (")]
    assert [(quoted, text.rsplit(": ", 1)[1]) for quoted, text in blocks] == [
        (kind == "answer", text) for kind, _, text, _ in READING
    ]


def test_html_links_each_answer_to_the_question_above_it(ev):
    page = assert_inert_html(render(build(ev.data), "html"))
    items = page.items
    assert [(i["class"], i["author"], i["text"]) for i in items] == [(k, a, t) for k, a, t, _ in READING]
    ids = [i["id"] for i in items]
    for n, (item, (_, _, _, question)) in enumerate(zip(items, READING)):
        if question is None:
            assert item["href"] is None
            continue
        target = ids.index(item["href"][1:])
        assert items[target]["text"] == question
        # The question it answers is the nearest question above it.
        above = [i for i in items[:n] if i["class"] == "question"]
        assert above[-1]["text"] == question


def test_csv_rows_answers_under_their_question(ev):
    rows = list(csv.DictReader(io.StringIO(render(build(ev.data), "csv").removeprefix("\ufeff"))))
    assert [(r["kind"], r["author"], r["text"]) for r in rows] == [(k, a, t) for k, a, t, _ in READING]
    questions = {r["text"]: r for r in rows if r["kind"] == "question"}
    for row, (_, _, _, question) in zip(rows, READING):
        assert row["reply_to"] == (questions[question]["id"] if question else "")
    assert questions[TRAM]["id"] == str(ev.tram)
    assert questions[TRAM]["answered"] == "yes" and questions[TRAM]["state"] == "published"
    assert questions[TRAM]["asked at (UTC)"] == "2023-11-14 22:13:21"
    assert questions[TRAM]["published at (UTC)"] == "2023-11-14 22:13:30"
    assert rows[1]["published at (UTC)"] == "2023-11-14 22:14:00"  # the prepared answer, at +40 s
    assert questions[TRAM]["votes"] == "0"
    assert "Is the pool open" not in render(build(ev.data), "csv")  # undecided: not public


def test_a_deleted_question_leaves_its_answer_in_place_and_says_so(store):
    ev = event(store, close=False)
    clock_engine = Engine(lambda: T0 + 85, lambda: "m999")
    clock_engine.redact(ev.conf, MODA, ev.conf.queue.items[ev.bikes].msgid)
    store.write([take_rows(ev.conf)])
    t = build(store.read(CHAN))
    texts = [(m["kind"], m["text"], m["reply_to"]) for m in t["messages"]]
    assert ("answer", BIKES_ANSWER, None) in texts
    # Not read under the tram question it followed in publication order.
    txt = render(t, "txt")
    assert f"    [{datetime.fromtimestamp(T0 + 30, timezone.utc):%Y-%m-%dT%H:%M:%SZ}]" not in txt
    assert "(answer) (in reply to a deleted message): " + BIKES_ANSWER in txt


# ================================================================ time zone and branding


def test_times_in_the_configured_zone(ev):
    t = build(ev.data, now=T0 + 100, timezone_name="Europe/Paris")
    assert t["timezone"] == "Europe/Paris"
    assert t["messages"][0]["time"] == "2023-11-14T23:13:30+01:00"
    assert t["generated"] == "2023-11-14T23:15:00+01:00"
    txt = render(t, "txt")
    assert "Times: Europe/Paris" in txt.splitlines()
    assert f"[2023-11-14T23:13:30+01:00] alice (question): {TRAM}" in txt
    md = render(t, "md")
    assert "**alice** (question, 23:13 CET): " in md
    page = assert_inert_html(render(t, "html"))
    assert page.items[0]["datetime"] == "2023-11-14T23:13:30+01:00"
    assert "23:13 CET" in page.text() and "UTC" not in page.text()
    rows = list(csv.DictReader(io.StringIO(render(t, "csv").removeprefix("\ufeff"))))
    assert rows[0]["published at (Europe/Paris)"] == "2023-11-14 23:13:30"
    # The same instants as in UTC.
    utc = build(ev.data)
    assert [datetime.fromisoformat(m["time"].replace("Z", "+00:00")) for m in utc["messages"]] == [
        datetime.fromisoformat(m["time"]) for m in t["messages"]
    ]


def test_summer_time_is_kept(store):
    t = build(event(store, start=SUMMER).data, timezone_name="Europe/Paris")
    assert t["messages"][0]["time"] == paris(SUMMER + 10, "%Y-%m-%dT%H:%M:%S+02:00")
    assert f"{paris(SUMMER + 10, '%H:%M')} CEST" in render(t, "md")


def test_unknown_zone_is_refused(ev):
    with pytest.raises(ValueError, match="Mars/Olympus"):
        build(ev.data, timezone_name="Mars/Olympus")


def test_branding_in_html_md_and_txt(ev, tmp_path):
    branding = BrandingSection(organisation="Ville de Lyon", colour="#c0ffee", language="fr")
    t = build(ev.data, timezone_name="Europe/Paris")
    page = assert_inert_html(render(t, "html", branding))
    header = [d for path, d in page.data if path[-2:] == ("header", "p")]
    assert header == ["Ville de Lyon", "Ask the mayor"]
    assert "--brand:#c0ffee" in render(t, "html", branding)
    assert "Heures : Europe/Paris" not in page.text() and "Heures: Europe/Paris" in page.text()
    assert "Réponse" in page.text()
    assert render(t, "txt", branding).splitlines()[:2] == ["Transcription: The tram line", "Ville de Lyon"]
    assert "*Ville de Lyon*" in render(t, "md", branding)


# ================================================================ the internal archive


def test_archive_summary_and_not_taken(ev):
    t = build(ev.data, internal=True, timezone_name="Europe/Paris")
    # Waits: 9, 18, 45.5 (rounded to 46) and 67 s; median (18 + 46) / 2.
    assert t["summary"] == {"peak_audience": 4, "asked": 5, "published": 3, "answered": 3, "dropped": 1,
                            "not_taken": 1, "median_wait": 32.0}
    items = {i["id"]: i for i in t["items"]}
    assert (items[ev.late]["state"], items[ev.late]["not_taken"]) == ("pending", True)
    assert not items[ev.tram]["not_taken"] and items[ev.tram]["answered"]
    txt = render(t, "txt")
    for line in ("Summary", "Peak audience: 4", "Questions asked: 5", "Published: 3", "Answered: 3", "Dropped: 1",
                 "Not taken (undecided at the close): 1", "Median wait from question to decision: 32 s"):
        assert line in txt.splitlines(), line
    assert re.search(rf"^#{ev.late} not-taken .*Is the pool open on Sundays\?$", txt, re.M)
    page = assert_inert_html(render(t, "html"))
    summary = [d for path, d in page.data if path and path[-1] in ("th", "td")][:4]
    assert summary == ["Peak audience", "4", "Questions asked", "5"]
    cells = [d for path, d in page.data if path and path[-1] == "td"]
    assert "not-taken" in cells
    md = render(t, "md")
    assert "- Median wait from question to decision: 32 s" in md
    rows = list(csv.DictReader(io.StringIO(render(t, "csv").removeprefix("\ufeff"))))
    by_id = {r["id"]: r for r in rows}
    assert by_id[str(ev.late)]["state"] == "not-taken"
    assert by_id[str(ev.rude)]["state"] == "dropped" and by_id[str(ev.rude)]["published at (Europe/Paris)"] == ""


def test_archive_audit_details_are_words(ev):
    t = build(ev.data, internal=True)
    txt = render(t, "txt")
    assert f"moda drop #{ev.rude} (reason: insults; wait: 45.5 s)" in txt
    assert "{" not in "\n".join(line for line in txt.splitlines() if line.startswith("["))
    cells = [d for path, d in assert_inert_html(render(t, "html")).data if path and path[-1] == "td"]
    assert "peak audience: 4; asked: 5; published: 3; answered: 3; dropped: 1; not taken: 1; median wait: 32 s" in cells


def test_archive_page_fits_and_prints(ev):
    out = render(build(ev.data, internal=True), "html")
    style = out[out.index("<style>"):out.index("</style>")]
    assert "table-layout:fixed" in style and "overflow-wrap:anywhere" in style
    assert "@media print{" in style
    printed = style[style.index("@media print{"):]
    assert "thead{display:table-header-group}" in printed and "break-inside:avoid" in printed
    assert '<body class="archive">' in out
    assert '<body class="archive">' not in render(build(ev.data), "html")


# ================================================================ CSV


def test_csv_cells_cannot_be_formulas(store):
    clock = Clock(T0)
    engine = Engine(clock, lambda: "m1")
    conf = Conference(ConferenceConfig(channel="#x", title="X", state="live", mode="open", slow_mode=0))
    engine.joined(conf, ALICE)
    engine.submit(conf, Actor(20, "=cmd", "=cmd!~x@198.51.100.1"), '=HYPERLINK("http://evil.example","click")')
    store.write([take_rows(conf)])
    text = render(build(store.read("#x")), "csv")
    assert text.startswith("\ufeffid,kind,author,")
    assert text.endswith("\r\n")
    row = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))[0]
    assert row["text"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert row["author"] == "'=cmd"
    assert row["kind"] == "question"


# ================================================================ confchat export --config


def test_cli_export_takes_branding_and_time_zone_from_the_config(store, tmp_path, capsys):
    event(store)
    store.close()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\ndata_dir = "{tmp_path}"\ntimezone = "Europe/Paris"\n'
        '[branding]\norganisation = "Ville de Lyon"\n', encoding="utf-8",
    )
    assert main(["export", CHAN, "--config", str(config), "--format", "txt"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[1] == "Ville de Lyon" and "Times: Europe/Paris" in lines
    assert f"[2023-11-14T23:13:30+01:00] alice (question): {TRAM}" in lines
    target = tmp_path / "tram.csv"
    assert main(["export", CHAN, "--config", str(config), "--format", "csv", "--internal", "-o", str(target)]) == 0
    raw = target.read_bytes()
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw and b"\r\r\n" not in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {r["state"] for r in rows if r["kind"] == "question"} == {"published", "dropped", "not-taken"}


def test_cli_refuses_an_unknown_zone(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path}"\ntimezone = "Europe/Atlantis"\n', encoding="utf-8")
    assert main(["export", CHAN, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "server.timezone" in err and "Europe/Atlantis" in err
