"""The event's finish over real TCP sockets, against the real server
process: a moderator closes the conference while a visitor's question
waits and another question is being answered. The visitor is told its
question was not taken, everyone sees "now answering" cleared, the staff get
the summary; then the session is exported (a CSV download link, and the
transcripts written at the close) with the configured time zone and
branding, and the archive keeps the question as not taken."""

from __future__ import annotations

import csv
import http.client
import io
import json
import re

from confchat.core.passwords import hash_password
from conftest import wait_until

CHAN = "#townhall"
PASSWORDS = {"modA": "modA-secret", "mayor": "mayor-secret"}
CONFIG = {
    "limits": {"flood_burst": 1000},
    "server": {"timezone": "Europe/Paris"},
    "branding": {"organisation": "Ville de Lyon"},
    "storage": {"transcripts": ["html", "csv"]},
    "accounts": [{"name": name, "password_hash": hash_password(pw)} for name, pw in PASSWORDS.items()],
    "conferences": [{
        "channel": CHAN, "title": "Ask the mayor", "moderators": ["modA"], "guests": ["mayor"],
        "state": "live", "mode": "moderated",
    }],
}
STAFF_CAPS = ("message-tags", "echo-message", "standard-replies")
VISITOR_CAPS = ("message-tags", "standard-replies")
TRAM = "When will the tram reach the north?"
POOL = "Is the pool open on Sundays?"


def joined(server, nick, caps, account=None):
    client = server.client()
    client.register(nick, caps=caps, sasl=(account, PASSWORDS[account]) if account else None)
    client.send(f"JOIN {CHAN}")
    client.expect(lambda m: m.command == "366")
    client.roundtrip()
    return client


