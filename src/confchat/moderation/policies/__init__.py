"""Automatic moderation policies, pure: a message in, a decision out.

A policy (:class:`Policy`) reads one visitor :class:`Message` (its text, who
sent it, when, and that visitor's recent history) and returns a
:class:`Decision` (``publish``, ``hold`` or ``drop``, with the policy's name,
a reason, a score and flags) or ``None`` when it has nothing to say. A
:class:`Chain` runs policies in order into one :class:`Result`; see
:mod:`.chain` for how decisions combine and :mod:`.base` for the interface.
:func:`build_chain` builds a chain of built-ins from configuration tables.

The built-ins, one module per concept:

- :mod:`.blocklist` (with :mod:`.terms` and :mod:`.normalize`): listed words
  and phrases, through accents, look-alikes, leetspeak, spacing and masks,
  on word boundaries, with an allow-list;
- :mod:`.links`: URLs and bare domains outside an allow-list of sites;
- :mod:`.simple`: shouting, max_length, repeated characters, mentions;
- :mod:`.history`: duplicate, rate, newcomers (the visitor's own history);
- :mod:`.raid`: one text from many visitors (keeps bounded state).

Nothing here imports trio, sockets or storage, or reads a clock: time comes
in as ``Message.now``. The engine (``moderation/engine.py``) runs the chain
at ``Engine.submit``; asynchronous policies (:class:`AsyncPolicy`) are run by
the shell.
"""

from .base import (
    AsyncPolicy,
    Decision,
    Exempt,
    Message,
    Options,
    Policy,
    PolicyConfigError,
    Recent,
    Verdict,
)
from .chain import POLICY_ERROR, Chain, Failure, Result
from .registry import BUILTIN_POLICIES, build_chain, build_policy, default_configs

__all__ = [
    "AsyncPolicy", "BUILTIN_POLICIES", "Chain", "Decision", "Exempt", "Failure", "Message", "Options",
    "POLICY_ERROR", "Policy", "PolicyConfigError", "Recent", "Result", "Verdict", "build_chain",
    "build_policy", "default_configs",
]
