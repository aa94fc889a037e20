"""The first run, as a newcomer has it: ``confchat serve`` with no
configuration at all, in an empty directory. The banner gives three pages
and the staff's passwords; a visitor, the moderator and the guest (three
Chromium contexts) then run a whole moderated exchange with nothing else
set up. A restart keeps the demo and prints no password; ``--reset-demo``
makes new ones; ``--no-demo`` and a configured conference mean no demo."""

from __future__ import annotations

import base64
import http.client
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import ServerProcess
from e2e_client import IRCClient, assert_no_axe_violations, screenshots_dir

QUESTION = "Will the new library open on Sundays?"
FORWARDED = "How many trees will the park get?"
ANSWER = "Two hundred, planted next autumn."

PAGE = re.compile(r"^\s*(?P<who>Visitor|Moderator|Guest|Admin):\s+(?P<url>http://\S+)(?P<rest>.*)$")
PASSWORD = re.compile(r"account (?P<name>\S+), password (?P<password>\S+)")


def first_run(workdir: Path, *extra: str) -> ServerProcess:
    """``confchat serve`` as a newcomer runs it: no config file and no
    data directory option (the default, ``data`` in the working directory);
    only the addresses are free ports, as every test needs."""
    workdir.mkdir(exist_ok=True)
    return ServerProcess(["serve", "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0", *extra], workdir)


def read_banner(server: ServerProcess) -> tuple[dict[str, str], dict[str, str]]:
    """The demo's pages (who -> address) and the passwords printed (account -> password)."""
    pages, passwords = {}, {}
    for line in server.log.splitlines():
        if m := PAGE.match(line):
            pages[m["who"]] = m["url"]
            if p := PASSWORD.search(m["rest"]):
                passwords[p["name"]] = p["password"]
    return pages, passwords


