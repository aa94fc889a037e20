"""The trio task that checks passwords for the core, in worker threads.

The core never hashes: a login or OPER queues a
:class:`~confchat.core.logins.Verification` and wakes this task, which runs
argon2 in a worker thread (argon2-cffi releases the GIL while it hashes, so
the event loop carries on) and hands the answer back with
``Server.verified(request, ok)``, on the event loop, where the core finishes
the login and handles the lines the client sent meanwhile.

At most ``WORKERS`` checks run at once (a ``trio.CapacityLimiter``); the
others wait their turn, in the order they were asked for. A check keeps the
CPU busy and holds 64 MiB for its duration, so a crowd logging in at the
start of an event, or a run of wrong passwords from many connections, slows
logins down, never the chat. A check whose client has gone by its turn is
skipped.

The same workers, in the same turns, hash the new passwords an admin sets
(``ACCOUNTS CREATE``, ``ACCOUNTS PASSWD``): a
:class:`~confchat.core.logins.Hashing` request, answered with the hash.

A name nobody has is checked all the same, against a *decoy*: a hash of a
random secret made at start (before the first check, in a thread) with the
argon2 parameters of the configured hashes, one for the accounts and one
for the operators. It takes as long as a real check and always fails, so
the time an answer takes does not tell whether an account exists.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Callable, Iterable

import structlog
import trio
from argon2 import Parameters, PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError

from .config import Config
from .core.logins import Hashing, Verification
from .core.passwords import hash_password, verify_password
from .core.server import Server

# Checks running at once: two keep their memory at 2 x 64 MiB and bound the
# CPU a crowd of logins takes from the event loop; more would not make
# logins faster on a small machine, where argon2's own threads (four lanes
# with the default parameters) already fill the cores.
WORKERS = 2

log = structlog.get_logger("confchat.verifier")


def decoy_hash(hashes: Iterable[str]) -> str:
    """A hash of a random secret with the parameters most of ``hashes``
    have (the first of them on a tie; ``confchat passwd``'s defaults if
    none is valid): checking against it costs what checking one of them
    does, and nothing matches it."""
    seen: Counter[tuple] = Counter()
    first: dict[tuple, Parameters] = {}
    for stored in hashes:
        try:
            parameters = extract_parameters(stored)
        except (InvalidHashError, ValueError):
            continue
        key = (parameters.type, parameters.version, parameters.salt_len, parameters.hash_len,
               parameters.time_cost, parameters.memory_cost, parameters.parallelism)
        seen[key] += 1
        first.setdefault(key, parameters)
    hasher = PasswordHasher.from_parameters(first[seen.most_common(1)[0][0]]) if seen else PasswordHasher()
    return hasher.hash(os.urandom(32).hex())


def decoy_hashes(config: Config) -> dict[str, str]:
    """The decoys by kind of name (Verification.decoy)."""
    return {
        "account": decoy_hash(account.password_hash for account in config.accounts),
        "oper": decoy_hash(oper.password_hash for oper in config.opers),
    }


class Verifier:
    def __init__(
        self,
        core: Server,
        workers: int = WORKERS,
        verify: Callable[[str, str], bool] = verify_password,
        hash: Callable[[str], str] = hash_password,
    ) -> None:
        self.core = core
        self.verify = verify
        self.hash = hash  # for Hashing requests (ACCOUNTS CREATE, PASSWD)
        self.limiter = trio.CapacityLimiter(workers)
        self._wakeup = trio.Event()
        self.decoys: dict[str, str] = {}  # made when run() starts
        core.logins.wake = self._wake

    def _wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Check passwords until cancelled; a check cancelled in its thread
        is abandoned (the thread finishes, its answer is dropped)."""
        logins = self.core.logins
        # Made once, before any check: a check asked for meanwhile waits.
        self.decoys = await trio.to_thread.run_sync(decoy_hashes, self.core.config, abandon_on_cancel=True)
        async with trio.open_nursery() as nursery:
            while True:
                request = logins.next()
                if request is None:
                    await self._wakeup.wait()
                    self._wakeup = trio.Event()
                    continue
                # Turns are taken here, in order; the check's task gives its
                # turn back when done.
                await self.limiter.acquire_on_behalf_of(request)
                if request.wanted:
                    nursery.start_soon(self._check, request)
                else:  # the client went away while waiting its turn
                    self.limiter.release_on_behalf_of(request)
                    self._answer(request, False)  # (the core only lets go of it)

    async def _check(self, request: Verification) -> None:
        hashing = isinstance(request, Hashing)  # a new password (ACCOUNTS): the answer is its hash
        answer: bool | str
        try:
            if hashing:
                answer = await trio.to_thread.run_sync(self.hash, request.password, abandon_on_cancel=True)
            else:
                stored = self.decoys[request.decoy] if request.decoy else request.stored_hash
                ok = await trio.to_thread.run_sync(self.verify, stored, request.password, abandon_on_cancel=True)
                answer = ok and not request.decoy
        except Exception:  # verify_password returns False for bad hashes; fail closed anyway
            log.exception("verifier.check_failed", request=repr(request))
            answer = "" if hashing else False
        finally:
            self.limiter.release_on_behalf_of(request)
        self._answer(request, answer)

    def _answer(self, request: Verification, ok: bool | str) -> None:
        try:
            self.core.verified(request, ok)
        except Exception:  # one login's bug must not stop every other check
            log.exception("verifier.answer_failed", request=repr(request))
