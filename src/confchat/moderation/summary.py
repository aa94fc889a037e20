"""The event's finish: what closing a conference tells whom.

When a conference closes (by hand or by its schedule, ``Engine.set_state``),
:func:`finish` returns the effects of the close beyond the state's own
notice:

- each visitor whose question is still undecided is told it was not taken
  (``NOTE PRIVMSG NOT_TAKEN``); the question stays in the queue, and the
  archive shows it as ``not-taken``;
- "now answering" is cleared, with the broadcast the pages already follow
  (a ``confchat/answering`` tag with no item);
- the staff get the summary (``CONF <channel> SUMMARY``), which also goes
  into the audit log (action ``summary``) and so into the internal archive.

Pure, like the engine: a conference and a clock reading in, effects out.
"""

from __future__ import annotations

from typing import Any

from .conference import Conference
from .effects import Audience, Broadcast, Effect, Notify

# engine.TAG_ANSWERING: with an empty value, nothing is being answered.
TAG_ANSWERING = "confchat/answering"

NOT_TAKEN = "NOT_TAKEN"
NOT_TAKEN_TEXT = "The conference closed before your message was taken"
NOTHING_ANSWERED_TEXT = "No question is being answered now"


def numbers(conference: Conference) -> dict[str, Any]:
    """The summary's numbers, in the order of the ``SUMMARY`` line."""
    tally = conference.tally
    queue = conference.queue
    return {
        "peak_audience": tally.peak_audience,
        "asked": queue.next_id - 1,  # ids are given in order from 1: every message that reached the queue
        "published": tally.published,
        "answered": len(tally.answered),
        "dropped": tally.dropped,
        "not_taken": sum(1 for item in queue.items.values() if not item.decided),
        "median_wait": tally.median_wait(),
    }


def describe(n: dict[str, Any]) -> str:
    wait = "nothing was decided" if n["median_wait"] is None else f"median wait {n['median_wait']:g} s"
    return (
        f"Peak audience {n['peak_audience']}; {n['asked']} questions asked, {n['published']} published, "
        f"{n['answered']} answered, {n['dropped']} dropped, {n['not_taken']} not taken; {wait}"
    )


def summary_params(n: dict[str, Any]) -> tuple[str, ...]:
    """``CONF <channel> SUMMARY ...`` after the channel."""
    wait = "*" if n["median_wait"] is None else f"{n['median_wait']:g}"
    return (
        "SUMMARY", str(n["peak_audience"]), str(n["asked"]), str(n["published"]), str(n["answered"]),
        str(n["dropped"]), str(n["not_taken"]), wait, describe(n),
    )


def finish(conference: Conference, actor: str, now: float) -> list[Effect]:
    """What closing ``conference`` does besides the state's notice: call it
    once the state is ``closed``. Costs one pass over the undecided items."""
    out: list[Effect] = []
    for item in conference.queue.items.values():
        if not item.decided and item.author_id is not None:
            out.append(Notify(item.author_id, "PRIVMSG", NOT_TAKEN, NOT_TAKEN_TEXT, (str(item.id),)))
    if conference.now_answering is not None:
        conference.now_answering = None
        out.append(Broadcast(Audience.EVERYONE, "NOTICE", (NOTHING_ANSWERED_TEXT,), tags={TAG_ANSWERING: ""}))
    n = numbers(conference)
    conference.record(now, actor, "summary", None, **n)
    out.append(Broadcast(Audience.STAFF, "CONF", summary_params(n)))
    return out
