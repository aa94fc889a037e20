"""Unit tests for the moderation queue (confchat.moderation.queue), pure.

Expected values come from protocol.md, "Moderation extension" (QUEUE, VOTE,
Concurrency guarantees), not from running the code.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confchat.moderation.queue import UNDECIDED, Item, ModerationQueue, QueueError, State

T0 = 1_700_000_000.0


class Clock:
    """An injected wall clock: tests move it by hand."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def tick(self, seconds: float = 1.0) -> float:
        self.now += seconds
        return self.now


def submit(q: ModerationQueue, text: str, now: float = T0, nick: str = "carol") -> Item:
    return q.submit(nick, f"{nick}!~{nick}@203.0.113.7", text, now, account=None, author_id=7)


def filled(n: int, start: float = T0) -> ModerationQueue:
    q = ModerationQueue()
    for i in range(n):
        submit(q, f"question {i + 1}", start + i)
    return q


def refused(code: str, call, *args, **kwargs) -> QueueError:
    with pytest.raises(QueueError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, f"expected {code}, got {info.value.code}: {info.value}"
    return info.value


def snapshot(q: ModerationQueue):
    """Everything an action may change: to check that refusals change nothing."""
    return (
        list(q.order),
        q.next_id,
        {
            i.id: (i.state, i.text, i.original, i.claimed_by, i.decided_by, i.decided_at, i.reason,
                   i.rank, i.forwarded, i.answered, i.redacted, frozenset(i.votes))
            for i in q.items.values()
        },
    )


# ---------------------------------------------------------------- submit


def test_ids_start_at_1_and_increase_by_one():
    q = ModerationQueue()
    items = [submit(q, f"q{i}") for i in range(5)]
    assert [i.id for i in items] == [1, 2, 3, 4, 5]


def test_first_id_is_configurable():
    q = ModerationQueue(first_id=42)
    assert submit(q, "a").id == 42
    assert submit(q, "b").id == 43


def test_submission_order_is_release_order_and_positions_are_1_based():
    q = filled(4)
    assert [i.id for i in q.undecided()] == [1, 2, 3, 4]
    assert [q.position(i) for i in (1, 2, 3, 4)] == [1, 2, 3, 4]


def test_submitted_item_is_pending_with_author_and_text():
    q = ModerationQueue()
    item = q.submit("carol", "carol!~carol@203.0.113.7", "Is the tram free?", T0 + 5, account="carola")
    assert item.state is State.PENDING
    assert not item.decided
    assert item.author == "carol"
    assert item.author_prefix == "carol!~carol@203.0.113.7"
    assert item.author_account == "carola"
    assert item.text == "Is the tram free?"
    assert item.submitted_at == T0 + 5
    assert item.original is None
    assert item.claimed_by is item.decided_by is item.decided_at is None
    assert q.get(item.id) is item


def test_ids_are_never_reused_after_decisions():
    q = filled(3)
    q.approve(3, "alice", T0)
    q.drop(2, "alice", T0)
    assert submit(q, "later").id == 4


def test_get_unknown_item_is_no_such_item():
    q = filled(2)
    err = refused("NO_SUCH_ITEM", q.get, 99)
    assert str(err) == "There is no item 99"
    assert err.item_id == 99


@pytest.mark.parametrize(
    "action",
    [
        lambda q: q.approve(7, "alice", T0),
        lambda q: q.approve(7, "alice", T0, "edited"),
        lambda q: q.drop(7, "alice", T0, "why"),
        lambda q: q.hold(7, "alice"),
        lambda q: q.unhold(7, "alice"),
        lambda q: q.forward(7, "alice"),
        lambda q: q.move(7, "alice", "top"),
        lambda q: q.claim(7, "alice"),
        lambda q: q.claim(7, "alice", takeover=True),
        lambda q: q.unclaim(7, "alice"),
        lambda q: q.vote(7, "dave"),
    ],
)
def test_every_action_on_an_unknown_id_is_no_such_item_and_changes_nothing(action):
    q = filled(3)
    before = snapshot(q)
    refused("NO_SUCH_ITEM", action, q)
    assert snapshot(q) == before


# ---------------------------------------------------------------- approve / edit / drop


def test_approve_publishes_and_records_decider_and_time():
    clock = Clock()
    q = filled(3)
    clock.tick(30)
    item = q.approve(2, "alice", clock.now)
    assert item.state is State.PUBLISHED
    assert item.decided
    assert item.decided_by == "alice"
    assert item.decided_at == T0 + 30
    assert item.text == "question 2"
    assert item.original is None
    assert q.position(2) == 0
    assert [i.id for i in q.undecided()] == [1, 3]
    assert q.published() == [item]


def test_edit_then_approve_publishes_new_text_and_keeps_original():
    q = filled(1)
    item = q.approve(1, "alice", T0 + 11, "How much will the new tram line cost?")
    assert item.state is State.PUBLISHED
    assert item.text == "How much will the new tram line cost?"
    assert item.original == "question 1"


def test_drop_records_reason_decider_and_time_and_leaves_order():
    q = filled(3)
    item = q.drop(2, "bob", T0 + 9, "Please stay polite")
    assert item.state is State.DROPPED
    assert item.decided_by == "bob"
    assert item.decided_at == T0 + 9
    assert item.reason == "Please stay polite"
    assert item.text == "question 2"  # the text is kept for the record
    assert [i.id for i in q.undecided()] == [1, 3]
    assert q.position(2) == 0
    assert q.published() == []


@pytest.mark.parametrize("state", ["pending", "held", "forwarded"])
def test_any_undecided_item_can_be_approved_or_dropped(state):
    for decide, final in ((lambda q: q.approve(1, "alice", T0), State.PUBLISHED),
                          (lambda q: q.drop(1, "alice", T0), State.DROPPED)):
        q = filled(2)
        if state == "held":
            q.hold(1, "alice")
        elif state == "forwarded":
            q.forward(1, "alice")
        assert decide(q).state is final
        assert q.order == [2]


def _decided_queue(how: str) -> ModerationQueue:
    q = filled(2)
    if how == "published":
        q.approve(1, "alice", T0)
    else:
        q.drop(1, "alice", T0, "rude")
    return q


@pytest.mark.parametrize("how", ["published", "dropped"])
@pytest.mark.parametrize(
    "action",
    [
        lambda q: q.approve(1, "bob", T0 + 1),
        lambda q: q.approve(1, "bob", T0 + 1, "other text"),
        lambda q: q.drop(1, "bob", T0 + 1),
        lambda q: q.hold(1, "bob"),
        lambda q: q.unhold(1, "bob"),
        lambda q: q.forward(1, "bob"),
        lambda q: q.move(1, "bob", "top"),
        lambda q: q.unclaim(1, "bob"),
        lambda q: q.approve(1, "alice", T0 + 1),  # even by the one who decided
    ],
)
def test_decided_item_acted_on_again_is_already_decided_naming_who(how, action):
    q = _decided_queue(how)
    before = snapshot(q)
    err = refused("ALREADY_DECIDED", action, q)
    assert str(err) == f"Item 1 was already {how} by alice"
    assert err.item_id == 1
    assert snapshot(q) == before


@pytest.mark.parametrize("how", ["published", "dropped"])
@pytest.mark.parametrize("takeover", [False, True])
def test_claim_or_takeover_of_decided_item_is_already_decided_without_who(how, takeover):
    q = _decided_queue(how)
    err = refused("ALREADY_DECIDED", q.claim, 1, "bob", takeover=takeover)
    assert str(err) == f"Item 1 was already {how}"
    assert q.get(1).claimed_by is None


def test_two_moderators_racing_on_one_item_publish_it_once():
    q = filled(1)
    first = q.approve(1, "alice", T0 + 1)
    refused("ALREADY_DECIDED", q.approve, 1, "bob", T0 + 2, "bob's edit")
    assert first.decided_by == "alice"
    assert first.decided_at == T0 + 1
    assert first.text == "question 1"  # bob's edit did not apply
    assert first.original is None
    assert q.published() == [first]


def test_bulk_is_a_sequence_of_single_actions_each_on_its_own():
    # "QUEUE APPROVE 3,4,7": the module has no bulk method; the handler calls
    # approve per id, and one failure must not affect the others.
    q = filled(7)
    q.claim(4, "bob")
    q.drop(7, "bob", T0)
    outcomes = {}
    for item_id in (3, 4, 7, 99):
        try:
            outcomes[item_id] = q.approve(item_id, "alice", T0 + 1).state.value
        except QueueError as exc:
            outcomes[item_id] = exc.code
    assert outcomes == {3: "published", 4: "CLAIMED", 7: "ALREADY_DECIDED", 99: "NO_SUCH_ITEM"}
    assert q.get(4).state is State.PENDING and q.get(4).claimed_by == "bob"
    assert q.get(7).state is State.DROPPED
    assert [i.id for i in q.undecided()] == [1, 2, 4, 5, 6]


# ---------------------------------------------------------------- move


def test_move_to_top_and_bottom():
    q = filled(4)
    q.move(3, "alice", "top")
    assert q.order == [3, 1, 2, 4]
    q.move(1, "alice", "bottom")
    assert q.order == [3, 2, 4, 1]
    assert q.position(1) == 4


@pytest.mark.parametrize(
    "item_id, where, expected",
    [
        (4, "1", [4, 1, 2, 3, 5]),
        (4, "2", [1, 4, 2, 3, 5]),
        (1, "3", [2, 3, 1, 4, 5]),
        (1, "5", [2, 3, 4, 5, 1]),
        (5, "5", [1, 2, 3, 4, 5]),
        (2, "2", [1, 2, 3, 4, 5]),
    ],
)
def test_move_to_a_position_puts_the_item_at_that_position(item_id, where, expected):
    q = filled(5)
    q.move(item_id, "alice", where)
    assert q.order == expected
    assert q.position(item_id) == int(where)


@pytest.mark.parametrize("where", ["0", "6", "9", "-1", "", "first", "2.0", " 2", "+2", "1e0"])
def test_move_to_an_invalid_position_is_refused_and_changes_nothing(where):
    q = filled(5)
    before = snapshot(q)
    err = refused("INVALID_POSITION", q.move, 4, "alice", where)
    assert str(err) == "Position must be top, bottom or 1-5"
    assert snapshot(q) == before


def test_invalid_position_bound_counts_only_undecided_items():
    q = filled(5)
    q.drop(4, "alice", T0)
    q.hold(2, "alice")  # held and forwarded items stay in the order
    q.forward(3, "alice")
    err = refused("INVALID_POSITION", q.move, 1, "alice", "5")
    assert str(err) == "Position must be top, bottom or 1-4"
    q.move(1, "alice", "4")
    assert q.order == [2, 3, 5, 1]


def test_move_to_a_superscript_digit_is_invalid_position_not_a_crash():
    q = filled(5)
    before = snapshot(q)
    refused("INVALID_POSITION", q.move, 4, "alice", "\u00b2")
    assert snapshot(q) == before


@settings(max_examples=300, deadline=None, database=None)
@given(where=st.one_of(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=4),
                       st.integers(min_value=-3, max_value=9).map(str)),
       item_id=st.integers(min_value=1, max_value=5))
