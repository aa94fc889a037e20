"""A request the server never answers, in Debian's chromium against the real
server: the moderator's action, the guest's answer and the visitor's
question must each show a visible, announced error with a Retry button
(never "done"), and Retry must then do it.

The server is made not to answer by never giving it the line: a script
installed before the page's own wraps WebSocket.send and holds back the
lines matching ``window.heldLines`` (a RegExp). The page's clock is
Playwright's, so that the ten seconds a request waits pass at once."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import expect

from e2e_client import assert_no_axe_violations as assert_accessible

CHANNEL = "#townhall"
PASSWORDS = {"moda": "moda-unanswered-pw", "mayor": "mayor-unanswered-pw"}
_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
CONFIG = {
    "accounts": [{"name": name, "password_hash": _hasher.hash(pw)} for name, pw in PASSWORDS.items()],
    "conferences": [
        {"channel": CHANNEL, "title": "Ask the mayor", "moderators": ["moda"], "guests": ["mayor"], "state": "live"},
    ],
}
CAPS = ("message-tags", "standard-replies")
REQUEST_WAIT_MS = 11_000  # past irc.js REQUEST_TIMEOUT_MS

HOLD_LINES = r"""
(() => {
  const send = WebSocket.prototype.send;
  window.heldLines = null;
  window.held = [];
  WebSocket.prototype.send = function (data) {
    let line = String(data);
    if (window.withoutLabels && line.startsWith("CAP REQ ")) line = line.replace(/ ?labeled-response/, "");
    if (window.heldLines && window.heldLines.test(line)) {
      window.held.push(line);
      return undefined;
    }
    return send.call(this, line);
  };
})();
"""


@pytest.fixture
def town(start_server):
    return start_server(CONFIG)


def open_page(new_page, server, path, without_labels=False):
    page = new_page()
    page.clock.install()
    page.add_init_script(HOLD_LINES + ("window.withoutLabels = true;" if without_labels else ""))
    page.goto(f"http://127.0.0.1:{server.http_port}{path}")
    return page


def hold(page, pattern: str) -> None:
    """From now on the server never gets the lines matching ``pattern``."""
    page.evaluate("(source) => { window.heldLines = new RegExp(source); }", pattern)


def release(page) -> None:
    page.evaluate("() => { window.heldLines = null; }")


def wait_unanswered(page, count: int = 1) -> list[str]:
    """Once ``count`` lines were held back, let the requests' wait run out."""
    page.wait_for_function("(n) => window.held.length >= n", arg=count)
    page.clock.fast_forward(REQUEST_WAIT_MS)
    return page.evaluate("() => window.held")


def visitor(server, nick):
    client = server.client(nick, caps=CAPS)
    client.send(f"JOIN {CHANNEL}")
    client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    return client


def staff(server, account):
    client = server.client(account, caps=CAPS, sasl=(account, PASSWORDS[account]))
    client.send(f"JOIN {CHANNEL}")
    client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    return client


def ask(client, text) -> str:
    client.send(f"PRIVMSG {CHANNEL} :{text}")
    return client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "HELD")).params[3]


def published(client, text):
    return client.expect(lambda m: m.command == "PRIVMSG" and m.params == (CHANNEL, text))


