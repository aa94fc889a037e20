"""The guest console (/guest) in a real browser against the real server: the
mayor signs in over the WebSocket, answers forwarded questions, uses
prepared answers and sees the votes; visitors and moderators are TCP clients."""

from __future__ import annotations


import pytest

from e2e_client import screenshots_dir
from e2e_client import assert_no_axe_violations as check_axe
from argon2 import PasswordHasher

PASSWORD = "guest-pw-1"
HASH = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
CHANNEL = "#townhall"
SCREENSHOTS = screenshots_dir()  # CONFCHAT_SCREENSHOTS=docs/screenshots to refresh the kept ones
CAPS = ("message-tags", "standard-replies")

pytestmark = pytest.mark.usefixtures("browser")


def config() -> dict:
    return {
        "accounts": [{"name": "moda", "password_hash": HASH}, {"name": "mayor", "password_hash": HASH}],
        "conferences": [
            {
                "channel": CHANNEL,
                "title": "Ask the mayor",
                "moderators": ["moda"],
                "guests": ["mayor"],
                "state": "live",
            }
        ],
    }


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)



def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"guest-{name}.png"), full_page=True)


def staff(server, nick: str):
    client = server.client(nick, caps=CAPS, sasl=(nick, PASSWORD))
    client.send(f"JOIN {CHANNEL}")
    client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    return client


def visitor(server, nick: str):
    client = server.client(nick, caps=CAPS)
    client.send(f"JOIN {CHANNEL}")
    client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    return client


def ask(client, text: str) -> int:
    client.send(f"PRIVMSG {CHANNEL} :{text}")
    note = client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "HELD"))
    return int(note.params[3])


def forward(moderator, item: int) -> None:
    moderator.send(f"QUEUE {CHANNEL} FORWARD {item}")
    moderator.expect(lambda m: m.command == "QUEUE" and m.params[2:4] == (str(item), "forwarded"))


def publish(moderator, item: int) -> str:
    """Approve an item; the question's msgid."""
    moderator.send(f"QUEUE {CHANNEL} APPROVE {item}")
    question = moderator.expect(lambda m: m.command == "PRIVMSG" and m.tags.get("confchat/item") == str(item))
    return question.tags["msgid"]


def prepared_list(moderator) -> list[tuple[str, ...]]:
    """The prepared answers as the server has them: (name, author, text)."""
    moderator.send(f"PREPARED {CHANNEL} LIST")
    items = []
    while True:
        line = moderator.expect(lambda m: m.command == "PREPARED" and m.params[1] in ("ITEM", "END"))
        if line.params[1] == "END":
            return items
        items.append(tuple(line.params[2:]))


