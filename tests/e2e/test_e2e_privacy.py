"""Private visitors and fair bans on the real server, over real sockets and
in Debian's chromium.

Over TCP: visitors from different loopback addresses (127.0.0.2, .3, ...),
a moderator and the guest go through an event (questions published, votes,
an answer, joins, parts, quits, nick changes, away) while the visitors try
every query there is on each other; then every line every visitor received
is scanned for any other visitor's address. In the browser: the visitor
page keeps its identity across a reload (one vote), and a ban from the
console's audience list removes only that visitor when two share an
address, the address being banned only on purpose, with its count."""

from __future__ import annotations

import os
import re
import socket
import stat

from argon2 import PasswordHasher
from playwright.sync_api import expect

from confchat.core.cloak import cloak_host
from e2e_client import IRCClient

CHANNEL = "#townhall"
PASSWORDS = {"moda": "moda-secret-pw", "mayor": "mayor-secret-pw"}
_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
CONFIG = {
    "moderation": {"max_pending_per_visitor": 0, "max_pending_per_address": 0},
    # Each visitor sends every query there is: no flood delay for that.
    "limits": {"max_connections_per_ip": 0, "flood_burst": 1000, "flood_rate": 1000.0},
    "accounts": [{"name": name, "password_hash": _hasher.hash(pw)} for name, pw in PASSWORDS.items()],
    "conferences": [{
        "channel": CHANNEL, "title": "Ask the mayor", "moderators": ["moda"], "guests": ["mayor"], "state": "live",
    }],
}
# Every capability that could carry a host: prefixes in NAMES, joins with
# account and realname, away, account and name changes, monitor details.
NOSY_CAPS = (
    "message-tags", "server-time", "standard-replies", "echo-message", "userhost-in-names", "extended-join",
    "away-notify", "account-notify", "multi-prefix", "setname", "invite-notify", "extended-monitor",
    "draft/message-redaction", "batch", "labeled-response", "account-tag",
)
STAFF_CAPS = ("message-tags", "standard-replies", "echo-message", "draft/message-redaction")


class FromAddress(IRCClient):
    """An IRC client whose connection comes from ``source`` (any 127.x
    address is this machine's loopback)."""

    def __init__(self, host: str, port: int, source: str) -> None:
        super().__init__(host, port)
        self.sock.close()
        self.sock = socket.create_connection((host, port), timeout=self.timeout, source_address=(source, 0))
        self.source = source


def connect(server, nick: str, source: str, token: str | None = None, caps=NOSY_CAPS) -> FromAddress:
    client = FromAddress(server.host, server.port, source)
    if token is not None:
        client.send(f"VISITOR {token}")
    client.register(nick, caps=caps)
    return client


def staff(server, account: str) -> IRCClient:
    client = server.client(account, caps=STAFF_CAPS, sasl=(account, PASSWORDS[account]))
    client.send(f"JOIN {CHANNEL}")
    client.expect("366")
    return client


def join(client: IRCClient) -> None:
    client.send(f"JOIN {CHANNEL}")
    client.expect("366")


def ask(client: IRCClient, text: str) -> str:
    client.send(f"PRIVMSG {CHANNEL} :{text}")
    return client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "HELD")).params[3]


def text_of(messages) -> str:
    return "\n".join(f"{m.tags} {m.source} {m.command} {m.params}" for m in messages)


def cloak_key(server) -> bytes:
    return bytes.fromhex((server.workdir / "data" / "cloak.key").read_text().strip())


