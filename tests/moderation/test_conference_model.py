"""Unit tests for a conference's model (confchat.moderation.conference), pure.

Expected values come from protocol.md ("Moderation extension": Conferences,
Roles, CONF SET/INFO/BAN/MUTE/AUDIT) and README.md (retention).
"""

from __future__ import annotations

import datetime

import pytest

from confchat.config import ConferenceConfig
from confchat.moderation.conference import (
    MODERATING,
    SETTINGS,
    STAFF,
    AuditEntry,
    Conference,
    Publication,
    Restriction,
    Role,
)
from confchat.moderation.queue import State
from confchat.storage.rows import take_rows

UTC = datetime.timezone.utc
T0 = 1_700_000_000.0

# The schedule of protocol.md's example: 17:30, 18:00, 19:00 at +01:00.
OPENS = "2026-12-01T17:30:00+01:00"
STARTS = "2026-12-01T18:00:00+01:00"
ENDS = "2026-12-01T19:00:00+01:00"
# The same instants, computed independently of the module (UTC = local - 1h).
T_OPENS = datetime.datetime(2026, 12, 1, 16, 30, tzinfo=UTC).timestamp()
T_STARTS = datetime.datetime(2026, 12, 1, 17, 0, tzinfo=UTC).timestamp()
T_ENDS = datetime.datetime(2026, 12, 1, 18, 0, tzinfo=UTC).timestamp()


def conference(**kwargs) -> Conference:
    fields = {"channel": "#townhall", "title": "Ask the mayor", "description": "The new tram line"}
    fields.update(kwargs)
    return Conference(ConferenceConfig(**fields))


def scheduled(**kwargs) -> Conference:
    return conference(opens=OPENS, starts=STARTS, ends=ENDS, state="scheduled", **kwargs)


# ---------------------------------------------------------------- roles


def test_roles_come_from_the_config_per_account():
    c = conference(moderators=["alice", "bob"], guests=["mayor"])
    assert c.role_of("alice", admin=False) is Role.MODERATOR
    assert c.role_of("bob", admin=False) is Role.MODERATOR
    assert c.role_of("mayor", admin=False) is Role.GUEST
    assert c.role_of("carol", admin=False) is Role.VISITOR


def test_role_lookup_uses_the_rfc1459_case_mapping():
    c = conference(moderators=["Alice[m]"], guests=["MAYOR"])
    assert c.role_of("alice{m}", admin=False) is Role.MODERATOR
    assert c.role_of("ALICE[M]", admin=False) is Role.MODERATOR
    assert c.role_of("mayor", admin=False) is Role.GUEST


def test_no_account_is_a_visitor_and_admins_are_admins_everywhere():
    c = conference(moderators=["alice"])
    assert c.role_of(None, admin=False) is Role.VISITOR
    assert c.role_of(None, admin=True) is Role.ADMIN  # an IRC operator without an account
    assert c.role_of("alice", admin=True) is Role.ADMIN
    assert c.role_of("carol", admin=True) is Role.ADMIN


def test_roles_are_per_conference():
    townhall = conference(moderators=["alice"])
    budget = conference(channel="#budget", guests=["alice"])
    assert townhall.role_of("alice", admin=False) is Role.MODERATOR
    assert budget.role_of("alice", admin=False) is Role.GUEST


def test_staff_and_moderating_role_sets():
    assert STAFF == {Role.ADMIN, Role.MODERATOR, Role.GUEST}
    assert MODERATING == {Role.ADMIN, Role.MODERATOR}


def test_apply_declared_adds_and_removes_file_roles_but_keeps_runtime_changes():
    c = conference(moderators=["alice", "bob"], guests=["mayor"])
    c.roles["bob"] = Role.GUEST  # CONF ROLE bob guest, at run time
    c.roles["dana"] = Role.MODERATOR  # CONF ROLE dana moderator
    c.apply_declared(ConferenceConfig(channel="#townhall", title="Ask the mayor",
                                      description="The new tram line", moderators=["alice", "carl"],
                                      guests=["mayor"]))
    assert c.role_of("carl", admin=False) is Role.MODERATOR  # added in the file
    assert c.role_of("bob", admin=False) is Role.GUEST  # removed from the file, but changed at run time
    assert c.role_of("dana", admin=False) is Role.MODERATOR  # never in the file
    assert c.role_of("alice", admin=False) is Role.MODERATOR