def open_console(page, server, moderator):
    """Sign the mayor in; return once the server has it in the conference."""
    page.goto(f"http://127.0.0.1:{server.http_port}/guest")
    page.get_by_label("Account").fill("mayor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    moderator.expect(lambda m: m.command == "JOIN" and (m.source or "").startswith("mayor!"))


def test_wrong_password_then_sign_in(start_server, new_page):
    server = start_server(config())
    moda = staff(server, "moda")
    page = new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/guest")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_axe(page, "login")
    screenshot(page, "login")

    page.get_by_label("Account").fill("mayor")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong account name or password. Please try again.")
    expect(page.get_by_label("Password")).to_be_focused()
    expect(page.locator("#console")).to_be_hidden()
    check_axe(page, "login error")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as mayor")).to_be_visible()
    expect(page.locator("#login")).to_be_hidden()
    expect(page.get_by_role("heading", name="Questions for you")).to_be_focused()
    expect(page.get_by_text("No question is waiting for you right now.")).to_be_visible()
    moda.expect(lambda m: m.command == "JOIN" and (m.source or "").startswith("mayor!"))

    # Sign out; the mayor's phone takes the nick; the laptop signs in again
    # under another nick of the same account.
    page.get_by_role("button", name="Sign out").click()
    moda.expect(lambda m: m.command in ("PART", "QUIT") and (m.source or "").startswith("mayor!"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    phone = server.client("mayor", caps=CAPS, sasl=("mayor", PASSWORD))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    joined = moda.expect(lambda m: m.command == "JOIN" and (m.source or "").startswith("mayor_"))
    nick = joined.source.split("!")[0]
    expect(page.locator("#guest-status")).to_contain_text(f"The name mayor is already connected; connecting as {nick}.")
    expect(page.get_by_text("Signed in as mayor")).to_be_visible()
    phone.close()
    assert page.errors == []


def test_forwarded_questions_answered_in_the_console(start_event, new_page):
    server = start_event(config())
    moda = staff(server, "moda")
    carol = visitor(server, "carol")
    dave = visitor(server, "dave")  # a viewer
    page = new_page()
    open_console(page, server, moda)

    first = ask(carol, "When will the tram reach the north district?")
    hostile = ask(carol, '<img src=x onerror="document.title=1"><script>alert(1)</script> & more')
    third = ask(carol, "Is the tram free on Sundays?")
    for item in (first, hostile, third):
        forward(moda, item)

    cards = page.locator("#for-you-list > li")
    expect(cards).to_have_count(3)
    card = page.locator(f'#for-you-list > li[data-item="{first}"]')
    expect(card.get_by_role("heading")).to_contain_text("carol")
    expect(card).to_contain_text("When will the tram reach the north district?")
    expect(card.locator("time")).to_contain_text("just now")
    # Hostile text is shown as text, never as markup.
    hostile_card = page.locator(f'#for-you-list > li[data-item="{hostile}"]')
    expect(hostile_card.locator(".question-text")).to_have_text(
        '<img src=x onerror="document.title=1"><script>alert(1)</script> & more'
    )
    assert page.locator("#for-you-list img, #for-you-list script").count() == 0
    expect(page.get_by_role("heading", name="Questions for you")).to_contain_text("(3)")
    check_axe(page, "console with questions")
    screenshot(page, "console")

    # The mayor answers the first question from the page.
    card.get_by_label("Your answer").fill("Spring 2027; the works start in March.")
    card.get_by_role("button", name="Publish answer").click()
    question = dave.expect(lambda m: m.command == "PRIVMSG" and m.tags.get("confchat/item") == str(first))
    assert question.params == (CHANNEL, "When will the tram reach the north district?")
    answer = dave.expect(lambda m: m.command == "PRIVMSG" and "+draft/reply" in m.tags)
    assert answer.params == (CHANNEL, "Spring 2027; the works start in March.")
    assert answer.source.startswith("mayor!")
    assert answer.tags["+draft/reply"] == question.tags["msgid"]
    assert answer.tags["confchat/item"] == str(first)
    # The console marks it answered for everyone.
    answered = dave.expect(lambda m: m.command == "NOTICE" and "confchat/answered" in m.tags)
    assert answered.tags["confchat/answered"] == str(first)
    expect(page.locator(f'#for-you-list > li[data-item="{first}"]')).to_have_count(0)
    expect(page.locator("#guest-status")).to_contain_text(f"Your answer to question {first} is published.")
    # The stream threads the answer under its question.
    thread = page.locator("#stream-list > li.stream-question").filter(has_text="north district")
    expect(thread.locator(".replies li")).to_contain_text("Spring 2027; the works start in March.")
    expect(thread.locator(".replies li .author")).to_have_text("You")
    # ... and the question is now among the published ones, answered.
    published = page.locator(f'#question-list > li[data-item="{first}"]')
    expect(published.locator(".badge")).to_have_text("Answered")

    # A moderator publishes another forwarded question: it leaves "for you".
    publish(moda, third)
    expect(page.locator(f'#for-you-list > li[data-item="{third}"]')).to_have_count(0)
    expect(page.locator("#guest-status")).to_contain_text(f"Question {third} was published by moda.")
    # A moderator drops the hostile one: it leaves too.
    moda.send(f"QUEUE {CHANNEL} DROP {hostile} :Not a question")
    expect(page.locator("#for-you-list > li")).to_have_count(0)
    expect(page.locator("#guest-status")).to_contain_text(f"Question {hostile} was withdrawn by moda.")
    expect(page.get_by_text("No question is waiting for you right now.")).to_be_visible()
    check_axe(page, "console after answers")
    assert page.title() == "Guest console"
    assert page.errors == []


def test_prepared_answers_and_votes(start_event, new_page):
    server = start_event(config())
    moda = staff(server, "moda")
    carol = visitor(server, "carol")
    dave = visitor(server, "dave")
    erin = visitor(server, "erin")
    cost = ask(carol, "How much will the tram line cost?")
    sundays = ask(dave, "Is the tram free on Sundays?")
    cost_msgid = publish(moda, cost)
    publish(moda, sundays)
    dave.send(f"VOTE {CHANNEL} {cost}")
    dave.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("VOTE", "COUNTED"))

    page = new_page()
    open_console(page, server, moda)
    # Votes: the published questions with their counts, most votes first.
    rows = page.locator("#question-list > li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("How much will the tram line cost?")
    expect(rows.nth(0).locator(".votes")).to_have_text("1 vote")
    expect(rows.nth(1).locator(".votes")).to_have_text("0 votes")
    # Votes arrive live and reorder the list.
    carol.send(f"VOTE {CHANNEL} {sundays}")
    erin.send(f"VOTE {CHANNEL} {sundays}")
    expect(rows.nth(0)).to_contain_text("Is the tram free on Sundays?")
    expect(rows.nth(0).locator(".votes")).to_have_text("2 votes")

    # "Now answering", then "answered".
    rows.nth(0).get_by_role("button", name="I am answering this now").click()
    now = dave.expect(lambda m: m.command == "NOTICE" and "confchat/answering" in m.tags)
    assert now.tags["confchat/answering"] == str(sundays)
    expect(page.locator("#now")).to_contain_text("Is the tram free on Sundays?")
    # The keyboard follows: the next step, "answered", has the focus.
    expect(page.locator("#now").get_by_role("button", name="Mark as answered")).to_be_focused()
    page.keyboard.press("Enter")
    done = dave.expect(lambda m: m.command == "NOTICE" and "confchat/answered" in m.tags)
    assert done.tags["confchat/answered"] == str(sundays)
    expect(page.locator("#now")).to_contain_text("No question is marked as being answered.")

    # Prepared answers: add two, list them.
    panel = page.locator("#prepared")
    for name, text in (("tram", "The tram line costs 240 million euros, half from the region."), ("spare", "Spare text")):
        panel.get_by_label("Name").fill(name)
        panel.get_by_label("Text").fill(text)
        panel.get_by_role("button", name="Save prepared answer").click()
        expect(page.locator(f'#prepared-list > li[data-prepared="{name}"]')).to_contain_text(text)
    expect(page.locator("#guest-status")).to_contain_text("Prepared answer spare saved.")
    assert prepared_list(moda) == [
        ("tram", "mayor", "The tram line costs 240 million euros, half from the region."),
        ("spare", "mayor", "Spare text"),
    ]
    check_axe(page, "console with prepared answers")
    screenshot(page, "prepared")

    # Publish "tram" in reply to the cost question: the viewer gets it threaded.
    tram = page.locator('#prepared-list > li[data-prepared="tram"]')
    tram.get_by_label("In reply to").select_option(str(cost))
    tram.get_by_role("button", name="Publish").click()
    reply = dave.expect(lambda m: m.command == "PRIVMSG" and "+draft/reply" in m.tags)
    assert reply.params == (CHANNEL, "The tram line costs 240 million euros, half from the region.")
    assert reply.tags["+draft/reply"] == cost_msgid and reply.source.startswith("mayor!")
    expect(page.locator('#prepared-list > li[data-prepared="tram"]')).to_have_count(0)
    expect(page.locator(f'#question-list > li[data-item="{cost}"] .badge')).to_have_text("Answered")

    # Delete "spare", with a confirmation step.
    spare = page.locator('#prepared-list > li[data-prepared="spare"]')
    spare.get_by_role("button", name="Delete").click()
    spare.get_by_role("button", name="Cancel").click()
    expect(spare).to_be_visible()
    spare.get_by_role("button", name="Delete").click()
    spare.get_by_role("button", name="Yes, delete").click()
    expect(page.locator("#prepared-list > li")).to_have_count(0)
    expect(page.get_by_text("No prepared answer yet.")).to_be_visible()
    expect(page.locator("#guest-status")).to_contain_text("Prepared answer spare deleted.")
    assert prepared_list(moda) == []
    assert page.errors == []


def test_french_console(start_server, new_page):
    server = start_server(config())
    moda = staff(server, "moda")
    carol = visitor(server, "carol")
    page = new_page(locale="fr-FR", viewport={"width": 820, "height": 1180})  # a tablet
    page.goto(f"http://127.0.0.1:{server.http_port}/guest")
    assert page.locator("html").get_attribute("lang") == "fr"
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Compte").fill("mayor")
    page.get_by_label("Mot de passe").fill("faux")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_have_text("Nom de compte ou mot de passe incorrect. Veuillez réessayer.")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    moda.expect(lambda m: m.command == "JOIN" and (m.source or "").startswith("mayor!"))
    expect(page.get_by_text("Connecté en tant que mayor")).to_be_visible()
    expect(page.locator(".guest-bar")).to_contain_text("en ligne")

    item = ask(carol, "Le tram sera-t-il gratuit le dimanche ?")
    forward(moda, item)
    card = page.locator(f'#for-you-list > li[data-item="{item}"]')
    expect(card).to_contain_text("Le tram sera-t-il gratuit le dimanche ?")
    expect(card.locator("time")).to_have_text("posée à l'instant")
    expect(page.get_by_role("heading", name="Questions pour vous")).to_be_visible()
    expect(page.get_by_role("heading", name="Réponses préparées")).to_be_visible()
    expect(card.get_by_role("button", name="Publier la réponse")).to_be_visible()
    check_axe(page, "console in French")
    screenshot(page, "fr-tablet")

    # The server does not replay the guest's stage to a guest who joins
    # again: the console keeps it across a reload of the tab.
    page.reload()
    page.get_by_label("Compte").fill("mayor")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(card).to_contain_text("Le tram sera-t-il gratuit le dimanche ?")
    card.get_by_label("Votre réponse").fill("Oui, dès le printemps.")
    card.get_by_label("Votre réponse").press("Control+Enter")
    expect(page.locator("#guest-status")).to_contain_text(f"Votre réponse à la question {item} est publiée.")
    expect(page.get_by_text("Aucune question ne vous attend pour le moment.")).to_be_visible()
    answer = carol.expect(lambda m: m.command == "PRIVMSG" and "+draft/reply" in m.tags)
    assert answer.source.startswith("mayor")  # "mayor_NNN" if the old tab's connection lingers
    assert answer.params == (CHANNEL, "Oui, dès le printemps.")
    assert page.errors == []


def test_the_guest_sees_every_published_question_past_the_first_page(start_server, new_page):
    """CONF QUESTIONS sends 200 a page; the guest's console reads every
    page (it showed the first 200 only)."""
    cfg = config()
    cfg["moderation"] = {"max_pending_per_visitor": 0, "max_pending_per_address": 0}
    cfg["limits"] = {"flood_burst": 1000}  # 230 questions and approvals at test speed
    server = start_server(cfg)
    moda = staff(server, "moda")
    carol = visitor(server, "carol")
    for n in range(230):
        carol.send(f"PRIVMSG {CHANNEL} :Question number {n}?")
    for n in range(230):
        carol.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "HELD"))
    for item in range(1, 231):
        moda.send(f"QUEUE {CHANNEL} APPROVE {item}")
    moda.expect(lambda m: m.command == "PRIVMSG" and m.tags.get("confchat/item") == "230")
    page = new_page()
    open_console(page, server, moda)
    expect(page.locator("#question-list > li")).to_have_count(230)
    expect(page.locator("#question-list")).to_contain_text("Question number 229?")
    assert page.errors == []
