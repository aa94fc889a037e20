"""The trio task that runs asynchronous policies for the core.

The engine holds an item flagged ``screening`` and asks (see
``core/screening.py``); this task runs each asynchronous policy of that
conference on the message in its own task, under ``deadline`` seconds
(``[moderation] policy_timeout``), and hands the decisions back with
``Server.screened``. A policy that raises or runs out of time counts as a
failure: the item waits for a person, flagged ``policy-error``. A slow
policy delays only the items it screens; at most ``CONCURRENT`` screens run
at once, the others wait their turn (they are already safe in the queue).
"""

from __future__ import annotations

import structlog
import trio

from .core.server import Server
from .moderation.effects import Screen
from .moderation.intake import summarize
from .moderation.policies.base import Decision, Verdict
from .moderation.policies.chain import POLICY_ERROR, Chain, Failure, Result

# Screens running at once; a classifier that stalls holds up to this many.
CONCURRENT = 64

log = structlog.get_logger("confchat.screener")


async def run_policies(screen: Screen, deadline: float) -> Result:
    """Every asynchronous policy of ``screen`` on its message, together."""
    decisions: list[Decision] = []
    failures: list[Failure] = []

    async def one(policy) -> None:
        try:
            with trio.fail_after(deadline):
                decision = await policy.check(screen.message)
            if decision is not None and not isinstance(decision, Decision):
                raise TypeError(f"check returned {type(decision).__name__}, not a Decision")
        except trio.TooSlowError:
            failures.append(Failure(policy.name, f"timeout: no answer within {deadline:g} s"))
            decision = Decision(Verdict.HOLD, policy.name, "the policy did not answer in time", 0.0, (POLICY_ERROR,))
        except Exception as error:  # a broken plugin must not lose the message
            failures.append(Failure(policy.name, f"{type(error).__name__}: {error}"))
            decision = Decision(Verdict.HOLD, policy.name, "the policy failed", 0.0, (POLICY_ERROR,))
        if decision is not None:
            decisions.append(decision)

    async with trio.open_nursery() as nursery:
        for policy in screen.policies:
            nursery.start_soon(one, policy)
    order = {p.name: i for i, p in enumerate(screen.policies)}
    decisions.sort(key=lambda d: order.get(d.policy, 0))
    drops = [d for d in decisions if d.verdict is Verdict.DROP]
    if drops:  # the first drop wins, as in a chain
        kept = [d for d in decisions if order.get(d.policy, 0) < order.get(drops[0].policy, 0)] + drops[:1]
        return Chain.combine(Verdict.DROP, kept, failures)
    held = any(d.verdict is Verdict.HOLD for d in decisions)
    return Chain.combine(Verdict.HOLD if held else Verdict.PUBLISH, decisions, failures)


class Screener:
    def __init__(self, core: Server, deadline: float, concurrent: int = CONCURRENT) -> None:
        self.core = core
        self.deadline = deadline
        self.limiter = trio.CapacityLimiter(concurrent)
        self._wakeup = trio.Event()
        core.screenings.wake = self._wakeup.set

    async def run(self) -> None:
        screenings = self.core.screenings
        async with trio.open_nursery() as nursery:
            while True:
                screen = screenings.next()
                if screen is None:
                    await self._wakeup.wait()
                    self._wakeup = trio.Event()
                    self.core.screenings.wake = self._wakeup.set
                    continue
                await self.limiter.acquire_on_behalf_of(screen)
                nursery.start_soon(self._screen, screen)

    async def _screen(self, screen: Screen) -> None:
        try:
            started = trio.current_time()
            result = await run_policies(screen, self.deadline)
            outcome = summarize(result, trio.current_time() - started)
            self.core.screened(screen.conference, screen.item, outcome)
        except Exception:  # one screen's bug must not stop the others
            log.exception("screener.failed", conference=screen.conference, item=screen.item)
        finally:
            self.limiter.release_on_behalf_of(screen)
