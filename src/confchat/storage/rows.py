"""The row format: a conference as plain rows and back.

Pure: dicts of JSON-friendly values, no database. :func:`changes_rows` turns
what a conference hands over (:meth:`Conference.take_changes`) into the rows
:meth:`Store.write` puts in tables, at once, in the event loop, so the rows
are a snapshot; :func:`restore_conference` rebuilds a live conference (queue
order, ids, history, bans, prepared answers, audit log) from stored rows.
"""

from __future__ import annotations

import enum
from typing import Any, Iterable

from ..config import ConferenceConfig
from ..cluster.log import PositionChanges
from ..core.accounts import AccountChanges
from ..moderation.conference import AuditEntry, ChangeSet, Conference, Publication, Restriction, Role
from ..moderation.queue import Item, State
from ..moderation.shield import Shield
from ..moderation.tally import Tally
from .accounts import account_rows

#: Conference settings stored and restored as they are.
SETTING_FIELDS = (
    "title", "description", "opens", "starts", "ends", "state", "mode",
    "show_decline_reasons", "auditorium", "slow_mode", "policies", "inherit_policies",
    "sort",
)


def _plain(value: Any) -> Any:
    """Enum members are stored as their text."""
    return value.value if isinstance(value, enum.Enum) else value


def conference_row(conference: Conference) -> dict[str, Any]:
    return {
        "channel": conference.channel,
        "settings": {name: _plain(getattr(conference, name)) for name in SETTING_FIELDS},
        "declared": conference.declared,
        "roles": {account: role.value for account, role in conference.roles.items()},
        "next_id": conference.queue.next_id,
        "now_answering": conference.now_answering,
        "schedule_from": conference.schedule_from,
        "restrictions": [
            {"kind": r.kind, "mask": r.mask, "by": r.by, "reason": r.reason, "set_at": r.set_at, "expires": r.expires}
            for r in conference.restrictions
        ],
        "prepared": {name: [author, text] for name, (author, text) in conference.prepared.items()},
        "shield": conference.shield.row(),
    }


def item_row(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "author": item.author,
        "author_prefix": item.author_prefix,
        "author_account": item.author_account,
        "text": item.text,
        "submitted_at": item.submitted_at,
        "state": item.state.value,
        "original": item.original,
        "claimed_by": item.claimed_by,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at,
        "reason": item.reason,
        "flags": list(item.flags),
        "msgid": item.msgid,
        "answered": item.answered,
        "redacted": item.redacted,
        "forwarded": item.forwarded,
        "votes": sorted(item.votes),
        "rank": item.rank,
        "score": item.score,
        "reasons": list(item.reasons),
    }


def publication_row(publication: Publication) -> dict[str, Any]:
    return {
        "msgid": publication.msgid,
        "source": publication.source,
        "command": publication.command,
        "text": publication.text,
        "at": publication.at,
        "tags": publication.tags,
        "item": publication.item,
    }


def audit_row(entry: AuditEntry) -> dict[str, Any]:
    return {"at": entry.at, "actor": entry.actor, "action": entry.action, "item": entry.item, "detail": entry.detail}


def changes_rows(changes: ChangeSet | AccountChanges | PositionChanges) -> dict[str, Any]:
    """One conference's changes as rows (one batch entry for ``Store.write``);
    the staff accounts' changes have rows of their own (storage/accounts.py)."""
    if isinstance(changes, AccountChanges):
        return account_rows(changes)
    if isinstance(changes, PositionChanges):  # how far in the cluster's log (cluster/log.py)
        return {"cluster_position": changes.entry}
    return {
        "conference": changes.folded,
        "row": conference_row(changes.conference),
        "items": [item_row(item) for item in changes.items],
        "publications": [publication_row(p) for p in changes.publications],
        "redactions": list(changes.redactions),
        "audit": [audit_row(e) for e in changes.audit],
    }


def take_rows(conference: Conference) -> dict[str, Any]:
    """Everything ``conference`` changed since the last call, as rows."""
    return changes_rows(conference.take_changes())


def restore_conference(
    row: dict[str, Any],
    items: Iterable[dict[str, Any]],
    publications: Iterable[dict[str, Any]],
    audit: Iterable[dict[str, Any]],
) -> Conference:
    """A live conference from its stored rows. ``publications`` are all of
    them, oldest first; a redacted one (``redacted_at`` set) is not shown,
    only kept in the timeline for the place of its msgid."""
    settings = row["settings"]
    conference = Conference(ConferenceConfig(channel=row["channel"], **settings))
    conference.declared = row.get("declared") or {}
    conference.roles = {account: Role(role) for account, role in row["roles"].items()}
    conference.now_answering = row.get("now_answering")
    conference.schedule_from = row.get("schedule_from", 0.0)
    conference.restrictions = [Restriction(**r) for r in row.get("restrictions", ())]
    conference.prepared = {name: (pair[0], pair[1]) for name, pair in row.get("prepared", {}).items()}
    conference.shield = Shield.from_row(row.get("shield"))
    queue = conference.queue
    for data in items:
        item = Item(
            data["id"], data["author"], data["author_prefix"], data["author_account"], None,
            data["text"], data["submitted_at"], State(data["state"]),
            original=data["original"], claimed_by=data["claimed_by"], decided_by=data["decided_by"],
            decided_at=data["decided_at"], reason=data["reason"], flags=tuple(data["flags"]),
            msgid=data["msgid"], answered=data["answered"], redacted=data["redacted"],
            forwarded=data["forwarded"], votes=set(data["votes"]), rank=data["rank"],
            score=data.get("score", 0.0), reasons=tuple(data.get("reasons", ())),
        )
        queue.items[item.id] = item
    undecided = [item for item in queue.items.values() if not item.decided]
    queue.order = [item.id for item in sorted(undecided, key=lambda item: (item.rank, item.id))]
    queue.next_id = max(row.get("next_id", 1), max(queue.items, default=0) + 1)
    for data in publications:
        publication = Publication(
            data["msgid"], data["source"], data["text"], data["at"], dict(data["tags"]),
            data["command"], data["item"],
        )
        if data.get("redacted_at") is None:
            conference.published[publication.msgid] = publication
            conference.timeline.add(publication)
        else:  # deleted: never shown, but CHATHISTORY selectors may name it
            conference.timeline.restore_redacted(publication)
    conference.audit = [AuditEntry(a["at"], a["actor"], a["action"], a["item"], a["detail"]) for a in audit]
    conference._audit_saved = len(conference.audit)
    conference.tally = Tally.of(queue.items.values(), conference.published.values())  # before any is let go
    queue.restored_decided()
    conference.let_go()  # all of it is stored: keep in memory what a live conference keeps
    return conference
