"""The visitor page and the embed page in a real browser (Debian chromium),
against the real server: a visitor joins with a nickname and asks; staff act
over TCP; what the visitor sees follows. Each state is scanned with axe-core
and saved as a screenshot in docs/screenshots/."""

from __future__ import annotations

import re

import pytest

from e2e_client import screenshots_dir
from e2e_client import assert_no_axe_violations as axe_check
from argon2 import PasswordHasher
from playwright.sync_api import expect

SCREENSHOTS = screenshots_dir()  # CONFCHAT_SCREENSHOTS=docs/screenshots to refresh the kept ones
HOSTILE = "<img src=x onerror=alert(1)>"
STAFF_CAPS = ("message-tags", "standard-replies", "draft/message-redaction", "echo-message")


def config() -> dict:
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    return {
        "accounts": [
            {"name": "moda", "password_hash": hasher.hash("moda-pw")},
            {"name": "mayor", "password_hash": hasher.hash("mayor-pw")},
        ],
        "conferences": [{
            "channel": "#townhall",
            "title": "Ask the mayor",
            "description": "The new tram line",
            "moderators": ["moda"],
            "guests": ["mayor"],
            "state": "live",
            "starts": "2026-12-01T18:00:00+01:00",
            # Far ahead: the server's real clock closes a conference at its end
            # (an end on the day this was written failed every run after it).
            "ends": "2099-12-01T19:30:00+01:00",
        }],
    }


def staff(server, account: str):
    client = server.client(account, caps=STAFF_CAPS, sasl=(account, f"{account}-pw"))
    client.send("JOIN #townhall")
    client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    return client


def queue_item(moderator, text: str) -> str:
    """The id of the queue item holding ``text``, from the moderator's item lines."""
    line = moderator.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[-1] == text)
    return line.params[2]


def published_msgid(client, text: str) -> str:
    line = client.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == text)
    return line.tags["msgid"]



def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def open_visitor(page, server, query: str = "") -> None:
    page.goto(f"http://127.0.0.1:{server.http_port}/{query}")
    expect(page.get_by_role("textbox", name=re.compile("nickname|pseudonyme", re.I))).to_be_visible()


def join(page, nick: str) -> None:
    box = page.get_by_role("textbox", name=re.compile("nickname|pseudonyme", re.I))
    box.fill(nick)
    box.press("Enter")


def ask(page, text: str) -> None:
    composer = page.locator("#question")
    composer.fill(text)
    composer.press("Enter")


def stream(page):
    return page.get_by_role("log")


def question(page, text: str):
    return stream(page).locator("li.question").filter(has=page.locator("> .message-text", has_text=text))


def mine(page, text: str):
    return page.locator(".mine-item").filter(has_text=text)


# --------------------------------------------------------------------------- the whole visit


