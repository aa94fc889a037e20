"""The staff accounts in the database (storage/accounts.py): what the book
changes comes back after a restart, deletions included, in the same
transaction as the conferences' changes; the schema upgrades a version-1
database; no password is ever stored; the transcripts written after a
commit pass the accounts' entry by. And the password checker hashes new
passwords in its worker threads (verifier.py, ``Hashing``)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import trio
from argon2 import PasswordHasher

from confchat.config import Account, Config, ConferenceConfig
from confchat.core.outbox import Outbox
from confchat.core.server import Server
from confchat.core.accounts import AccountBook
from confchat.core.logins import Hashing
from confchat.core.passwords import verify_password
from confchat.moderation.conference import Conference
from confchat.storage.rows import changes_rows, take_rows
from confchat.storage.sqlite import MIGRATIONS, SCHEMA_VERSION, Store, _statements
from confchat.transcript import write_closed_transcripts
from confchat.verifier import Verifier

_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
T0 = 1_700_000_000.0
pytestmark = pytest.mark.anyio


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "db.sqlite3"))
    store.open()
    yield store
    store.close()


def reopened(store: Store) -> Store:
    store.close()
    again = Store(store.path)
    again.open()
    return again


def test_accounts_and_their_audit_come_back_after_a_restart(store):
    book = AccountBook()
    book.create(T0, "boss", "Eve", _hasher.hash("eve-secret-pw"), False)
    book.create(T0 + 1, "boss", "chief", _hasher.hash("chief-secret-pw"), True)
    store.write([changes_rows(book.take_changes())])
    book.set_password(T0 + 2, "boss", "eve", _hasher.hash("eve-new-pw"))
    book.set_admin(T0 + 3, "root", "EVE", True)
    store.write([changes_rows(book.take_changes())])

    store = reopened(store)
    try:
        accounts, audit = store.load_accounts()
    finally:
        store.close()
    assert [(a.name, a.admin, a.created_at, a.created_by, a.updated_at) for a in accounts] == [
        ("chief", True, T0 + 1, "boss", T0 + 1),
        ("Eve", True, T0, "boss", T0 + 3),
    ]
    eve = accounts[1]
    assert verify_password(eve.password_hash, "eve-new-pw") and not verify_password(eve.password_hash, "eve-secret-pw")
    assert [(e.at, e.actor, e.action, e.account, e.detail) for e in audit] == [
        (T0, "boss", "create", "Eve", {"admin": False}),
        (T0 + 1, "boss", "create", "chief", {"admin": True}),
        (T0 + 2, "boss", "passwd", "Eve", {}),
        (T0 + 3, "root", "admin", "Eve", {"admin": True}),
    ]
    restored = AccountBook((), accounts, audit)
    assert restored.get("eve") is eve and len(restored.audit) == 4


def test_a_deleted_account_stays_deleted(store):
    book = AccountBook()
    book.create(T0, "boss", "eve", _hasher.hash("eve-secret-pw"), False)
    store.write([changes_rows(book.take_changes())])
    book.delete(T0 + 1, "boss", "eve")
    store.write([changes_rows(book.take_changes())])
    accounts, audit = store.load_accounts()
    assert accounts == []
    assert [e.action for e in audit] == ["create", "delete"]


def test_no_password_reaches_the_file(store, tmp_path):
    book = AccountBook()
    book.create(T0, "boss", "eve", _hasher.hash("plain-text-here"), False)
    book.set_password(T0, "boss", "eve", _hasher.hash("another-plain-text"))
    store.write([changes_rows(book.take_changes())])
    store.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("db.sqlite3"))
    assert b"$argon2id$" in data
    assert b"plain-text-here" not in data and b"another-plain-text" not in data


def test_accounts_and_conferences_commit_in_one_transaction(store):
    """A batch with a conference and the accounts is all or nothing."""
    book = AccountBook()
    book.create(T0, "boss", "eve", _hasher.hash("eve-secret-pw"), False)
    conference = Conference(ConferenceConfig(channel="#hall", title="Hall"))
    conference.record(T0, "boss", "role", None, account="eve", role="moderator")
    broken = take_rows(conference)
    broken["audit"][0]["detail"] = object()  # cannot be written: the whole batch rolls back
    with pytest.raises(TypeError):
        store.write([changes_rows(book.take_changes()), broken])
    assert store.load_accounts() == ([], [])
    assert store.load() == []


def test_an_older_database_is_upgraded_and_keeps_its_conferences(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    db = sqlite3.connect(path, isolation_level=None)
    for statement in _statements(MIGRATIONS[0]):
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.close()
    old = Store(path)
    old.open()
    try:
        assert old.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert old.load_accounts() == ([], [])
        book = AccountBook()
        book.create(T0, "boss", "eve", _hasher.hash("eve-secret-pw"), False)
        assert old.write([changes_rows(book.take_changes())]) == 2  # the account and its audit entry
    finally:
        old.close()


def test_the_transcripts_after_a_commit_pass_the_accounts_by(store, tmp_path):
    book = AccountBook()
    book.create(T0, "boss", "eve", _hasher.hash("eve-secret-pw"), False)
    batch = [changes_rows(book.take_changes())]
    store.write(batch)
    config = Config()
    config = type(config)(server=type(config.server)(data_dir=str(tmp_path / "data")))
    assert write_closed_transcripts(config, store, batch, now=T0) == []


async def test_the_verifier_hashes_new_passwords_in_its_worker_threads():
    """A Hashing request is answered with a hash the login checks accept,
    made outside the event loop's thread, and a failure answers ""."""
    cheap = _hasher.hash("stored")
    core = Server(Config(accounts=(Account("boss", cheap, admin=True),)))
    client = core.connect("192.0.2.1", Outbox(100_000))
    threads: list[int] = []
    answers: list[str] = []
    done = trio.Event()

    def hash_here(password: str) -> str:
        threads.append(threading.get_ident())
        if password == "boom-boom-boom":
            raise RuntimeError("the hash library failed")
        return _hasher.hash(password)

    def then(made: str) -> None:
        answers.append(made)
        if len(answers) == 2:
            done.set()

    verifier = Verifier(core, hash=hash_here)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(verifier.run)
        for password in ("a-new-password", "boom-boom-boom"):
            request = Hashing(client, "ACCOUNTS", password, then)
            client.verifying = request
            core.logins.request(request)
            while client.verifying is request:
                await trio.sleep(0.01)
        with trio.fail_after(10):
            await done.wait()
        nursery.cancel_scope.cancel()
    assert threads and threading.get_ident() not in threads
    assert verify_password(answers[0], "a-new-password")
    assert answers[1] == ""