def test_closing_with_a_pending_question(start_server, tmp_path):
    server = start_server(CONFIG)
    moda = joined(server, "modA", STAFF_CAPS, "modA")
    mayor = joined(server, "mayor", STAFF_CAPS, "mayor")
    carol = joined(server, "carol", VISITOR_CAPS)
    dave = joined(server, "dave", VISITOR_CAPS)

    carol.send(f"PRIVMSG {CHAN} :{TRAM}")
    held = carol.expect(lambda m: m.command == "NOTE" and m.params[1] == "HELD")
    tram = held.params[3]
    carol.send(f"PRIVMSG {CHAN} :{POOL}")
    pool = carol.expect(lambda m: m.command == "NOTE" and m.params[1] == "HELD").params[3]
    moda.send(f"QUEUE {CHAN} APPROVE {tram}")
    carol.expect(lambda m: m.command == "NOTE" and m.params[1] == "PUBLISHED")
    moda.send(f"CONF {CHAN} ANSWERING {tram}")
    dave.expect(lambda m: m.command == "NOTICE" and m.tags.get("confchat/answering") == tram)
    for client in (moda, mayor, carol, dave):
        client.roundtrip()
        client.drain(0.05)

    moda.send(f"CONF {CHAN} STATE closed")

    # Everyone: the close; the visitor: told its waiting question was not
    # taken; everyone: "now answering" cleared (an empty answering tag).
    for client in (carol, dave):
        client.expect(lambda m: m.command == "NOTICE" and m.tags.get("confchat/state") == "closed")
        if client is carol:
            note = carol.expect(lambda m: m.command == "NOTE")
            assert note.params == ("PRIVMSG", "NOT_TAKEN", CHAN, pool,
                                   "The conference closed before your message was taken")
        cleared = client.expect(lambda m: m.command == "NOTICE")
        assert (cleared.tags.get("confchat/answering"), cleared.params[-1]) == ("", "No question is being answered now")
    assert not [m for m in dave.received if m.command == "NOTE" and m.params[1] == "NOT_TAKEN"]
    # The staff: the summary. Peak 2 (carol and dave), 2 asked, 1 published,
    # 0 answered, 0 dropped, 1 not taken; the median wait is whole seconds.
    summaries = []
    for client in (moda, mayor):
        line = client.expect(lambda m: m.command == "CONF" and m.params[1:2] == ("SUMMARY",))
        summaries.append(line.params)
        assert line.params[:8] == (CHAN, "SUMMARY", "2", "2", "1", "0", "0", "1")
        assert re.fullmatch(r"\d+(\.5)?", line.params[8])
        assert line.params[9].startswith("Peak audience 2; 2 questions asked, 1 published, 0 answered, 0 dropped, 1 not taken")
    assert summaries[0] == summaries[1]
    # A visitor never sees the summary.
    carol.roundtrip()
    dave.roundtrip()
    assert not [m for m in carol.received + dave.received if m.command == "CONF" and "SUMMARY" in m.params]
    # And the conference refuses questions now.
    dave.send(f"PRIVMSG {CHAN} :Too late?")
    assert dave.expect(lambda m: m.command == "FAIL").params[1] == "CLOSED"

    # The export of that session: the internal CSV through a download link.
    moda.send(f"CONF {CHAN} EXPORT csv internal")
    link = moda.expect(lambda m: m.command == "CONF" and m.params[1:2] == ("EXPORT",)).params[4]
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    conn.request("GET", link)
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="townhall-[0-9a-f]{6}-\d{8}-\d{6}-internal\.csv"',
                        response.getheader("Content-Disposition"))
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    by_id = {r["id"]: r for r in rows}
    assert (by_id[tram]["state"], by_id[tram]["text"], by_id[tram]["author"]) == ("published", TRAM, "carol")
    assert (by_id[pool]["state"], by_id[pool]["text"]) == ("not-taken", POOL)
    assert "asked at (Europe/Paris)" in rows[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", by_id[tram]["published at (Europe/Paris)"])

    # The transcripts written at the close: the public page with the
    # branding and the zone, the archive with the summary the staff got.
    folder = server.workdir / "data" / "transcripts"
    wait_until(lambda: folder.exists() and len(list(folder.glob("*"))) == 3)
    names = sorted(p.suffix for p in folder.iterdir())
    assert names == [".csv", ".html", ".json"]
    page = next(folder.glob("*.html")).read_text(encoding="utf-8")
    assert "Ville de Lyon" in page and "Times: Europe/Paris" in page and TRAM in page
    assert POOL not in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00">', page)
    archive = json.loads(next(folder.glob("*-internal.json")).read_text(encoding="utf-8"))
    numbers = archive["summary"]
    assert [numbers[k] for k in ("peak_audience", "asked", "published", "answered", "dropped", "not_taken")] == [
        2, 2, 1, 0, 0, 1]
    assert f"{numbers['median_wait']:g}" == summaries[0][8]
    items = {str(i["id"]): i for i in archive["items"]}
    assert (items[pool]["state"], items[pool]["not_taken"]) == ("pending", True)
    for client in (moda, mayor, carol, dave):
        client.close()


def test_the_visitor_page_shows_not_taken_after_the_close(start_server, new_page):
    """In a real browser: the question still waiting says "Not taken" once
    the conference closes, the published one stays published, and the
    "now answering" banner goes."""
    from playwright.sync_api import expect
    from test_e2e_web_visitor import ask, config, join, mine, open_visitor, queue_item, shot, staff
    from e2e_client import assert_no_axe_violations

    server = start_server(config())
    moda = staff(server, "moda")
    page = new_page()
    open_visitor(page, server)
    join(page, "carol")
    ask(page, TRAM)
    expect(mine(page, TRAM)).to_contain_text("Awaiting moderation")
    tram = queue_item(moda, TRAM)
    ask(page, POOL)
    expect(mine(page, POOL)).to_contain_text("Awaiting moderation")
    moda.send(f"QUEUE #townhall APPROVE {tram}")
    expect(mine(page, TRAM)).to_contain_text("Published")
    moda.send(f"CONF #townhall ANSWERING {tram}")
    expect(page.locator(".answering-banner")).to_contain_text("Now answering: carol: " + TRAM)

    moda.send("CONF #townhall STATE closed")
    expect(mine(page, POOL)).to_contain_text("Not taken")
    expect(mine(page, POOL)).to_contain_text("The conference closed before the moderators took your question.")
    expect(mine(page, POOL)).not_to_contain_text("Awaiting moderation")
    expect(mine(page, POOL).locator(".not-taken-badge")).to_have_text("Not taken")
    expect(mine(page, TRAM)).to_contain_text("Published")
    expect(page.locator(".answering-banner")).to_be_hidden()
    expect(page.locator(".state")).to_have_text("Closed")
    assert_no_axe_violations(page, "a question not taken at the close")
    shot(page, "visitor-not-taken.png")
    assert page.errors == []
    moda.close()


def test_the_staff_pages_clear_now_answering_at_the_close(start_server, new_page):
    """The guest's and the moderator's consoles in a real browser: the
    question marked as being answered stops being so when the conference
    closes (the close's NOTICE carries an empty ``confchat/answering``)."""
    from playwright.sync_api import expect
    import test_e2e_web_moderator as moderator_page

    server = start_server(moderator_page.CONFIG)
    moda = moderator_page.staff(server, "moda")
    carol = moderator_page.visitor(server, "carol")
    item = int(moderator_page.ask(carol, TRAM))
    moda.send(f"QUEUE #townhall APPROVE {item}")
    moderator_page.published(carol, TRAM)
    console = moderator_page.console(new_page, server)
    guest = new_page()
    guest.goto(f"http://127.0.0.1:{server.http_port}/guest")
    guest.get_by_label("Account").fill("mayor")
    guest.get_by_label("Password").fill(moderator_page.PASSWORDS["mayor"])
    guest.get_by_role("button", name="Sign in").click()
    moda.expect(lambda m: m.command == "JOIN" and (m.source or "").startswith("mayor!"))

    moda.send(f"CONF #townhall ANSWERING {item}")
    expect(guest.locator("#now")).to_contain_text(TRAM)
    expect(console.locator("#stat-answering")).to_have_text(f"#{item}")
    moda.send("CONF #townhall STATE closed")
    expect(guest.locator("#now")).to_contain_text("No question is marked as being answered.")
    expect(guest.locator("#now")).not_to_contain_text(TRAM)
    expect(console.locator("#stat-answering")).to_have_text("–")
    assert guest.errors == [] and console.errors == []
    moda.close()
