"""The built-in policies by name, and a chain built from configuration.

A conference's configuration lists its policies in order, one table each::

    [[conferences.policies]]
    policy = "blocklist"          # which built-in (required)
    terms = ["connard drop"]      # its options; the rest keep their defaults

    [[conferences.policies]]
    policy = "links"
    name = "links-strict"         # optional: the name its decisions carry
    allow = ["ville.fr"]

:func:`build_chain` turns that list (as ``tomllib`` gives it) into a
:class:`.Chain`, or raises :class:`.PolicyConfigError` naming the policy and
the option at fault.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .base import Options, PolicyConfigError
from .blocklist import BlocklistPolicy
from .chain import Chain
from .history import DuplicatePolicy, NewcomersPolicy, RatePolicy
from .links import LinksPolicy
from .raid import RaidPolicy
from .simple import MaxLengthPolicy, MentionsPolicy, RepeatedPolicy, ShoutingPolicy

BUILTIN_POLICIES: dict[str, type[Options]] = {
    cls.kind: cls
    for cls in (
        BlocklistPolicy, LinksPolicy, ShoutingPolicy, MaxLengthPolicy, RepeatedPolicy, MentionsPolicy,
        DuplicatePolicy, RatePolicy, NewcomersPolicy, RaidPolicy,
    )
}


def build_policy(
    config: Mapping[str, Any], position: int = 1, registry: Mapping[str, Any] | None = None
) -> Any:
    """One policy from its table; ``position`` (1-based) names it in errors
    until its ``policy`` key is known. ``registry``: the policies by name
    (default the built-ins; the shell adds the plugins): a class with
    ``from_options(options, name)``, or a callable taking the options."""
    registry = BUILTIN_POLICIES if registry is None else registry
    if not isinstance(config, Mapping):
        raise PolicyConfigError(f"#{position}", None, f"must be a table, not {config!r}")
    options = dict(config)
    kind = options.pop("policy", None)
    if kind is None:
        raise PolicyConfigError(f"#{position}", "policy", "missing: which policy this is")
    if kind not in registry:
        known = ", ".join(registry)
        what = "built-in policy" if registry is BUILTIN_POLICIES else "policy (built-in or plugin)"
        raise PolicyConfigError(f"#{position}", "policy", f"no {what} {kind!r} (known: {known})")
    name = options.pop("name", None)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise PolicyConfigError(kind, "name", f"must be a non-empty string, not {name!r}")
    factory = registry[kind]
    try:
        if hasattr(factory, "from_options"):
            return factory.from_options(options, name)
        policy = factory(options)
    except PolicyConfigError:
        raise
    except (TypeError, ValueError) as error:  # a plugin's own complaint about its options
        raise PolicyConfigError(name or kind, None, str(error)) from None
    if not getattr(policy, "name", None):
        raise PolicyConfigError(kind, None, "the policy has no name")
    return policy


def build_chain(configs: Sequence[Mapping[str, Any]]) -> Chain:
    """A chain of built-ins, in the order given. Stateful policies (raid)
    start afresh: build one chain per conference."""
    policies = [build_policy(config, position) for position, config in enumerate(configs, 1)]
    seen: set[str] = set()
    for policy in policies:
        if policy.name in seen:
            raise PolicyConfigError(policy.name, "name", "two policies have this name: give one a name")
        seen.add(policy.name)
    return Chain(policies)


def default_configs() -> list[dict[str, Any]]:
    """Every built-in with its defaults, in a sensible order (cheap checks
    first; the blocklist before the history, so a drop ends the chain
    early). What the benchmark runs."""
    return [{"policy": kind} for kind in (
        "max_length", "blocklist", "links", "shouting", "repeated", "mentions",
        "rate", "duplicate", "raid", "newcomers",
    )]
