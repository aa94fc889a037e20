"""A whole session played through the three pages at once, each in its own
browser context (Debian chromium) against the real server: a visitor on `/`,
the moderator on `/moderator`, the guest on `/guest`, and a plain TCP IRC
viewer in the same conference. What one page does must show up live in the
others, and the viewer must receive exactly what was published, in order."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from playwright.sync_api import expect

from e2e_client import screenshots_dir

SCREENSHOTS = screenshots_dir()  # CONFCHAT_SCREENSHOTS=docs/screenshots to refresh the kept ones
CHANNEL = "#townhall"
PASSWORDS = {"moda": "moda-session-pw", "mayor": "mayor-session-pw"}
_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)

FIRST = "When will the tram reach the north district?"
SECOND = "The mayor is a clown"
THIRD = "Is the tram free on Sundays?"
ANSWER = "Yes: from next spring, on Sundays and holidays."
REASON = "Please stay polite"
DELETE_REASON = "Answered elsewhere"


def config() -> dict:
    return {
        "accounts": [{"name": name, "password_hash": _hasher.hash(pw)} for name, pw in PASSWORDS.items()],
        "conferences": [{
            "channel": CHANNEL,
            "title": "Ask the mayor",
            "moderators": ["moda"],
            "guests": ["mayor"],
            "state": "live",
        }],
    }


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"session-{name}.png"), full_page=True)


# ------------------------------------------------------------------ the visitor page


def mine(page, text: str):
    """The visitor's own question in "your questions"."""
    return page.locator(".mine-item").filter(has_text=text)


def in_stream(page, text: str):
    """A published question in the visitor's stream."""
    return page.get_by_role("log").locator("li.question").filter(has=page.locator("> .message-text", has_text=text))


def ask(page, text: str) -> None:
    composer = page.get_by_role("textbox", name="Your question")
    composer.fill(text)
    composer.press("Enter")
    expect(mine(page, text)).to_contain_text("Awaiting moderation")


# ------------------------------------------------------------------ the moderator console


def queue_item(page, text: str):
    return page.locator("#queue-list > li.item").filter(has=page.locator(".message-text", has_text=text))


# ------------------------------------------------------------------ the session