def test_move_with_any_ascii_position_moves_or_is_invalid_position(where, item_id):
    q = filled(5)
    before = snapshot(q)
    valid = {"top": 1, "bottom": 5}.get(where)
    if where.isascii() and where.isdigit() and 1 <= int(where) <= 5:
        valid = int(where)
    try:
        q.move(item_id, "alice", where)
    except QueueError as exc:
        assert valid is None, f"{where!r} refused: {exc.code}"
        assert exc.code == "INVALID_POSITION"
        assert snapshot(q) == before
    else:
        assert valid is not None, f"{where!r} accepted"
        assert q.position(item_id) == valid
        assert sorted(q.order) == [1, 2, 3, 4, 5]
        others = [i for i in q.order if i != item_id]
        assert others == [i for i in (1, 2, 3, 4, 5) if i != item_id]  # the others keep their order


def test_moving_held_and_forwarded_items_keeps_their_state():
    q = filled(3)
    q.hold(1, "alice")
    q.forward(2, "alice")
    q.move(1, "alice", "bottom")
    q.move(2, "alice", "bottom")
    assert q.order == [3, 1, 2]
    assert q.get(1).state is State.HELD
    assert q.get(2).state is State.FORWARDED


def test_move_does_not_change_submission_time_or_text():
    q = filled(3)
    q.move(3, "alice", "top")
    item = q.get(3)
    assert item.submitted_at == T0 + 2
    assert item.text == "question 3"
    assert item.state is State.PENDING


