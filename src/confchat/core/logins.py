"""Password checks as effects: the core asks, the shell hashes, the core finishes.

An argon2id check is slow on purpose (about 0.1 s with the production
parameters, keeping the CPU busy and holding 64 MiB meanwhile). Made inside
``Server.receive`` it would stall every connection for that long, and a few
connections sending wrong passwords would stall the server. So a handler that
needs a password checked calls :meth:`Server.check_password
<confchat.core.server.Server.check_password>`, which queues a
:class:`Verification` here and calls ``wake`` (the way the journal wakes the
storage writer). The shell (:mod:`confchat.verifier`) runs the hash in a
worker thread and hands the answer back with ``Server.verified(request, ok)``;
the core then calls the request's continuation (``then(ok)``), which finishes
the login: the replies, the failed-login count, the roles.

While a client's check is in flight, the lines it sends next wait in its
request, in order, and are handled once the answer is in: a pipelined
``CAP END`` must not register the client before its SASL outcome is known.
A client that goes away meanwhile is simply forgotten when its answer comes.

A name that no account (or operator) has is checked too, against a
*decoy*: a hash the shell made at start with the parameters of the
configured ones (``decoy`` says whose: "account" or "oper"). Its answer is
always no and takes as long as a real one, so the time an answer takes
does not tell which accounts exist. The back-off of repeated guesses
(core/throttle.py) is decided before a check is asked for.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Callable

from ..proto.codec import MAX_LINE_BYTES, LineTooLong
from .requests import Requests

if TYPE_CHECKING:
    from ..proto.message import Message
    from .client import Client

# Bytes a client may send while its password is being checked. A client
# that pipelines its registration after the credentials sends a few short
# lines; this leaves room for those and for two lines of the longest kind.
# Past it the client is flooding and is disconnected, as ircds do when a
# client's receive queue (RecvQ) overflows ("Excess Flood").
MAX_HELD_BYTES = 2 * MAX_LINE_BYTES


class Verification:
    """One password check the core is waiting for, and what waits with it."""

    __slots__ = (
        "client", "command", "stored_hash", "password", "then", "decoy", "label", "captured", "held", "held_bytes",
    )

    def __init__(
        self,
        client: Client,
        command: str,
        stored_hash: str,
        password: str,
        then: Callable[[bool], None],
        decoy: str = "",
    ) -> None:
        self.client = client
        self.command = command  # for the error reply if ``then`` fails
        self.stored_hash = stored_hash  # "" for a decoy: the shell has it
        self.password = password
        # "" for a real check; for an unknown name, whose hashes ("account",
        # "oper") the decoy's parameters are those of. The answer is False.
        self.decoy = decoy
        self.then = then  # called with the answer, on the event loop
        # labeled-response: the label of the command that asked, and the
        # replies it had sent so far; the answer's replies join them.
        self.label: str | None = None
        self.captured: list[Message] = []
        self.held: deque[bytes | LineTooLong] = deque()  # lines received meanwhile
        self.held_bytes = 0

    @property
    def wanted(self) -> bool:
        """False once the client is gone: nobody waits for the answer."""
        return not self.client.gone and self.client.verifying is self

    def hold(self, raw: bytes | LineTooLong) -> bool:
        """Keep a line for after the answer; False if that is too much."""
        # A line too long was discarded unread, but it was at least that long.
        self.held_bytes += len(raw) if isinstance(raw, bytes) else MAX_LINE_BYTES
        if self.held_bytes > MAX_HELD_BYTES:
            return False
        self.held.append(raw)
        return True

    def take_over(self, held: deque[bytes | LineTooLong]) -> None:
        """Lines an earlier request held that now wait for this one, first."""
        held.extend(self.held)
        self.held = held
        self.held_bytes = sum(len(raw) if isinstance(raw, bytes) else MAX_LINE_BYTES for raw in held)

    def __repr__(self) -> str:  # never the password
        decoy = f" (decoy {self.decoy})" if self.decoy else ""
        return f"<Verification {self.command} for client {self.client.id}{decoy}>"


class Hashing(Verification):
    """Not a check: a new password to hash (``ACCOUNTS CREATE``, ``ACCOUNTS
    PASSWD``), in the same worker threads and turns as the checks; the
    answer handed to ``then`` is the hash ("" if hashing failed)."""

    __slots__ = ()

    def __init__(self, client: Client, command: str, password: str, then: Callable[[str], None]) -> None:
        super().__init__(client, command, "", password, then)  # type: ignore[arg-type]

    def __repr__(self) -> str:  # never the password
        return f"<Hashing {self.command} for client {self.client.id}>"


class Verifications(Requests[Verification]):
    """The checks the core has asked for and the shell has not taken yet."""

    __slots__ = ()
