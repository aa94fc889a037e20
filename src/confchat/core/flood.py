"""Per-connection flood control: a token bucket with an injected clock value.

Each line costs one token (an expensive command more: its ``cost`` in the
command table); tokens refill at ``rate`` a second up to ``burst``.
A client that runs dry is not cut off: the transport waits the returned delay
before reading its next line (like Ergo's fakelag), so a flood slows only the
flooder, and TCP back-pressure keeps its unread lines in its own kernel buffer.
"""

from __future__ import annotations


class TokenBucket:
    __slots__ = ("burst", "rate", "tokens", "stamp")

    def __init__(self, burst: int, rate: float, now: float) -> None:
        self.burst = float(burst)
        self.rate = rate
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float) -> float:
        """Spend one token; return how long to wait before the next line."""
        elapsed = now - self.stamp
        self.stamp = now
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate) - 1.0
        if self.tokens >= 0:
            return 0.0
        return -self.tokens / self.rate

    def charge(self, tokens: float) -> None:
        """Spend ``tokens`` more for an expensive command (fakelag): the
        client's next lines wait for them."""
        self.tokens -= tokens