def test_ranks_follow_the_order_after_many_moves_to_one_spot():
    # Undecided items sort by (rank, id): storage rebuilds the order from it.
    q = filled(6)
    for _ in range(80):  # squeeze between the same two neighbours: forces renumbering
        q.move(q.order[-1], "alice", "2")
    assert sorted(q.order, key=lambda i: (q.items[i].rank, i)) == q.order
    ranks = [q.items[i].rank for i in q.order]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)


# ---------------------------------------------------------------- next


def test_next_returns_the_head_of_the_queue_without_deciding_it():
    q = filled(3)
    q.move(3, "alice", "top")
    item = q.next_pending("alice")
    assert item.id == 3
    assert item.state is State.PENDING  # the caller approves it
    assert q.order == [3, 1, 2]


def test_next_skips_held_forwarded_and_items_claimed_by_others():
    q = filled(5)
    q.hold(1, "alice")
    q.forward(2, "alice")
    q.claim(3, "bob")
    assert q.next_pending("alice").id == 4
    assert q.next_pending("bob").id == 3  # bob's own claim is not skipped for bob


def test_next_then_approve_releases_items_in_order():
    q = filled(3)
    released = []
    for t in range(3):
        item = q.next_pending("bob")
        q.approve(item.id, "bob", T0 + 100 + t)
        released.append(item.id)
    assert released == [1, 2, 3]
    refused("QUEUE_EMPTY", q.next_pending, "bob")


