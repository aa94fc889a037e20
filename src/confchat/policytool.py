"""``confchat policy test``: what a conference's policies say of a text.

For moderators tuning their lists before an event: each policy's verdict and
the chain's result, for one text or for a file of messages (one a line, with
a table and totals). It runs the same policies the server would (built-ins
and installed plugins, with the configuration's options), each message as if
a visitor who just joined had sent it; asynchronous policies are run too,
under the configured ``policy_timeout``.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import Any, TextIO

from .config import Config, ConfigError, ConferenceConfig
from .moderation.conference import Conference
from .moderation.policies.base import Decision, Message, Verdict
from .moderation.policies.chain import Result
from .moderation.policybook import Policies, PolicyBook
from .plugins import check_policies, load_policies
from .proto.casemap import casefold


def find_conference(config: Config, channel: str) -> ConferenceConfig:
    for conference in config.conferences:
        if casefold(conference.channel) == casefold(channel):
            return conference
    known = ", ".join(c.channel for c in config.conferences) or "none"
    raise ConfigError(f"no conference {channel} in the configuration (conferences: {known})")


def policies_for(config: Config, channel: str) -> Policies:
    settings = find_conference(config, channel)
    registry = load_policies()
    check_policies(config, registry)
    return PolicyBook(config.moderation.policies, registry).for_conference(Conference(settings))


def _each(policies: Policies, message: Message, timeout: float) -> tuple[list[dict[str, Any]], Result]:
    """Every policy's own word, then the chain's result."""
    rows = []
    for policy in policies.chain.policies:
        try:
            decision = policy.check(message)
        except Exception as error:
            rows.append({"policy": policy.name, "verdict": "error", "reason": f"{type(error).__name__}: {error}"})
            continue
        rows.append(_row(policy.name, decision))
    result = policies.chain.run(message)
    if policies.waiting:
        import trio

        from .moderation.effects import Screen
        from .screener import run_policies

        later = trio.run(run_policies, Screen("", 0, message, policies.waiting), timeout)
        for decision in later.decisions:
            rows.append(_row(decision.policy, decision))
        for failure in later.failures:
            rows.append({"policy": failure.policy, "verdict": "error", "reason": failure.error})
        result = _merge(result, later)
    return rows, result


def _merge(first: Result, later: Result) -> Result:
    if first.verdict is Verdict.DROP:
        return first
    decisions = (*first.decisions, *later.decisions)
    failures = (*first.failures, *later.failures)
    verdict = later.verdict if later.verdict is not Verdict.PUBLISH else first.verdict
    flags = tuple(dict.fromkeys((*first.flags, *later.flags)))
    return Result(verdict, decisions, flags, first.score + later.score, failures)


def _row(name: str, decision: Decision | None) -> dict[str, Any]:
    if decision is None:
        return {"policy": name, "verdict": "pass", "reason": ""}
    return {"policy": name, "verdict": decision.verdict.value, "reason": decision.reason, "score": decision.score,
            "flags": list(decision.flags)}


def summary(text: str, rows: list[dict[str, Any]], result: Result) -> dict[str, Any]:
    deciding = [d for d in result.decisions if d.verdict is not Verdict.PUBLISH]
    return {
        "text": text,
        "verdict": result.verdict.value,
        "policy": deciding[-1].policy if result.verdict is Verdict.DROP else ",".join(d.policy for d in deciding),
        "reason": result.reason,
        "score": result.score,
        "flags": list(result.flags),
        "policies": rows,
    }


def run_test(config: Config, channel: str, texts: list[str], as_json: bool, out: TextIO | None = None) -> None:
    out = out if out is not None else sys.stdout
    policies = policies_for(config, channel)
    if policies.error:
        raise ConfigError(policies.error)
    now = time.time()
    results = []
    for n, text in enumerate(texts):
        # Each message from its own new visitor: the history policies
        # (duplicate, rate) then see only what a raid would look like.
        message = Message(text, f"visitor{n + 1}", now, connection=n + 1, channel=channel, joined_at=now - 3600)
        rows, result = _each(policies, message, config.moderation.policy_timeout)
        results.append(summary(text, rows, result))
    if len(texts) == 1:
        one = results[0]
        if as_json:
            out.write(json.dumps(one, ensure_ascii=False) + "\n")
            return
        for row in one["policies"]:
            reason = f"  {row['reason']}" if row["reason"] else ""
            out.write(f"{row['policy']:<16} {row['verdict']:<8}{reason}\n")
        out.write(f"{'=> chain':<16} {one['verdict']:<8}  {one['reason']}\n".rstrip() + "\n")
        return
    totals = Counter(r["verdict"] for r in results)
    if as_json:
        out.write(json.dumps({"messages": results, "totals": dict(totals)}, ensure_ascii=False) + "\n")
        return
    for r in results:
        shown = r["text"] if len(r["text"]) <= 50 else r["text"][:49] + "…"
        out.write(f"{r['verdict']:<8} {r['policy'] or '-':<20} {shown}\n")
    out.write(f"{len(results)} messages: " + ", ".join(f"{totals[v]} {v}" for v in ("publish", "hold", "drop")) + "\n")
