"""The embedded store: one SQLite file in WAL mode, versioned schema.

Blocking code, meant to run in one worker thread at a time (the trio shell
calls it through ``trio.to_thread``); never called from the event loop
directly. Rows are the plain dicts of :mod:`confchat.storage.rows`,
kept as JSON in a ``data`` column beside the few columns queries need.
Exports read apart (:func:`read_snapshot`): a read-only connection of their
own, beside the writer's, so that a long one delays no commit.

Durability: every batch is one ``BEGIN IMMEDIATE … COMMIT`` transaction.
``synchronous = "full"`` (the default) fsyncs the WAL at each commit, so a
committed batch survives a power cut; ``"normal"`` fsyncs only at
checkpoints, which still survives a crash or ``kill -9`` of the server (the
WAL is in the operating system's hands) but may lose the last commits if the
machine itself goes down.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.parse
from typing import Any, Iterable

from ..moderation.conference import Conference
from .accounts import MIGRATION as ACCOUNTS_MIGRATION, load_accounts, write_accounts
from .rows import restore_conference
from ..vocab import SyncMode, values

SYNCHRONOUS = values(SyncMode)

# Each entry upgrades the schema by one version; never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE conferences(
        folded TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE items(
        conference TEXT NOT NULL,
        id INTEGER NOT NULL,
        state TEXT NOT NULL,
        submitted_at REAL NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (conference, id)
    );
    CREATE TABLE publications(
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        conference TEXT NOT NULL,
        msgid TEXT NOT NULL UNIQUE,
        at REAL NOT NULL,
        item INTEGER,
        data TEXT NOT NULL,
        redacted_at REAL,
        redacted_by TEXT
    );
    CREATE INDEX publications_by_conference ON publications(conference, seq);
    CREATE TABLE audit(
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        conference TEXT NOT NULL,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        item INTEGER,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_by_conference ON audit(conference, seq);
    """,
    ACCOUNTS_MIGRATION,  # version 2: the accounts made with ACCOUNTS (storage/accounts.py)
    # version 3: in a cluster, how far in the cluster's log this database is (cluster/log.py)
    """
    CREATE TABLE cluster(
        id INTEGER PRIMARY KEY CHECK (id = 1),
        position TEXT NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StorageError(Exception):
    """The store cannot be used; the message says why and what to do."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Store:
    def __init__(self, path: str, synchronous: str = "full") -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS}")
        self.path = path
        self.synchronous = synchronous
        self.db: sqlite3.Connection | None = None

    # ------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Open (creating if needed), check, and migrate the database."""
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(directory, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the database {self.path}: {exc}") from exc
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StorageError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            db.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StorageError(
                    f"{self.path} is damaged ({check}); restore it from a backup "
                    "or move it away to start empty"
                )
            self._migrate(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise StorageError(
                    f"{self.path} is locked: is another confchat using the same data directory? ({exc})"
                ) from exc
            raise StorageError(
                f"{self.path} is not a usable confchat database ({exc}); restore it from a "
                "backup or move it away to start empty"
            ) from exc
        except StorageError:
            db.close()
            raise
        self.db = db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path} has schema version {version}, newer than this confchat "
                f"understands ({SCHEMA_VERSION}); upgrade confchat"
            )
        for number in range(version, SCHEMA_VERSION):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(MIGRATIONS[number]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    # ------------------------------------------------------------ reading

    def load(self) -> list[Conference]:
        """Every stored conference, live: queue in order, shown history,
        bans, prepared answers, audit log."""
        db = self._db()
        conferences = []
        for folded, data in db.execute("SELECT folded, data FROM conferences ORDER BY folded"):
            conferences.append(
                restore_conference(
                    json.loads(data),
                    _items(db, folded),
                    _publications(db, folded),
                    _audit(db, folded),
                )
            )
        return conferences

    def load_accounts(self) -> tuple[list[Any], list[Any]]:
        """The accounts made with ACCOUNTS, and their audit log (storage/accounts.py)."""
        return load_accounts(self._db())

    def load_position(self) -> str:
        """How far in the cluster's log this database is ("0-0": nowhere yet)."""
        row = self._db().execute("SELECT position FROM cluster WHERE id = 1").fetchone()
        return row[0] if row else "0-0"

    def conference_names(self) -> list[str]:
        return [json.loads(d)["channel"] for (d,) in self._db().execute("SELECT data FROM conferences ORDER BY folded")]

    def read(self, folded: str) -> dict[str, Any] | None:
        """Everything about one conference, for transcripts: its row, every
        item, every publication (redacted ones marked), the audit log."""
        return _read(self._db(), folded)

    # ------------------------------------------------------------ writing

    def write(self, batch: Iterable[dict[str, Any]]) -> int:
        """Commit one batch of conference changes (from ``Journal.collect``)
        in one transaction; return the number of rows written."""
        db = self._db()
        now = time.time()
        rows = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for changes in batch:
                if "accounts" in changes:  # the staff accounts' entry (storage/accounts.py)
                    rows += write_accounts(db, changes)
                    continue
                if "cluster_position" in changes:
                    db.execute(
                        "INSERT INTO cluster(id, position) VALUES (1, ?) "
                        "ON CONFLICT(id) DO UPDATE SET position = excluded.position",
                        (changes["cluster_position"],),
                    )
                    rows += 1
                    continue
                folded = changes["conference"]
                db.execute(
                    "INSERT INTO conferences(folded, data, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(folded) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                    (folded, _dumps(changes["row"]), now),
                )
                db.executemany(
                    "INSERT INTO items(conference, id, state, submitted_at, data) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(conference, id) DO UPDATE SET state = excluded.state, data = excluded.data",
                    [(folded, i["id"], i["state"], i["submitted_at"], _dumps(i)) for i in changes["items"]],
                )
                db.executemany(
                    "INSERT INTO publications(conference, msgid, at, item, data) VALUES (?, ?, ?, ?, ?)",
                    [(folded, p["msgid"], p["at"], p["item"], _dumps(p)) for p in changes["publications"]],
                )
                db.executemany(
                    "UPDATE publications SET redacted_at = ?, redacted_by = ? WHERE msgid = ?",
                    [(at, by, msgid) for msgid, at, by in changes["redactions"]],
                )
                db.executemany(
                    "INSERT INTO audit(conference, at, actor, action, item, detail) VALUES (?, ?, ?, ?, ?, ?)",
                    [(folded, a["at"], a["actor"], a["action"], a["item"], _dumps(a["detail"])) for a in changes["audit"]],
                )
                rows += 1 + sum(len(changes[k]) for k in ("items", "publications", "redactions", "audit"))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return rows

    def purge(self, cutoff: float) -> int:
        """Remove personal data older than ``cutoff`` (wall-clock seconds):
        IP addresses in authors' addresses, and the text of dropped messages
        (in the items and in their audit entries). Returns rows changed."""
        db = self._db()
        changed = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            changed += db.execute(
                "UPDATE items SET data = json_set(data, '$.author_prefix', json_extract(data, '$.author') || '!*@*') "
                "WHERE submitted_at < ? AND json_extract(data, '$.author_prefix') NOT LIKE '%!*@*'",
                (cutoff,),
            ).rowcount
            changed += db.execute(
                "UPDATE items SET data = json_set(data, '$.text', '', '$.original', NULL) "
                "WHERE state = 'dropped' AND submitted_at < ? "
                "AND (json_extract(data, '$.text') != '' OR json_extract(data, '$.original') IS NOT NULL)",
                (cutoff,),
            ).rowcount
            changed += db.execute(
                "UPDATE publications SET data = json_set(data, '$.source', "
                "substr(json_extract(data, '$.source'), 1, instr(json_extract(data, '$.source'), '!') - 1) || '!*@*') "
                "WHERE at < ? AND instr(json_extract(data, '$.source'), '!') > 0 "
                "AND json_extract(data, '$.source') NOT LIKE '%!*@*'",
                (cutoff,),
            ).rowcount
            changed += db.execute(
                "UPDATE audit SET detail = json_remove(detail, '$.text', '$.original') "
                "WHERE at < ? AND (json_extract(detail, '$.text') IS NOT NULL OR json_extract(detail, '$.original') IS NOT NULL) "
                "AND item IN (SELECT id FROM items WHERE items.conference = audit.conference AND state = 'dropped')",
                (cutoff,),
            ).rowcount
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return changed

    def _db(self) -> sqlite3.Connection:
        if self.db is None:
            raise StorageError("the store is not open")
        return self.db


def read_snapshot(path: str, folded: str) -> dict[str, Any] | None:
    """:meth:`Store.read` through a connection of its own, read-only, for
    exports: in WAL mode a reader works beside the writer, so a long export
    holds up no commit (and so no acknowledgement). One transaction, so the
    conference, items, publications and audit log are of one moment. Any
    thread may call it; each call opens and closes its connection."""
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=5.0)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open the database {path} to read: {exc}") from exc
    try:
        db.execute("BEGIN")
        try:
            return _read(db, folded)
        finally:
            db.execute("ROLLBACK")  # it only read
    finally:
        db.close()


def _read(db: sqlite3.Connection, folded: str) -> dict[str, Any] | None:
    row = db.execute("SELECT data FROM conferences WHERE folded = ?", (folded,)).fetchone()
    if row is None:
        return None
    return {
        "conference": json.loads(row[0]),
        "items": _items(db, folded),
        "publications": _publications(db, folded),
        "audit": _audit(db, folded),
    }


def _items(db: sqlite3.Connection, folded: str) -> list[dict[str, Any]]:
    rows = db.execute("SELECT data FROM items WHERE conference = ? ORDER BY id", (folded,))
    return [json.loads(data) for (data,) in rows]


def _publications(db: sqlite3.Connection, folded: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT data, redacted_at, redacted_by FROM publications WHERE conference = ? ORDER BY seq",
        (folded,),
    )
    return [{**json.loads(data), "redacted_at": at, "redacted_by": by} for data, at, by in rows]


def _audit(db: sqlite3.Connection, folded: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT at, actor, action, item, detail FROM audit WHERE conference = ? ORDER BY seq", (folded,)
    )
    return [
        {"at": at, "actor": actor, "action": action, "item": item, "detail": json.loads(detail)}
        for at, actor, action, item, detail in rows
    ]


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