def test_a_whole_session_through_the_three_pages(start_server, new_page):
    server = start_server(config())
    origin = f"http://127.0.0.1:{server.http_port}"

    # A plain IRC viewer, there from the start.
    viewer = server.client("viewer", caps=("message-tags", "server-time"))
    viewer.send(f"JOIN {CHANNEL}")
    viewer.expect("366")
    joined_at = len(viewer.received)
    server_name = next(m.source for m in viewer.received if m.command == "001")

    visitor, moderator, guest = new_page(), new_page(), new_page()

    # The moderator signs in.
    moderator.goto(f"{origin}/moderator")
    moderator.get_by_label("Account").fill("moda")
    moderator.get_by_label("Password", exact=True).fill(PASSWORDS["moda"])
    moderator.get_by_role("button", name="Sign in").click()
    expect(moderator.locator("#console")).to_have_attribute("data-ready", "true")
    expect(moderator.locator(".who")).to_have_text("Signed in as moda")
    expect(moderator.locator("#conf-title")).to_contain_text("Ask the mayor")

    # The guest signs in.
    guest.goto(f"{origin}/guest")
    guest.get_by_label("Account").fill("mayor")
    guest.get_by_label("Password").fill(PASSWORDS["mayor"])
    guest.get_by_role("button", name="Sign in").click()
    expect(guest.get_by_text("Signed in as mayor")).to_be_visible()
    expect(guest.get_by_text("No question is waiting for you right now.")).to_be_visible()
    viewer.expect(lambda m: m.command == "JOIN" and (m.source or "").startswith("mayor!"))

    # The visitor opens the page and picks a nickname.
    visitor.goto(f"{origin}/")
    nick_box = visitor.get_by_role("textbox", name=re.compile("nickname", re.I))
    nick_box.fill("carol")
    nick_box.press("Enter")
    expect(visitor.get_by_role("textbox", name="Your question")).to_be_focused()
    expect(visitor.locator(".connection")).to_have_text("Connected as carol")
    expect(visitor.locator("#conf-title")).to_have_text("Ask the mayor")

    # Three questions, each awaiting moderation; the console shows them live.
    for text in (FIRST, SECOND, THIRD):
        ask(visitor, text)
    items = []
    for text in (FIRST, SECOND, THIRD):
        card = queue_item(moderator, text)
        expect(card).to_have_count(1)
        expect(card).to_contain_text("carol")
        items.append(card.get_attribute("data-id"))
    first_id, second_id, third_id = items
    expect(moderator.locator("#stat-queue")).to_have_text("3")
    for text in (FIRST, SECOND, THIRD):
        expect(in_stream(visitor, text)).to_have_count(0)

    # Approve the first.
    card1 = moderator.locator(f"#item-{first_id}")
    card1.get_by_role("button", name="Approve").click()
    expect(card1).to_contain_text("Published by moda")
    expect(in_stream(visitor, FIRST)).to_have_count(1)
    expect(mine(visitor, FIRST)).to_contain_text("Published")

    # Drop the second, with a reason: the visitor is told why.
    card2 = moderator.locator(f"#item-{second_id}")
    card2.get_by_role("button", name="Drop").click()
    reason = card2.get_by_label("Reason (optional, shown to the author)")
    expect(reason).to_be_focused()
    reason.fill(REASON)
    card2.get_by_role("button", name=f"Drop question {second_id}").click()
    expect(card2).to_contain_text("Dropped by moda")
    expect(mine(visitor, SECOND)).to_contain_text("Not published")
    expect(mine(visitor, SECOND)).to_contain_text(f"Reason: {REASON}")
    expect(in_stream(visitor, SECOND)).to_have_count(0)

    # Forward the third to the guest, who sees it and answers.
    card3 = moderator.locator(f"#item-{third_id}")
    card3.get_by_role("button", name="Forward to guest").click()
    expect(card3).to_contain_text("With the guest")
    for_you = guest.locator(f'#for-you-list > li[data-item="{third_id}"]')
    expect(for_you).to_contain_text(THIRD)
    expect(for_you.get_by_role("heading")).to_contain_text("carol")
    expect(guest.get_by_role("heading", name="Questions for you")).to_contain_text("(1)")
    expect(mine(visitor, THIRD)).to_contain_text("Awaiting moderation")
    for_you.get_by_label("Your answer").fill(ANSWER)
    for_you.get_by_role("button", name="Publish answer").click()
    expect(guest.locator("#guest-status")).to_contain_text(f"Your answer to question {third_id} is published.")
    expect(for_you).to_have_count(0)
    thread = guest.locator("#stream-list > li.stream-question").filter(has_text=THIRD)
    expect(thread.locator(".replies li")).to_contain_text(ANSWER)
    expect(guest.locator(f'#question-list > li[data-item="{third_id}"] .badge')).to_have_text("Answered")
    # (The console marks the question answered for everyone: a NOTICE; the
    # viewer has it before the deletion below is asked for.)
    viewer.expect(lambda m: m.command == "NOTICE" and m.tags.get("confchat/answered") == third_id)

    # The visitor sees the approved question, and the third with its answer.
    expect(in_stream(visitor, FIRST)).to_have_count(1)
    expect(in_stream(visitor, THIRD)).to_have_count(1)
    answer = in_stream(visitor, THIRD).locator(".answers li.answer")
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text(ANSWER)
    expect(answer.locator(".role")).to_have_text("Guest")
    expect(mine(visitor, THIRD)).to_contain_text("Published")
    expect(visitor.get_by_role("log").locator("li.msg.question")).to_have_count(2)
    # The console's stream has both published questions and the answer.
    expect(moderator.locator("#stream-list")).to_contain_text(THIRD)
    expect(moderator.locator("#stream-list")).to_contain_text(ANSWER)

    # The moderator deletes the first published question (REDACT).
    question1 = next(m for m in viewer.received if m.command == "PRIVMSG" and m.params[-1] == FIRST)
    entry = moderator.locator(f"#stream-list li[data-msgid='{question1.tags['msgid']}']")
    entry.get_by_role("button", name="Delete").click()
    entry.get_by_label("Reason for deleting (optional)").fill(DELETE_REASON)
    entry.get_by_role("button", name="Delete message").click()
    expect(entry).to_contain_text(f"Deleted by moda: {DELETE_REASON}")
    expect(in_stream(visitor, FIRST)).to_have_count(0)
    expect(in_stream(visitor, THIRD)).to_have_count(1)
    expect(in_stream(visitor, THIRD).locator(".answers li.answer")).to_contain_text(ANSWER)
    expect(visitor.get_by_role("log")).not_to_contain_text(FIRST)
    expect(visitor.get_by_role("log").locator("li.msg.question")).to_have_count(1)
    # The guest console drops it from the published questions too.
    expect(guest.locator(f'#question-list > li[data-item="{first_id}"]')).to_have_count(0)

    # The viewer: exactly what was published, in order, then the deletion.
    viewer.expect(lambda m: m.command == "NOTICE" and m.params[-1].startswith("A message was deleted"))
    viewer.roundtrip()  # nothing else pending from the server
    traffic = [m for m in viewer.received[joined_at:] if m.command not in ("JOIN", "MODE", "PONG")]
    assert all("time" in m.tags for m in traffic)  # server-time on every line
    assert [(m.command, m.source.split("!")[0], m.params) for m in traffic] == [
        ("PRIVMSG", "carol", (CHANNEL, FIRST)),
        ("PRIVMSG", "carol", (CHANNEL, THIRD)),
        ("PRIVMSG", "mayor", (CHANNEL, ANSWER)),
        ("NOTICE", server_name, (CHANNEL, f"Answered: carol: {THIRD}")),
        ("NOTICE", server_name, (CHANNEL, f"A message was deleted by the moderators: {DELETE_REASON}")),
    ], traffic
    question3, reply = traffic[1], traffic[2]
    assert traffic[0].tags["confchat/item"] == first_id
    assert question3.tags["confchat/item"] == third_id
    assert reply.tags["+draft/reply"] == question3.tags["msgid"] and reply.tags["confchat/item"] == third_id
    assert traffic[3].tags["confchat/answered"] == third_id
    assert len({m.tags["msgid"] for m in traffic}) == 5
    # Nothing about the dropped question, its reason or its item id.
    for m in viewer.received:
        assert SECOND not in " ".join(m.params) and REASON not in " ".join(m.params), m
        assert second_id not in [v for k, v in m.tags.items() if k.startswith(("confchat/", "+draft/"))], m

    shot(visitor, "visitor")
    shot(moderator, "moderator")
    shot(guest, "guest")
    for page in (visitor, moderator, guest):
        assert page.errors == []