@pytest.mark.parametrize("labels", [True, False], ids=["labeled-response", "without-labels"])
def test_an_unanswered_moderator_action_says_so_and_retries(town, new_page, labels):
    page = open_page(new_page, town, "/moderator", without_labels=not labels)
    page.get_by_label("Account").fill("moda")
    page.get_by_label("Password", exact=True).fill(PASSWORDS["moda"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    carol = visitor(town, "carol")
    dave = visitor(town, "dave")
    first = ask(carol, "Answered at once?")
    second = ask(carol, "Answered late?")
    announced = page.locator("#main > div.visually-hidden[role=status]")

    # Answered: "done" (without labels, once the PONG after it is back).
    page.locator(f"#item-{first}").get_by_role("button", name="Approve").click()
    published(dave, "Answered at once?")
    expect(announced).to_have_text(f"Question {first} published.")

    # Not answered: an error with a Retry button, not "done".
    hold(page, r"^(@\S+ )?(QUEUE \S+ APPROVE |PING )")
    page.locator(f"#item-{second}").get_by_role("button", name="Approve").click()
    held = wait_unanswered(page)
    assert any(f"QUEUE {CHANNEL} APPROVE {second}" in line for line in held)
    alert = page.locator("#alerts .alert", has_text="did not answer")
    expect(alert).to_have_text(re.compile(r"^The server did not answer in time: the action may not have been done\."))
    expect(page.locator("#alerts")).to_have_attribute("aria-live", "assertive")
    expect(announced).not_to_have_text(f"Question {second} published.")
    expect(page.locator(f"#item-{second}")).to_contain_text("Pending")
    assert dave.drain(0.3) == []
    assert_accessible(page, "console with an unanswered action")

    # Retry, the server answering again: done.
    release(page)
    alert.get_by_role("button", name="Retry").click()
    published(dave, "Answered late?")
    expect(page.locator(f"#item-{second}")).to_contain_text("Published by moda")
    expect(announced).to_have_text(f"Question {second} published.")
    expect(alert).to_have_count(0)
    assert page.errors == []


def test_an_unanswered_guest_answer_is_not_reported_published(town, new_page):
    moda = staff(town, "moda")
    carol = visitor(town, "carol")
    page = open_page(new_page, town, "/guest")
    page.get_by_label("Account").fill("mayor")
    page.get_by_label("Password").fill(PASSWORDS["mayor"])
    page.get_by_role("button", name="Sign in").click()
    moda.expect(lambda m: m.command == "JOIN" and (m.source or "").startswith("mayor!"))
    item = ask(carol, "Is the tram free on Sundays?")
    moda.send(f"QUEUE {CHANNEL} FORWARD {item}")
    card = page.locator(f'#for-you-list > li[data-item="{item}"]')
    expect(card).to_contain_text("Is the tram free on Sundays?")

    hold(page, r"^(@\S+ )?ANSWER ")
    card.get_by_label("Your answer").fill("Yes, from next spring.")
    card.get_by_role("button", name="Publish answer").click()
    wait_unanswered(page)
    error = card.get_by_role("alert")
    expect(error).to_have_text("The server did not answer in time: your answer may not be published. Retry")
    expect(card.get_by_label("Your answer")).to_have_value("Yes, from next spring.")  # kept for the retry
    expect(card.get_by_role("button", name="Publish answer")).to_be_enabled()
    expect(page.locator("#guest-status")).not_to_contain_text("is published")
    assert_accessible(page, "guest console with an unanswered answer")

    release(page)
    error.get_by_role("button", name="Retry").click()
    answer = carol.expect(lambda m: m.command == "PRIVMSG" and "+draft/reply" in m.tags)
    assert answer.params == (CHANNEL, "Yes, from next spring.")
    expect(page.locator("#guest-status")).to_contain_text(f"Your answer to question {item} is published.")
    expect(card).to_have_count(0)
    assert page.errors == []


def test_an_unanswered_visitor_question_can_be_sent_again(town, new_page):
    moda = staff(town, "moda")
    page = open_page(new_page, town, "/")
    page.get_by_label("Your nickname").fill("carol")
    page.get_by_role("button", name="Join the chat").click()
    composer = page.get_by_role("textbox", name="Your question")
    expect(composer).to_be_focused()

    hold(page, rf"^(@\S+ )?PRIVMSG {CHANNEL} ")
    composer.fill("Will the night buses run later?")
    composer.press("Enter")
    wait_unanswered(page)
    error = page.locator(".compose").get_by_role("alert")
    expect(error).to_have_text(
        "The server did not answer in time: your question may not have been sent. Retry")
    expect(page.locator(".mine-item")).to_have_count(0)
    assert_accessible(page, "visitor page with an unanswered question")

    release(page)
    error.get_by_role("button", name="Retry").click()
    expect(page.locator(".mine-item", has_text="Will the night buses run later?")).to_contain_text("Awaiting moderation")
    moda.expect(lambda m: m.command == "QUEUE" and m.params[-1] == "Will the night buses run later?")
    expect(error).to_have_count(0)
    assert page.errors == []