def test_a_visit_from_nickname_to_answers(start_server, new_page):
    server = start_server(config())
    moda = staff(server, "moda")
    mayor = staff(server, "mayor")
    moda.send("PRIVMSG #townhall :Welcome! The mayor answers from 18:00.")
    moda.roundtrip()

    page = new_page()
    open_visitor(page, server)
    axe_check(page, "the nickname form")
    shot(page, "visitor-nickname.png")

    join(page, "carol")
    # The chat opens; the composer has the focus; the conference is described.
    composer = page.get_by_role("textbox", name="Your question")
    expect(composer).to_be_focused()
    expect(page.locator("#conf-title")).to_have_text("Ask the mayor")
    expect(page.locator(".state")).to_have_text("Live")
    expect(page.locator(".conf-description")).to_have_text("The new tram line")
    expect(page.locator(".schedule")).to_contain_text("Starts")
    expect(page.locator(".schedule")).to_contain_text("2026")
    expect(page.locator(".audience")).to_have_text("1 person in the audience")
    expect(page.locator(".connection")).to_have_text("Connected as carol")
    # History: the staff message published before the visitor came.
    welcome = stream(page).locator("li.staff").filter(has_text="Welcome! The mayor answers")
    expect(welcome).to_contain_text("moda")
    expect(welcome.locator(".role")).to_have_text("Moderator")
    expect(stream(page)).to_have_attribute("aria-live", "polite")

    # The counter follows the text.
    composer.fill("x" * 12)
    expect(page.locator("#compose-count")).to_have_text("12 / 400 characters")
    composer.press("Shift+Enter")  # a new line, not sent
    expect(composer).to_have_value("x" * 12 + "\n")
    composer.fill("")

    first = "When will the tram reach the north district?"
    ask(page, first)
    expect(mine(page, first)).to_contain_text("Awaiting moderation")
    expect(page.locator("#compose-feedback")).to_contain_text("It will appear once a moderator publishes it")
    item1 = queue_item(moda, first)
    ask(page, HOSTILE)
    item2 = queue_item(moda, HOSTILE)
    rude = "The mayor is a clown"
    ask(page, rude)
    item3 = queue_item(moda, rude)
    expect(mine(page, rude)).to_contain_text("Awaiting moderation")
    expect(question(page, first)).to_have_count(0)

    # Approved: in the stream, and no longer pending.
    moda.send(f"QUEUE #townhall APPROVE {item1},{item2}")
    expect(question(page, first)).to_have_count(1)
    expect(question(page, first).locator(".mine-badge")).to_have_text("Your question")
    expect(mine(page, first)).to_contain_text("Published")
    expect(mine(page, first)).not_to_contain_text("Awaiting moderation")
    # The hostile text is text, never markup.
    expect(question(page, HOSTILE)).to_have_count(1)
    assert page.locator("img").count() == 0

    # Dropped with a reason: declined, and why.
    moda.send(f"QUEUE #townhall DROP {item3} :Please stay polite")
    expect(mine(page, rude)).to_contain_text("Not published")
    expect(mine(page, rude)).to_contain_text("Reason: Please stay polite")
    expect(question(page, rude)).to_have_count(0)

    # The mayor answers: threaded under the question.
    mayor.send(f"ANSWER #townhall {item1} :Spring 2027; the works start in March.")
    answer = question(page, first).locator(".answers li.answer")
    expect(answer).to_contain_text("Spring 2027; the works start in March.")
    expect(answer.locator(".role")).to_have_text("Guest")

    # Another visitor's question: carol votes for it.
    dave = server.client("dave", caps=("message-tags", "standard-replies"))
    dave.send("JOIN #townhall")
    dave.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    tickets = "Will tickets be cheaper for students?"
    dave.send(f"PRIVMSG #townhall :{tickets}")
    item4 = queue_item(moda, tickets)
    moda.send(f"QUEUE #townhall APPROVE {item4}")
    tickets_msgid = published_msgid(moda, tickets)
    vote = question(page, tickets).get_by_role("button", name="Vote for the question from dave")
    vote.click()
    voted = question(page, tickets).get_by_role("button", name=re.compile("^Voted for the question from dave · 1 vote"))
    expect(voted).to_have_attribute("aria-disabled", "true")
    expect(voted).to_be_focused()
    expect(page.locator("#compose-feedback")).to_have_text("Your vote was counted.")
    assert question(page, first).get_by_role("button").count() == 0  # not one's own

    # Now answering: the highlight and the banner; then answered.
    moda.send(f"CONF #townhall ANSWERING {item4}")
    expect(question(page, tickets)).to_have_class(re.compile(r"\banswering\b"))
    expect(page.locator(".answering-banner")).to_contain_text("Now answering: dave: " + tickets)
    shot(page, "visitor-answering.png")
    moda.send(f"CONF #townhall ANSWERED {item4}")
    expect(question(page, tickets).locator(".answered-badge")).to_have_text("Answered")
    expect(page.locator(".answering-banner")).to_be_hidden()

    # REDACT: the message goes away.
    moda.send("PRIVMSG #townhall :This message will be deleted")
    deleted = stream(page).locator("li.staff").filter(has_text="This message will be deleted")
    expect(deleted).to_have_count(1)
    doomed = published_msgid(moda, "This message will be deleted")
    moda.send(f"REDACT #townhall {doomed} :Oops")
    expect(deleted).to_have_count(0)
    moda.send(f"REDACT #townhall {tickets_msgid} :Duplicate")
    expect(question(page, tickets)).to_have_count(0)

    expect(stream(page).locator("li.msg.question")).to_have_count(2)
    axe_check(page, "the chat with messages")
    shot(page, "visitor-chat.png")

    # Dropped by the server: the page reconnects, rejoins, and the history
    # sent again on join is not shown twice.
    moda.send("CONF #townhall DISCONNECT carol :Testing reconnection")
    expect(page.locator(".connection")).to_contain_text("Reconnecting")
    expect(page.locator(".connection")).to_have_text("Connected as carol", timeout=8000)
    moda.send("PRIVMSG #townhall :Back after the reconnection")
    expect(stream(page).locator("li.staff").filter(has_text="Back after the reconnection")).to_have_count(1)
    expect(stream(page).locator("li.msg.question")).to_have_count(2)
    expect(welcome).to_have_count(1)
    expect(question(page, first).locator(".answers li")).to_have_count(1)

    # Slow mode: refused with the seconds to wait, the text kept.
    moda.send("CONF #townhall SET slow_mode 30")
    expect(page.locator(".conf-slow")).to_have_text("Slow mode: one message every 30 seconds.")
    ask(page, "First after slow mode")
    queue_item(moda, "First after slow mode")
    ask(page, "Second too soon")
    expect(page.locator("#compose-feedback")).to_contain_text(re.compile(r"Slow mode: please wait \d+ seconds"))
    expect(composer).to_have_value("Second too soon")

    # Closed: the composer says so and is disabled; a FAIL CLOSED is shown.
    moda.send("CONF #townhall STATE closed")
    expect(page.locator(".state")).to_have_text("Closed")
    expect(composer).to_be_disabled()
    expect(page.locator("#compose-note")).to_contain_text("The conference is closed")
    shot(page, "visitor-closed.png")
    assert page.errors == []
    for client in (moda, mayor, dave):
        client.close()