def test_apply_declared_file_edit_wins_runtime_setting_kept_otherwise():
    c = conference(slow_mode=0)
    assert c.set("title", "Runtime title") is None
    assert c.set("slow_mode", "30") is None
    # The file changes slow_mode, not the title.
    c.apply_declared(ConferenceConfig(channel="#townhall", title="Ask the mayor",
                                      description="The new tram line", slow_mode=10))
    assert c.title == "Runtime title"
    assert c.slow_mode == 10


# ---------------------------------------------------------------- schedule


def test_times_are_parsed_with_their_utc_offset():
    c = scheduled()
    assert c.scheduled_state(T_OPENS - 1) is None
    assert c.scheduled_state(T_OPENS) == "open"


@pytest.mark.parametrize(
    "now, expected",
    [
        (T_OPENS - 3600, None),
        (T_OPENS - 0.5, None),
        (T_OPENS, "open"),
        (T_OPENS + 60, "open"),
        (T_STARTS - 1, "open"),
        (T_STARTS, "live"),  # skipping open: the furthest state whose time passed
        (T_ENDS - 1, "live"),
        (T_ENDS, "closed"),
        (T_ENDS + 86400, "closed"),
    ],
)
def test_scheduled_state_from_scheduled(now, expected):
    assert scheduled().scheduled_state(now) == expected


def test_schedule_walks_scheduled_open_live_closed():
    c = scheduled()
    seen = []
    for now in range(int(T_OPENS) - 600, int(T_ENDS) + 600, 30):
        target = c.scheduled_state(float(now))
        if target is not None:
            seen.append((target, float(now)))
            c.state = target  # what the server's periodic check does
    assert seen == [("open", T_OPENS), ("live", T_STARTS), ("closed", T_ENDS)]


def test_schedule_reports_nothing_once_the_state_is_reached():
    c = scheduled()
    c.state = "live"
    assert c.scheduled_state(T_STARTS + 10) is None
    assert c.scheduled_state(T_ENDS) == "closed"


@pytest.mark.parametrize("state", ["live", "closed"])
def test_schedule_never_moves_backwards(state):
    c = scheduled()
    c.state = state
    assert c.scheduled_state(T_OPENS + 1) is None
    if state == "closed":
        assert c.scheduled_state(T_ENDS + 1) is None


def test_empty_times_are_not_scheduled():
    c = conference(opens="", starts=STARTS, ends="")
    assert c.scheduled_state(T_OPENS + 1) is None
    assert c.scheduled_state(T_STARTS) == "live"
    assert c.scheduled_state(T_STARTS + 10**8) == "live"  # no end: stays live


def test_only_an_end_time_closes_directly():
    c = conference(ends=ENDS)
    assert c.scheduled_state(T_ENDS - 1) is None
    assert c.scheduled_state(T_ENDS) == "closed"


def test_schedule_follows_times_set_later():
    c = conference()
    assert c.scheduled_state(T_ENDS) is None
    assert c.set("opens", OPENS) is None
    assert c.scheduled_state(T_ENDS) == "open"
    assert c.set("opens", "") is None  # cleared
    assert c.scheduled_state(T_ENDS) is None


def test_manual_state_then_later_schedule_time_still_applies():
    c = scheduled()
    c.state = "open"  # CONF STATE open, by hand, before the start
    c.schedule_from = T_OPENS - 100
    assert c.scheduled_state(T_STARTS) == "live"


def test_reopening_after_clearing_ends_stays_open():
    # "to reopen a conference whose ends has passed, clear ends first"
    c = scheduled()
    c.state = "closed"
    assert c.set("ends", "") is None
    c.state = "open"
    c.schedule_from = T_ENDS + 60
    assert c.scheduled_state(T_ENDS + 120) is None


# ---------------------------------------------------------------- settings


def test_settings_keys_are_the_documented_ones():
    assert set(SETTINGS) == {"title", "description", "opens", "starts", "ends", "mode", "slow_mode",
                             "auditorium", "show_decline_reasons", "sort"}


