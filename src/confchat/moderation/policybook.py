"""Which policies each conference runs, built from the configuration.

A conference's chain is the server's ``[moderation] policies`` followed by
its own ``policies`` (or only its own, with ``inherit_policies = false``).
Each table names a policy with ``policy`` (a built-in, or a plugin from the
``confchat.policies`` entry-point group that the shell loaded); ``name``
gives it another name (to use one policy twice); the other keys are its
options. Chains are built once per configuration and kept: a message costs
the checks, not the building.

Synchronous policies form a :class:`~.policies.chain.Chain` run inside the
core; asynchronous ones (``async def check``) are run by the shell with a
deadline (see ``core/screening.py``).
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable, Iterable, Mapping

import attrs

from .conference import Conference
from .policies.base import PolicyConfigError
from .policies.chain import Chain
from .policies.registry import build_policy

# How a policy is made from its options: a class with ``from_options``
# (the built-ins, and plugins built the same way) or a plain callable.
Factory = Any


@attrs.frozen
class Policies:
    """What one conference runs."""

    chain: Chain
    waiting: tuple[Any, ...] = ()  # asynchronous policies, for the shell
    error: str = ""  # a configuration that could not be built

    @property
    def empty(self) -> bool:
        return not self.chain.policies and not self.waiting and not self.error


def build(tables: Iterable[Mapping[str, Any]], registry: Mapping[str, Any]) -> Policies:
    """The policies of ``tables``; raises :class:`PolicyConfigError`."""
    sync: list[Any] = []
    waiting: list[Any] = []
    seen: set[str] = set()
    for position, table in enumerate(tables, 1):
        policy = build_policy(table, position, registry)
        if policy.name in seen:
            raise PolicyConfigError(policy.name, "name", "two policies have this name: give one a name")
        seen.add(policy.name)
        (waiting if inspect.iscoroutinefunction(getattr(policy, "check", None)) else sync).append(policy)
    return Policies(Chain(sync), tuple(waiting))


class PolicyBook:
    """The built policies of every conference, rebuilt when a conference's
    configuration changes."""

    def __init__(self, defaults: Iterable[Mapping[str, Any]] = (), registry: Mapping[str, Factory] | None = None) -> None:
        if registry is None:
            from .policies import BUILTIN_POLICIES

            registry = BUILTIN_POLICIES
        self.registry = dict(registry)
        self.defaults = [dict(t) for t in defaults]
        self._built: dict[str, tuple[str, Policies]] = {}

    def tables(self, conference: Conference) -> list[dict[str, Any]]:
        own = [dict(t) for t in conference.policies]
        return [*self.defaults, *own] if conference.inherit_policies else own

    def for_conference(self, conference: Conference, log: Callable[..., None] | None = None) -> Policies:
        tables = self.tables(conference)
        key = json.dumps(tables, sort_keys=True, default=str)
        cached = self._built.get(conference.folded)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            policies = build(tables, self.registry)
        except (PolicyConfigError, TypeError, ValueError) as error:
            # A restored or edited conference whose policies cannot be built:
            # every visitor message is held, flagged, until it is fixed.
            policies = Policies(Chain(()), error=str(error))
            if log is not None:
                log("policy.config_error", level="error", conference=conference.channel, error=str(error))
        self._built[conference.folded] = (key, policies)
        return policies

    def check(self, tables: Iterable[Mapping[str, Any]]) -> None:
        """Raise :class:`PolicyConfigError` if ``tables`` cannot be built
        (for the configuration check at start)."""
        build(tables, self.registry)