def test_no_visitor_ever_receives_another_visitors_address(start_server):
    server = start_server(CONFIG)
    moda = staff(server, "moda")
    mayor = staff(server, "mayor")
    addresses = {"ann": "127.0.0.2", "bob": "127.0.0.3", "carol": "127.0.0.4", "dan": "127.0.0.5"}
    ann = connect(server, "ann", addresses["ann"], token="ann-token-0123456789")
    bob = connect(server, "bob", addresses["bob"], token="bob-token-0123456789")
    carol = connect(server, "carol", addresses["carol"])  # a plain IRC client, no identity
    dan = connect(server, "dan", addresses["dan"])
    visitors = {"ann": ann, "bob": bob, "carol": carol, "dan": dan}
    for client in visitors.values():
        join(client)

    # An event: questions published, votes, the guest's answer.
    q_ann = ask(ann, "When will the tram reach the north side?")
    q_bob = ask(bob, "Why was the library closed on Sundays?")
    for item in (q_ann, q_bob):
        moda.send(f"QUEUE {CHANNEL} APPROVE {item}")
    for client in visitors.values():
        client.expect(lambda m: m.command == "PRIVMSG" and m.params[-1].startswith("Why was the library"))
    for voter, item in ((carol, q_ann), (dan, q_ann), (ann, q_bob), (carol, q_bob)):
        voter.send(f"VOTE {CHANNEL} {item}")
        voter.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("VOTE", "COUNTED"))
    mayor.send(f"ANSWER {CHANNEL} {q_ann} :Work starts in March.")
    mayor.send(f"CONF {CHANNEL} ANSWERING {q_bob}")

    # Every query a visitor has about another, and the side routes.
    for asker, target in (("ann", "bob"), ("bob", "carol"), ("carol", "dan"), ("dan", "ann")):
        client = visitors[asker]
        for line in (
            f"WHOIS {target}", f"WHOIS {target} {target}", f"WHO {target}", f"WHO {target} %tcuihsnfdlaor,42",
            "WHO *", "WHO 0", "WHO *.*", "WHO ?*", "WHO *!*@*", "WHO 127.*", f"WHO {CHANNEL}",
            f"WHO {CHANNEL} %tcuihsnfdlaor,7", f"USERHOST {target} ann bob carol dan", f"MONITOR + {target},ann,bob",
            "MONITOR S", f"NAMES {CHANNEL}", f"ISON {target}", "LIST", f"PRIVMSG {target} :hello?",
            f"NOTICE {target} :hello?", "JOIN #side-room", f"CONF {CHANNEL} QUESTIONS", f"CONF {CHANNEL} VOTES",
            f"CHATHISTORY LATEST {CHANNEL} * 50", "LUSERS",
        ):
            client.send(line)
        client.roundtrip()

    # Comings and goings, seen by those monitoring and sharing the channel.
    bob.send("AWAY :back soon")
    bob.send("NICK robert")
    bob.send(f"PART {CHANNEL} :brb")
    join(bob)
    carol.send("SETNAME :Carol from the north side")
    dan.send("QUIT :bye")
    dan.wait_closed()
    dan2 = connect(server, "dan", "127.0.0.6")
    visitors["dan2"] = dan2
    join(dan2)
    for client in (ann, carol, dan2):
        client.send("WHOWAS bob")
        client.send("WHOWAS dan")
        client.send("WHOIS robert")
        client.roundtrip()
    moda.send(f"CONF {CHANNEL} BAN carol 60 :test")
    carol.expect("KICK")
    for client in (ann, bob, carol, dan2):
        client.roundtrip()

    # What the moderator sees: cloaks, and how many share each address.
    moda.send(f"CONF {CHANNEL} AUDIENCE")
    rows = []
    while True:
        m = moda.expect(lambda m: m.command == "CONF" and m.params[1] in ("MEMBER", "END"))
        if m.params[1] == "END":
            break
        rows.append(m.params)
    key = cloak_key(server)
    by_nick = {row[2]: row for row in rows}
    assert by_nick["ann"][3].endswith("@" + cloak_host(key, "127.0.0.2")) and by_nick["ann"][-1] == "1"
    assert by_nick["ann"][5].startswith("v") and by_nick["dan"][5] == "*"

    everyone = {**addresses, "dan2": "127.0.0.6"}
    for nick, client in visitors.items():
        received = text_of(client.received + client.drain())
        own = everyone[nick]
        for other, address in everyone.items():
            if address != own:
                assert address not in received, f"{nick} received {other}'s address {address}"
        assert "127.0.0.1" not in received  # the staff's address neither
    # The scan looked at real traffic: the others' cloaks are there instead.
    ann_saw = text_of(ann.received)
    assert cloak_host(key, "127.0.0.3") in ann_saw  # bob's published question, his WHOIS
    assert "531" in ann_saw and "403" in ann_saw  # the side routes said no
    assert stat.S_IMODE(os.stat(server.workdir / "data" / "cloak.key").st_mode) == 0o600