def test_next_on_an_empty_queue_is_queue_empty():
    err = refused("QUEUE_EMPTY", ModerationQueue().next_pending, "alice")
    assert str(err) == "No pending item to release"
    assert err.item_id is None


def test_next_with_only_held_and_forwarded_items_is_queue_empty():
    q = filled(2)
    q.hold(1, "alice")
    q.forward(2, "alice")
    refused("QUEUE_EMPTY", q.next_pending, "alice")


# ---------------------------------------------------------------- hold / unhold / forward


def test_hold_keeps_the_item_in_place_and_unhold_makes_it_pending_again():
    q = filled(3)
    held = q.hold(2, "alice")
    assert held.state is State.HELD
    assert not held.decided
    assert q.order == [1, 2, 3] and q.position(2) == 2
    assert q.unhold(2, "bob").state is State.PENDING
    assert q.order == [1, 2, 3]


def test_hold_and_unhold_are_not_decisions():
    q = filled(1)
    q.hold(1, "alice")
    q.unhold(1, "alice")
    item = q.get(1)
    assert item.decided_by is None and item.decided_at is None


@pytest.mark.parametrize(
    "prepare, action, state_word",
    [
        (lambda q: q.hold(1, "alice"), lambda q: q.hold(1, "alice"), "held"),
        (lambda q: None, lambda q: q.unhold(1, "alice"), "pending"),
        (lambda q: q.forward(1, "alice"), lambda q: q.hold(1, "alice"), "forwarded"),
        (lambda q: q.forward(1, "alice"), lambda q: q.unhold(1, "alice"), "forwarded"),
        (lambda q: q.forward(1, "alice"), lambda q: q.forward(1, "alice"), "forwarded"),
    ],
)
def test_wrong_state_transitions_are_refused(prepare, action, state_word):
    q = filled(2)
    prepare(q)
    before = snapshot(q)
    err = refused("WRONG_STATE", action, q)
    assert str(err) == f"Item 1 is {state_word}"
    assert snapshot(q) == before