# --------------------------------------------------------------------------- nicknames, French


def test_refused_nicknames_and_the_page_in_french(start_server, new_page):
    server = start_server(config())
    taken = server.client("carol")
    page = new_page(locale="fr-FR")
    open_visitor(page, server)
    expect(page.locator("h1")).to_have_text("Questions en direct")
    expect(page.get_by_role("heading", name="Rejoindre la discussion")).to_be_visible()

    join(page, "carol")
    error = page.locator("#nick-error")
    expect(error).to_have_text("Le pseudonyme « carol » est déjà pris. Veuillez en choisir un autre.")
    box = page.get_by_role("textbox", name="Votre pseudonyme")
    expect(box).to_be_focused()
    expect(box).to_have_attribute("aria-invalid", "true")

    join(page, "moda")  # an account's name is reserved
    expect(error).to_contain_text("« moda » est réservé")

    join(page, "<img/src=x/onerror=alert(1)>")  # refused by the server (432), shown as text
    expect(error).to_contain_text("« <img/src=x/onerror=alert(1)> » ne peut pas servir de pseudonyme")
    join(page, HOSTILE)  # spaces: refused before connecting
    expect(error).to_have_text("Un pseudonyme ne peut pas contenir d’espace.")
    assert page.locator("img").count() == 0
    axe_check(page, "the nickname form with an error")
    shot(page, "visitor-nickname-error-fr.png")

    join(page, "Camille")
    expect(page.get_by_role("textbox", name="Votre question")).to_be_focused()
    expect(page.locator(".state")).to_have_text("En direct")
    expect(page.get_by_role("heading", name="Poser une question")).to_be_visible()
    expect(page.locator(".schedule")).to_contain_text("Début")
    ask(page, "Le tram passera-t-il par la gare ?")
    expect(mine(page, "Le tram passera-t-il par la gare ?")).to_contain_text("En attente de modération")
    axe_check(page, "the French chat")
    shot(page, "visitor-fr.png")

    page.get_by_role("button", name="Quitter").click()
    expect(page.locator("#join")).to_contain_text("Vous avez quitté le chat.")
    expect(box).to_be_focused()
    assert page.errors == []
    taken.close()


