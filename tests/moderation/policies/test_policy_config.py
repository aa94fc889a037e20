"""Building chains from configuration, and the errors that name the fault."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings, strategies as st

from confchat.moderation.policies import (
    BUILTIN_POLICIES,
    Message,
    Recent,
    PolicyConfigError,
    Verdict,
    build_chain,
    build_policy,
    default_configs,
)


def error(config) -> PolicyConfigError:
    with pytest.raises(PolicyConfigError) as caught:
        build_chain([config])
    return caught.value


def test_every_builtin_builds_with_its_defaults():
    chain = build_chain(default_configs())
    assert {p.name for p in chain.policies} == set(BUILTIN_POLICIES)
    result = chain.run(Message("Quand rouvre la piscine ?", "alice", 100.0, joined_at=0.0))
    assert result.verdict is Verdict.PUBLISH and result.failures == ()


def test_from_toml():
    config = tomllib.loads(
        """
        [[policies]]
        policy = "blocklist"
        lists = ["fr"]
        terms = ["patate drop"]

        [[policies]]
        policy = "links"
        name = "liens"
        allow = ["ville.fr"]
        exempt = ["moderator", "$a:mairie"]

        [[policies]]
        policy = "rate"
        messages = 3
        seconds = 10
        """
    )
    chain = build_chain(config["policies"])
    assert [p.name for p in chain.policies] == ["blocklist", "liens", "rate"]
    links = chain.policies[1]
    assert links.exempt.roles == {"moderator"} and links.exempt.accounts == {"mairie"}
    assert chain.policies[2].seconds == 10.0  # an integer where a number is expected
    assert chain.run(Message("Espèce de patate", "bob", 0.0)).verdict is Verdict.DROP


@pytest.mark.parametrize(
    "config, policy, option, words",
    [
        ({"lists": ["fr"]}, "#1", "policy", "missing"),
        ({"policy": "spam"}, "#1", "policy", "no built-in policy 'spam'"),
        ({"policy": "rate", "mesages": 3}, "rate", "mesages", "unknown option"),
        ({"policy": "rate", "messages": "3"}, "rate", "messages", "whole number"),
        ({"policy": "rate", "messages": 0}, "rate", "messages", "at least 1"),
        ({"policy": "rate", "messages": True}, "rate", "messages", "whole number"),
        ({"policy": "shouting", "ratio": 1.5}, "shouting", "ratio", "at most 1.0"),
        ({"policy": "links", "action": "publish"}, "links", "action", "hold or drop"),
        ({"policy": "links", "allow": "ville.fr"}, "links", "allow", "list of strings"),
        ({"policy": "links", "allow": ["pas un domaine"]}, "links", "allow", "not a domain"),
        ({"policy": "links", "exempt": ["moderators"]}, "links", "exempt", "neither a role"),
        ({"policy": "blocklist", "lists": ["xx"]}, "blocklist", "lists", "no built-in list"),
        ({"policy": "blocklist", "lists": ["../etc"]}, "blocklist", "lists", "no built-in list"),
        ({"policy": "blocklist", "terms": ["c*n drop"]}, "blocklist", "terms", "line 1"),
        ({"policy": "blocklist", "terms": ["ok", "!!! hold"]}, "blocklist", "terms", "line 2: no letters"),
        ({"policy": "blocklist", "allow": ["*nazaire"]}, "blocklist", "allow", "may end with *"),
        ({"policy": "repeated", "digits": "yes"}, "repeated", "digits", "true or false"),
        ({"policy": "raid", "visitors": 1}, "raid", "visitors", "at least 2"),
        ({"policy": "links", "name": ""}, "links", "name", "non-empty"),
    ],
)
def test_errors_name_the_policy_and_the_option(config, policy, option, words):
    caught = error(config)
    assert (caught.policy, caught.option) == (policy, option)
    assert words in str(caught)
    assert str(caught).startswith(f"policy {policy}, option {option}: ")


def test_a_table_that_is_not_a_table():
    with pytest.raises(PolicyConfigError, match="must be a table"):
        build_chain(["blocklist"])  # type: ignore[list-item]


def test_two_policies_with_one_name():
    with pytest.raises(PolicyConfigError, match="two policies have this name") as caught:
        build_chain([{"policy": "links"}, {"policy": "links"}])
    assert caught.value.option == "name"
    build_chain([{"policy": "links"}, {"policy": "links", "name": "links-2", "action": "drop"}])


def test_named_errors_use_the_name():
    with pytest.raises(PolicyConfigError, match="^policy strict, option tlds"):
        build_policy({"policy": "links", "name": "strict", "tlds": ["f r"]})


def test_describe_lists_options_with_defaults():
    options = BUILTIN_POLICIES["rate"].describe()
    assert options["messages"][0] == 5 and options["seconds"][0] == 60.0
    assert "exempt" in options and "action" in options
    for cls in BUILTIN_POLICIES.values():
        assert all(doc for _, doc in cls.describe().values()), cls.kind


def test_default_exempt_is_the_staff():
    chain = build_chain([{"policy": "max_length", "max_chars": 3}])
    assert chain.run(Message("longer", "m", 0.0, role="moderator")).verdict is Verdict.PUBLISH
    assert chain.run(Message("longer", "v", 0.0, role="visitor")).verdict is Verdict.HOLD
    nobody = build_chain([{"policy": "max_length", "max_chars": 3, "exempt": []}])
    assert nobody.run(Message("longer", "m", 0.0, role="moderator")).verdict is Verdict.HOLD


@given(st.text(max_size=600), st.text(max_size=100))
@settings(deadline=None)
def test_the_builtins_never_fail(text, earlier):
    result = CHAIN.run(Message(text, "v", 100.0, history=(Recent(earlier, 50.0),), joined_at=0.0))
    assert result.failures == ()


CHAIN = build_chain(default_configs())