@pytest.mark.parametrize("from_held", [False, True])
def test_forward_from_pending_or_held_clears_the_claim(from_held):
    q = filled(2)
    if from_held:
        q.hold(1, "alice")
    q.claim(1, "alice")
    item = q.forward(1, "alice")
    assert item.state is State.FORWARDED
    assert item.forwarded
    assert item.claimed_by is None
    assert q.position(1) == 1  # still undecided, in place
    assert not item.decided


def test_forwarded_item_published_later_remembers_it_was_forwarded():
    q = filled(1)
    q.forward(1, "alice")
    item = q.approve(1, "mayor", T0 + 5)
    assert item.state is State.PUBLISHED and item.forwarded


# ---------------------------------------------------------------- claims


def test_claimed_item_refuses_every_action_by_another_moderator():
    q = filled(3)
    q.claim(2, "alice")
    actions = [
        lambda: q.approve(2, "bob", T0),
        lambda: q.approve(2, "bob", T0, "edit"),
        lambda: q.drop(2, "bob", T0),
        lambda: q.hold(2, "bob"),
        lambda: q.forward(2, "bob"),
        lambda: q.move(2, "bob", "top"),
        lambda: q.move(2, "bob", "99"),  # claim checked before the position
        lambda: q.claim(2, "bob"),
        lambda: q.unclaim(2, "bob"),
    ]
    before = snapshot(q)
    for action in actions:
        err = refused("CLAIMED", action)
        assert str(err) == "Item 2 is claimed by alice"
        assert err.item_id == 2
    assert snapshot(q) == before


def test_claimed_held_item_refuses_unhold_by_another_moderator():
    q = filled(2)
    q.hold(1, "alice")
    q.claim(1, "alice")
    refused("CLAIMED", q.unhold, 1, "bob")
    assert q.get(1).state is State.HELD


def test_claim_is_reported_before_wrong_state():
    q = filled(2)
    q.hold(1, "alice")
    q.claim(1, "alice")
    refused("CLAIMED", q.hold, 1, "bob")


def test_the_claimer_may_act_on_its_own_claim():
    q = filled(3)
    q.claim(1, "alice")
    q.claim(1, "alice")  # claiming again is fine
    q.move(1, "alice", "bottom")
    q.hold(1, "alice")
    assert q.get(1).claimed_by == "alice"  # hold does not end the claim
    item = q.approve(1, "alice", T0 + 3)
    assert item.state is State.PUBLISHED
    assert item.claimed_by is None  # the decision ends the claim


def test_unclaim_releases_for_others():
    q = filled(1)
    q.claim(1, "alice")
    assert q.unclaim(1, "alice").claimed_by is None
    assert q.drop(1, "bob", T0).decided_by == "bob"


def test_takeover_claims_from_someone_else():
    q = filled(1)
    q.claim(1, "alice")
    assert q.claim(1, "bob", takeover=True).claimed_by == "bob"
    refused("CLAIMED", q.approve, 1, "alice", T0)
    assert q.approve(1, "bob", T0).decided_by == "bob"


def test_takeover_of_unclaimed_item_claims_it():
    q = filled(1)
    assert q.claim(1, "bob", takeover=True).claimed_by == "bob"


