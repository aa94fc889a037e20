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
"""

from __future__ import annotations

from typing import Callable

import structlog
import trio

from .core.logins import Verification
from .core.passwords import verify_password
from .core.server import Server

# Checks running at once: two keep their memory at 2 x 64 MiB and bound the
# CPU a crowd of logins takes from the event loop; more would not make
# logins faster on a small machine, where argon2's own threads (four lanes
# with the default parameters) already fill the cores.
WORKERS = 2

log = structlog.get_logger("confchat.verifier")


class Verifier:
    def __init__(
        self, core: Server, workers: int = WORKERS, verify: Callable[[str, str], bool] = verify_password
    ) -> None:
        self.core = core
        self.verify = verify
        self.limiter = trio.CapacityLimiter(workers)
        self._wakeup = trio.Event()
        core.logins.wake = self._wake

    def _wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Check passwords until cancelled; a check cancelled in its thread
        is abandoned (the thread finishes, its answer is dropped)."""
        logins = self.core.logins
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
        try:
            ok = await trio.to_thread.run_sync(
                self.verify, request.stored_hash, request.password, abandon_on_cancel=True
            )
        except Exception:  # verify_password returns False for bad hashes; fail closed anyway
            log.exception("verifier.check_failed", request=repr(request))
            ok = False
        finally:
            self.limiter.release_on_behalf_of(request)
        self._answer(request, ok)

    def _answer(self, request: Verification, ok: bool) -> None:
        try:
            self.core.verified(request, ok)
        except Exception:  # one login's bug must not stop every other check
            log.exception("verifier.answer_failed", request=repr(request))