def test_cloaks_outlive_a_restart(start_server):
    first = start_server(CONFIG)
    ann = connect(first, "ann", "127.0.0.2")
    ann.send("WHOIS ann")
    before = ann.expect("311").params[3]
    assert before.startswith("visitor-") and "127" not in before
    first.stop()
    # The same data directory: the key is read back, the cloak is the same.
    second = start_server(CONFIG, "--data-dir", str(first.workdir / "data"))
    again = connect(second, "ann", "127.0.0.2")
    again.send("WHOIS ann")
    assert again.expect("311").params[3] == before
    # Another data directory, another key: another cloak.
    third = start_server(CONFIG)
    other = connect(third, "ann", "127.0.0.2")
    other.send("WHOIS ann")
    assert other.expect("311").params[3] != before


# ------------------------------------------------------------------ in the browser


def console(new_page, server):
    page = new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/moderator")
    page.get_by_label("Account").fill("moda")
    page.get_by_label("Password", exact=True).fill(PASSWORDS["moda"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    return page


def enter(page, nick: str) -> None:
    box = page.get_by_role("textbox", name=re.compile("nickname", re.I))
    box.fill(nick)
    box.press("Enter")


def visitor_page(new_page, server, nick: str):
    page = new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/")
    enter(page, nick)
    expect(page.locator("#question")).to_be_visible()
    return page


def vote_button(page):
    question = page.locator("li.question", has_text="Will the pool open in June?")
    return question.get_by_role("button", name=re.compile(r"^Vote"))


def test_the_page_keeps_its_identity_and_a_console_ban_removes_only_that_visitor(start_server, new_page):
    server = start_server(CONFIG)
    moda = staff(server, "moda")
    author = server.client("author", caps=("message-tags", "standard-replies"))
    join(author)
    item = ask(author, "Will the pool open in June?")
    moda.send(f"QUEUE {CHANNEL} APPROVE {item}")

    # Two browsers on one address (127.0.0.1, like a venue's Wi-Fi).
    zoe = visitor_page(new_page, server, "zoe")
    yan = visitor_page(new_page, server, "yan")
    token = zoe.evaluate("localStorage.getItem('confchat.visitor')")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token)
    assert token != yan.evaluate("localStorage.getItem('confchat.visitor')")

    # One vote per visitor identity, across a reload of the page.
    moda.send(f"VOTE {CHANNEL} {item}")  # staff vote too: the count starts at 1
    vote_button(zoe).click()
    moda.expect(lambda m: m.command == "CONF" and m.params[1:] == ("VOTES", item, "2"))
    zoe.reload()
    enter(zoe, "zoe")
    expect(zoe.locator("#question")).to_be_visible()
    assert zoe.evaluate("localStorage.getItem('confchat.visitor')") == token
    vote_button(zoe).click()
    expect(zoe.get_by_text("You already voted for this question.")).to_be_visible()
    moda.send(f"CONF {CHANNEL} QUESTIONS")
    assert moda.expect(lambda m: m.command == "CONF" and m.params[1] == "QUESTION").params[3] == "2"

    # The console: a ban of zoe by nick removes zoe, not yan on the same address.
    page = console(new_page, server)
    visitors = page.locator("#visitor-list")
    row = visitors.locator("li", has_text="zoe")
    row.get_by_role("button", name="Actions for zoe").click()
    expect(row).to_contain_text("share this address")
    row.get_by_label("Reason").fill("Off topic")
    row.get_by_role("button", name="Ban (zoe)", exact=True).click()
    expect(zoe.get_by_text(re.compile("You were removed from the conference")).first).to_be_visible()
    expect(visitors).not_to_contain_text("zoe")
    expect(visitors).to_contain_text("yan")
    expect(page.locator("#bans-list")).to_contain_text("zoe!*@*")
    # A reload keeps zoe's identity, so the ban holds under a new nick.
    zoe.reload()
    enter(zoe, "zoe2")
    expect(zoe.get_by_text("You are banned from this conference.").first).to_be_visible()
    expect(visitors).not_to_contain_text("zoe2")

    # Banning the address is its own choice, with the count asked first.
    row = visitors.locator("li", has_text="yan")
    row.get_by_role("button", name="Actions for yan").click()
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    row.get_by_role("button", name="Ban the address (yan)").click()
    expect(visitors).not_to_contain_text("yan")
    # yan and the author over TCP share 127.0.0.1 (the staff do not count).
    assert len(asked) == 1 and "2 people share it here" in asked[0] and "visitor-" in asked[0]
    author.expect(lambda m: m.command == "KICK" and m.params[1] == "author")
    expect(page.locator("#bans-list")).to_contain_text("*!*@visitor-")
    assert page.errors == [] and yan.errors == []
