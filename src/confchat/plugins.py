"""Policies that third parties ship: the ``confchat.policies`` entry points.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."confchat.policies"]
    mypolicy = "mypackage.module:MyPolicy"

and a conference uses it with ``{ policy = "mypolicy", ... }`` (docs/policies.md
gives the interface). Loading is done once, at start, by the shell; the core
gets the registry, built-ins and plugins by name. A plugin that cannot be
imported is logged and left out, so a conference that uses it fails the
configuration check with the plugin's name, instead of the server starting
without a policy it was told to run.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, Callable, Iterable, Mapping

from .config import Config, ConfigError
from .moderation.policies import BUILTIN_POLICIES
from .moderation.policybook import PolicyBook

GROUP = "confchat.policies"


def load_policies(log: Callable[..., None] | None = None) -> dict[str, Any]:
    registry: dict[str, Any] = dict(BUILTIN_POLICIES)
    for point in entry_points(group=GROUP):
        if point.name in BUILTIN_POLICIES:
            if log is not None:
                log("policy.plugin_shadowed", level="warning", plugin=point.name, value=point.value)
            continue
        try:
            registry[point.name] = point.load()
        except Exception as error:  # a broken plugin must not take the server down
            if log is not None:
                log("policy.plugin_failed", level="error", plugin=point.name, error=f"{type(error).__name__}: {error}")
            continue
        if log is not None:
            log("policy.plugin_loaded", plugin=point.name, value=point.value)
    return registry


def check_policies(config: Config, registry: Mapping[str, Any], extra: Iterable[Any] = ()) -> None:
    """Build every conference's chain once; a bad table is a ConfigError
    naming the conference, the policy and the option."""
    book = PolicyBook(config.moderation.policies, registry)
    try:
        book.check(config.moderation.policies)
    except ValueError as error:
        raise ConfigError(f"moderation.policies: {error}") from None
    for conference in (*config.conferences, *extra):
        tables = [dict(t) for t in conference.policies]
        try:
            book.check(tables)
        except ValueError as error:
            raise ConfigError(f"conferences {conference.channel}: policies: {error}") from None
