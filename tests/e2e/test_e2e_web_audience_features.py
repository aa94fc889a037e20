"""What audiences of Slido or Pigeonhole expect, end to end: over TCP, a
visitor withdraws a question and the moderator's queue loses it; in a real
browser (Debian chromium), the visitor page shows vote counts and sorts by
popular or recent, withdraws a pending question, says when a moderator
edited one, keeps the audience count live, and shows times in the page
language's clock."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from playwright.sync_api import expect

from e2e_client import assert_no_axe_violations as axe_check

STAFF_CAPS = ("message-tags", "standard-replies", "echo-message")
VISITOR_CAPS = ("message-tags", "standard-replies")


def config(**conference) -> dict:
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    settings = {"channel": "#townhall", "title": "Ask the mayor", "moderators": ["moda"], "state": "live"}
    settings.update(conference)
    return {"accounts": [{"name": "moda", "password_hash": hasher.hash("moda-pw")}], "conferences": [settings]}


def moderator(server):
    moda = server.client("moda", caps=STAFF_CAPS, sasl=("moda", "moda-pw"))
    moda.send("JOIN #townhall")
    moda.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    return moda


def visitor(server, nick: str):
    client = server.client(nick, caps=VISITOR_CAPS)
    client.send("JOIN #townhall")
    client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    return client


def held_item(client, text: str) -> str:
    client.send(f"PRIVMSG #townhall :{text}")
    return client.expect(lambda m: m.command == "NOTE" and m.params[1] == "HELD").params[3]


def item_line(moda, item: str, state: str):
    return moda.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[2] == item
                       and m.params[3] == state)


def publish(moda, citizen, text: str) -> str:
    item = held_item(citizen, text)
    moda.send(f"QUEUE #townhall APPROVE {item}")
    item_line(moda, item, "published")
    return item


def open_chat(page, server, nick: str) -> None:
    page.goto(f"http://127.0.0.1:{server.http_port}/")
    box = page.get_by_role("textbox", name=re.compile("nickname|pseudonyme", re.I))
    box.fill(nick)
    box.press("Enter")
    expect(page.locator(".connection")).to_contain_text(nick)


def question(page, text: str):
    return page.get_by_role("log").locator("li.question").filter(has=page.locator("> .message-text", has_text=text))


def stream_texts(page) -> list[str]:
    return page.locator(".messages > li.question > .message-text").all_text_contents()


# --------------------------------------------------------------------------- over TCP


def test_a_visitor_withdraws_over_tcp_and_the_moderators_queue_loses_it(start_server):
    server = start_server(config())
    moda = moderator(server)
    carol = visitor(server, "carol")
    dave = visitor(server, "dave")
    item = held_item(carol, "Never mind, found it on the website")
    item_line(moda, item, "pending")
    dave.send(f"CONF #townhall WITHDRAW {item}")  # not his
    refused = dave.expect(lambda m: m.command == "FAIL")
    assert refused.params[:4] == ("CONF", "NOT_AUTHOR", "#townhall", item)
    carol.send(f"CONF #townhall WITHDRAW {item}")
    note = carol.expect(lambda m: m.command == "NOTE")
    assert note.params[:4] == ("CONF", "WITHDRAWN", "#townhall", item)
    line = item_line(moda, item, "dropped")
    assert line.params[8:10] == ("carol", "withdrawn")
    moda.send("QUEUE #townhall LIST")
    end = moda.expect(lambda m: m.command == "QUEUE" and m.params[1] == "END")
    assert end.params[-1] == "0 waiting"
    moda.send(f"QUEUE #townhall APPROVE {item}")
    fail = moda.expect(lambda m: m.command == "FAIL")
    assert fail.params[1] == "ALREADY_DECIDED"
    # In the audit log, under the author.
    moda.send("CONF #townhall AUDIT")
    entries = []
    while True:
        m = moda.expect(lambda m: m.command == "CONF" and m.params[1] in ("AUDIT", "END"))
        if m.params[1] == "END":
            break
        entries.append(m.params)
    assert [e[3:6] for e in entries if e[4] == "withdraw"] == [("carol", "withdraw", item)]


# --------------------------------------------------------------------------- in the browser


def test_visitors_see_the_counts_and_sort_by_popular_or_recent(start_server, new_page):
    server = start_server(config())
    moda = moderator(server)
    dave = visitor(server, "dave")
    first = publish(moda, dave, "First: the tram timetable")
    second = publish(moda, dave, "Second: the depot")
    third = publish(moda, dave, "Third: ticket prices")
    fans = [visitor(server, f"fan{n}") for n in range(3)]
    for fan in fans:  # third: 3 votes, second: 1
        fan.send(f"VOTE #townhall {third}")
    fans[0].send(f"VOTE #townhall {second}")
    for fan in fans:
        fan.roundtrip()

    page = new_page()
    open_chat(page, server, "carol")
    # Counts of the questions published before the visitor came.
    expect(question(page, "Third").locator(".vote-count")).to_have_text("3 votes")
    expect(question(page, "Second").locator(".vote-count")).to_have_text("1 vote")
    expect(question(page, "First").locator(".vote-count")).to_be_hidden()
    recent = page.get_by_role("radio", name="Recent")
    popular = page.get_by_role("radio", name="Popular")
    expect(recent).to_be_checked()  # the conference's default
    assert stream_texts(page) == ["First: the tram timetable", "Second: the depot", "Third: ticket prices"]
    popular.check()
    expect(page.locator(".messages > li.question > .message-text").first).to_have_text("Third: ticket prices")
    assert stream_texts(page) == ["Third: ticket prices", "Second: the depot", "First: the tram timetable"]
    axe_check(page, "the visitor page sorted by popularity")

    # Live: votes for the first question reach the page (coalesced) and move it up.
    for fan in fans:
        fan.send(f"VOTE #townhall {first}")
    others = [visitor(server, f"late{n}") for n in range(2)]
    for late in others:
        late.send(f"VOTE #townhall {first}")
    expect(question(page, "First").locator(".vote-count")).to_have_text("5 votes", timeout=10_000)
    expect(page.locator(".messages > li.question > .message-text").first).to_have_text("First: the tram timetable")
    # The visitor's own vote: the button says so, with the count.
    question(page, "Second").get_by_role("button", name=re.compile("^Vote")).click()
    expect(question(page, "Second").get_by_role("button", name=re.compile("^Voted .* 2 votes"))).to_be_visible()
    recent.check()
    expect(page.locator(".messages > li.question > .message-text").first).to_have_text("First: the tram timetable")
    assert stream_texts(page) == ["First: the tram timetable", "Second: the depot", "Third: ticket prices"]

    # The conference's default order, for visitors who did not choose.
    moda.send("CONF #townhall SET sort popular")
    moda.expect(lambda m: m.command == "NOTE" and m.params[1] == "SET")
    other = new_page()
    open_chat(other, server, "erin")
    expect(other.get_by_role("radio", name="Popular")).to_be_checked()
    expect(other.locator(".messages > li.question > .message-text").first).to_have_text("First: the tram timetable")
    assert stream_texts(other)[1:] == ["Third: ticket prices", "Second: the depot"]
    assert page.errors == [] and other.errors == []


def test_a_visitor_withdraws_a_question_and_learns_of_an_edit(start_server, new_page):
    server = start_server(config())
    moda = moderator(server)
    page = new_page()
    open_chat(page, server, "carol")
    composer = page.locator("#question")
    composer.fill("Sorry, wrong room")
    composer.press("Enter")
    mine = page.locator(".mine-item").filter(has_text="Sorry, wrong room")
    expect(mine).to_contain_text("Awaiting moderation")
    pending = moda.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[-1] == "Sorry, wrong room")
    button = mine.get_by_role("button", name="Withdraw your question “Sorry, wrong room”")
    axe_check(page, "the visitor's questions with a Withdraw button")
    button.click()
    expect(mine).to_contain_text("Withdrawn")
    expect(button).to_be_hidden()
    expect(page.locator("#compose-feedback")).to_have_text("Your question was withdrawn: the moderators will not publish it.")
    gone = item_line(moda, pending.params[2], "dropped")
    assert gone.params[9] == "withdrawn"

    composer.fill("tram north when??")
    composer.press("Enter")
    edited = page.locator(".mine-item").filter(has_text="tram north when??")
    line = moda.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[-1] == "tram north when??")
    moda.send(f"QUEUE #townhall EDIT {line.params[2]} :When will the tram reach the north district?")
    expect(edited).to_contain_text("Published")
    expect(edited.locator(".edited-badge")).to_have_text("Edited by the moderator")
    expect(edited).to_contain_text("Published as: When will the tram reach the north district?")
    expect(edited.get_by_role("button", name=re.compile("Withdraw"))).to_be_hidden()
    expect(page.locator("#compose-feedback")).to_have_text("Your question was published, edited by a moderator.")
    # In the stream, the edited text (the stream carries no flag: protocol.md).
    expect(question(page, "When will the tram reach the north district?")).to_be_visible()
    axe_check(page, "an edited question in the visitor's list")
    assert page.errors == []


def test_the_audience_count_is_live(start_server, new_page):
    server = start_server(config())
    page = new_page()
    open_chat(page, server, "carol")
    audience = page.locator(".audience")
    expect(audience).to_have_text("1 person in the audience")
    crowd = [visitor(server, f"crowd{n}") for n in range(3)]
    # No refresh, no reload: the server's coalesced count (at most every 5 s).
    expect(audience).to_have_text("4 people in the audience", timeout=12_000)
    crowd[0].send("PART #townhall")
    expect(audience).to_have_text("3 people in the audience", timeout=12_000)


def test_times_follow_the_page_language_clock(start_server, new_page):
    server = start_server(config())
    moda = moderator(server)
    moda.send("PRIVMSG #townhall :Welcome, the mayor arrives soon.")
    moda.roundtrip()
    formats = {
        "en-US": re.compile(r"^\d{1,2}:\d{2}\s?[AP]M$"),
        "en-GB": re.compile(r"^\d{2}:\d{2}$"),
        "fr-FR": re.compile(r"^\d{2}:\d{2}$"),
    }
    for locale, pattern in formats.items():
        page = new_page(locale=locale)
        open_chat(page, server, f"v{locale[-2:].lower()}")
        stamp = page.get_by_role("log").locator("li.staff time").first
        expect(stamp).to_have_text(pattern)
