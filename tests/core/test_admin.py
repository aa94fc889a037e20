"""ACCOUNTS (the staff accounts, managed by admins) and CONF ROLES / ROLE
admin, on the core without sockets: the checks, the replies, the pages,
the audit log, what the journal is asked to store, and the hashing asked
of the shell (run here by the test, as the verifier would)."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher

from confchat.config import Account, Config, ConferenceConfig, Oper
from confchat.core.accounts import AccountBook, StoredAccount
from confchat.core.logins import Hashing
from confchat.core.passwords import verify_password
from confchat.core.subcommands import PAGE
from confchat.storage.rows import changes_rows

from helpers import Net, find, one

_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
PASSWORDS = {"boss": "boss-secret-pw", "moda": "moda-secret-pw"}
CONFIG = Config(
    accounts=(
        Account("boss", _hasher.hash(PASSWORDS["boss"]), admin=True),
        Account("moda", _hasher.hash(PASSWORDS["moda"])),
    ),
    opers=(Oper("root", _hasher.hash("root-secret-pw")),),
    conferences=(ConferenceConfig("#townhall", "Ask the mayor", moderators=("moda",)),),
)
STAFF_CAPS = ("standard-replies", "message-tags", "sasl")


class AdminNet(Net):
    """A Net whose shell also hashes new passwords (cheaply) and counts them."""

    def __init__(self, config: Config = CONFIG, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.hashed = 0
        self.hold_hashes = False

    def run_verifications(self) -> int:
        count = 0
        held = []
        while (request := self.server.logins.next()) is not None:
            if isinstance(request, Hashing):
                if self.hold_hashes:
                    held.append(request)
                    continue
                self.hashed += 1
                self.server.verified(request, _hasher.hash(request.password))
            else:
                self.server.verified(request, verify_password(request.stored_hash, request.password))
            count += 1
        self.server.logins.pending.extend(held)
        return count


def login(net: Net, account: str, password: str | None = None):
    """A registered connection logged in to ``account`` with SASL."""
    import base64

    conn = net.connect()
    conn.send("CAP LS 302")
    conn.send("CAP REQ :" + " ".join(STAFF_CAPS))
    conn.send("AUTHENTICATE PLAIN")
    blob = f"{account}\0{account}\0{password or PASSWORDS[account]}".encode()
    conn.send("AUTHENTICATE " + base64.b64encode(blob).decode())
    conn.send(f"NICK {account}")
    conn.send(f"USER {account} 0 * :{account}")
    conn.send("CAP END")
    replies = conn.take()
    assert "903" in [m.command for m in replies], replies
    assert conn.client.registered
    return conn


def fail(replies, code):
    found = [m for m in replies if m.command == "FAIL" and m.params[0] == "ACCOUNTS" and m.params[1] == code]
    assert found, replies
    return found[0]


def note(replies, code):
    found = [m for m in replies if m.command == "NOTE" and m.params[:2] == ("ACCOUNTS", code)]
    assert found, replies
    return found[0]


def listing(replies):
    return [m.params[2:] for m in replies if m.command == "ACCOUNTS" and m.params[1] == "LIST"]


@pytest.fixture
def net():
    return AdminNet()


@pytest.fixture
def boss(net):
    return login(net, "boss")


# ---------------------------------------------------------------- who may


def test_only_server_admins_manage_accounts(net):
    moda = login(net, "moda")
    visitor = net.register("carol", caps=("standard-replies",))
    for conn in (moda, visitor):
        for line in ("ACCOUNTS LIST", "ACCOUNTS CREATE eve staff :eve-secret-pw", "ACCOUNTS AUDIT"):
            replies = conn.ask(line)
            assert fail(replies, "NEED_ROLE").params[-1] == "Only admins manage accounts"
            assert not find(replies, "NOTE")
    assert net.server.account_book.get("eve") is None
    assert net.hashed == 0


def test_an_operator_is_an_admin_here(net):
    root = net.register("rooty", caps=("standard-replies",))
    root.ask("OPER root root-secret-pw")
    replies = root.ask("ACCOUNTS CREATE eve staff :eve-secret-pw")
    assert note(replies, "CREATED").params[2:] == ("eve", "Account eve created")
    assert net.server.account_book.audit[-1].actor == "rooty"


def test_a_conference_admin_is_not_a_server_admin(net, boss):
    boss.ask("CONF #townhall ROLE moda admin")
    moda = login(net, "moda")
    assert fail(moda.ask("ACCOUNTS LIST"), "NEED_ROLE")
    # ... but is admin in that conference: may give roles there.
    replies = moda.ask("CONF #townhall ROLE boss guest")
    assert one(replies, "NOTE").params[:2] == ("CONF", "ROLE")


def test_checks_come_in_order_subcommand_role_parameters(net, boss):
    visitor = net.register("carol", caps=("standard-replies",))
    assert fail(visitor.ask("ACCOUNTS FROB"), "UNKNOWN_SUBCOMMAND").params[2] == "FROB"
    assert fail(visitor.ask("ACCOUNTS CREATE"), "NEED_ROLE")
    replies = boss.ask("ACCOUNTS CREATE eve staff")
    assert one(replies, "461").params[1:] == ("ACCOUNTS", "Not enough parameters")
    replies = boss.ask("ACCOUNTS PASSWD")
    assert one(replies, "461")


# ---------------------------------------------------------------- create


def test_create_hashes_off_the_core_then_stores_and_lets_the_account_log_in(net, boss):
    net.hold_hashes = True
    replies = boss.ask("ACCOUNTS CREATE Eve staff :eve secret pw")
    assert replies == []  # nothing until the shell hashed it
    pending = list(net.server.logins.pending)
    assert len(pending) == 1 and isinstance(pending[0], Hashing)
    assert "eve secret pw" not in repr(pending[0])
    # The admin's next line waits behind the hashing, in order.
    boss.send("ACCOUNTS LIST")
    assert boss.take() == []
    net.hold_hashes = False
    net.run_verifications()
    replies = boss.take()
    assert replies[0].command == "NOTE" and replies[0].params[:3] == ("ACCOUNTS", "CREATED", "Eve")
    assert ["Eve", "database", "staff", str(int(net.wall.now)), "boss"] in [list(r) for r in listing(replies)]
    stored = net.server.account_book.get("eve")
    assert isinstance(stored, StoredAccount)
    assert stored.password_hash.startswith("$argon2id$") and "eve secret pw" not in stored.password_hash
    assert verify_password(stored.password_hash, "eve secret pw")
    # Her nick is now reserved for her, and she logs in (SASL).
    squatter = net.register("visitor1")
    assert one(squatter.ask("NICK eve"), "433").params[-1] == "Nickname is reserved for a registered account"
    eve = login(net, "Eve", "eve secret pw")
    assert eve.client.account == "Eve" and eve.nick == "Eve"


def test_create_refusals_change_nothing(net, boss):
    cases = [
        ("ACCOUNTS CREATE 9lives staff :long-enough-pw", "INVALID_NAME", ("9lives",)),
        ("ACCOUNTS CREATE moda staff :long-enough-pw", "ALREADY_EXISTS", ("moda",)),
        ("ACCOUNTS CREATE MODA staff :long-enough-pw", "ALREADY_EXISTS", ("MODA",)),
        ("ACCOUNTS CREATE eve king :long-enough-pw", "INVALID_KIND", ("eve", "king")),
        ("ACCOUNTS CREATE eve staff :short", "INVALID_PASSWORD", ("eve",)),
        ("ACCOUNTS CREATE eve staff :" + "x" * 257, "INVALID_PASSWORD", ("eve",)),
        ("ACCOUNTS CREATE eve staff :        ", "INVALID_PASSWORD", ("eve",)),
    ]
    for line, code, context in cases:
        replies = boss.ask(line)
        assert fail(replies, code).params[2:-1] == context, line
    assert sorted(net.server.accounts) == ["boss", "moda"]
    assert net.server.account_book.audit == []
    assert net.hashed == 0


def test_two_admins_creating_the_same_name_get_one_account(net, boss):
    root = net.register("rooty", caps=("standard-replies",))
    root.ask("OPER root root-secret-pw")
    net.hold_hashes = True
    boss.ask("ACCOUNTS CREATE eve staff :first-password")
    root.ask("ACCOUNTS CREATE eve admin :second-password")
    net.hold_hashes = False
    net.run_verifications()
    assert note(boss.take(), "CREATED")
    assert fail(root.take(), "ALREADY_EXISTS").params[2] == "eve"
    account = net.server.account_book.get("eve")
    assert not account.admin and verify_password(account.password_hash, "first-password")
    assert [e.action for e in net.server.account_book.audit] == ["create"]


def test_an_admin_who_lost_the_right_while_hashing_changes_nothing(net, boss):
    boss.ask("ACCOUNTS CREATE chief admin :chief-secret-pw")
    chief = login(net, "chief", "chief-secret-pw")
    net.hold_hashes = True
    chief.ask("ACCOUNTS CREATE eve staff :eve-secret-pw")
    boss.ask("ACCOUNTS ADMIN chief off")
    net.hold_hashes = False
    net.run_verifications()
    assert fail(chief.take(), "NEED_ROLE")
    assert net.server.account_book.get("eve") is None


def test_a_failed_hash_is_an_error_and_changes_nothing(net, boss):
    net.hold_hashes = True
    boss.ask("ACCOUNTS CREATE eve staff :eve-secret-pw")
    request = net.server.logins.next()
    net.server.verified(request, "")  # what the verifier answers when hashing raised
    assert fail(boss.take(), "INTERNAL_ERROR")
    assert net.server.account_book.get("eve") is None


# ---------------------------------------------------------------- passwd, admin, delete


def test_passwd_resets_a_stored_password_and_the_old_one_stops_working(net, boss):
    boss.ask("ACCOUNTS CREATE eve staff :eve-first-pw")
    replies = boss.ask("ACCOUNTS PASSWD eve :eve-second-pw")
    assert note(replies, "PASSWD").params[2:] == ("eve", "Password of eve changed")
    account = net.server.account_book.get("eve")
    assert verify_password(account.password_hash, "eve-second-pw")
    assert not verify_password(account.password_hash, "eve-first-pw")
    conn = net.connect()
    conn.send("CAP LS 302")
    conn.send("CAP REQ :sasl")
    conn.send("AUTHENTICATE PLAIN")
    import base64

    conn.send("AUTHENTICATE " + base64.b64encode(b"eve\0eve\0eve-first-pw").decode())
    assert one(conn.take(), "904")


def test_config_accounts_are_listed_read_only(net, boss):
    replies = boss.ask("ACCOUNTS LIST")
    assert listing(replies) == [("boss", "config", "admin", "0", "*"), ("moda", "config", "staff", "0", "*")]
    assert replies[-1].params == ("*", "END", "2 accounts")
    for line in ("ACCOUNTS PASSWD moda :new-password-1", "ACCOUNTS ADMIN moda on", "ACCOUNTS DELETE moda"):
        replies = boss.ask(line)
        assert fail(replies, "READ_ONLY").params[2] == "moda", line
    assert net.server.accounts["moda"] is CONFIG.accounts[1]
    assert net.hashed == 0


def test_unknown_accounts_and_bad_values(net, boss):
    for line in ("ACCOUNTS PASSWD nobody :long-enough-pw", "ACCOUNTS ADMIN nobody on", "ACCOUNTS DELETE nobody"):
        assert fail(boss.ask(line), "NO_SUCH_ACCOUNT").params[2] == "nobody"
    boss.ask("ACCOUNTS CREATE eve staff :eve-secret-pw")
    assert fail(boss.ask("ACCOUNTS ADMIN eve maybe"), "INVALID_VALUE").params[2:4] == ("eve", "maybe")
    assert fail(boss.ask("ACCOUNTS PASSWD eve :short"), "INVALID_PASSWORD")


def test_admin_on_and_off_changes_status_at_once_and_refuses_oneself(net, boss):
    boss.ask("ACCOUNTS CREATE eve staff :eve-secret-pw")
    eve = login(net, "eve", "eve-secret-pw")
    eve.ask("JOIN #townhall")
    assert fail(eve.ask("ACCOUNTS LIST"), "NEED_ROLE")
    watcher = login(net, "moda")
    watcher.ask("JOIN #townhall")
    replies = boss.ask("ACCOUNTS ADMIN eve on")
    assert note(replies, "ADMIN").params[2:] == ("eve", "on", "eve is now an admin")
    modes = [m.params for m in watcher.take() if m.command == "MODE"]
    assert ("#townhall", "+o", "eve") in modes
    assert listing(eve.ask("ACCOUNTS LIST"))
    assert fail(eve.ask("ACCOUNTS ADMIN eve off"), "SELF")
    boss.ask("ACCOUNTS ADMIN eve off")
    assert ("#townhall", "-o", "eve") in [m.params for m in watcher.take() if m.command == "MODE"]


def test_delete_removes_the_roles_and_closes_its_connections(net, boss):
    boss.ask("ACCOUNTS CREATE eve staff :eve-secret-pw")
    boss.ask("CONF #townhall ROLE eve moderator")
    eve = login(net, "eve", "eve-secret-pw")
    eve.ask("JOIN #townhall")
    assert fail(boss.ask("ACCOUNTS DELETE boss"), "READ_ONLY")  # boss is in the config file
    replies = boss.ask("ACCOUNTS DELETE eve")
    assert note(replies, "DELETED").params[2:] == ("eve", "Account eve deleted")
    assert eve.closed
    assert "eve" not in net.server.accounts and "eve" not in net.server.conferences["#townhall"].roles
    conference_audit = net.server.conferences["#townhall"].audit
    assert (conference_audit[-1].action, conference_audit[-1].detail) == ("role", {"account": "eve", "role": "visitor"})
    replies = boss.ask("CONF #townhall ROLE eve guest")
    assert [m.params[1] for m in replies if m.command == "FAIL"] == ["NO_SUCH_ACCOUNT"]


def test_an_admin_cannot_delete_their_own_stored_account(net, boss):
    boss.ask("ACCOUNTS CREATE chief admin :chief-secret-pw")
    chief = login(net, "chief", "chief-secret-pw")
    assert fail(chief.ask("ACCOUNTS DELETE chief"), "SELF")
    assert net.server.account_book.get("chief") is not None


# ---------------------------------------------------------------- audit, pages, journal


def test_every_change_is_in_the_audit_log_and_never_a_password(net, boss):
    boss.ask("ACCOUNTS CREATE eve staff :eve-secret-pw")
    net.advance(5)
    boss.ask("ACCOUNTS PASSWD eve :eve-other-pw")
    boss.ask("ACCOUNTS ADMIN eve on")
    boss.ask("ACCOUNTS DELETE eve")
    replies = boss.ask("ACCOUNTS AUDIT")
    rows = [m.params[2:] for m in replies if m.command == "ACCOUNTS" and m.params[1] == "AUDIT"]
    start = str(int(net.wall.now - 5))
    now = str(int(net.wall.now))
    assert rows == [
        (start, "boss", "create", "eve", '{"admin":false}'),
        (now, "boss", "passwd", "eve", "{}"),
        (now, "boss", "admin", "eve", '{"admin":true}'),
        (now, "boss", "delete", "eve", "{}"),
    ]
    raw = b"".join(m.params[-1].encode() for m in replies)
    assert b"eve-secret-pw" not in raw and b"eve-other-pw" not in raw


def test_listings_are_paged(net, boss):
    book = net.server.account_book
    for n in range(PAGE + 5):
        book.create(net.wall.now, "boss", f"user{n:03d}", "$argon2id$x", False)
    replies = boss.ask("ACCOUNTS LIST")
    assert len(listing(replies)) == PAGE
    more = [m for m in replies if m.command == "ACCOUNTS" and m.params[1] == "MORE"]
    total = PAGE + 5 + 2
    assert more[0].params[2:] == (str(PAGE + 1), f"{total - PAGE} more")
    assert replies[-1].params == ("*", "END", f"{total} accounts")
    rest = boss.ask(f"ACCOUNTS LIST {PAGE + 1}")
    assert len(listing(rest)) == total - PAGE
    assert not [m for m in rest if m.params[1:2] == ("MORE",)]
    names = [r[0] for r in listing(replies) + listing(rest)]
    assert len(set(names)) == total
    audit = boss.ask("ACCOUNTS AUDIT")
    assert len([m for m in audit if m.params[1] == "AUDIT"]) == PAGE
    assert boss.ask(f"ACCOUNTS AUDIT {PAGE + 1}")[-1].params == ("*", "END", f"{PAGE + 5} entries")


def test_changes_reach_the_journal_as_rows_without_passwords():
    net = AdminNet()
    net.server.journal.enable([])
    net.server.journal.collect()  # nothing yet
    boss = login(net, "boss")
    boss.outbox.gate = net.server.journal  # as the shell's outboxes have it
    # With storage attached the note waits for the commit.
    boss.ask("ACCOUNTS CREATE eve admin :eve-secret-pw")
    assert boss.take() == []
    seq, batch = net.server.journal.collect()
    entries = [changes_rows(e) if not isinstance(e, dict) else e for e in batch]
    accounts = [e for e in entries if "accounts" in e]
    assert len(accounts) == 1
    row = accounts[0]["accounts"]["eve"]
    assert row["name"] == "eve" and row["admin"] is True and row["password_hash"].startswith("$argon2id$")
    assert "eve-secret-pw" not in json.dumps(accounts[0])
    assert [a["action"] for a in accounts[0]["audit"]] == ["create"]
    net.server.journal.committed(seq)
    assert note(boss.take(), "CREATED")


def test_the_book_restores_stored_accounts_and_the_config_wins():
    stored = [StoredAccount("moda", "$argon2id$stored", True), StoredAccount("eve", "$argon2id$e", False, 5.0, "boss")]
    book = AccountBook(CONFIG.accounts, stored)
    assert book.get("moda") is CONFIG.accounts[1]  # the file's, not the stored one
    assert book.get("EVE") is stored[1] and not book.is_declared("eve")
    assert [a.name for a in book.listing()] == ["boss", "eve", "moda"]


# ---------------------------------------------------------------- CONF ROLES and ROLE admin


def test_conf_roles_lists_the_holders_and_role_admin_is_a_conference_admin(net, boss):
    boss.ask("ACCOUNTS CREATE eve staff :eve-secret-pw")
    replies = boss.ask("CONF #townhall ROLE eve admin")
    assert one(replies, "NOTE").params == ("CONF", "ROLE", "#townhall", "eve", "admin", "eve is now admin in #townhall")
    replies = boss.ask("CONF #townhall ROLES")
    grants = [m.params[2:] for m in replies if m.command == "CONF" and m.params[1] == "GRANT"]
    assert grants == [("eve", "admin"), ("moda", "moderator")]
    assert replies[-1].params == ("#townhall", "END", "2 roles")
    eve = login(net, "eve", "eve-secret-pw")
    eve.ask("JOIN #townhall")
    info = eve.ask("CONF #townhall INFO")
    assert ("#townhall", "INFO", "role", "admin") in [m.params for m in info]
    # Visitors and moderators do not see who holds roles.
    moda = login(net, "moda")
    assert [m.params[1] for m in moda.ask("CONF #townhall ROLES") if m.command == "FAIL"] == ["NEED_ROLE"]
    replies = boss.ask("CONF #townhall ROLE eve king")
    assert [m.params[1] for m in replies if m.command == "FAIL"] == ["INVALID_ROLE"]
