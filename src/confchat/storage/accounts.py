"""The staff accounts made at run time (``ACCOUNTS``), in the database.

Two tables (schema version 2, :data:`MIGRATION`): ``accounts``, one row per
stored account with its argon2id hash (never the password), and
``account_audit``, the accounts' audit log. Like the rest of
:mod:`confchat.storage.sqlite`, blocking code for the storage thread.

The core's :class:`~confchat.core.accounts.AccountBook` hands its changes to
the journal; :func:`account_rows` turns them into one entry of a commit
batch (at once, in the event loop, so the rows are a snapshot), and
:func:`write_accounts` writes that entry inside the batch's transaction.
An entry is told from a conference's by its ``accounts`` key; its
``audit`` list holds the accounts' audit entries (no conference closes in
it, so the transcripts written after a commit pass it by).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..core.accounts import AccountChanges, AccountEvent, StoredAccount

MIGRATION = """
    CREATE TABLE accounts(
        folded TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        admin INTEGER NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE account_audit(
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        account TEXT NOT NULL,
        detail TEXT NOT NULL
    );
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def account_rows(changes: AccountChanges) -> dict[str, Any]:
    """The accounts' changes as one batch entry for ``Store.write``."""
    return {
        "accounts": {
            folded: None if account is None else {
                "name": account.name, "password_hash": account.password_hash, "admin": account.admin,
                "created_at": account.created_at, "created_by": account.created_by,
                "updated_at": account.updated_at,
            }
            for folded, account in changes.accounts.items()
        },
        "audit": [
            {"at": e.at, "actor": e.actor, "action": e.action, "account": e.account, "detail": e.detail}
            for e in changes.audit
        ],
    }


def write_accounts(db: sqlite3.Connection, entry: dict[str, Any]) -> int:
    """Write one entry of :func:`account_rows` (inside the caller's
    transaction); the number of rows written."""
    rows = 0
    for folded, account in entry["accounts"].items():
        if account is None:
            db.execute("DELETE FROM accounts WHERE folded = ?", (folded,))
        else:
            db.execute(
                "INSERT INTO accounts(folded, name, password_hash, admin, created_at, created_by, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(folded) DO UPDATE SET name = excluded.name, "
                "password_hash = excluded.password_hash, admin = excluded.admin, updated_at = excluded.updated_at",
                (folded, account["name"], account["password_hash"], int(account["admin"]), account["created_at"],
                 account["created_by"], account["updated_at"]),
            )
        rows += 1
    db.executemany(
        "INSERT INTO account_audit(at, actor, action, account, detail) VALUES (?, ?, ?, ?, ?)",
        [(e["at"], e["actor"], e["action"], e["account"], _dumps(e["detail"])) for e in entry["audit"]],
    )
    return rows + len(entry["audit"])


def load_accounts(db: sqlite3.Connection) -> tuple[list[StoredAccount], list[AccountEvent]]:
    """Every stored account (by folded name) and the accounts' audit log, oldest first."""
    accounts = [
        StoredAccount(name, password_hash, bool(admin), created_at, created_by, updated_at)
        for name, password_hash, admin, created_at, created_by, updated_at in db.execute(
            "SELECT name, password_hash, admin, created_at, created_by, updated_at FROM accounts ORDER BY folded"
        )
    ]
    audit = [
        AccountEvent(at, actor, action, account, json.loads(detail))
        for at, actor, action, account, detail in db.execute(
            "SELECT at, actor, action, account, detail FROM account_audit ORDER BY seq"
        )
    ]
    return accounts, audit
