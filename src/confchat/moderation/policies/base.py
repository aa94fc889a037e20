"""The policy interface: what a policy reads, what it answers, how it is set up.

A policy looks at one visitor message, a :class:`Message`, and answers a
:class:`Decision` or ``None`` (nothing to say). It is pure: the message
carries everything it may read, the time included (``now``, the clock the
shell passes in); a policy opens no socket, reads no file and no clock while
checking. A policy may keep state across messages when that is its point
(the raid detector counts texts from many visitors), bounded in size, and
then one chain serves one conference.

The three verdicts (:class:`Verdict`):

``publish``
    An explicit pass: the policy looked and vouches for the message. It does
    not override another policy's hold or drop; the conference's mode then
    decides as for any message (pending in a moderated conference, published
    at once in an open one).
``hold``
    The message goes to the moderators, flagged: held in a moderated
    conference, not published at once in an open one. Never lost.
``drop``
    The message is refused; the first drop ends the chain.

A policy is configured from a dict of options, as TOML gives them
(``[[conferences.policies]]`` tables): :meth:`Options.from_options` checks
each option, fills in defaults and raises :class:`PolicyConfigError` naming
the policy and the option. Every built-in has the ``exempt`` option: a list
of roles (``admin``, ``moderator``, ``guest``, ``visitor``) and accounts
(``$a:name``, as restriction masks write them) whose messages it does not
check; by default the staff.

Policies that must wait (a remote classifier) follow :class:`AsyncPolicy`,
``async def check``; the trio shell runs those, the pure :class:`.Chain`
refuses them.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, ClassVar, Mapping, Protocol, runtime_checkable

import attrs

from ...proto.casemap import casefold


class Verdict(str, enum.Enum):
    PUBLISH = "publish"
    HOLD = "hold"
    DROP = "drop"


@attrs.frozen
class Decision:
    verdict: Verdict
    policy: str  # the name of the policy that decided
    reason: str = ""  # for the moderators (and the audit log)
    score: float = 1.0  # how strongly; the chain adds up the scores of holds
    flags: tuple[str, ...] = ()  # short words for the queue (QUEUE ITEM flags)


@attrs.frozen
class Recent:
    """One earlier message of the same visitor."""

    text: str
    at: float  # the same clock as Message.now


@attrs.frozen
class Message:
    """A visitor message as the policies see it.

    ``history`` is what this visitor sent before in this conference (held,
    published or dropped alike), oldest first, as far back as the shell
    keeps it; ``joined_at`` is when it joined the conference (``None``:
    unknown). ``members``: casefolded nicks in the conference, when the
    shell passes them (the mentions policy counts them)."""

    text: str
    nick: str
    now: float
    account: str | None = None
    connection: int | None = None
    channel: str = ""
    role: str = "visitor"
    history: tuple[Recent, ...] = ()
    joined_at: float | None = None
    members: frozenset[str] = frozenset()

    @property
    def present_for(self) -> float | None:
        """Seconds since it joined the conference (``None``: unknown)."""
        return None if self.joined_at is None else max(0.0, self.now - self.joined_at)

    def since(self, seconds: float) -> list[Recent]:
        """Its earlier messages of the last ``seconds``."""
        return [r for r in self.history if self.now - r.at < seconds]


@runtime_checkable
class Policy(Protocol):
    """What a chain runs: a ``name`` (the one its decisions carry) and a
    pure ``check``. A policy may also have an ``exempt`` (an :class:`Exempt`,
    or anything with ``covers(message) -> bool``): the chain then skips the
    messages it covers."""

    name: str

    def check(self, message: Message) -> Decision | None: ...


class AsyncPolicy(Protocol):
    """A policy that waits (for a remote classifier, say): same shape, run by
    the shell with a deadline; a chain of pure policies refuses it."""

    name: str

    async def check(self, message: Message) -> Decision | None: ...


class PolicyConfigError(ValueError):
    """A bad policy configuration: ``policy`` and ``option`` say where."""

    def __init__(self, policy: str, option: str | None, message: str) -> None:
        where = f"policy {policy}" + (f", option {option}" if option else "")
        super().__init__(f"{where}: {message}")
        self.policy = policy
        self.option = option


# ---------------------------------------------------------------- exempt

ROLES = ("admin", "moderator", "guest", "visitor")
STAFF_ROLES = ("admin", "moderator", "guest")


@attrs.frozen
class Exempt:
    """Whose messages a policy does not check."""

    roles: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()  # casefolded

    def covers(self, message: Message) -> bool:
        if message.role in self.roles:
            return True
        return message.account is not None and casefold(message.account) in self.accounts


# ---------------------------------------------------------------- options
# An option parser takes the TOML value and returns the field's value, or
# raises ValueError with a message for the person who wrote the config.


def number(minimum: float | None = 0.0, maximum: float | None = None) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be a number, not {value!r}")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}, not {value}")
        return float(value)

    return parse


def integer(minimum: int = 0) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {value!r}")
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"must be a list of strings, not {value!r}")
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"must be a list of strings; {item!r} is not a string")
    return tuple(value)


def action(value: Any) -> Verdict:
    """``hold`` or ``drop``: what a policy does when it objects."""
    if value not in ("hold", "drop"):
        raise ValueError(f"must be hold or drop, not {value!r}")
    return Verdict(value)


def exempt(value: Any) -> Exempt:
    roles, accounts = set(), set()
    for item in strings(value):
        if item.startswith("$a:") and len(item) > 3:
            accounts.add(casefold(item[3:]))
        elif item in ROLES:
            roles.add(item)
        else:
            raise ValueError(f"{item!r} is neither a role ({', '.join(ROLES)}) nor an account ($a:name)")
    return Exempt(frozenset(roles), frozenset(accounts))


def option(default: Any, parse: Callable[[Any], Any], doc: str = "") -> Any:
    """A configurable field: ``default`` is its value when the option is
    not given (in parsed form), ``parse`` checks and converts a given one."""
    return attrs.field(default=default, metadata={"parse": parse, "doc": doc}, kw_only=True)


@attrs.frozen
class Options:
    """The base of the built-ins: ``name`` and ``exempt``, and the
    configuration from a dict. A subclass sets ``kind`` (its key in
    :data:`.BUILTIN_POLICIES`) and declares its options with :func:`option`."""

    kind: ClassVar[str] = ""
    name: str = attrs.field(default="", kw_only=True)
    exempt: Exempt = option(Exempt(frozenset(STAFF_ROLES)), exempt, "roles and $a:accounts not checked")

    def __attrs_post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.kind)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], name: str | None = None) -> Options:
        label = name or cls.kind
        fields = {f.name: f for f in attrs.fields(cls) if "parse" in f.metadata}
        values: dict[str, Any] = {}
        for key, value in options.items():
            if key not in fields:
                known = ", ".join(sorted(fields))
                raise PolicyConfigError(label, key, f"unknown option (known: {known})")
            try:
                values[key] = fields[key].metadata["parse"](value)
            except ValueError as error:
                raise PolicyConfigError(label, key, str(error)) from None
        try:
            return cls(name=label, **values)
        except ValueError as error:  # a check across options
            raise PolicyConfigError(label, None, str(error)) from None

    @classmethod
    def describe(cls) -> dict[str, tuple[Any, str]]:
        """Each option's default and meaning (for the docs and ``--help``)."""
        return {f.name: (f.default, f.metadata["doc"]) for f in attrs.fields(cls) if "parse" in f.metadata}

    def decide(self, verdict: Verdict, reason: str, score: float = 1.0, *flags: str) -> Decision:
        return Decision(verdict, self.name, reason, score, flags or (self.kind,))
