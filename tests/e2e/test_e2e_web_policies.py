"""Automatic moderation in the moderation console (/moderator), in Debian's
chromium, against the real server with the example policy plugin
(tests/plugins/example-policy): the flags, score and reasons of held
questions, the filter and the sort, "approve all unflagged", the messages
the policies dropped, and shield mode. Visitors, a viewer and a second
moderator are plain IRC clients over TCP; each new state of the page is
scanned with axe-core."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import expect

from e2e_client import assert_no_axe_violations as assert_accessible
from e2e_client import screenshots_dir

SHOTS = screenshots_dir()  # CONFCHAT_SCREENSHOTS=docs/screenshots to refresh the kept ones
CHANNEL = "#townhall"
SLOW = "#budget"
PASSWORDS = {"moda": "moda-secret-pw", "modb": "modb-secret-pw"}
_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
ACCOUNTS = [{"name": name, "password_hash": _hasher.hash(pw)} for name, pw in PASSWORDS.items()]
CONFIG = {
    "moderation": {"policies": [{"policy": "example"}], "max_pending_per_visitor": 0, "max_pending_per_address": 0, "policy_timeout": 2.0},
    "accounts": ACCOUNTS,
    "conferences": [
        {"channel": CHANNEL, "title": "Ask the mayor", "moderators": ["moda", "modb"], "state": "live",
         "mode": "moderated"},
        # A slow screening service that never answers in time, and a broken plugin.
        {"channel": SLOW, "title": "The city budget", "moderators": ["moda", "modb"], "state": "live",
         "inherit_policies": False,
         "policies": [{"policy": "example-slow", "seconds": 30.0}, {"policy": "example-broken"}]},
    ],
}
VISITOR_CAPS = ("message-tags", "standard-replies")
STAFF_CAPS = ("message-tags", "standard-replies", "echo-message")
PHONE = {"width": 390, "height": 844}


# ------------------------------------------------------------------ helpers


@pytest.fixture
def town(start_server):
    return start_server(CONFIG)


def visitor(server, nick, channel=CHANNEL):
    client = server.client(nick, caps=VISITOR_CAPS)
    client.send(f"JOIN {channel}")
    client.expect("366")
    return client


def staff(server, account, channel=CHANNEL):
    client = server.client(account, caps=STAFF_CAPS, sasl=(account, PASSWORDS[account]))
    client.send(f"JOIN {channel}")
    client.expect("366")
    return client


def ask(client, text, channel=CHANNEL) -> str:
    """Send a question the server holds; its item id."""
    client.send(f"PRIVMSG {channel} :{text}")
    note = client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "HELD"))
    return note.params[3]


def console(new_page, server, account="moda", viewport=None, conference=None):
    """A console page, signed in and showing the conference; the lines it
    sends over its WebSocket are kept in ``page.sent``."""
    page = new_page(viewport=viewport)
    page.sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: page.sent.append(str(payload))))
    query = f"?conference={conference.replace('#', '%23')}" if conference else ""
    page.goto(f"http://127.0.0.1:{server.http_port}/moderator{query}")
    page.get_by_label("Account").fill(account)
    page.get_by_label("Password", exact=True).fill(PASSWORDS[account])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    return page


def item(page, item_id):
    return page.locator(f"#item-{item_id}")


SHOWN = "#queue-list > li:not(.decided):not([hidden])"


def shown_queue(page):
    """The ids of the waiting questions shown, in the order shown."""
    return page.eval_on_selector_all(SHOWN, "nodes => nodes.map(n => n.dataset.id)")


def expect_shown(page, ids):
    """Wait until the waiting questions shown are ``ids``, in that order."""
    try:
        page.wait_for_function(
            "([selector, ids]) => JSON.stringify([...document.querySelectorAll(selector)].map(n => n.dataset.id))"
            " === JSON.stringify(ids)", arg=[SHOWN, list(ids)], timeout=5_000)
    except Exception:
        raise AssertionError(f"shown {shown_queue(page)}, wanted {list(ids)}") from None


def screenshot(page, name, **kwargs):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"moderator-{name}.png"), **kwargs)


def privmsgs(client):
    client.roundtrip()
    return [m.params[1] for m in client.drain() if m.command == "PRIVMSG"]


# ------------------------------------------------------------------ tests


def test_flags_score_reasons_filter_sort_and_the_automatic_drops(town, new_page):
    page = console(new_page, town)
    carol, erin = visitor(town, "carol"), visitor(town, "erin")
    fine = ask(erin, "a fine question")
    other = ask(carol, "Will the tram run at night?")
    doubtful = ask(carol, "a doubtful question")

    # Held by the plugin: its flag (a badge that says what it is), score and reason.
    badge = item(page, doubtful).locator(".badge.flag[data-flag='example']")
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("Flag: example")
    expect(item(page, doubtful).locator(".findings")).to_contain_text("Score 0.5")
    expect(item(page, doubtful).locator(".reasons li")).to_have_text(["example: contains 'doubtful'"])
    expect(item(page, doubtful)).to_have_class(re.compile(r"\bflagged\b"))
    # Nothing against it: in the queue (a moderated conference), unflagged.
    expect(item(page, fine)).to_contain_text("a fine question")
    expect(item(page, fine).locator(".badge.flag")).to_have_count(0)
    expect(item(page, fine).locator(".findings")).to_be_hidden()
    expect(page.locator("#stat-queue")).to_have_text(re.compile(r"^3 1 flagged"))

    # Dropped by the plugin: its author is told, the queue never shows it,
    # the list of automatic drops does, with the reason.
    carol.send(f"PRIVMSG {CHANNEL} :forbidden words")
    declined = carol.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "DECLINED"))
    dropped = declined.params[3]
    drops = page.locator("#auto-drops")
    expect(drops.locator("#auto-drops-list > li")).to_have_count(1)
    entry = drops.locator(f"li[data-id='{dropped}']")
    expect(entry).to_contain_text("forbidden words")
    expect(entry).to_contain_text("carol")
    expect(entry).to_contain_text(f"#{dropped} dropped by the policy example")
    expect(entry.locator(".reasons li")).to_have_text(["example: contains 'forbidden'"])
    expect(page.locator("#auto-drops-count")).to_have_text("(1)")
    expect(item(page, dropped)).to_have_count(0)
    expect_shown(page, [fine, other, doubtful])

    # Filter (a labelled select, by the keyboard): flagged, unflagged, by flag.
    show = page.get_by_label("Show", exact=True)
    show.focus()
    page.keyboard.press("ArrowDown")  # All questions -> Flagged by a policy
    expect(show).to_have_value("flagged")
    expect(page.locator("#shown-count")).to_have_text("Showing 1 of 3")
    expect_shown(page, [doubtful])
    show.select_option(label="Not flagged")
    expect_shown(page, [fine, other])
    # The keyboard goes only through the questions shown.
    page.locator("#queue-title").focus()
    page.keyboard.press("j")
    expect(item(page, fine)).to_be_focused()
    page.keyboard.press("j")
    expect(item(page, other)).to_be_focused()
    page.keyboard.press("j")
    expect(item(page, other)).to_be_focused()
    show.select_option(label="Flag: example")
    expect_shown(page, [doubtful])
    show.select_option("all")
    expect(page.locator("#shown-count")).to_have_text("")
    expect_shown(page, [fine, other, doubtful])

    # Sort: the highest score first; the moves are in queue order only.
    order = page.get_by_label("Order", exact=True)
    order.select_option(label="Highest score first")
    expect(item(page, fine).get_by_role("button", name=f"Move question {fine} up")).to_be_hidden()
    expect_shown(page, [doubtful, fine, other])
    assert_accessible(page, "console with flagged items, sorted by score, and an automatic drop")
    screenshot(page, "policies", full_page=True)
    order.select_option(label="Queue order")
    expect_shown(page, [fine, other, doubtful])
    expect(item(page, fine).get_by_role("button", name=f"Move question {fine} up")).to_be_visible()

    # The same on a phone.
    phone = console(new_page, town, account="modb", viewport=PHONE)
    expect(item(phone, doubtful).locator(".reasons li")).to_have_text(["example: contains 'doubtful'"])
    assert_accessible(phone, "console with flagged items on a phone")
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.locator("#queue").screenshot(path=str(SHOTS / "moderator-policies-phone.png"))
    assert page.errors == [] and phone.errors == []


def test_approve_all_unflagged_publishes_only_those_in_one_command(town, new_page):
    page = console(new_page, town)
    modb = staff(town, "modb")
    carol, erin = visitor(town, "carol"), visitor(town, "erin")
    viewer = visitor(town, "viewer")
    first = ask(carol, "a fine question")
    doubtful = ask(erin, "a doubtful question")
    second = ask(erin, "How late do the trams run?")
    claimed = ask(carol, "Is the library open on Sunday?")
    third = ask(carol, "Where will the new stops be?")
    held = ask(erin, "Who pays for the works?")
    modb.send(f"QUEUE {CHANNEL} CLAIM {claimed}")  # another moderator's: left alone
    modb.send(f"QUEUE {CHANNEL} HOLD {held}")  # held by a person: not pending
    modb.roundtrip()
    expect(item(page, claimed)).to_contain_text("Claimed by modb")
    expect(item(page, held).locator(".state-badge")).to_have_text("Held")

    button = page.get_by_role("button", name=re.compile("^Approve all unflagged"))
    expect(button).to_have_text("Approve all unflagged (3)")
    button.click()
    dialog = page.get_by_role("dialog", name="Approve all unflagged questions?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("3 pending questions that no policy flagged will be published now")
    expect(dialog.locator(".confirm-list li")).to_have_text(
        ["carol: a fine question", "erin: How late do the trams run?", "carol: Where will the new stops be?"])
    confirm = dialog.get_by_role("button", name="Approve 3 questions")
    expect(confirm).to_be_focused()
    assert_accessible(page, "the confirmation of approve all unflagged")

    # Escape (or Cancel) sends nothing.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()
    assert privmsgs(viewer) == []

    button.click()
    dialog.get_by_role("button", name="Approve 3 questions").click()
    texts = [viewer.expect("PRIVMSG").params[1] for _ in range(3)]
    assert texts == ["a fine question", "How late do the trams run?", "Where will the new stops be?"]
    assert privmsgs(viewer) == []  # nothing else: not the flagged, the claimed or the held one
    approvals = [line for line in page.sent if " APPROVE " in line]
    assert len(approvals) == 1 and approvals[0].endswith(f"QUEUE {CHANNEL} APPROVE {first},{second},{third}")
    for item_id in (first, second, third):
        expect(item(page, item_id)).to_contain_text("Published by moda")
    for item_id in (doubtful, claimed, held):
        expect(item(page, item_id)).not_to_have_class(re.compile(r"\bdecided\b"))
    expect(button).to_have_text("Approve all unflagged (0)")
    expect(button).to_be_disabled()
    assert page.errors == []


def test_screening_and_a_failed_policy_stand_out(town, new_page):
    page = console(new_page, town, conference=SLOW)
    carol = visitor(town, "carol", channel=SLOW)
    item_id = ask(carol, "How much does the tram cost?", channel=SLOW)
    # Held while the slow policy screens it; the broken one failed at once.
    question = item(page, item_id)
    expect(question.locator(".badge.flag-screening")).to_have_text(re.compile("screening"))
    expect(question).to_have_class(re.compile(r"\bflag-screening\b"))
    expect(question.locator(".flag-note-screening")).to_contain_text("still looking at it")
    expect(question.locator(".badge.flag-alert")).to_have_text(re.compile("policy-error"))
    expect(question).to_have_class(re.compile(r"\bflag-alert\b"))
    expect(question.locator(".flag-note-policy-error")).to_contain_text("read it yourself")
    assert_accessible(page, "console with a question being screened, a policy failed on it")
    # Past policy_timeout the screening ends: for a person, flagged policy-error.
    expect(question.locator(".badge.flag-screening")).to_have_count(0, timeout=8_000)
    expect(question.locator(".state-badge")).to_have_text("Pending")
    expect(question.locator(".badge.flag")).to_have_count(1)
    expect(question).to_have_class(re.compile(r"\bflag-alert\b"))
    expect(page.get_by_role("button", name=re.compile("^Approve all unflagged"))).to_be_disabled()
    assert page.errors == []


def test_shield_mode_raised_and_lowered_from_the_console(town, new_page):
    page = console(new_page, town)
    modb = staff(town, "modb")
    carol = visitor(town, "carol")
    banner = page.locator("#shield")
    expect(banner.locator("#shield-text")).to_have_text("Shield mode is off.")

    page.get_by_role("button", name="Raise the shield…").click()
    reason = page.get_by_label("Reason (optional, shown to the other moderators)")
    expect(reason).to_be_focused()
    reason.fill("trolls in the chat")
    page.get_by_label("Also refuse new visitors").check()
    assert_accessible(page, "the shield form")
    page.get_by_role("button", name="Raise the shield", exact=True).click()
    event = modb.expect(lambda m: m.command == "CONF" and m.params[1] == "SHIELD")
    assert event.params == (CHANNEL, "SHIELD", "on", "moda", "trolls in the chat")
    assert f"CONF {CHANNEL} SHIELD ON CLOSED :trolls in the chat" in " ".join(page.sent)
    expect(banner.locator("#shield-text")).to_have_text("Shield mode is on: trolls in the chat (by moda)")
    expect(banner).to_contain_text("New visitors are refused.")
    expect(page.get_by_role("button", name="Lower the shield")).to_be_focused()

    # Every visitor message is held, flagged shield; new visitors are refused.
    held = ask(carol, "a fine question")
    expect(item(page, held).locator(".badge.flag[data-flag='shield']")).to_be_visible()
    late = town.client("late", caps=VISITOR_CAPS)
    late.send(f"JOIN {CHANNEL}")
    assert "no new visitors" in late.expect("474").params[-1]
    assert_accessible(page, "console with the shield up")
    screenshot(page, "shield")

    # A console opened now learns it from CONF INFO.
    phone = console(new_page, town, account="modb", viewport=PHONE)
    expect(phone.locator("#shield-text")).to_have_text("Shield mode is on: trolls in the chat")
    expect(phone.locator("#shield")).to_contain_text("New visitors are refused.")
    assert_accessible(phone, "console with the shield up on a phone")
    screenshot(phone, "shield-phone")

    page.get_by_role("button", name="Lower the shield").click()
    event = modb.expect(lambda m: m.command == "CONF" and m.params[1] == "SHIELD")
    assert event.params[2:4] == ("off", "moda")
    expect(banner.locator("#shield-text")).to_have_text("Shield mode is off.")
    expect(phone.locator("#shield-text")).to_have_text("Shield mode is off.")
    expect(page.get_by_role("button", name="Raise the shield…")).to_be_focused()
    viewer = visitor(town, "viewer")
    after = ask(carol, "a fine question again")  # held for the moderated queue only
    expect(item(page, after)).to_be_visible()
    expect(item(page, after).locator(".badge.flag")).to_have_count(0)
    item(page, held).get_by_role("button", name="Approve").click()
    assert viewer.expect("PRIVMSG").params[1] == "a fine question"
    assert page.errors == [] and phone.errors == []


def test_the_banner_says_when_the_server_raised_the_shield_itself(start_server, new_page):
    server = start_server({
        "moderation": {"shield_messages": 2, "shield_window": 30.0, "max_pending_per_visitor": 0, "max_pending_per_address": 0},
        "accounts": ACCOUNTS,
        "conferences": [{"channel": CHANNEL, "title": "Ask the mayor", "moderators": ["moda"], "state": "live"}],
    })
    page = console(new_page, server)
    carol = visitor(server, "carol")
    for n in range(3):
        ask(carol, f"question {n}")
    text = page.locator("#shield-text")
    expect(text).to_have_text(re.compile(r"^Shield mode was raised automatically by the server: more than 2 visitor"))
    expect(page.locator("#shield")).to_have_class(re.compile(r"\bauto\b"))
    expect(page.locator("#alerts")).to_contain_text("The server raised shield mode by itself")
    expect(page.locator("#shield")).not_to_contain_text("New visitors are refused.")
    assert_accessible(page, "console with the shield raised by the server")
    assert page.errors == []