@pytest.mark.parametrize(
    "key, value, attribute, expected",
    [
        ("title", "New title", "title", "New title"),
        ("description", "Longer text with spaces", "description", "Longer text with spaces"),
        ("opens", OPENS, "opens", OPENS),
        ("starts", "", "starts", ""),
        ("ends", "2026-12-01T18:00:00Z", "ends", "2026-12-01T18:00:00Z"),
        ("mode", "open", "mode", "open"),
        ("mode", "readonly", "mode", "readonly"),
        ("mode", "moderated", "mode", "moderated"),
        ("slow_mode", "30", "slow_mode", 30),
        ("slow_mode", "0", "slow_mode", 0),
        ("auditorium", "off", "auditorium", False),
        ("auditorium", "ON", "auditorium", True),
        ("auditorium", "no", "auditorium", False),
        ("show_decline_reasons", "false", "show_decline_reasons", False),
        ("show_decline_reasons", "yes", "show_decline_reasons", True),
        ("show_decline_reasons", "True", "show_decline_reasons", True),
    ],
)
def test_set_valid_values(key, value, attribute, expected):
    c = conference(mode="readonly" if value != "readonly" else "open", slow_mode=5,
                   auditorium=not expected if key == "auditorium" else True,
                   show_decline_reasons=not expected if key == "show_decline_reasons" else True)
    assert c.set(key, value) is None
    assert getattr(c, attribute) == expected


@pytest.mark.parametrize(
    "key, value, message_part",
    [
        ("mode", "Open", "mode takes moderated, open or readonly"),  # the protocol.md example
        ("mode", "", "mode takes moderated, open or readonly"),
        ("mode", "closed", "mode takes moderated, open or readonly"),
        ("slow_mode", "-1", "slow_mode takes a number of seconds"),
        ("slow_mode", "1.5", "slow_mode takes a number of seconds"),
        ("slow_mode", "", "slow_mode takes a number of seconds"),
        ("slow_mode", "ten", "slow_mode takes a number of seconds"),
        ("auditorium", "maybe", "auditorium takes on or off"),
        ("auditorium", "", "auditorium takes on or off"),
        ("show_decline_reasons", "1", "show_decline_reasons takes on or off"),
        ("opens", "2026-12-01T18:00:00", "opens takes an ISO 8601 time with a UTC offset"),  # no offset
        ("starts", "tomorrow", "starts takes an ISO 8601 time with a UTC offset"),
        ("ends", "2026-13-01T18:00:00+01:00", "ends takes an ISO 8601 time with a UTC offset"),
        ("state", "live", "Unknown setting 'state'"),  # states go through CONF STATE
        ("colour", "red", "Unknown setting 'colour'"),
    ],
)
def test_set_invalid_values_return_an_error_and_change_nothing(key, value, message_part):
    c = scheduled(slow_mode=5)
    before = c.info()
    error = c.set(key, value)
    assert error is not None and message_part in error
    assert c.info() == before


def test_set_slow_mode_to_a_superscript_digit_is_an_error_not_a_crash():
    c = conference(slow_mode=5)
    assert c.set("slow_mode", "\u00b2") == "slow_mode takes a number of seconds"
    assert c.slow_mode == 5


def test_info_lists_the_settings_in_protocol_order_with_on_off():
    c = scheduled(slow_mode=30, auditorium=False, show_decline_reasons=True, mode="open")
    info = c.info()
    assert list(info) == ["title", "description", "state", "mode", "opens", "starts", "ends",
                          "slow_mode", "auditorium", "show_decline_reasons", "sort"]
    assert info == {
        "title": "Ask the mayor", "description": "The new tram line", "state": "scheduled", "mode": "open",
        "opens": OPENS, "starts": STARTS, "ends": ENDS, "slow_mode": "30",
        "auditorium": "off", "show_decline_reasons": "on", "sort": "recent",
    }


def test_info_follows_set():
    c = conference()
    c.set("slow_mode", "45")
    c.set("auditorium", "off")
    c.set("title", "Budget night")
    info = c.info()
    assert (info["slow_mode"], info["auditorium"], info["title"]) == ("45", "off", "Budget night")


# ---------------------------------------------------------------- restrictions


def test_restriction_without_expiry_is_active_forever():
    r = Restriction("mute", "$a:eve", "alice", "Rude", set_at=T0)
    assert r.expires == 0
    assert r.active(T0) and r.active(T0 + 10**9)


def test_restriction_with_a_duration_expires():
    # protocol.md: BAN carol 3600 set at 1700000159 is listed expiring at 1700003759.
    r = Restriction("ban", "*!*@203.0.113.7", "alice", "Spamming", set_at=1700000159.0, expires=1700000159.0 + 3600)
    assert r.expires == 1700003759.0
    assert r.active(1700000159.0)
    assert r.active(1700003758.9)
    assert not r.active(1700003759.0)
    assert not r.active(1700009999.0)


