"""The visitor page across a dropped connection, in a real browser (Debian
chromium): the page's WebSocket is cut, the conference goes on, and once the
page has reconnected it shows each message published meanwhile exactly once,
in order, and no longer shows a message deleted meanwhile (CHATHISTORY AFTER
the last msgid it saw, with draft/event-playback)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from playwright.sync_api import expect

CHAN = "#townhall"
STAFF_CAPS = ("message-tags", "standard-replies", "draft/message-redaction", "echo-message")

# Installed before the page's scripts: every WebSocket the page opens is
# kept, so the test can cut one; while `hold` is set, new ones go to a port
# where nothing listens (the page's reconnection fails and is tried again
# later), so the test decides when the page comes back.
CUTTABLE_WEBSOCKETS = """
(() => {
  const Native = window.WebSocket;
  const control = { sockets: [], hold: false, opened: 0 };
  window.__ws = control;
  function Cuttable(url, protocols) {
    const socket = new Native(control.hold ? "ws://127.0.0.1:9/ws" : url, protocols);
    if (!control.hold) socket.addEventListener("open", () => { control.opened += 1; });
    control.sockets.push(socket);
    return socket;
  }
  Cuttable.prototype = Native.prototype;
  for (const name of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Cuttable[name] = Native[name];
  window.WebSocket = Cuttable;
})();
"""


def config() -> dict:
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    return {
        "accounts": [{"name": "moda", "password_hash": hasher.hash("moda-pw")}],
        "conferences": [{"channel": CHAN, "title": "Ask the mayor", "moderators": ["moda"], "state": "live"}],
        # Fewer than the page misses: the backlog on JOIN alone would leave a gap.
        "history": {"join_backlog": 3},
    }


def published(moda, text: str) -> str:
    """moda publishes ``text``; its msgid."""
    moda.send(f"PRIVMSG {CHAN} :{text}")
    return moda.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == text).tags["msgid"]


def shown(page) -> list[str]:
    """The texts of the messages in the stream, top to bottom."""
    return page.get_by_role("log").locator("li.msg:not(.system) > .message-text").all_inner_texts()


def test_the_page_shows_what_it_missed_exactly_once_after_its_connection_is_cut(start_server, new_page):
    server = start_server(config())
    moda = server.client("moda", caps=STAFF_CAPS, sasl=("moda", "moda-pw"))
    moda.send(f"JOIN {CHAN}")
    moda.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    published(moda, "Welcome, the mayor answers at six")
    doomed = published(moda, "A message posted by mistake")

    page = new_page()
    page.add_init_script(CUTTABLE_WEBSOCKETS)
    page.goto(f"http://127.0.0.1:{server.http_port}/")
    box = page.get_by_role("textbox", name=re.compile("nickname", re.I))
    box.fill("carol")
    box.press("Enter")
    expect(page.locator(".connection")).to_have_text("Connected as carol")
    log = page.get_by_role("log")
    # The first join: the latest messages, asked for with CHATHISTORY LATEST.
    expect(log.locator("li.staff")).to_have_count(2)
    published(moda, "Seen live before the cut")
    expect(log.locator("li.staff").filter(has_text="Seen live before the cut")).to_have_count(1)

    # The connection is cut, and the page cannot come back yet.
    page.evaluate("() => { window.__ws.hold = true; window.__ws.sockets.at(-1).close(); }")
    expect(page.locator(".connection")).to_contain_text("Reconnecting")
    moda.expect(lambda m: m.command == "QUIT" and m.source.startswith("carol!"))
    missed = [f"Published while carol was away, number {i}" for i in range(1, 6)]
    for text in missed[:2]:
        published(moda, text)
    dave = server.client("dave", caps=("standard-replies",))
    dave.send(f"JOIN {CHAN}")
    dave.expect("366")
    dave.send(f"PRIVMSG {CHAN} :{missed[2]}")
    item = moda.expect(lambda m: m.command == "QUEUE" and m.params[-1] == missed[2]).params[2]
    moda.send(f"QUEUE {CHAN} APPROVE {item}")
    moda.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == missed[2])
    dave.send(f"PRIVMSG {CHAN} :A question still waiting")  # pending: never shown
    moda.expect(lambda m: m.command == "QUEUE" and m.params[-1] == "A question still waiting")
    moda.send(f"REDACT {CHAN} {doomed} :Posted by mistake")
    moda.expect("REDACT")
    for text in missed[3:]:
        published(moda, text)
    assert page.evaluate("() => window.__ws.opened") == 1  # still away

    # Back: the page reconnects and rejoins by itself.
    page.evaluate("() => { window.__ws.hold = false; }")
    expect(page.locator(".connection")).to_have_text("Connected as carol", timeout=15_000)
    for text in missed:
        expect(log.locator("li.msg").filter(has_text=text)).to_have_count(1)
    expect(log.locator("li.msg").filter(has_text="A message posted by mistake")).to_have_count(0)
    expect(log.locator("li.msg").filter(has_text="A question still waiting")).to_have_count(0)
    assert shown(page) == ["Welcome, the mayor answers at six", "Seen live before the cut", *missed]
    assert page.evaluate("() => window.__ws.opened") == 2

    # Live again: the next message comes once, after the rest.
    published(moda, "Live after the reconnection")
    expect(log.locator("li.msg").filter(has_text="Live after the reconnection")).to_have_count(1)
    assert shown(page)[-1] == "Live after the reconnection"
    assert len(shown(page)) == len(set(shown(page))) == 8
    assert page.errors == []
    moda.close()
    dave.close()
