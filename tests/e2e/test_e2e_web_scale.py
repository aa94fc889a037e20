"""The moderation console at the size of a large event, against the real
server: 10,000 visitors in the auditorium (plain sockets from this process,
tests/e2e/crowd.py) and 10,000 questions waiting. The console in Debian's
chromium must be ready from the first page of the queue with the audience
as a count, take the rest of the queue page after page, list the audience
from the server (a page, the next, a search) and act on those rows; a TCP
moderator pages through the whole queue. And a console opened before the
doors open follows its audience past the NAMES limit and back.

Timings are printed (pytest -s shows them), never asserted: the machine is
shared."""

from __future__ import annotations

import os
import re
import resource
import time
from contextlib import ExitStack

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import expect

from crowd import Crowd, raise_fd_limit
from e2e_client import assert_no_axe_violations as assert_accessible

VISITORS = 10_000
ASKERS = 10  # visitors who ask...
EACH = 1_000  # ...this many questions apiece
ITEMS = ASKERS * EACH
FDS_NEEDED = 10_500  # the crowd's sockets and this process's own (the server gets as many)
CHANNEL = "#hall"
PASSWORDS = {"moda": "moda-secret-pw", "modb": "modb-secret-pw"}
_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
CONFIG = {
    "limits": {
        "max_connections_per_ip": 0,
        "flood_burst": 1_000_000,
        "flood_rate": 1_000_000.0,
        "ping_interval": 900.0,  # nobody idles out during the test
    },
    # A few visitors ask everything: no cap on their share of the queue.
    "moderation": {"max_pending_per_visitor": 0, "max_pending_per_address": 0},
    "history": {"join_backlog": 0},
    # What is acknowledged waits for its commit: fsyncs are the shared disk's, and this test is not about them.
    "storage": {"synchronous": "normal"},
    "accounts": [{"name": name, "password_hash": _hasher.hash(pw)} for name, pw in PASSWORDS.items()],
    "conferences": [
        {"channel": CHANNEL, "title": "The town hall", "moderators": ["moda", "modb"], "state": "live"},
    ],
}
STAFF_CAPS = ("message-tags", "standard-replies", "batch")
COMMIT_WAIT = 20_000  # ms: a reply that follows a commit, on a busy machine