@pytest.mark.parametrize(
    "mask, prefix, account, expected",
    [
        ("$a:eve", "eve!~e@198.51.100.1", "eve", True),
        ("$a:eve", "zed!~z@198.51.100.2", "EVE", True),  # accounts compare case-insensitively
        ("$a:eve", "eve!~e@198.51.100.1", None, False),  # same nick, not logged in
        ("$a:eve", "eve!~e@198.51.100.1", "evelyn", False),
        ("*!*@203.0.113.7", "carol!~carol@203.0.113.7", None, True),
        ("*!*@203.0.113.7", "dave!~d@203.0.113.7", "dave", True),  # everyone from that address
        ("*!*@203.0.113.7", "carol!~carol@203.0.113.8", None, False),
        ("carol!*@*", "CAROL!~c@x.example", None, True),  # rfc1459 case mapping
        ("carol!*@*", "carola!~c@x.example", None, False),
        ("*!~carol@203.0.113.7", "carol!~carol@203.0.113.7", None, True),
        # "user@host is not completed to *!user@host"
        ("~carol@203.0.113.7", "carol!~carol@203.0.113.7", None, False),
        ("c?rol!*@*", "carol!u@h", None, True),
    ],
)
def test_restriction_masks(mask, prefix, account, expected):
    assert Restriction("ban", mask, "alice", "", T0).matches(prefix, account) is expected


def test_restricted_finds_an_active_matching_restriction_of_that_kind():
    c = conference()
    mute = Restriction("mute", "$a:eve", "alice", "Rude", T0)
    ban = Restriction("ban", "*!*@203.0.113.7", "alice", "Spamming", T0, expires=T0 + 3600)
    c.restrictions += [mute, ban]
    assert c.restricted("mute", "eve!~e@198.51.100.1", "eve", T0 + 5) is mute
    assert c.restricted("ban", "eve!~e@198.51.100.1", "eve", T0 + 5) is None  # a mute is not a ban
    assert c.restricted("ban", "carol!~c@203.0.113.7", None, T0 + 5) is ban
    assert c.restricted("mute", "carol!~c@203.0.113.7", None, T0 + 5) is None
    assert c.restricted("ban", "carol!~c@203.0.113.7", None, T0 + 3600) is None  # expired
    assert c.restricted("ban", "dave!~d@203.0.113.8", None, T0 + 5) is None


def test_expired_restrictions_disappear_others_stay():
    c = conference()
    short = Restriction("mute", "a!*@*", "alice", "", T0, expires=T0 + 60)
    longer = Restriction("ban", "b!*@*", "alice", "", T0, expires=T0 + 3600)
    forever = Restriction("ban", "c!*@*", "alice", "", T0)
    c.restrictions = [short, longer, forever]
    c.expire(T0 + 59)
    assert c.restrictions == [short, longer, forever]
    c.expire(T0 + 60)
    assert c.restrictions == [longer, forever]
    c.expire(T0 + 10**6)
    assert c.restrictions == [forever]


# ---------------------------------------------------------------- audit


class FakeJournal:
    def __init__(self) -> None:
        self.marked: list[Conference] = []

    def mark(self, conference: Conference) -> None:
        self.marked.append(conference)


def _decisions(c: Conference) -> None:
    """A short session, each decision recorded as the QUEUE handlers do."""
    q = c.queue
    first = q.submit("carol", "carol!~carol@203.0.113.7", "The mayor is a clown", 1700000132.0)
    c.record(1700000132.0, "carol", "submit", first.id, text=first.text)
    second = q.submit("dave", "dave!~dave@203.0.113.8", "How much will it cost?", 1700000135.0)
    c.record(1700000135.0, "dave", "submit", second.id, text=second.text)
    item = q.drop(first.id, "alice", 1700000140.0, "Please stay polite")
    c.record(1700000140.0, "alice", "drop", item.id, reason=item.reason,
             wait=round(item.decided_at - item.submitted_at, 1))
    item = q.approve(second.id, "bob", 1700000146.0, "How much will the line cost?")
    c.record(1700000146.0, "bob", "edit-approve", item.id, wait=round(item.decided_at - item.submitted_at, 1),
             original=item.original, text=item.text)


def test_audit_records_who_when_what_and_why_for_each_decision_oldest_first():
    c = conference()
    _decisions(c)
    assert [(e.at, e.actor, e.action, e.item) for e in c.audit] == [
        (1700000132.0, "carol", "submit", 1),
        (1700000135.0, "dave", "submit", 2),
        (1700000140.0, "alice", "drop", 1),
        (1700000146.0, "bob", "edit-approve", 2),
    ]
    assert c.audit[2].detail == {"reason": "Please stay polite", "wait": 8.0}
    assert c.audit[3].detail == {"wait": 11.0, "original": "How much will it cost?",
                                 "text": "How much will the line cost?"}
    assert all(isinstance(e, AuditEntry) for e in c.audit)


