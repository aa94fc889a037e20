"""A hypothesis state machine over ModerationQueue.

Three moderators submit-approve-drop-move-hold-unhold-forward-next-claim at
random. A plain model written from protocol.md (QUEUE, Concurrency
guarantees) predicts each outcome; the invariants check the queue against
it after every step.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from confchat.moderation.queue import ModerationQueue, QueueError, State

DOCUMENTED_CODES = {
    "NO_SUCH_ITEM", "ALREADY_DECIDED", "WRONG_STATE", "CLAIMED",
    "INVALID_POSITION", "QUEUE_EMPTY", "CANNOT_VOTE", "ALREADY_VOTED",
}
UNDECIDED = {State.PENDING, State.HELD, State.FORWARDED}
ANY_UNDECIDED = frozenset(UNDECIDED)

moderators = st.sampled_from(["alice", "bob", "carl"])
picks = st.integers(min_value=0, max_value=2**16)
positions = st.one_of(st.sampled_from(["top", "bottom"]), st.integers(min_value=-1, max_value=9).map(str))
texts = st.sampled_from(["Is the tram free?", "When?", "How much?", "Why not?", ""])


def snapshot(q: ModerationQueue):
    return (
        list(q.order),
        q.next_id,
        {
            i.id: (i.state, i.text, i.original, i.claimed_by, i.decided_by, i.decided_at, i.reason,
                   i.rank, i.forwarded, frozenset(i.votes))
            for i in q.items.values()
        },
    )


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.q = ModerationQueue()
        self.now = 1_700_000_000.0
        self.submitted = 0
        # The model.
        self.order: list[int] = []
        self.state: dict[int, State] = {}
        self.claim: dict[int, str | None] = {}
        self.text: dict[int, str] = {}
        self.edited: dict[int, str] = {}
        self.votes: dict[int, set[str]] = {}
        self.published_times: Counter[int] = Counter()
        self.decided: dict[int, tuple[str, float]] = {}

    # -- helpers

    def target(self, pick: int) -> int:
        """Mostly an existing id, sometimes one that does not exist."""
        if not self.state or pick % 8 == 0:
            return (0, self.submitted + 1, self.submitted + 7)[pick % 3]
        ids = sorted(self.state)
        return ids[pick % len(ids)]

    def expected_refusal(self, item_id: int, actor: str, allow=ANY_UNDECIDED) -> set[str] | None:
        if item_id not in self.state:
            return {"NO_SUCH_ITEM"}
        if self.state[item_id] not in UNDECIDED:
            return {"ALREADY_DECIDED"}
        wrong = self.state[item_id] not in allow
        claimed = self.claim[item_id] not in (None, actor)
        if wrong and claimed:
            # protocol.md is not explicit on which comes first; either refuses.
            return {"WRONG_STATE", "CLAIMED"}
        if wrong:
            return {"WRONG_STATE"}
        if claimed:
            return {"CLAIMED"}
        return None

    def attempt(self, expected: set[str] | None, call):
        """Run ``call``: it must refuse with one of ``expected`` (changing
        nothing), or succeed when ``expected`` is None. Any exception other
        than QueueError escapes and fails the test."""
        before = snapshot(self.q)
        try:
            result = call()
        except QueueError as exc:
            assert exc.code in DOCUMENTED_CODES, exc.code
            assert expected is not None, f"refused with {exc.code} ({exc}); expected success"
            assert exc.code in expected, f"refused with {exc.code}, expected one of {expected}"
            assert snapshot(self.q) == before, "a refused action changed the queue"
            return None
        assert expected is None, f"succeeded; expected a refusal in {expected}"
        return result

    def decide(self, item_id: int, state: State, actor: str) -> None:
        self.state[item_id] = state
        self.claim[item_id] = None
        self.order.remove(item_id)
        self.decided[item_id] = (actor, self.now)
        if state is State.PUBLISHED:
            self.published_times[item_id] += 1

    # -- rules

    @rule(seconds=st.integers(min_value=0, max_value=90))
    def tick(self, seconds: int) -> None:
        self.now += seconds

    @rule(text=texts, nick=st.sampled_from(["carol", "dave"]))
    def submit(self, text: str, nick: str) -> None:
        item = self.q.submit(nick, f"{nick}!~{nick}@203.0.113.7", text, self.now)
        self.submitted += 1
        assert item.id == self.submitted
        self.order.append(item.id)
        self.state[item.id] = State.PENDING
        self.claim[item.id] = None
        self.text[item.id] = text
        self.votes[item.id] = set()

    @rule(pick=picks, actor=moderators, edit=st.one_of(st.none(), texts))
    def approve(self, pick: int, actor: str, edit: str | None) -> None:
        item_id = self.target(pick)
        expected = self.expected_refusal(item_id, actor)
        item = self.attempt(expected, lambda: self.q.approve(item_id, actor, self.now, edit))
        if item is not None:
            assert item.id == item_id and item.state is State.PUBLISHED
            if edit is not None and edit != self.text[item_id]:
                self.edited[item_id] = edit
            self.decide(item_id, State.PUBLISHED, actor)

    @rule(pick=picks, actor=moderators, reason=st.sampled_from(["", "rude", "off topic"]))
    def drop(self, pick: int, actor: str, reason: str) -> None:
        item_id = self.target(pick)
        expected = self.expected_refusal(item_id, actor)
        item = self.attempt(expected, lambda: self.q.drop(item_id, actor, self.now, reason))
        if item is not None:
            assert item.state is State.DROPPED and item.reason == reason
            self.decide(item_id, State.DROPPED, actor)

    @rule(pick=picks, actor=moderators)
    def hold(self, pick: int, actor: str) -> None:
        item_id = self.target(pick)
        expected = self.expected_refusal(item_id, actor, frozenset({State.PENDING}))
        if self.attempt(expected, lambda: self.q.hold(item_id, actor)) is not None:
            self.state[item_id] = State.HELD

    @rule(pick=picks, actor=moderators)
    def unhold(self, pick: int, actor: str) -> None:
        item_id = self.target(pick)
        expected = self.expected_refusal(item_id, actor, frozenset({State.HELD}))
        if self.attempt(expected, lambda: self.q.unhold(item_id, actor)) is not None:
            self.state[item_id] = State.PENDING

    @rule(pick=picks, actor=moderators)
    def forward(self, pick: int, actor: str) -> None:
        item_id = self.target(pick)
        expected = self.expected_refusal(item_id, actor, frozenset({State.PENDING, State.HELD}))
        if self.attempt(expected, lambda: self.q.forward(item_id, actor)) is not None:
            self.state[item_id] = State.FORWARDED
            self.claim[item_id] = None  # "the claim is cleared"

    @rule(pick=picks, actor=moderators, where=positions)
    def move(self, pick: int, actor: str, where: str) -> None:
        item_id = self.target(pick)
        expected = self.expected_refusal(item_id, actor)
        n = len(self.order)
        if where == "top":
            index = 0
        elif where == "bottom":
            index = n - 1
        elif where.lstrip("-").isdigit() and 1 <= int(where) <= n:
            index = int(where) - 1
        else:
            index = None
        if expected is None and index is None:
            expected = {"INVALID_POSITION"}
        if self.attempt(expected, lambda: self.q.move(item_id, actor, where)) is not None:
            self.order.remove(item_id)
            self.order.insert(index, item_id)

    @rule(actor=moderators)
    def next(self, actor: str) -> None:
        """QUEUE NEXT: the head pending item not claimed by others, then approve."""
        candidates = [i for i in self.order
                      if self.state[i] is State.PENDING and self.claim[i] in (None, actor)]
        item = self.attempt(None if candidates else {"QUEUE_EMPTY"}, lambda: self.q.next_pending(actor))
        if item is None:
            return
        assert item.id == candidates[0]
        self.attempt(None, lambda: self.q.approve(item.id, actor, self.now))
        self.decide(item.id, State.PUBLISHED, actor)

    @rule(pick=picks, actor=moderators, takeover=st.booleans())
    def claim_item(self, pick: int, actor: str, takeover: bool) -> None:
        item_id = self.target(pick)
        if item_id not in self.state:
            expected = {"NO_SUCH_ITEM"}
        elif self.state[item_id] not in UNDECIDED:
            expected = {"ALREADY_DECIDED"}
        elif self.claim[item_id] not in (None, actor) and not takeover:
            expected = {"CLAIMED"}
        else:
            expected = None
        if self.attempt(expected, lambda: self.q.claim(item_id, actor, takeover=takeover)) is not None:
            self.claim[item_id] = actor

    @rule(pick=picks, actor=moderators)
    def unclaim(self, pick: int, actor: str) -> None:
        item_id = self.target(pick)
        expected = self.expected_refusal(item_id, actor)
        if self.attempt(expected, lambda: self.q.unclaim(item_id, actor)) is not None:
            self.claim[item_id] = None

    @rule(pick=picks, voter=st.sampled_from(["v1", "v2", "alice"]))
    def vote(self, pick: int, voter: str) -> None:
        item_id = self.target(pick)
        if item_id not in self.state:
            expected = {"NO_SUCH_ITEM"}
        elif self.state[item_id] is not State.PUBLISHED:
            expected = {"CANNOT_VOTE"}
        elif voter in self.votes[item_id]:
            expected = {"ALREADY_VOTED"}
        else:
            expected = None
        if self.attempt(expected, lambda: self.q.vote(item_id, voter)) is not None:
            self.votes[item_id].add(voter)

    # -- invariants

    @invariant()
    def ids_are_the_submitted_ones(self) -> None:
        assert sorted(self.q.items) == list(range(1, self.submitted + 1))
        assert self.q.next_id == self.submitted + 1

    @invariant()
    def each_id_in_exactly_one_state_as_modelled(self) -> None:
        by_state = Counter(item.state for item in self.q.items.values())
        assert sum(by_state[s] for s in State) == self.submitted
        for item_id, item in self.q.items.items():
            assert item.state is self.state[item_id], item_id
            assert sum(item.state is s for s in State) == 1

    @invariant()
    def order_holds_exactly_the_undecided_in_the_moved_order(self) -> None:
        assert self.q.order == self.order
        assert len(set(self.q.order)) == len(self.q.order)
        assert set(self.q.order) == {i for i, s in self.state.items() if s in UNDECIDED}
        assert [i.id for i in self.q.undecided()] == self.order
        for item_id in self.q.items:
            expected = self.order.index(item_id) + 1 if item_id in self.order else 0
            assert self.q.position(item_id) == expected

    @invariant()
    def ranks_agree_with_the_order(self) -> None:
        # Storage restores the order by (rank, id): it must be the live order.
        assert sorted(self.q.order, key=lambda i: (self.q.items[i].rank, i)) == self.q.order

    @invariant()
    def never_published_twice(self) -> None:
        assert all(n == 1 for n in self.published_times.values())
        assert {i.id for i in self.q.published()} == set(self.published_times)

    @invariant()
    def claims_and_decisions_as_modelled(self) -> None:
        for item_id, item in self.q.items.items():
            assert item.claimed_by == self.claim[item_id], item_id
            if item.decided:
                assert item.claimed_by is None
                assert (item.decided_by, item.decided_at) == self.decided[item_id]
            else:
                assert item.decided_by is None and item.decided_at is None

    @invariant()
    def texts_edits_and_votes_as_modelled(self) -> None:
        for item_id, item in self.q.items.items():
            if item_id in self.edited:
                assert item.text == self.edited[item_id]
                assert item.original == self.text[item_id]
            else:
                assert item.text == self.text[item_id]
                assert item.original is None
            assert item.votes == self.votes[item_id]


QueueMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestQueueMachine = QueueMachine.TestCase