@pytest.fixture
def files():
    """The soft limit on open files raised to the hard one (a server
    started next inherits it), and back afterwards: the limit now."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        yield raise_fd_limit()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


@pytest.fixture
def enough_files(files):
    """Too low a hard limit on open files skips the test (fails it when CI is set)."""
    if files < FDS_NEEDED:
        why = (f"needs {FDS_NEEDED:,} open files (10,000 visitors and the server's side of them); "
               f"the hard limit (ulimit -Hn) is {files:,}")
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def list_queue(client, total: int = ITEMS) -> list[tuple[int, int]]:
    """QUEUE LIST, page after page: (position, id) of every item."""
    rows: list[tuple[int, int]] = []
    client.roundtrip()  # the item events so far are not the listing
    client.send(f"QUEUE {CHANNEL} LIST")
    pages = 1
    while True:
        msg = client.expect(lambda m: m.command == "QUEUE" and m.params[1] in ("ITEM", "MORE", "END"))
        if msg.params[1] == "ITEM":
            rows.append((int(msg.params[4]), int(msg.params[2])))
        elif msg.params[1] == "MORE":
            assert int(msg.params[2]) == len(rows) + 1
            client.expect(lambda m: m.command == "QUEUE" and m.params[1] == "END")
            client.send(f"QUEUE {CHANNEL} LIST {msg.params[2]}")
            pages += 1
        else:
            assert msg.params[2] == f"{total} waiting"
            assert pages == -(-total // 200)
            return rows


def console(new_page, server):
    """A console signed in as moda and ready."""
    page = new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/moderator")
    page.get_by_label("Account").fill("moda")
    page.get_by_label("Password", exact=True).fill(PASSWORDS["moda"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true", timeout=30_000)
    return page


def test_the_console_with_10000_visitors_and_10000_questions(enough_files, start_server, new_page):
    server = start_server(CONFIG)
    timings: dict[str, float] = {}
    with ExitStack() as cleanup:
        crowd = cleanup.enter_context(Crowd(server.host, server.port, CHANNEL))
        # The crowd and one viewer of our own (who reads what is published).
        timings["visitors joined"] = crowd.join(VISITORS - 1, timeout=60)
        started = time.monotonic()
        ids = crowd.ask(ASKERS, EACH, timeout=60)
        timings["questions held"] = time.monotonic() - started
        assert len(ids) == ITEMS and ids == sorted(set(ids))
        viewer = server.client("viewer", caps=("message-tags",))
        cleanup.callback(viewer.close)
        viewer.send(f"JOIN {CHANNEL}")
        viewer.expect("366")

        # The console: ready with the first page of the queue, the audience a count.
        page = new_page()
        cleanup.callback(page.context.close)  # before the crowd goes (its 10,000 QUITs are not for the page)
        page.goto(f"http://127.0.0.1:{server.http_port}/moderator")
        page.get_by_label("Account").fill("moda")
        page.get_by_label("Password", exact=True).fill(PASSWORDS["moda"])
        started = time.monotonic()
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#console")).to_have_attribute("data-ready", "true", timeout=30_000)
        ready = time.monotonic()
        timings["console ready"] = ready - started
        first = page.locator(f"#item-{ids[0]}")
        expect(first).to_contain_text(crowd.questions[ids[0]])
        expect(page.locator("#stat-audience")).to_have_text("10,000")
        expect(page.locator("#audience-note")).to_contain_text("10,000 visitors")
        visitors = page.locator("#visitor-list > li")
        expect(visitors).to_have_count(200)
        expect(visitors.first).to_contain_text("v0")
        expect(page.locator("#queue-more")).to_be_visible()

        # A moderator over TCP pages through the whole queue: each id once, in order.
        modb = server.client("modb", caps=STAFF_CAPS, sasl=("modb", PASSWORDS["modb"]))
        cleanup.callback(modb.close)
        modb.send(f"JOIN {CHANNEL}")
        modb.expect("366")
        started = time.monotonic()
        rows = list_queue(modb)
        timings["TCP QUEUE LIST, every page"] = time.monotonic() - started
        assert [pos for pos, _ in rows] == list(range(1, ITEMS + 1))
        assert [item_id for _, item_id in rows] == ids

        # Approved from the console: the viewer has it.
        first.get_by_role("button", name=re.compile("^Approve")).click()
        text = crowd.questions[ids[0]]
        viewer.expect(lambda m: m.command == "PRIVMSG" and m.params == (CHANNEL, text), COMMIT_WAIT / 1000)

        # The queue moves while the console's later pages come: a question
        # from far down goes to the top, one the console has and one it has
        # not yet are decided. It misses nothing and counts nothing twice.
        expect(page.locator("#queue-loading")).to_be_visible()
        moved, early, late = ids[5000], ids[2], ids[7000]
        for line in (f"MOVE {moved} top", f"APPROVE {early}", f"DROP {late}"):
            modb.send(f"QUEUE {CHANNEL} {line}")
            modb.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[2] in map(str, ids))
        expected = [moved, *(i for i in ids if i not in (ids[0], moved, early, late))]

        # The rest of the queue came in, page after page.
        expect(page.locator("#queue-loading")).to_be_hidden(timeout=45_000)
        timings["the whole queue in the console, after ready"] = time.monotonic() - ready
        # Counted from what it has now: each of the 9,997 questions once.
        expect(page.locator("#stat-queue")).to_have_text(f"{len(expected):,}")
        assert [item_id for _, item_id in list_queue(modb, len(expected))] == expected
        # The page holds the first 300 (and the decided ones, until they go), then a button for more.
        waiting = "#queue-list > li:not(.decided)"
        assert page.eval_on_selector_all(waiting, "nodes => nodes.map(n => +n.dataset.id)") == expected[:300]
        more = page.locator("#queue-more")
        expect(more).to_have_text(f"Show 300 more questions ({len(expected) - 300:,} not shown)")
        more.click()
        expect(page.locator(waiting)).to_have_count(600)
        expect(page.locator(f"#item-{expected[300]}")).to_be_focused()
        assert page.eval_on_selector_all(waiting, "nodes => nodes.map(n => +n.dataset.id)") == expected[:600]

        # The audience: the next page, a search, and the actions on its rows.
        # (By id: a role or label query walks the whole page, which holds 600 questions now.)
        more = page.locator("#audience-more")
        expect(more).to_have_text("Show more visitors (9,800 not shown yet)")
        more.click()
        expect(visitors).to_have_count(400)
        by_nick = sorted([f"v{n}" for n in range(VISITORS - 1)] + ["viewer"])  # the server's order (folded nicks)
        expect(visitors.nth(200).locator(".nick")).to_have_text(by_nick[200])
        expect(visitors.nth(399).locator(".nick")).to_have_text(by_nick[399])
        search = page.locator("#audience-filter")
        expect(page.locator("label[for=audience-filter]")).to_have_text("Search by nick or account")
        search.fill("v9998")
        expect(visitors).to_have_count(1)
        expect(page.locator("#audience-shown")).to_have_text("1 visitor matches “v9998”.")
        row = visitors.first
        row.get_by_role("button", name="Actions for v9998").click()
        row.get_by_label("Reason").fill("Too loud")
        row.get_by_role("button", name="Mute").click()
        expect(page.locator("#bans-list")).to_contain_text("Too loud", timeout=COMMIT_WAIT)
        search.fill("v4242")
        expect(visitors).to_have_count(1)
        row = visitors.first
        row.get_by_role("button", name="Actions for v4242").click()
        row.get_by_role("button", name="Disconnect").click()
        assert crowd.disconnected("v4242").startswith(b"ERROR")
        expect(page.locator("#stat-audience")).to_have_text("9,999")
        expect(page.locator("#visitor-list")).not_to_contain_text("v4242")
        search.fill("")
        expect(page.locator("#audience-shown")).to_have_text("200 of 9,999 visitors shown.")
        expect(visitors).to_have_count(200)
        assert page.errors == []
    print("\n" + "\n".join(f"{name}: {seconds:.1f} s" for name, seconds in timings.items()))


def test_the_audience_panel_follows_the_audience_past_the_names_limit(files, start_server, new_page):
    """A console opened before the doors open: the audience grows past
    limits.names_audience_max (500) and shrinks back, the panel follows."""
    server = start_server(CONFIG)
    with ExitStack() as cleanup:
        page = console(new_page, server)
        cleanup.callback(page.context.close)
        crowd = cleanup.enter_context(Crowd(server.host, server.port, CHANNEL))
        label = page.locator("label[for=audience-filter]")
        visitors = page.locator("#visitor-list > li")
        expect(label).to_have_text("Filter by nick")

        crowd.join(450)  # every visitor listed by NAMES, as always
        expect(page.locator("#stat-audience")).to_have_text("450")
        expect(visitors).to_have_count(200)
        expect(page.locator("#audience")).to_contain_text("250 more: use the filter.")
        expect(page.locator("#audience-note")).to_be_hidden()

        crowd.join(250)  # past 500: NAMES gives a count, the list comes from the server
        expect(page.locator("#audience-note")).to_have_text(
            "700 visitors: the list comes from the server, 200 at a time; search it by nick or account.")
        expect(label).to_have_text("Search by nick or account")
        expect(page.locator("#audience-shown")).to_have_text("200 of 700 visitors shown.")
        expect(visitors).to_have_count(200)
        expect(page.locator("#stat-audience")).to_have_text("700")
        visitors.first.get_by_role("button", name="Actions for v0").click()
        # The server's audience rows count who shares each address (13 here: the crowd's
        # visitors come from 39 loopback addresses); a ban by nick leaves them alone.
        expect(visitors.first).to_contain_text("other visitors share this address: Ban and Mute leave them alone")
        assert_accessible(page, "console with a large audience, a visitor's actions open")

        crowd.leave(450)  # well under it again: every visitor listed
        expect(page.locator("#stat-audience")).to_have_text("250")
        expect(label).to_have_text("Filter by nick")
        expect(page.locator("#audience-note")).to_be_hidden()
        expect(visitors).to_have_count(200)
        expect(page.locator("#audience")).to_contain_text("50 more: use the filter.")
        page.get_by_label("Filter by nick").fill("v69")
        expect(visitors).to_have_count(10)  # v690 to v699 (v69 left)
        assert page.errors == []