def test_record_without_item_and_with_no_detail():
    c = conference()
    c.record(T0, "schedule", "state", None, state="open")
    c.record(T0 + 1, "alice", "hold", 3)
    assert c.audit == [AuditEntry(T0, "schedule", "state", None, {"state": "open"}),
                       AuditEntry(T0 + 1, "alice", "hold", 3, {})]


def test_record_marks_the_conference_and_item_for_storage():
    c = conference()
    journal = FakeJournal()
    c.journal = journal
    item = c.queue.submit("carol", "carol!~c@h", "q", T0)
    c.record(T0, "carol", "submit", item.id, text="q")
    assert journal.marked == [c]
    changes = take_rows(c)
    assert [row["id"] for row in changes["items"]] == [item.id]
    assert [(a["actor"], a["action"], a["item"]) for a in changes["audit"]] == [("carol", "submit", item.id)]
    again = take_rows(c)  # each change is handed over once
    assert again["items"] == [] and again["audit"] == []


def test_take_changes_carries_items_reranked_by_a_move():
    c = conference()
    for i in range(3):
        c.queue.submit("carol", "carol!~c@h", f"q{i}", T0 + i)
    take_rows(c)
    c.queue.move(3, "alice", "top")
    c.record(T0 + 10, "alice", "move", 3, to="top")
    rows = {row["id"]: row for row in take_rows(c)["items"]}
    assert 3 in rows
    ranks = {i: (rows[i]["rank"] if i in rows else c.queue.items[i].rank) for i in (1, 2, 3)}
    assert sorted(ranks, key=lambda i: (ranks[i], i)) == [3, 1, 2]


def test_publications_are_kept_in_order_and_removed_by_msgid():
    c = conference()
    p1 = Publication("m1", "carol!~c@h", "q1", T0, {"confchat/item": "1"}, item=1)
    p2 = Publication("m2", "mayor!~m@h", "a1", T0 + 1)
    c.add_publication(p1)
    c.add_publication(p2)
    assert list(c.published) == ["m1", "m2"]
    assert c.remove_publication("m1", T0 + 2, "alice") is p1
    assert c.remove_publication("m1", T0 + 3, "alice") is None  # already deleted
    assert list(c.published) == ["m2"]
    assert take_rows(c)["redactions"] == [("m1", T0 + 2, "alice")]


# ---------------------------------------------------------------- retention


def test_purge_forgets_addresses_and_dropped_texts_before_the_cutoff():
    c = conference()
    _decisions(c)  # item 1 dropped, item 2 published (edited)
    late = c.queue.submit("erin", "erin!~e@192.0.2.9", "Late and rude", 1700000500.0)
    c.record(1700000500.0, "erin", "submit", late.id, text=late.text)
    c.queue.drop(late.id, "alice", 1700000501.0)
    c.add_publication(Publication("m2", "dave!~dave@203.0.113.8", "How much will the line cost?", 1700000146.0,
                                  item=2))
    changed = c.purge_personal_data(cutoff=1700000400.0)
    assert changed == 2
    first, second = c.queue.get(1), c.queue.get(2)
    assert first.author_prefix == "carol!*@*" and first.text == "" and first.original is None
    assert second.author_prefix == "dave!*@*"
    assert (second.text, second.original) == ("How much will the line cost?", "How much will it cost?")
    assert c.published["m2"].source == "dave!*@*" and c.published["m2"].text == "How much will the line cost?"
    # The audit log forgets the dropped message's text, keeps the published one's.
    assert "text" not in c.audit[0].detail
    assert c.audit[1].detail == {"text": "How much will it cost?"}
    assert c.audit[3].detail["original"] == "How much will it cost?"
    # After the cutoff: untouched.
    assert late.author_prefix == "erin!~e@192.0.2.9" and late.text == "Late and rude"
    assert c.audit[4].detail == {"text": "Late and rude"}
    assert c.purge_personal_data(cutoff=1700000400.0) == 0  # nothing left to change


def test_new_conference_state_and_queue():
    c = conference()
    assert c.state == "scheduled" and c.mode == "moderated"
    assert c.queue.order == [] and c.audit == [] and c.restrictions == []
    item = c.queue.submit("carol", "carol!~c@h", "q", T0)
    assert item.id == 1 and item.state is State.PENDING
