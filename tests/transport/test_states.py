"""Who writes a connection's output next: the transition table on its own."""

from __future__ import annotations

import pytest

from confchat.transport.states import (
    DIRECT,
    STREAM,
    WRITER_STATES,
    Event,
    State,
    TransitionError,
    initial_state,
    next_state,
)

S, E = State, Event


def run(events: list[Event], direct: bool = True) -> list[State]:
    state = initial_state(direct)
    seen = [state]
    for event in events:
        state = next_state(state, event, direct)
        seen.append(state)
    return seen


def possible_events(state: State) -> set[Event]:
    """What the shell can report in ``state``: the outbox may change at any
    time; a direct write runs only when one is scheduled; the writer task
    reports only while it exists."""
    events = {E.OUTPUT, E.CLOSED, E.ENDED}
    if state is S.DIRECT_SCHEDULED:
        events |= {E.WRITTEN, E.BACKLOG}
    if state in WRITER_STATES:
        events.add(E.CAUGHT_UP)
    return events


def reachable(direct: bool) -> set[State]:
    todo, seen = [initial_state(direct)], set()
    while todo:
        state = todo.pop()
        if state in seen:
            continue
        seen.add(state)
        for event in possible_events(state):
            todo.append(next_state(state, event, direct))  # raises if the table has a hole
    return seen


def test_a_fan_out_is_one_scheduled_direct_write_and_no_writer_task():
    # The core fills the outbox several times in one step: one write at its end.
    assert run([E.OUTPUT, E.OUTPUT, E.OUTPUT, E.WRITTEN]) == [
        S.IDLE, S.DIRECT_SCHEDULED, S.DIRECT_SCHEDULED, S.DIRECT_SCHEDULED, S.IDLE,
    ]


def test_what_the_socket_refuses_goes_to_the_writer_task_which_ends_once_caught_up():
    assert run([E.OUTPUT, E.BACKLOG, E.OUTPUT, E.CAUGHT_UP, E.OUTPUT]) == [
        S.IDLE, S.DIRECT_SCHEDULED, S.WRITING, S.WRITING, S.IDLE, S.DIRECT_SCHEDULED,
    ]


@pytest.mark.parametrize("before", [[], [E.OUTPUT], [E.OUTPUT, E.BACKLOG]], ids=["idle", "scheduled", "writing"])
def test_closing_is_reached_from_every_live_state_and_left_only_at_the_end(before):
    states = run([*before, E.CLOSED, E.OUTPUT, E.CAUGHT_UP, E.CLOSED, E.CAUGHT_UP, E.ENDED])
    assert states[len(before) + 1:] == [S.CLOSING] * 5 + [S.DEAD]


def test_a_closing_writer_waits_for_held_lines_instead_of_handing_back_to_direct_writes():
    # Closed with lines still waiting for their commit: nothing free yet.
    assert next_state(S.CLOSING, E.CAUGHT_UP, direct=True) is S.CLOSING


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("state", list(State))
def test_dead_is_final_and_ignores_late_events(state, direct):
    assert next_state(state, E.ENDED, direct) is S.DEAD
    for event in Event:
        assert next_state(S.DEAD, event, direct) is S.DEAD


def test_without_direct_writes_the_writer_task_lives_as_long_as_the_connection():
    assert initial_state(direct=False) is S.WRITING
    assert run([E.OUTPUT, E.CAUGHT_UP, E.OUTPUT, E.CAUGHT_UP], direct=False) == [S.WRITING] * 5
    assert reachable(direct=False) == {S.WRITING, S.CLOSING, S.DEAD}


def test_every_event_that_can_happen_has_a_transition():
    assert reachable(direct=True) == set(State)


@pytest.mark.parametrize(
    ("state", "event", "direct"),
    [
        (S.IDLE, E.WRITTEN, True),  # no direct write was scheduled
        (S.IDLE, E.CAUGHT_UP, True),  # no writer task exists
        (S.WRITING, E.BACKLOG, True),  # the writer task owns the output
        (S.DIRECT_SCHEDULED, E.CAUGHT_UP, True),
        (S.WRITING, E.WRITTEN, False),  # no direct writes at all
    ],
)
def test_an_event_that_cannot_happen_is_a_bug_and_says_so(state, event, direct):
    with pytest.raises(TransitionError, match=f"{event.name} cannot happen in {state.name}"):
        next_state(state, event, direct)


def test_the_writer_task_is_started_only_by_the_moves_into_writer_states():
    # The shell starts a writer on entering WRITER_STATES and never leaves
    # them except by the writer's own CAUGHT_UP (it returns) or the end.
    for table in (DIRECT, STREAM):
        for (state, event), new in table.items():
            if state in WRITER_STATES and new not in WRITER_STATES:
                assert (state, event, new) == (S.WRITING, E.CAUGHT_UP, S.IDLE)
