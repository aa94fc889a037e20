"""Counters the core keeps for supervision, pure: plain integers and
fixed-bucket histograms, updated on the event paths at the cost of an
addition. The shell's metrics collector reads them at scrape time; nothing
here knows Prometheus. Labels are low-cardinality by construction: transports,
reasons, conference channels, outcomes; never nicknames or addresses.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

# Seconds; from 1 ms to 2 min covers fan-out and commits (low end) and
# moderation waits (high end).
TIME_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


# Seconds, for the policy chain: from 10 µs (a few regexes) to 5 s (a
# remote classifier past its budget).
POLICY_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0)


# Why a login (SASL, PASS account:password, OPER) failed: a wrong password
# for a known name, a name no account or operator has (checked against a
# decoy all the same, core/logins.py), or refused without a check by the
# back-off (core/throttle.py).
LOGIN_FAILURE_REASONS = ("wrong_password", "unknown_name", "throttled")


class Histogram:
    __slots__ = ("buckets", "counts", "sum", "count")

    def __init__(self, buckets: tuple[float, ...] = TIME_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, cumulative count) pairs, ending with +Inf."""
        total = 0
        out = []
        for bound, count in zip((*map(str, self.buckets), "+Inf"), self.counts):
            total += count
            out.append((bound, total))
        return out


class Stats:
    def __init__(self) -> None:
        self.connections_accepted: Counter[str] = Counter()  # transport
        self.connections_refused: Counter[str] = Counter()  # reason
        self.connections_closed: Counter[str] = Counter()  # reason
        # (conference, outcome, decider): outcome submitted/held/published/
        # dropped/redacted; decider human/auto/policy/none.
        self.messages: Counter[tuple[str, str, str]] = Counter()
        self.moderation_wait: dict[str, Histogram] = {}  # conference -> submitted→decided
        self.fanout_seconds = Histogram()
        self.deliveries = 0
        self.sendq_evictions = 0
        self.flood_throttles = 0
        self.restrictions: Counter[tuple[str, str]] = Counter()  # (conference, ban/mute)
        self.bytes_in: Counter[str] = Counter()  # transport
        self.bytes_out: Counter[str] = Counter()
        # Lines received, by transport (counted in Server.receive): the core's
        # work goes by lines, not bytes.
        self.lines_in: Counter[str] = Counter()
        # Automatic moderation: (policy, verdict) of each decision; (policy,
        # error/timeout) of each failure; the chain's time per message; shield
        # mode raised, by (conference, auto/human).
        self.policy_decisions: Counter[tuple[str, str]] = Counter()
        self.policy_failures: Counter[tuple[str, str]] = Counter()
        # Microseconds to seconds: a chain costs tens of microseconds.
        self.policy_seconds = Histogram(POLICY_BUCKETS)
        self.shield_raised: Counter[tuple[str, str]] = Counter()
        self.login_failures: Counter[str] = Counter()  # one of LOGIN_FAILURE_REASONS

    def message(self, conference: str, outcome: str, decider: str = "none") -> None:
        self.messages[(conference, outcome, decider)] += 1

    def decided(self, conference: str, wait: float) -> None:
        histogram = self.moderation_wait.get(conference)
        if histogram is None:
            histogram = self.moderation_wait[conference] = Histogram()
        histogram.observe(wait)
