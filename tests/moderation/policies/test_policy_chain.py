"""The chain: how decisions combine, failures, exemptions."""

from __future__ import annotations

import attrs
import pytest

from confchat.moderation.policies import (
    POLICY_ERROR,
    Chain,
    Decision,
    Exempt,
    Message,
    Verdict,
)


@attrs.define
class Fixed:
    """A policy that always answers the same, and counts its calls."""

    name: str
    decision: Decision | None
    exempt: Exempt | None = None
    calls: int = 0

    def check(self, message: Message) -> Decision | None:
        self.calls += 1
        return self.decision


class Broken:
    name = "broken"

    def check(self, message: Message) -> Decision | None:
        raise KeyError("no such list")


def hold(name: str, score: float = 1.0, *flags: str) -> Fixed:
    return Fixed(name, Decision(Verdict.HOLD, name, f"{name} says hold", score, flags or (name,)))


def msg(text: str = "Bonjour", **fields) -> Message:
    return Message(text, "alice", 1000.0, **fields)


def test_no_policy_no_objection_publishes():
    result = Chain([]).run(msg())
    assert result.verdict is Verdict.PUBLISH
    assert result.decisions == () and result.flags == () and result.score == 0.0


def test_none_is_nothing_to_say():
    result = Chain([Fixed("quiet", None)]).run(msg())
    assert result.verdict is Verdict.PUBLISH and result.decisions == ()


def test_first_drop_wins_and_stops_the_chain():
    after = hold("after")
    first = Fixed("first", Decision(Verdict.DROP, "first", "insult", 1.0, ("blocklist",)))
    result = Chain([hold("before"), first, after]).run(msg())
    assert result.verdict is Verdict.DROP
    assert result.reason == "insult"
    assert result.decided_by == ("before", "first")
    assert after.calls == 0


def test_holds_add_up_flags_once_each_in_order():
    result = Chain([hold("a", 0.5, "x", "y"), hold("b", 2.0, "y", "z")]).run(msg())
    assert result.verdict is Verdict.HOLD
    assert result.flags == ("x", "y", "z")
    assert result.score == 2.5
    assert result.reason == "a says hold; b says hold"


def test_publish_is_an_explicit_pass_that_does_not_cancel_a_hold():
    vouch = Fixed("links", Decision(Verdict.PUBLISH, "links", "allowed links: ville.fr", 0.0, ("links",)))
    alone = Chain([vouch]).run(msg())
    assert alone.verdict is Verdict.PUBLISH
    assert alone.decisions == (vouch.decision,)
    assert alone.flags == ()  # a pass flags nothing
    both = Chain([vouch, hold("shouting")]).run(msg())
    assert both.verdict is Verdict.HOLD and both.flags == ("shouting",)


def test_a_policy_that_raises_holds_the_message_and_is_reported():
    after = hold("after")
    result = Chain([Broken(), after]).run(msg())
    assert result.verdict is Verdict.HOLD
    assert POLICY_ERROR in result.flags
    assert [(f.policy, f.error) for f in result.failures] == [("broken", "KeyError: 'no such list'")]
    assert after.calls == 1  # the others still run
    assert "after" in result.flags


def test_a_policy_that_returns_something_else_is_a_failure():
    result = Chain([Fixed("odd", "drop")]).run(msg())  # type: ignore[arg-type]
    assert result.verdict is Verdict.HOLD
    assert result.failures[0].policy == "odd"
    assert "not a Decision" in result.failures[0].error


def test_a_failure_never_outweighs_a_drop():
    drop = Fixed("b", Decision(Verdict.DROP, "b", "no", 1.0, ("b",)))
    assert Chain([Broken(), drop]).run(msg()).verdict is Verdict.DROP


def test_exempt_roles_and_accounts_are_skipped():
    staff = Exempt(frozenset({"moderator"}), frozenset({"mairie"}))
    policy = hold("p")
    policy.exempt = staff
    chain = Chain([policy])
    assert chain.run(msg(role="moderator")).verdict is Verdict.PUBLISH
    assert chain.run(msg(account="MAIRIE")).verdict is Verdict.PUBLISH  # accounts casefolded
    assert chain.run(msg(account="someone")).verdict is Verdict.HOLD
    assert policy.calls == 1


def test_async_policies_are_for_the_shell():
    class Remote:
        name = "remote"

        async def check(self, message: Message) -> Decision | None:
            return None

    with pytest.raises(TypeError, match="asynchronous"):
        Chain([Remote()])


def test_two_policies_with_one_name_are_refused():
    with pytest.raises(ValueError, match="named twice|two policies"):
        Chain([hold("a"), hold("a")])
