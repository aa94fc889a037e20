"""A chain of policies, run in order over one message: one :class:`Result`.

- The first ``drop`` wins: the chain stops there and the result is a drop
  with that policy's reason.
- ``hold`` decisions add up: the result is a hold whose flags are the union
  of theirs (in order, each once) and whose score is the sum of theirs.
- ``publish`` is an explicit pass: kept in ``decisions`` for the record; it
  does not cancel a hold of another policy.
- A policy that raises is caught: the message is held, flagged
  ``policy-error``, and the failure (which policy, the exception) is in
  ``failures``. A broken policy never loses a message nor lets it through
  unseen.
- A policy whose ``exempt`` covers the message is skipped.

With no objection the result is ``publish``: the conference's mode decides.
"""

from __future__ import annotations

import inspect
from typing import Iterable

import attrs

from .base import Decision, Message, Policy, Verdict

POLICY_ERROR = "policy-error"


@attrs.frozen
class Failure:
    policy: str
    error: str  # "ExceptionType: text"


@attrs.frozen
class Result:
    verdict: Verdict
    decisions: tuple[Decision, ...] = ()  # every decision made, in chain order
    flags: tuple[str, ...] = ()  # of the holds (and the drop), each once
    score: float = 0.0  # the sum of the holds' scores
    failures: tuple[Failure, ...] = ()

    @property
    def reason(self) -> str:
        """The drop's reason, or the holds' reasons joined."""
        if self.verdict is Verdict.DROP:
            return self.decisions[-1].reason
        return "; ".join(d.reason for d in self.decisions if d.verdict is Verdict.HOLD and d.reason)

    @property
    def decided_by(self) -> tuple[str, ...]:
        """The policies that held or dropped the message."""
        return tuple(d.policy for d in self.decisions if d.verdict is not Verdict.PUBLISH)


class Chain:
    """Policies in order; :meth:`run` checks one message."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies = tuple(policies)
        for policy in self.policies:
            if inspect.iscoroutinefunction(getattr(policy, "check", None)):
                raise TypeError(f"policy {policy.name} is asynchronous: the shell runs it, not a Chain")
        names = [p.name for p in self.policies]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two policies have one name (give one of them another): {name}")

    def run(self, message: Message) -> Result:
        decisions: list[Decision] = []
        failures: list[Failure] = []
        covered: dict[int, bool] = {}  # policies mostly share one Exempt: ask it once
        for policy in self.policies:
            exempt = getattr(policy, "exempt", None)
            if exempt is not None:
                skip = covered.get(id(exempt))
                if skip is None:
                    skip = covered[id(exempt)] = exempt.covers(message)
                if skip:
                    continue
            try:
                decision = policy.check(message)
                if decision is not None and not isinstance(decision, Decision):
                    raise TypeError(f"check returned {type(decision).__name__}, not a Decision")
            except Exception as error:  # a broken policy must not lose the message
                failures.append(Failure(policy.name, f"{type(error).__name__}: {error}"))
                decision = Decision(Verdict.HOLD, policy.name, "the policy failed", 0.0, (POLICY_ERROR,))
            if decision is None:
                continue
            decisions.append(decision)
            if decision.verdict is Verdict.DROP:
                return self.combine(Verdict.DROP, decisions, failures)
        held = any(d.verdict is Verdict.HOLD for d in decisions)
        return self.combine(Verdict.HOLD if held else Verdict.PUBLISH, decisions, failures)

    @staticmethod
    def combine(verdict: Verdict, decisions: list[Decision], failures: list[Failure]) -> Result:
        """One result from decisions already made (also for the shell, which
        runs the asynchronous policies itself)."""
        flags: dict[str, None] = {}
        score = 0.0
        for d in decisions:
            if d.verdict is Verdict.HOLD:
                score += d.score
            if d.verdict is not Verdict.PUBLISH:
                flags.update(dict.fromkeys(d.flags))
        return Result(verdict, tuple(decisions), tuple(flags), score, tuple(failures))