def test_claim_of_forwarded_item_is_allowed_and_next_still_skips_it():
    q = filled(2)
    q.forward(1, "alice")
    assert q.claim(1, "bob").claimed_by == "bob"
    refused("CLAIMED", q.approve, 1, "mayor", T0)
    assert q.next_pending("alice").id == 2


def test_drop_ends_the_claim():
    q = filled(1)
    q.claim(1, "alice")
    assert q.drop(1, "alice", T0).claimed_by is None


# ---------------------------------------------------------------- votes


def _published(q: ModerationQueue, *ids: int) -> None:
    for i in ids:
        q.approve(i, "alice", T0)


def test_votes_count_once_per_voter():
    q = filled(1)
    _published(q, 1)
    q.vote(1, "dave")
    q.vote(1, "erin")
    err = refused("ALREADY_VOTED", q.vote, 1, "dave")
    assert str(err) == "You already voted for item 1"
    assert q.get(1).votes == {"dave", "erin"}


@pytest.mark.parametrize("state", ["pending", "held", "forwarded", "dropped"])
def test_only_published_items_take_votes(state):
    q = filled(1)
    {"pending": lambda: None, "held": lambda: q.hold(1, "a"), "forwarded": lambda: q.forward(1, "a"),
     "dropped": lambda: q.drop(1, "a", T0)}[state]()
    err = refused("CANNOT_VOTE", q.vote, 1, "dave")
    assert str(err) == "Item 1 is not an open published question"
    assert q.get(1).votes == set()


def test_answered_question_takes_no_more_votes_but_keeps_its_count():
    q = filled(1)
    _published(q, 1)
    q.vote(1, "dave")
    q.get(1).answered = True  # CONF ANSWERED
    refused("CANNOT_VOTE", q.vote, 1, "erin")
    refused("CANNOT_VOTE", q.vote, 1, "dave")  # answered is checked before the second vote
    assert q.get(1).votes == {"dave"}


def test_redacted_question_takes_no_more_votes_and_stays_published():
    q = filled(1)
    _published(q, 1)
    q.redact(1)
    assert q.get(1).state is State.PUBLISHED
    refused("CANNOT_VOTE", q.vote, 1, "dave")


def test_redact_of_unpublished_item_is_wrong_state():
    q = filled(1)
    refused("WRONG_STATE", q.redact, 1)
    assert not q.get(1).redacted


def test_votes_do_not_care_about_claims_or_moderators():
    q = filled(2)
    _published(q, 1, 2)
    q.vote(1, "alice")  # staff vote like anyone
    q.vote(2, "alice")  # one vote per item, not one vote overall
    assert len(q.get(1).votes) == len(q.get(2).votes) == 1


def test_sorting_published_questions_by_votes():
    # CONF QUESTIONS: most votes first, ties lowest id first. The module
    # keeps the votes; the order follows from them.
    q = filled(4)
    q.drop(2, "alice", T0)
    _published(q, 4, 1, 3)
    for voter in ("v1", "v2"):
        q.vote(3, voter)
    q.vote(4, "v1")
    q.vote(1, "v3")
    published = q.published()
    assert {i.id for i in published} == {1, 3, 4}
    ranked = sorted(published, key=lambda i: (-len(i.votes), i.id))
    assert [(i.id, len(i.votes)) for i in ranked] == [(3, 2), (1, 1), (4, 1)]


def test_by_msgid_finds_the_published_item():
    q = filled(2)
    item = q.approve(2, "alice", T0)
    item.msgid = "5f3a14"
    assert q.by_msgid("5f3a14") is item
    assert q.by_msgid("nope") is None


# ---------------------------------------------------------------- clock


