"""The staff accounts: those of the config file, read-only, and those the
admins manage at run time (``ACCOUNTS``, core/handlers/admin.py), stored in
the database.

Pure, like a conference: the book changes in memory, marks itself in the
core's journal (so the reply that tells of a change waits for its commit,
"acknowledged means stored") and hands its changes to storage with
:meth:`AccountBook.take_changes`. Hashes are made by the shell in the
password checker's worker threads, never here.

A name in the config file wins over a stored account of the same name (the
stored one is hidden while the file has it), so the file stays the last
word of the person who runs the server.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

import attrs

from ..proto.casemap import casefold

# The journal's key for the accounts: no channel name starts with "*".
JOURNAL_KEY = "*accounts"


class AccountLike(Protocol):
    name: str
    password_hash: str
    admin: bool


@attrs.frozen
class StoredAccount:
    """An account made with ``ACCOUNTS CREATE`` (the same three fields as the
    config's ``Account``, which the login code reads, and when and by whom)."""

    name: str
    password_hash: str = attrs.field(repr=False)  # never in a log line
    admin: bool = False
    created_at: float = 0.0
    created_by: str = ""
    updated_at: float = 0.0


@attrs.frozen
class AccountEvent:
    """One entry of the accounts' audit log."""

    at: float
    actor: str
    action: str  # create, passwd, admin, delete
    account: str
    detail: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class AccountChanges:
    """What :meth:`AccountBook.take_changes` hands to storage: the stored
    accounts that changed (``None``: deleted), by folded name, and the new
    audit entries."""

    accounts: dict[str, StoredAccount | None]
    audit: list[AccountEvent]

    @property
    def folded(self) -> str:
        return JOURNAL_KEY


class AccountBook:
    folded = JOURNAL_KEY

    def __init__(
        self,
        declared: Iterable[AccountLike] = (),
        stored: Iterable[StoredAccount] = (),
        audit: Iterable[AccountEvent] = (),
    ) -> None:
        self.declared: dict[str, AccountLike] = {casefold(a.name): a for a in declared}
        self.stored: dict[str, StoredAccount] = {
            casefold(a.name): a for a in stored if casefold(a.name) not in self.declared
        }
        # The live map every login reads (Server.accounts is this dict).
        self.accounts: dict[str, AccountLike] = {**self.stored, **self.declared}
        self.audit: list[AccountEvent] = list(audit)
        self._audit_saved = len(self.audit)
        self._changed: dict[str, StoredAccount | None] = {}
        self.journal: Any = None  # the core's journal, or None (no storage)

    # ------------------------------------------------------------ reading

    def get(self, name: str) -> AccountLike | None:
        return self.accounts.get(casefold(name))

    def is_declared(self, name: str) -> bool:
        return casefold(name) in self.declared

    def listing(self) -> list[AccountLike]:
        """Every account, by folded name."""
        return [self.accounts[key] for key in sorted(self.accounts)]

    # ------------------------------------------------------------ changes

    def create(self, now: float, actor: str, name: str, password_hash: str, admin: bool) -> StoredAccount:
        folded = casefold(name)
        assert folded not in self.accounts, name
        account = StoredAccount(name, password_hash, admin, now, actor, now)
        self._put(folded, account)
        self._record(now, actor, "create", name, admin=admin)
        return account

    def set_password(self, now: float, actor: str, name: str, password_hash: str) -> None:
        folded = casefold(name)
        account = self.stored[folded]
        self._put(folded, attrs.evolve(account, password_hash=password_hash, updated_at=now))
        self._record(now, actor, "passwd", account.name)

    def set_admin(self, now: float, actor: str, name: str, admin: bool) -> None:
        folded = casefold(name)
        account = self.stored[folded]
        self._put(folded, attrs.evolve(account, admin=admin, updated_at=now))
        self._record(now, actor, "admin", account.name, admin=admin)

    def delete(self, now: float, actor: str, name: str) -> None:
        folded = casefold(name)
        account = self.stored.pop(folded)
        del self.accounts[folded]
        self._changed[folded] = None
        self._record(now, actor, "delete", account.name)

    def _put(self, folded: str, account: StoredAccount) -> None:
        self.stored[folded] = account
        self.accounts[folded] = account
        self._changed[folded] = account

    def _record(self, now: float, actor: str, action: str, account: str, **detail: Any) -> None:
        """Every change has its audit entry, and is marked for storage
        here, before anyone is told of it."""
        self.audit.append(AccountEvent(now, actor, action, account, detail))
        if self.journal is not None:
            self.journal.mark(self)

    def take_changes(self) -> AccountChanges:
        changes = AccountChanges(self._changed, self.audit[self._audit_saved:])
        self._changed = {}
        self._audit_saved = len(self.audit)
        return changes
