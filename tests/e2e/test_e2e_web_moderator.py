"""The moderation console (/moderator) in Debian's chromium, against the real
server: visitors, a viewer, a second moderator and the guest are plain IRC
clients over TCP; the console must show what they do, and what the console
does must reach them. Each state of the page is scanned with axe-core."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from e2e_client import screenshots_dir
from e2e_client import assert_no_axe_violations as assert_accessible
from argon2 import PasswordHasher
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
SHOTS = screenshots_dir()  # CONFCHAT_SCREENSHOTS=docs/screenshots to refresh the kept ones
CHANNEL = "#townhall"
PASSWORDS = {"moda": "moda-secret-pw", "modb": "modb-secret-pw", "mayor": "mayor-secret-pw"}
_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
CONFIG = {
    # One visitor asks seven questions in a row here: no cap on its share of the queue.
    "moderation": {"max_pending_per_visitor": 0, "max_pending_per_address": 0},
    "accounts": [{"name": name, "password_hash": _hasher.hash(pw)} for name, pw in PASSWORDS.items()],
    "conferences": [
        {
            "channel": CHANNEL,
            "title": "Ask the mayor",
            "moderators": ["moda", "modb"],
            "guests": ["mayor"],
            "state": "live",
        },
        {"channel": "#budget", "title": "The city budget", "moderators": ["moda"], "state": "open"},
    ],
}
VISITOR_CAPS = ("message-tags", "standard-replies")
VIEWER_CAPS = ("message-tags", "draft/message-redaction")
STAFF_CAPS = ("message-tags", "standard-replies", "echo-message", "draft/message-redaction")


# ------------------------------------------------------------------ helpers


@pytest.fixture
def town(start_event):
    """The event on one process, and again on two nodes of a cluster (the
    console on one, every IRC client on the other: conftest.py)."""
    return start_event(CONFIG)


def visitor(server, nick, caps=VISITOR_CAPS):
    client = server.client(nick, caps=caps)
    client.send(f"JOIN {CHANNEL}")
    client.expect("366")
    return client


def staff(server, account):
    client = server.client(account, caps=STAFF_CAPS, sasl=(account, PASSWORDS[account]))
    client.send(f"JOIN {CHANNEL}")
    client.expect("366")
    return client


def ask(client, text) -> str:
    """Send a question; its item id."""
    client.send(f"PRIVMSG {CHANNEL} :{text}")
    note = client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "HELD"))
    return note.params[3]


def published(client, text):
    return client.expect(lambda m: m.command == "PRIVMSG" and m.params == (CHANNEL, text))


def queue_item(client, item_id, state):
    return client.expect(
        lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[2] == item_id and m.params[3] == state
    )


def console(new_page, server, account="moda", locale="en-GB", viewport=None):
    """A console page, signed in and showing the conference."""
    page = new_page(locale=locale, viewport=viewport)
    page.goto(f"http://127.0.0.1:{server.http_port}/moderator")
    page.get_by_label("Account").fill(account)
    page.get_by_label("Password", exact=True).fill(PASSWORDS[account])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    return page


def item(page, item_id):
    return page.locator(f"#item-{item_id}")


def queue_order(page):
    return page.eval_on_selector_all("#queue-list > li:not(.decided)", "nodes => nodes.map(n => n.dataset.id)")



def screenshot(page, name, **kwargs):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"moderator-{name}.png"), **kwargs)


# ------------------------------------------------------------------ tests


def test_sign_in_refuses_a_wrong_password_and_keeps_it_out_of_urls(town, new_page):
    page = new_page()
    page.goto(f"http://127.0.0.1:{town.http_port}/moderator")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_accessible(page, "sign-in form")
    screenshot(page, "login")

    page.get_by_label("Account").fill("moda")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_have_text(re.compile("wrong account name or password"))
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert_accessible(page, "sign-in form with its error")

    page.get_by_label("Password", exact=True).fill(PASSWORDS["moda"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    expect(page.locator(".who")).to_have_text("Signed in as moda")
    expect(page.locator("#conf-title")).to_contain_text("Ask the mayor")
    assert "secret" not in page.url and "password" not in page.url
    assert page.errors == []


def test_the_console_speaks_french(town, new_page):
    page = new_page(locale="fr-FR")
    page.goto(f"http://127.0.0.1:{town.http_port}/moderator")
    page.get_by_label("Compte").fill("moda")
    page.get_by_label("Mot de passe").fill(PASSWORDS["moda"])
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    expect(page.get_by_role("heading", name=re.compile("File d’attente"))).to_be_visible()
    expect(page.get_by_role("button", name="Publier la suivante")).to_be_visible()


def test_live_queue_approve_drop_edit_and_hostile_text(town, new_page):
    page = console(new_page, town)
    carol = visitor(town, "carol")
    erin = visitor(town, "erin")
    dave = visitor(town, "dave", caps=("message-tags",))
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> & "quotes"'
    q1 = ask(carol, "When will the tram reach the north district?")
    q2 = ask(erin, "The mayor is a clown")
    q3 = ask(carol, "How much wil the tram line cost")
    q4 = ask(erin, hostile)
    q5 = ask(carol, "Will tickets be cheaper for students?")

    for item_id, author in ((q1, "carol"), (q2, "erin"), (q3, "carol"), (q4, "erin"), (q5, "carol")):
        expect(item(page, item_id)).to_contain_text(author)
    expect(item(page, q1)).to_contain_text("When will the tram reach the north district?")
    expect(item(page, q4).locator(".message-text")).to_have_text(hostile)
    assert item(page, q4).locator("img, script").count() == 0
    assert page.evaluate("window.pwned") is None
    expect(page.locator("#stat-queue")).to_have_text("5")
    expect(page.locator("#stat-audience")).to_have_text("3")
    expect(item(page, q1).locator(".age")).to_have_text(re.compile(r"waiting \d+ s"))
    assert queue_order(page) == [q1, q2, q3, q4, q5]

    # A busy moment: the second moderator claims one, one waits with the guest.
    modb = staff(town, "modb")
    modb.send(f"QUEUE {CHANNEL} CLAIM {q5}")
    queue_item(modb, q5, "pending")
    expect(item(page, q5)).to_contain_text("Claimed by modb")
    expect(item(page, q5).get_by_role("button", name="Take over")).to_be_visible()
    assert_accessible(page, "console with a queue")

    # Approve with the button: the viewer gets the question.
    item(page, q1).get_by_role("button", name="Approve").click()
    published(dave, "When will the tram reach the north district?")
    expect(item(page, q1)).to_contain_text("Published by moda")
    expect(page.locator("#stream-list")).to_contain_text("When will the tram reach the north district?")

    # Drop with a reason: the author is told why.
    item(page, q2).get_by_role("button", name="Drop").click()
    reason = item(page, q2).get_by_label("Reason (optional, shown to the author)")
    expect(reason).to_be_focused()
    reason.fill("Please stay polite")
    item(page, q2).get_by_role("button", name=f"Drop question {q2}").click()
    declined = erin.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "DECLINED"))
    assert declined.params[3] == q2 and declined.params[-1].endswith("Please stay polite")
    expect(item(page, q2)).to_contain_text("Dropped by moda")

    # Edit, then publish the edited text.
    item(page, q3).get_by_role("button", name="Edit").click()
    editor = item(page, q3).get_by_label(f"Edited text of question {q3}")
    expect(editor).to_have_value("How much wil the tram line cost")
    editor.fill("How much will the tram line cost?")
    item(page, q3).get_by_role("button", name="Publish edited text").click()
    published(dave, "How much will the tram line cost?")
    expect(item(page, q3)).to_contain_text("Published by moda")

    # Under load: more questions, one held, one with the guest, one being
    # answered; the decided ones are still shown in place for a moment.
    q6 = ask(erin, "Can the night buses run later on weekends?")
    q7 = ask(carol, "Why was the bike lane on Rue Haute removed?")
    ask(erin, "Will the tram stop at the hospital?")
    ask(carol, "Is there a plan for more trees in the city centre?")
    modb.send(f"QUEUE {CHANNEL} HOLD {q6}")
    modb.send(f"QUEUE {CHANNEL} FORWARD {q7}")
    expect(item(page, q7)).to_contain_text("With the guest")
    expect(item(page, q6)).to_contain_text("Held")
    page.locator("#stream-list li", has_text="north district").get_by_role("button", name="Now answering").click()
    expect(page.locator("#stat-answering")).to_have_text(f"#{q1}")
    item(page, q4).get_by_role("button", name="Drop").click()
    expect(item(page, q4).get_by_label("Reason (optional, shown to the author)")).to_be_focused()
    assert_accessible(page, "console with decided questions, forms and the stream")
    screenshot(page, "queue", full_page=True)
    # (Enter in the reason field: a click right after a full-page screenshot
    # can land after chromium restores the viewport and scrolls.)
    item(page, q4).get_by_label("Reason (optional, shown to the author)").press("Enter")
    expect(item(page, q4)).to_contain_text("Dropped by moda")

    # Decided questions leave the queue after a few seconds, once the pointer
    # is off the queue (nothing moves under it).
    page.mouse.move(1, 1)
    expect(item(page, q1)).to_have_count(0, timeout=12_000)
    expect(page.locator("#stat-queue")).to_have_text(re.compile(r"^5 1 held · 1 with the guest"))
    assert page.errors == []


def test_reorder_by_buttons_and_drag_forward_to_the_guest(town, new_page):
    page = console(new_page, town, viewport={"width": 1400, "height": 1500})  # drag without scrolling
    mayor = staff(town, "mayor")
    carol = visitor(town, "carol")
    ids = [ask(carol, f"Question number {n}") for n in range(1, 6)]
    expect(item(page, ids[4])).to_be_visible()
    assert queue_order(page) == ids

    item(page, ids[2]).get_by_role("button", name=f"Move question {ids[2]} up").click()
    expect(item(page, ids[2]).locator(".pos")).to_have_text("Position 2")
    assert queue_order(page) == [ids[0], ids[2], ids[1], ids[3], ids[4]]

    item(page, ids[0]).get_by_role("button", name=f"Move question {ids[0]} to the bottom").click()
    expect(item(page, ids[0]).locator(".pos")).to_have_text("Position 5")
    assert queue_order(page) == [ids[2], ids[1], ids[3], ids[4], ids[0]]

    # Drag the fourth question onto the top half of the first: it goes first.
    item(page, ids[4]).locator(".grip").drag_to(item(page, ids[2]), target_position={"x": 40, "y": 6})
    expect(item(page, ids[4]).locator(".pos")).to_have_text("Position 1")
    assert queue_order(page) == [ids[4], ids[2], ids[1], ids[3], ids[0]]
    # ...and onto the bottom half of the last: it goes last.
    box = item(page, ids[0]).bounding_box()
    item(page, ids[4]).locator(".grip").drag_to(item(page, ids[0]), target_position={"x": 40, "y": box["height"] - 6})
    expect(item(page, ids[4]).locator(".pos")).to_have_text("Position 5")
    assert queue_order(page) == [ids[2], ids[1], ids[3], ids[0], ids[4]]

    # Forward to the guest: the mayor's client receives the item.
    item(page, ids[1]).get_by_role("button", name="Forward to guest").click()
    forwarded = queue_item(mayor, ids[1], "forwarded")
    assert forwarded.params[-1] == "Question number 2"
    expect(item(page, ids[1])).to_contain_text("With the guest")
    expect(item(page, ids[1]).get_by_role("button", name="Forward to guest")).to_be_hidden()

    # Hold, unhold, claim, unclaim.
    item(page, ids[3]).get_by_role("button", name="Hold").click()
    expect(item(page, ids[3]).locator(".state-badge")).to_have_text("Held")
    item(page, ids[3]).get_by_role("button", name="Unhold").click()
    expect(item(page, ids[3]).locator(".state-badge")).to_have_text("Pending")
    item(page, ids[3]).get_by_role("button", name="Claim", exact=False).first.click()
    expect(item(page, ids[3])).to_contain_text("Claimed by you")
    item(page, ids[3]).get_by_role("button", name="Unclaim").click()
    expect(item(page, ids[3]).locator(".claim")).to_be_hidden()
    assert page.errors == []


def test_keyboard_shortcuts_release_next_and_bulk_approve(town, new_page):
    page = console(new_page, town)
    carol = visitor(town, "carol")
    dave = visitor(town, "dave", caps=("message-tags",))
    ids = [ask(carol, f"Keyboard question {n}") for n in range(1, 8)]
    expect(item(page, ids[-1])).to_be_visible()

    # j selects the first question, a approves it; the selection moves on.
    page.locator("#queue-title").focus()
    page.keyboard.press("j")
    expect(item(page, ids[0])).to_be_focused()
    expect(item(page, ids[0])).to_have_attribute("aria-current", "true")
    page.keyboard.press("a")
    published(dave, "Keyboard question 1")
    expect(item(page, ids[1])).to_have_attribute("aria-current", "true")

    # d asks for a reason; Enter drops.
    page.keyboard.press("d")
    reason = item(page, ids[1]).get_by_label("Reason (optional, shown to the author)")
    expect(reason).to_be_focused()
    page.keyboard.type("Off topic")
    page.keyboard.press("Enter")
    declined = carol.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "DECLINED"))
    assert declined.params[3] == ids[1] and declined.params[-1].endswith("Off topic")

    # j/k move the selection; Shift+K moves the question up; f forwards.
    expect(item(page, ids[2])).to_have_attribute("aria-current", "true")
    page.keyboard.press("j")
    expect(item(page, ids[3])).to_have_attribute("aria-current", "true")
    page.keyboard.press("k")
    page.keyboard.press("j")
    page.keyboard.press("Shift+K")
    expect(item(page, ids[3]).locator(".pos")).to_have_text("Position 1")
    page.keyboard.press("f")
    expect(item(page, ids[3]).locator(".state-badge")).to_have_text("With the guest")

    # e edits; Ctrl+Enter publishes the edited text.
    page.keyboard.press("j")
    expect(item(page, ids[2])).to_have_attribute("aria-current", "true")
    page.keyboard.press("e")
    editor = item(page, ids[2]).locator("textarea")
    expect(editor).to_be_focused()
    editor.fill("Keyboard question 3, edited")
    page.keyboard.press("Control+Enter")
    published(dave, "Keyboard question 3, edited")

    # Typing in a field never triggers a shortcut.
    page.get_by_label("Message to everyone (published at once)").type("a note")
    page.get_by_label("Message to everyone (published at once)").fill("")
    assert dave.drain(0.3) == []
    expect(page.locator("#stat-queue")).to_have_text(re.compile(r"^4 1 with the guest"))

    # n releases the next pending question (the forwarded one is skipped).
    page.locator("#queue-title").focus()
    page.keyboard.press("n")
    published(dave, "Keyboard question 5")

    # Bulk: tick two questions, approve them together (one comma list).
    expect(item(page, ids[5]).get_by_label(f"Select question {ids[5]}")).to_be_enabled()
    item(page, ids[5]).get_by_label(f"Select question {ids[5]}").check()
    item(page, ids[6]).get_by_label(f"Select question {ids[6]}").check()
    expect(page.locator(".selected-count")).to_have_text("2 selected")
    page.get_by_role("button", name="Approve selected").click()
    published(dave, "Keyboard question 6")
    published(dave, "Keyboard question 7")
    expect(page.locator("#stat-queue")).to_have_text(re.compile(r"^1 1 with the guest"))

    # The help lists the shortcuts and can turn them off.
    expect(page.locator("#help")).to_contain_text("Release the next pending question")
    page.get_by_label("Enable single-key shortcuts").uncheck()
    page.locator("#queue-title").focus()
    page.keyboard.press("n")
    assert dave.drain(0.3) == []
    assert page.errors == []


def test_a_second_moderator_deciding_first_is_shown_and_explained(town, new_page):
    page = console(new_page, town)
    modb = staff(town, "modb")
    carol = visitor(town, "carol")
    q1 = ask(carol, "Who decides first?")
    expect(item(page, q1)).to_be_visible()

    modb.send(f"QUEUE {CHANNEL} APPROVE {q1}")
    queue_item(modb, q1, "published")
    expect(item(page, q1)).to_contain_text("Published by modb")
    expect(page.locator("#stat-queue")).to_have_text("0")

    item(page, q1).get_by_role("button", name="Approve").click()
    expect(page.locator("#alerts")).to_contain_text(f"Question {q1} was already published by modb")
    expect(page.locator("#alerts")).to_have_attribute("aria-live", "assertive")

    # A claim by modb: the console says so, and an approval is refused.
    q2 = ask(carol, "Claimed question")
    modb.send(f"QUEUE {CHANNEL} CLAIM {q2}")
    expect(item(page, q2)).to_contain_text("Claimed by modb")
    item(page, q2).get_by_role("button", name="Approve").click()
    expect(page.locator("#alerts")).to_contain_text(f"Question {q2} is claimed by modb")
    item(page, q2).get_by_role("button", name="Take over").click()
    expect(item(page, q2)).to_contain_text("Claimed by you")
    assert page.errors == []


def test_published_stream_delete_and_answering(town, new_page):
    page = console(new_page, town)
    carol = visitor(town, "carol")
    dave = visitor(town, "dave", caps=VIEWER_CAPS)
    q1 = ask(carol, "Is the tram free on Sundays?")
    item(page, q1).get_by_role("button", name="Approve").click()
    question = published(dave, "Is the tram free on Sundays?")
    entry = page.locator(f"#stream-list li[data-msgid='{question.tags['msgid']}']")
    expect(entry).to_contain_text(f"Question {q1}")

    entry.get_by_role("button", name="Now answering").click()
    notice = dave.expect(lambda m: m.command == "NOTICE" and "confchat/answering" in m.tags)
    assert notice.tags["confchat/answering"] == q1
    expect(entry).to_contain_text("Being answered")
    expect(page.locator("#stat-answering")).to_have_text(f"#{q1}")

    # A moderator's own message to everyone, then its deletion.
    page.get_by_label("Message to everyone (published at once)").fill("Welcome everyone!")
    page.get_by_role("button", name="Send").click()
    welcome = published(dave, "Welcome everyone!")

    entry.get_by_role("button", name="Answered").click()
    dave.expect(lambda m: m.command == "NOTICE" and m.tags.get("confchat/answered") == q1)
    expect(entry.locator(".badges")).to_contain_text("Answered")

    entry.get_by_role("button", name="Delete").click()
    entry.get_by_label("Reason for deleting (optional)").fill("Posted twice")
    entry.get_by_role("button", name="Delete message").click()
    redact = dave.expect("REDACT")
    assert redact.params == (CHANNEL, question.tags["msgid"], "Posted twice")
    expect(entry).to_contain_text("Deleted by moda: Posted twice")

    own = page.locator(f"#stream-list li[data-msgid='{welcome.tags['msgid']}']")
    own.get_by_role("button", name="Delete").click()
    own.get_by_role("button", name="Delete message").click()
    assert dave.expect("REDACT").params[1] == welcome.tags["msgid"]

    # Conference state, room mode and slow mode.
    page.get_by_label("Slow mode, seconds (0 = off)").fill("30")
    page.get_by_role("button", name=re.compile("^Apply.*Slow mode")).click()
    assert dave.expect(lambda m: "confchat/slow_mode" in m.tags).tags["confchat/slow_mode"] == "30"
    page.get_by_label("Room mode", exact=True).select_option("readonly")
    page.get_by_role("button", name=re.compile("^Apply.*Room mode")).click()
    assert dave.expect(lambda m: "confchat/mode" in m.tags).tags["confchat/mode"] == "readonly"
    carol.send(f"PRIVMSG {CHANNEL} :Can I still ask?")
    assert carol.expect("FAIL").params[1] == "READ_ONLY"
    page.get_by_label("State", exact=True).select_option("closed")
    page.get_by_role("button", name=re.compile("^Apply.*State")).click()
    assert dave.expect(lambda m: "confchat/state" in m.tags).tags["confchat/state"] == "closed"
    expect(page.locator("#stream-list")).to_contain_text("Ask the mayor is closed")
    assert page.errors == []


def test_conference_from_the_address_and_from_the_list(town, new_page):
    carol = visitor(town, "carol")
    q1 = ask(carol, "A question for the mayor")
    carol.send("JOIN #budget")
    carol.expect("366")
    carol.send("PRIVMSG #budget :A question about the budget")
    budget_item = carol.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "HELD")).params[3]

    page = new_page()
    page.goto(f"http://127.0.0.1:{town.http_port}/moderator?conference=%23budget")
    page.get_by_label("Account").fill("moda")
    page.get_by_label("Password", exact=True).fill(PASSWORDS["moda"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    expect(page.locator("#conf-title")).to_contain_text("The city budget")
    expect(item(page, budget_item)).to_contain_text("A question about the budget")
    expect(page.get_by_label("State", exact=True)).to_have_value("open")

    page.get_by_label("Conference", exact=True).select_option(CHANNEL)
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    expect(page.locator("#conf-title")).to_contain_text("Ask the mayor")
    expect(item(page, q1)).to_contain_text("A question for the mayor")
    expect(page.locator("#queue-list li")).to_have_count(1)
    expect(page.get_by_label("State", exact=True)).to_have_value("live")
    assert page.errors == []


def test_ban_a_visitor_from_the_audience_list(town, new_page):
    page = console(new_page, town)
    carol = visitor(town, "carol")
    others = [visitor(town, nick) for nick in ("erin", "frank", "grace")]
    dave = visitor(town, "dave", caps=("message-tags",))
    expect(page.locator("#stat-audience")).to_have_text("5")
    visitors = page.locator("#visitor-list")
    expect(visitors).to_contain_text("carol")
    expect(page.locator(".staff-list")).to_contain_text("moda")

    # From a question to its author's actions in the audience list; Escape closes them.
    q1 = ask(carol, "BUY CHEAP WATCHES")
    item(page, q1).get_by_role("button", name="carol").click()
    carol_row = visitors.locator("li", has_text="carol")
    expect(carol_row.get_by_label("Reason")).to_be_focused()
    expect(carol_row.get_by_role("button", name="Actions for carol")).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(carol_row.get_by_role("button", name="Actions for carol")).to_be_focused()
    expect(carol_row.get_by_label("Reason")).to_be_hidden()
    page.get_by_label("Filter by nick").fill("")

    # Mute one visitor, disconnect another.
    frank, grace = others[1], others[2]
    frank_row = visitors.locator("li", has_text="frank")
    frank_row.get_by_role("button", name="Actions for frank").click()
    frank_row.get_by_label("Reason").fill("Calm down")
    frank_row.get_by_role("button", name="Mute").click()
    expect(page.locator("#bans-list")).to_contain_text("Calm down")
    frank.send(f"PRIVMSG {CHANNEL} :Let me talk")
    muted = frank.expect("FAIL")
    assert muted.params[1] == "MUTED" and muted.params[-1].endswith("Calm down")
    grace_row = visitors.locator("li", has_text="grace")
    grace_row.get_by_role("button", name="Actions for grace").click()
    grace_row.get_by_role("button", name="Disconnect").click()
    assert any(m.command == "ERROR" for m in grace.wait_closed())
    expect(visitors).not_to_contain_text("grace")
    others.remove(grace)

    row = visitors.locator("li", has_text="carol")
    row.get_by_role("button", name="Actions for carol").click()
    expect(row.get_by_label("Reason")).to_be_focused()
    row.get_by_label("Reason").fill("Spamming")
    row.get_by_label("Duration").select_option("3600")
    # Everyone here shares 127.0.0.1: the console says a ban by nick leaves
    # them alone (banning the address is a button of its own).
    expect(row).to_contain_text("share this address")
    expect(row.get_by_role("button", name="Ban the address (carol)")).to_be_visible()
    assert_accessible(page, "console with the audience actions open")
    screenshot(page, "audience", full_page=True)

    row.get_by_role("button", name="Ban (carol)", exact=True).click()
    kick = carol.expect("KICK")
    assert kick.params[:2] == (CHANNEL, "carol") and kick.params[-1] == "Spamming"
    carol.send(f"JOIN {CHANNEL}")
    refused = carol.expect("474")
    assert "Spamming" in refused.params[-1]
    expect(page.locator("#bans-list")).to_contain_text("carol!*@*")
    expect(visitors).not_to_contain_text("carol")
    # A ban by nick removes carol only: the others on 127.0.0.1 stay.
    expect(page.locator("#stat-audience")).to_have_text("3")
    for other in (dave, *others):
        other.roundtrip()
        assert not [m for m in other.received if m.command == "KICK"]

    # Lifting the ban lets carol back in.
    page.locator("#bans-list li", has_text="Spamming").get_by_role("button", name="Lift").click()
    expect(page.locator("#bans-list li")).to_have_count(1)  # the mute stays
    carol.send(f"JOIN {CHANNEL}")
    carol.expect(lambda m: m.command == "JOIN" and m.source.startswith("carol!"))
    expect(visitors).to_contain_text("carol")
    assert page.errors == []


def test_a_console_opened_mid_event_shows_the_published_questions_state(town, new_page):
    modb = staff(town, "modb")
    carol = visitor(town, "carol")
    dave = visitor(town, "dave", caps=("message-tags", "standard-replies"))
    q1 = ask(carol, "Asked before the console was opened")
    q2 = ask(carol, "Still waiting")
    modb.send(f"QUEUE {CHANNEL} APPROVE {q1}")
    published(dave, "Asked before the console was opened")
    dave.send(f"VOTE {CHANNEL} {q1}")
    dave.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("VOTE", "COUNTED"))
    modb.send(f"CONF {CHANNEL} ANSWERING {q1}")
    dave.expect(lambda m: m.tags.get("confchat/answering") == q1)

    page = console(new_page, town)
    entry = page.locator("#stream-list li.msg", has_text="Asked before the console was opened")
    expect(entry.locator(".badges")).to_have_text(re.compile(f"Question {q1}.*1 vote.*Being answered"))
    expect(page.locator("#stat-answering")).to_have_text(f"#{q1}")
    expect(item(page, q2)).to_contain_text("Still waiting")
    expect(page.locator("#stat-queue")).to_have_text("1")
    assert page.errors == []
