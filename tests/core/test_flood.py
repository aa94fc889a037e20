"""The token bucket behind flood control."""

from __future__ import annotations

import pytest

from confchat.core.flood import TokenBucket


def test_burst_is_free_then_delay_grows_by_one_line_per_token():
    bucket = TokenBucket(burst=5, rate=2.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(5)] == [0.0] * 5
    # each further line at the same instant costs 1/rate more
    assert [bucket.take(0.0) for _ in range(3)] == pytest.approx([0.5, 1.0, 1.5])


def test_tokens_refill_at_rate():
    bucket = TokenBucket(burst=2, rate=4.0, now=100.0)
    bucket.take(100.0)
    bucket.take(100.0)
    assert bucket.take(100.0) == pytest.approx(0.25)  # one short: 1/4 s
    # 0.5 s later the deficit of 1 is paid off and 1 token is back
    assert bucket.take(100.5) == 0.0
    assert bucket.take(100.5) == pytest.approx(0.25)


def test_refill_is_capped_at_burst():
    bucket = TokenBucket(burst=3, rate=10.0, now=0.0)
    # after an hour idle there are still only 3 free lines
    results = [bucket.take(3600.0) for _ in range(4)]
    assert results[:3] == [0.0, 0.0, 0.0]
    assert results[3] == pytest.approx(0.1)


def test_waiting_the_returned_delay_makes_the_next_line_cost_one_token_only():
    bucket = TokenBucket(burst=1, rate=2.0, now=0.0)
    now = 0.0
    assert bucket.take(now) == 0.0
    delay = bucket.take(now)
    assert delay == pytest.approx(0.5)
    now += delay
    # a client that obeyed the delay is not pushed further behind
    assert bucket.take(now) == pytest.approx(0.5)