def test_item_ages_and_decision_times_follow_the_injected_clock():
    clock = Clock()
    q = ModerationQueue()
    a = submit(q, "a", clock.now)
    clock.tick(5)
    b = submit(q, "b", clock.now)
    clock.tick(7)
    q.hold(a.id, "alice")  # not a decision: no time recorded
    q.move(b.id, "alice", "top")
    assert a.decided_at is None
    clock.tick(3)
    q.approve(b.id, "alice", clock.now)
    clock.tick(10)
    q.drop(a.id, "bob", clock.now)
    assert (a.submitted_at, b.submitted_at) == (T0, T0 + 5)
    assert b.decided_at - b.submitted_at == 10  # the audit's wait=
    assert a.decided_at - a.submitted_at == 25


def test_oldest_waiting_is_the_earliest_submission_among_undecided():
    q = ModerationQueue()
    for offset in (0, 10, 20):
        submit(q, f"t{offset}", T0 + offset)
    q.move(3, "alice", "top")  # order does not change how long items waited
    q.approve(1, "alice", T0 + 30)
    now = T0 + 50
    ages = sorted(now - i.submitted_at for i in q.undecided())
    assert ages == [30, 40]


# ---------------------------------------------------------------- the transcript of protocol.md


def test_protocol_queue_session():
    """The QUEUE example of protocol.md, action by action."""
    q = ModerationQueue()
    for nick, t, text in [
        ("carol", 1700000001, "When will the tram reach the north district?"),
        ("dave", 1700000002, "Is the tram free on Sundays?"),
        ("carol", 1700000131, "How much will the tram line cost?"),
        ("carol", 1700000132, "The mayor is a clown"),
        ("carol", 1700000133, "Will tickets be cheaper for students?"),
    ]:
        q.submit(nick, f"{nick}!~{nick}@203.0.113.7", text, float(t))
    assert [(i.id, i.state.value, q.position(i.id)) for i in q.undecided()] == [
        (1, "pending", 1), (2, "pending", 2), (3, "pending", 3), (4, "pending", 4), (5, "pending", 5)]

    assert str(refused("INVALID_POSITION", q.move, 4, "alice", "9")) == "Position must be top, bottom or 1-5"
    assert str(refused("NO_SUCH_ITEM", q.approve, 99, "alice", 1700000135.0)) == "There is no item 99"

    dropped = q.drop(4, "alice", 1700000136.0, "Please stay polite")
    assert (dropped.state, q.position(4), dropped.decided_by) == (State.DROPPED, 0, "alice")

    held = q.hold(2, "alice")
    assert (held.state, q.position(2)) == (State.HELD, 2)
    assert str(refused("WRONG_STATE", q.hold, 2, "alice")) == "Item 2 is held"

    claimed = q.claim(3, "alice")
    assert (claimed.claimed_by, q.position(3)) == ("alice", 3)
    assert str(refused("CLAIMED", q.approve, 3, "bob", 1700000141.0)) == "Item 3 is claimed by alice"

    edited = q.approve(3, "alice", 1700000142.0, "How much will the new tram line cost?")
    assert (edited.state, edited.claimed_by, edited.decided_by) == (State.PUBLISHED, None, "alice")
    assert edited.decided_at - edited.submitted_at == 11.0  # wait=11.0 in the audit example
    assert edited.original == "How much will the tram line cost?"

    forwarded = q.forward(1, "alice")
    assert (forwarded.state, q.position(1)) == (State.FORWARDED, 1)

    released = q.next_pending("bob")
    assert released.id == 5
    q.approve(released.id, "bob", 1700000150.0)
    # "The second NEXT finds nothing: item 1 is forwarded and item 2 held."
    refused("QUEUE_EMPTY", q.next_pending, "bob")
    assert [i.id for i in q.undecided()] == [1, 2]
    assert {i.id for i in q.published()} == {3, 5}


def test_states_partition():
    assert UNDECIDED == {State.PENDING, State.HELD, State.FORWARDED}
    assert {s.value for s in State} == {"pending", "held", "forwarded", "published", "dropped"}
