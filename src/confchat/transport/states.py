"""Who writes a connection's output next: the states and their transitions, pure.

A connection's output goes out one of two ways. With a plain socket, the
connection writes straight from the event loop once the core has finished its
current step (a *direct write*: one non-blocking write for a whole fan-out);
its writer task exists only while there is something the socket did not take,
or while the connection is closing. Without one (a stream with no file
descriptor) the writer task lives as long as the connection and parks between
writes.

Everything that decides what happens next lives in this one table, as in
h11's ``_state.py``: :func:`next_state` maps (state, event) to the next state,
and the shell (:mod:`.connection`) carries out what a change of state means
(schedule a direct write, start or wake the writer task, set the closing
deadline). No trio, no sockets: the transitions are tested on their own.
"""

from __future__ import annotations

import enum


# Members are singletons compared by identity; they hash by identity too.
# (Enum's own hash, of the member's name, is a Python-level call, and this
# table is looked up twice for every recipient of a fan-out.)


class State(enum.Enum):
    __hash__ = object.__hash__

    # Output is up to date: no writer task, no direct write scheduled.
    IDLE = "idle"
    # The outbox has bytes; a direct write runs once the core's step is over.
    DIRECT_SCHEDULED = "direct_scheduled"
    # The writer task owns the output: the socket did not take everything, or
    # it was busy, or the transport has no direct writes at all.
    WRITING = "writing"
    # The outbox is closed: the writer task sends what is left (the ERROR
    # line), then ends the connection; the peer has CLOSE_GRACE seconds.
    CLOSING = "closing"
    # The connection is over (its file descriptor may already be another's).
    DEAD = "dead"


class Event(enum.Enum):
    __hash__ = object.__hash__

    OUTPUT = "output"  # the outbox has bytes free to send (pushed, or released by a commit)
    CLOSED = "closed"  # the outbox is closed (QUIT, KILL, SendQ exceeded, shutdown, refused)
    WRITTEN = "written"  # a direct write took everything free (or found nothing to take)
    BACKLOG = "backlog"  # a direct write left bytes, met a busy stream, or failed
    CAUGHT_UP = "caught_up"  # the writer task found nothing free to send
    ENDED = "ended"  # the connection's tasks are done


# States in which the connection has a writer task (or will start one as soon
# as its nursery is open).
WRITER_STATES = frozenset({State.WRITING, State.CLOSING})

S, E = State, Event

# The transitions with direct writes, complete for every event that can occur
# in each state: a direct write runs only in DIRECT_SCHEDULED, the writer task
# only in WRITER_STATES.
DIRECT: dict[tuple[State, Event], State] = {
    (S.IDLE, E.OUTPUT): S.DIRECT_SCHEDULED,
    (S.IDLE, E.CLOSED): S.CLOSING,
    (S.DIRECT_SCHEDULED, E.OUTPUT): S.DIRECT_SCHEDULED,  # already scheduled: coalesced
    (S.DIRECT_SCHEDULED, E.CLOSED): S.CLOSING,  # the writer flushes; the scheduled write does nothing
    (S.DIRECT_SCHEDULED, E.WRITTEN): S.IDLE,
    (S.DIRECT_SCHEDULED, E.BACKLOG): S.WRITING,
    (S.WRITING, E.OUTPUT): S.WRITING,  # the writer takes it after its current send
    (S.WRITING, E.CLOSED): S.CLOSING,
    (S.WRITING, E.CAUGHT_UP): S.IDLE,  # the writer task ends: direct writes take over
    (S.CLOSING, E.OUTPUT): S.CLOSING,
    (S.CLOSING, E.CLOSED): S.CLOSING,
    (S.CLOSING, E.CAUGHT_UP): S.CLOSING,  # held lines wait for their commit; the writer waits too
}

# Without direct writes the writer task lives as long as the connection: it
# parks until the outbox has bytes again.
STREAM: dict[tuple[State, Event], State] = {
    (S.WRITING, E.OUTPUT): S.WRITING,
    (S.WRITING, E.CLOSED): S.CLOSING,
    (S.WRITING, E.CAUGHT_UP): S.WRITING,
    (S.CLOSING, E.OUTPUT): S.CLOSING,
    (S.CLOSING, E.CLOSED): S.CLOSING,
    (S.CLOSING, E.CAUGHT_UP): S.CLOSING,
}


class TransitionError(RuntimeError):
    """An event that cannot happen in this state: a bug in the shell."""


def _complete(table: dict[tuple[State, Event], State]) -> dict[tuple[State, Event], State]:
    # ENDED leads to DEAD from anywhere; once DEAD, every late event is ignored.
    return {
        **table,
        **{(state, E.ENDED): S.DEAD for state in State},
        **{(S.DEAD, event): S.DEAD for event in Event},
    }


_TABLES = {True: _complete(DIRECT), False: _complete(STREAM)}


def table(direct: bool) -> dict[tuple[State, Event], State]:
    """Every transition, DEAD and ENDED included: one lookup per event."""
    return _TABLES[direct]


def initial_state(direct: bool) -> State:
    return State.IDLE if direct else State.WRITING


def next_state(state: State, event: Event, direct: bool) -> State:
    """The state after ``event``."""
    try:
        return _TABLES[direct][state, event]
    except KeyError:
        raise TransitionError(f"{event.name} cannot happen in {state.name}") from None