# --------------------------------------------------------------------------- phone


def test_the_visitor_page_on_a_phone(start_server, new_page):
    server = start_server(config())
    moda = staff(server, "moda")
    mayor = staff(server, "mayor")
    page = new_page(viewport={"width": 390, "height": 844})
    open_visitor(page, server)
    shot(page, "visitor-phone-nickname.png")
    join(page, "Jo")
    expect(page.get_by_role("textbox", name="Your question")).to_be_focused()
    text = "Could the tram run later on Saturday nights, after the concerts at the stadium end?"
    ask(page, text)
    item = queue_item(moda, text)
    moda.send(f"QUEUE #townhall APPROVE {item}")
    mayor.send(f"ANSWER #townhall {item} :Yes: until 1 a.m. on Fridays and Saturdays from next spring.")
    expect(question(page, text).locator(".answers li")).to_contain_text("until 1 a.m.")
    expect(mine(page, text)).to_contain_text("Published")
    # Nothing wider than the screen; the controls are big enough to touch.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    send = page.get_by_role("button", name="Send")
    expect(send).to_be_visible()
    assert send.bounding_box()["height"] >= 24
    axe_check(page, "the chat on a phone")
    shot(page, "visitor-phone.png")

    # The moderators retitle the conference and open it: messages go out at once.
    moda.send("CONF #townhall SET title :Ask the mayor: transport")
    expect(page.locator("#conf-title")).to_have_text("Ask the mayor: transport")
    moda.send("CONF #townhall SET mode open")
    expect(page.locator(".conf-mode")).to_have_text("Messages are published at once.")
    ask(page, "Straight to the stream")
    expect(question(page, "Straight to the stream").locator(".mine-badge")).to_be_visible()
    expect(mine(page, "Straight to the stream")).to_have_count(0)
    # Muted, with the moderator's reason; then read-only; then banned.
    moda.send("CONF #townhall MUTE Jo :Off topic")
    moda.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("CONF", "MUTE"))
    ask(page, "Muted words")
    expect(page.locator("#compose-feedback")).to_have_text(
        "You cannot send messages in this conference. Reason: Off topic")
    moda.send("CONF #townhall SET mode readonly")
    expect(page.locator("#compose-note")).to_have_text("Only the organisers can write at the moment.")
    expect(page.locator("#question")).to_be_disabled()
    moda.send("CONF #townhall BAN Jo :Spamming")
    expect(page.locator("#compose-feedback")).to_have_text(
        "You were removed from the conference by the moderators. Reason: Spamming")
    assert page.errors == []
    moda.close()
    mayor.close()


# --------------------------------------------------------------------------- embed


@pytest.mark.parametrize("locale", ["en-GB", "fr-FR"])
def test_the_embed_page(start_server, new_page, locale):
    server = start_server(config())
    page = new_page(locale=locale)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    origin = f"http://127.0.0.1:{server.http_port}"
    page.goto(f"{origin}/embed")
    snippet = page.locator("#embed-snippet")
    expect(snippet).to_contain_text(f'<iframe src="{origin}/?conference=%23townhall"')
    expect(snippet).to_contain_text('title="')
    expect(page.locator(".button-link")).to_have_attribute("href", f"{origin}/?conference=%23townhall")
    if locale == "fr-FR":
        expect(page.locator("h1")).to_have_text("Intégrer le chat à votre site")
        expect(page.get_by_role("button", name="Copier le code")).to_be_visible()
    expect(page.locator("main")).to_contain_text("listen.websocket_origins")

    # Another conference: the snippet follows.
    field = page.locator("#embed-conference")
    field.fill("#budget")
    expect(snippet).to_contain_text(f'src="{origin}/?conference=%23budget"')
    field.fill("#townhall")
    page.locator(".copy").click()
    expect(page.locator(".copy-status")).to_have_text(re.compile("copied|copié", re.I))
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "conference=%23townhall" in copied and copied.startswith("<iframe ")
    axe_check(page, f"the embed page ({locale})")
    if locale == "en-GB":
        shot(page, "embed.png")
    assert page.errors == []
