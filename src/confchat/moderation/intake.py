"""The automatic part of a submission: what the policies say of a message.

:func:`screen` runs a conference's synchronous chain on one visitor message
(with the shield's stricter rules when it is up) and sums it up as an
:class:`Outcome`: the verdict, the flags, score and reasons the moderators
will see, and what the metrics count. The engine turns the outcome into the
item's fate (``engine.py``). Pure: the time budget is measured with the
timer the core passes in.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs

from .conference import Conference
from .effects import Actor
from .policies.base import Decision, Message, Recent, Verdict
from .policies.chain import POLICY_ERROR, Result
from .policybook import Policies
from .shield import SHIELD_FLAG

SCREENING_FLAG = "screening"  # waiting for the asynchronous policies
MISCONFIGURED = "policy-config"


@attrs.frozen
class Outcome:
    verdict: Verdict
    flags: tuple[str, ...] = ()
    score: float = 0.0
    reasons: tuple[str, ...] = ()  # "policy: why"
    dropped_by: str = ""  # the policy whose drop won
    drop_reason: str = ""
    decisions: tuple[tuple[str, str], ...] = ()  # (policy, verdict), for the metrics
    failures: tuple[tuple[str, str, str], ...] = ()  # (policy, "error"|"timeout", detail)
    seconds: float = 0.0


def policy_message(conference: Conference, author: Actor, text: str, now: float) -> Message:
    visitor = conference.visitors.get(author.id)
    history = tuple(Recent(t, at) for t, at in visitor.recent or ()) if visitor is not None else ()
    return Message(
        text, author.nick, now, account=author.account, connection=author.id, channel=conference.channel,
        role="visitor", history=history, joined_at=visitor.joined_at if visitor is not None else None,
    )


def summarize(result: Result, seconds: float = 0.0, timed_out: str = "") -> Outcome:
    """An outcome from a chain's result (and a policy that ran too long)."""
    failures = tuple((f.policy, "error", f.error) for f in result.failures)
    flags, verdict = result.flags, result.verdict
    if timed_out:
        failures += ((timed_out, "timeout", f"took {seconds:.3f} s"),)
        flags = tuple(dict.fromkeys((*flags, POLICY_ERROR)))
        if verdict is not Verdict.DROP:
            verdict = Verdict.HOLD
    reasons = tuple(f"{d.policy}: {d.reason}" for d in result.decisions if d.verdict is not Verdict.PUBLISH and d.reason)
    dropped = result.decisions[-1] if result.verdict is Verdict.DROP else None
    return Outcome(
        verdict, flags, result.score, reasons,
        dropped.policy if dropped else "", dropped.reason if dropped else "",
        tuple((d.policy, d.verdict.value) for d in result.decisions), failures, seconds,
    )


def screen(
    conference: Conference, policies: Policies, message: Message, timer: Callable[[], float], budget: float,
    links: Any = None,
) -> Outcome:
    """Run the synchronous policies on ``message``. ``links``: the policy
    that drops links while the shield is up."""
    if policies.error:
        return Outcome(Verdict.HOLD, (POLICY_ERROR, MISCONFIGURED), 0.0, (f"policies: {policies.error}",),
                       failures=(("config", "error", policies.error),))
    started = timer()
    result = policies.chain.run(message)
    seconds = timer() - started
    # The chain is timed as a whole: past the budget, the message waits for a
    # person whatever the policies said, and the chain is counted as slow.
    outcome = summarize(result, seconds, "chain" if seconds > budget else "")
    if not conference.shield.on:
        return outcome
    # Shield mode: links are dropped, everything else is held.
    if outcome.verdict is not Verdict.DROP and links is not None:
        found = links.check(message)
        if isinstance(found, Decision) and found.verdict is not Verdict.PUBLISH:
            return attrs.evolve(outcome, verdict=Verdict.DROP, dropped_by="shield", drop_reason="links are not allowed now",
                                flags=(*outcome.flags, SHIELD_FLAG))
    if outcome.verdict is Verdict.DROP:
        return outcome
    return attrs.evolve(outcome, verdict=Verdict.HOLD, flags=tuple(dict.fromkeys((*outcome.flags, SHIELD_FLAG))))


def merge(first: Outcome, later: Outcome) -> Outcome:
    """The synchronous outcome, then what the asynchronous policies said."""
    if first.verdict is Verdict.DROP:
        return first
    verdict = later.verdict if later.verdict is not Verdict.PUBLISH else first.verdict
    return Outcome(
        verdict,
        tuple(dict.fromkeys((*first.flags, *later.flags))),
        first.score + later.score,
        (*first.reasons, *later.reasons),
        later.dropped_by, later.drop_reason,
        (*first.decisions, *later.decisions), (*first.failures, *later.failures), first.seconds + later.seconds,
    )