@pytest.fixture
def servers():
    started: list[ServerProcess] = []

    def start(workdir: Path, *extra: str) -> ServerProcess:
        server = first_run(workdir, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def sasl_login(server: ServerProcess, account: str, password: str) -> str:
    """Log in over IRC with SASL PLAIN; the numeric the server answered."""
    client = IRCClient(server.host, server.port)
    try:
        client.send("CAP LS 302")
        client.send("NICK probe")
        client.send("USER probe 0 * :probe")
        client.send("CAP REQ :sasl")
        client.expect(lambda m: m.command == "CAP" and m.params[1] in ("ACK", "NAK"))
        client.send("AUTHENTICATE PLAIN")
        client.expect("AUTHENTICATE")
        blob = f"{account}\0{account}\0{password}".encode()
        client.send("AUTHENTICATE " + base64.b64encode(blob).decode())
        return client.expect(lambda m: m.command in ("903", "904")).command
    finally:
        client.close()


def page_settings(server: ServerProcess, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    try:
        conn.request("GET", path)
        body = conn.getresponse().read().decode()
    finally:
        conn.close()
    found = re.search(r'<script type="application/json" id="confchat-settings">(.*?)</script>', body, re.S)
    assert found, body[:500]
    return json.loads(found.group(1))


# ------------------------------------------------------------------ the three tabs


def test_the_first_run_is_a_moderated_event_in_three_tabs(servers, new_page, tmp_path):
    server = servers(tmp_path / "fresh")
    pages, passwords = read_banner(server)
    origin = f"http://127.0.0.1:{server.http_port}"
    assert pages == {
        "Visitor": f"{origin}/?conference=%23demo",
        "Moderator": f"{origin}/moderator",
        "Guest": f"{origin}/guest?conference=%23demo",
        "Admin": f"{origin}/admin",
    }, server.log
    assert set(passwords) == {"admin", "moderator", "guest"}, server.log
    demo_file = tmp_path / "fresh" / "data" / "demo.toml"
    assert demo_file.exists()
    for password in passwords.values():
        assert password not in demo_file.read_text()

    visitor, moderator, guest = new_page(), new_page(), new_page()

    # The moderator signs in with what the banner printed.
    moderator.goto(pages["Moderator"])
    moderator.get_by_label("Account").fill("moderator")
    moderator.get_by_label("Password", exact=True).fill(passwords["moderator"])
    moderator.get_by_role("button", name="Sign in").click()
    expect(moderator.locator("#console")).to_have_attribute("data-ready", "true")
    expect(moderator.locator("#conf-title")).to_contain_text("Ask the guest (demo)")
    expect(moderator.locator("#conf-now")).to_have_text("Questions are open: visitors can ask now.")
    assert_no_axe_violations(moderator, "the demo's moderation console")

    # The guest signs in on the address from the banner.
    guest.goto(pages["Guest"])
    guest.get_by_label("Account").fill("guest")
    guest.get_by_label("Password").fill(passwords["guest"])
    guest.get_by_role("button", name="Sign in").click()
    expect(guest.get_by_text("Signed in as guest")).to_be_visible()
    expect(guest.get_by_text("No question is waiting for you right now.")).to_be_visible()
    assert_no_axe_violations(guest, "the demo's guest console")

    # The visitor picks a nickname and asks: the question is held.
    visitor.goto(pages["Visitor"])
    nick = visitor.get_by_role("textbox", name=re.compile("nickname", re.I))
    nick.fill("newcomer")
    nick.press("Enter")
    composer = visitor.get_by_role("textbox", name="Your question")
    expect(composer).to_be_focused()
    expect(visitor.locator("#conf-title")).to_have_text("Ask the guest (demo)")
    composer.fill(QUESTION)
    composer.press("Enter")
    expect(visitor.locator(".mine-item").filter(has_text=QUESTION)).to_contain_text("Awaiting moderation")
    # The demo keeps the product's default slow mode (10 s): a second
    # question at once is refused, and the page says how long to wait.
    composer.fill(FORWARDED)
    composer.press("Enter")
    expect(visitor.get_by_text(re.compile(r"Slow mode: please wait \d+ seconds"))).to_be_visible()
    assert_no_axe_violations(visitor, "the demo's visitor page")
    # Another visitor asks the second question.
    neighbour = new_page()
    neighbour.goto(pages["Visitor"])
    neighbour_nick = neighbour.get_by_role("textbox", name=re.compile("nickname", re.I))
    neighbour_nick.fill("neighbour")
    neighbour_nick.press("Enter")
    neighbour.get_by_role("textbox", name="Your question").fill(FORWARDED)
    neighbour.get_by_role("textbox", name="Your question").press("Enter")
    expect(neighbour.locator(".mine-item").filter(has_text=FORWARDED)).to_contain_text("Awaiting moderation")
    stream = visitor.get_by_role("log")
    expect(stream).not_to_contain_text(QUESTION)

    # The moderator approves the first: the visitor sees it published.
    def card(text: str):
        return moderator.locator("#queue-list > li.item").filter(has=moderator.locator(".message-text", has_text=text))

    expect(card(QUESTION)).to_contain_text("newcomer")
    card(QUESTION).get_by_role("button", name="Approve").click()
    expect(card(QUESTION)).to_contain_text("Published by moderator")
    expect(stream.locator("li.question").filter(has_text=QUESTION)).to_have_count(1)

    # The second goes to the guest, who answers; the visitor sees both.
    forwarded_id = card(FORWARDED).get_attribute("data-id")
    card(FORWARDED).get_by_role("button", name="Forward to guest").click()
    for_you = guest.locator(f'#for-you-list > li[data-item="{forwarded_id}"]')
    expect(for_you).to_contain_text(FORWARDED)
    for_you.get_by_label("Your answer").fill(ANSWER)
    for_you.get_by_role("button", name="Publish answer").click()
    expect(guest.locator("#guest-status")).to_contain_text(f"Your answer to question {forwarded_id} is published.")
    question = stream.locator("li.question").filter(has_text=FORWARDED)
    expect(question).to_have_count(1)
    expect(question.locator(".answers li.answer")).to_contain_text(ANSWER)
    expect(question.locator(".answers li.answer .role")).to_have_text("Guest")
    assert_no_axe_violations(visitor, "the demo's visitor page with an answer")

    # The admin signs in on the administration page, and is staff in the
    # demo's console too.
    admin = new_page()
    admin.goto(pages["Admin"])
    admin.locator("#login").get_by_label("Account").fill("admin")
    admin.locator("#login").get_by_label("Password", exact=True).fill(passwords["admin"])
    admin.locator("#login").get_by_role("button", name="Sign in").click()
    expect(admin.locator("#admin")).to_have_attribute("data-ready", "true")
    assert_no_axe_violations(admin, "the demo's administration page")
    admin.goto(pages["Moderator"])
    admin.get_by_label("Account").fill("admin")
    admin.get_by_label("Password", exact=True).fill(passwords["admin"])
    admin.get_by_role("button", name="Sign in").click()
    expect(admin.locator("#console")).to_have_attribute("data-ready", "true")
    expect(admin.locator("#stream-list")).to_contain_text(ANSWER)

    for page in (visitor, neighbour, moderator, guest, admin):
        assert page.errors == [], page.errors


# ------------------------------------------------------------------ restarts


def test_a_restart_keeps_the_demo_accounts_and_prints_no_password(servers, tmp_path):
    workdir = tmp_path / "restarted"
    first = servers(workdir)
    _, passwords = read_banner(first)
    assert set(passwords) == {"admin", "moderator", "guest"}
    assert first.stop() == 0
    stored = (workdir / "data" / "demo.toml").read_text()

    second = servers(workdir)
    pages, shown = read_banner(second)
    assert shown == {}
    for password in passwords.values():
        assert password not in second.log
    assert "The passwords were printed when the demo was set up" in second.log
    assert "confchat serve --reset-demo" in second.log
    assert pages["Moderator"] == f"http://127.0.0.1:{second.http_port}/moderator"
    assert (workdir / "data" / "demo.toml").read_text() == stored
    # The first run's passwords still open the staff accounts.
    for name, password in passwords.items():
        assert sasl_login(second, name, password) == "903", name
    assert sasl_login(second, "moderator", "not-the-password") == "904"
    assert second.stop() == 0

    # --reset-demo: new passwords, printed once; the old ones stop working.
    third = servers(workdir, "--reset-demo")
    _, renewed = read_banner(third)
    assert set(renewed) == {"admin", "moderator", "guest"}
    assert all(renewed[name] != passwords[name] for name in renewed)
    assert sasl_login(third, "guest", renewed["guest"]) == "903"
    assert sasl_login(third, "guest", passwords["guest"]) == "904"


# ------------------------------------------------------------------ no demo


def test_no_demo_gives_the_bare_server(servers, tmp_path):
    server = servers(tmp_path / "bare", "--no-demo")
    assert "Demo:" not in server.log
    assert read_banner(server) == ({}, {})
    assert not (tmp_path / "bare" / "data" / "demo.toml").exists()
    assert page_settings(server, "/")["conference"] == ""
    assert sasl_login(server, "moderator", "anything") == "904"


def test_a_configured_conference_turns_the_demo_off(servers, tmp_path):
    workdir = tmp_path / "configured"
    workdir.mkdir()
    (workdir / "config.toml").write_text('[[conferences]]\nchannel = "#townhall"\ntitle = "Ask the mayor"\n')
    server = servers(workdir, "--config", "config.toml")
    assert "Demo:" not in server.log
    assert not (workdir / "data" / "demo.toml").exists()
    assert page_settings(server, "/")["conference"] == "#townhall"
    assert page_settings(server, "/?conference=%23demo")["conference"] == "#townhall"


# ------------------------------------------------------------------ the console's schedule line

SCHEDULED = {
    "channel": "#later",
    "title": "Ask later",
    "moderators": ["moda"],
    "opens": "2099-06-01T17:30:00+02:00",
    "starts": "2099-06-01T18:00:00+02:00",
    "ends": "2099-06-01T19:00:00+02:00",
}


def test_the_console_shows_the_schedule_and_opens_the_lobby(start_server, browser, tmp_path):
    from argon2 import PasswordHasher

    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    server = start_server({
        "accounts": [{"name": "moda", "password_hash": hasher.hash("moda-pw")}],
        "conferences": [SCHEDULED],
    })
    visitor = server.client("early", caps=("standard-replies",))
    visitor.send("JOIN #later")
    visitor.expect("366")
    visitor.send("PRIVMSG #later :Is it open yet?")
    refused = visitor.expect(lambda m: m.command == "FAIL")
    assert refused.params[:2] == ("PRIVMSG", "NOT_OPEN")

    # A moderator in Paris, on the morning of the event.
    context = browser.new_context(locale="en-GB", timezone_id="Europe/Paris", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.clock.set_fixed_time("2099-06-01T10:00:00+02:00")
        page.goto(f"http://127.0.0.1:{server.http_port}/moderator")
        page.get_by_label("Account").fill("moda")
        page.get_by_label("Password", exact=True).fill("moda-pw")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#console")).to_have_attribute("data-ready", "true")

        now = page.locator("#conf-now")
        times = page.locator("#conf-schedule")
        lobby = page.get_by_role("button", name="Open the lobby now")
        expect(now).to_have_text("Visitors cannot ask yet: questions open at 17:30.")
        expect(times.locator("dt")).to_have_text(["Questions open", "Starts", "Ends"])
        expect(times.locator("dd")).to_have_text(["17:30", "18:00", "19:00"])
        expect(times.locator("time").first).to_have_attribute("datetime", SCHEDULED["opens"])
        expect(lobby).to_be_visible()
        assert_no_axe_violations(page, "the console of a scheduled conference")
        page.screenshot(path=str(screenshots_dir() / "moderator-schedule.png"))

        # One click: the lobby is open, for the visitors too.
        lobby.click()
        expect(now).to_have_text("Questions are open (the lobby): the session starts at 18:00.")
        expect(lobby).to_be_hidden()
        expect(page.locator("#conf-state")).to_have_value("open")
        visitor.send("PRIVMSG #later :Is it open now?")
        held = visitor.expect(lambda m: m.command in ("NOTE", "FAIL"))
        assert (held.command, held.params[:2]) == ("NOTE", ("PRIVMSG", "HELD")), held

        # The other states, set from elsewhere (an IRC client), reach the line.
        staff = server.client("modirc", sasl=("moda", "moda-pw"))
        for state, words in (
            ("live", "Questions are open: visitors can ask until 19:00."),
            ("closed", "Closed: visitors can no longer ask."),
            ("scheduled", "Visitors cannot ask yet: questions open at 17:30."),
        ):
            staff.send(f"CONF #later STATE {state}")
            expect(now).to_have_text(words)
        expect(lobby).to_be_visible()

        # On another day the times carry their date.
        page.clock.set_fixed_time("2099-05-30T10:00:00+02:00")
        staff.send("CONF #later STATE closed")
        expect(now).to_have_text("Closed: visitors can no longer ask.")
        expect(times.locator("dd")).to_have_text(["01/06/2099, 17:30", "01/06/2099, 18:00", "01/06/2099, 19:00"])
        assert errors == []
    finally:
        context.close()


def test_a_conference_without_times_says_so_and_a_guest_gets_no_lobby_button(start_server, new_page):
    from argon2 import PasswordHasher

    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    server = start_server({
        "accounts": [{"name": name, "password_hash": hasher.hash(f"{name}-pw")} for name in ("moda", "mayor")],
        "conferences": [{"channel": "#bare", "title": "Bare", "moderators": ["moda"], "guests": ["mayor"],
                         "mode": "readonly", "state": "live"}],
    })
    page = new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/moderator")
    page.get_by_label("Account").fill("moda")
    page.get_by_label("Password", exact=True).fill("moda-pw")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    expect(page.locator("#conf-now")).to_have_text("Read-only: visitors can read but not ask.")
    expect(page.locator("#schedule")).to_contain_text("No times set: the state changes only by hand.")
    expect(page.locator("#conf-schedule")).to_be_hidden()
    expect(page.get_by_role("button", name="Open the lobby now")).to_be_hidden()
