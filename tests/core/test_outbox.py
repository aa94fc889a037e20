"""The bounded send queue, on its own."""

from __future__ import annotations

from confchat.core.outbox import SENDQ_EXCEEDED, Outbox


class WakeCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_push_and_take_coalesce_in_order():
    box = Outbox(100)
    assert box.push(b"one\r\n") and box.push(b"two\r\n")
    assert box.pending == 10
    assert box.take() == b"one\r\ntwo\r\n"
    assert box.pending == 0
    assert box.take() == b""


def test_exactly_limit_bytes_fit():
    box = Outbox(10)
    assert box.push(b"x" * 10)
    assert not box.closed
    assert box.take() == b"x" * 10


def test_overflow_drops_the_queue_and_leaves_only_sendq_error():
    box = Outbox(10)
    assert box.push(b"12345")
    assert not box.push(b"678901")  # 11 bytes > 10
    assert box.closed and box.overflowed
    assert box.take() == SENDQ_EXCEEDED == b"ERROR :SendQ exceeded\r\n"


def test_limit_counts_untaken_bytes_only():
    box = Outbox(10)
    for _ in range(5):
        assert box.push(b"x" * 8)
        assert box.take() == b"x" * 8
    assert not box.closed


def test_push_after_overflow_keeps_failing_and_adds_nothing():
    box = Outbox(4)
    box.push(b"hello")
    assert not box.push(b"more")
    assert box.take() == SENDQ_EXCEEDED


def test_close_appends_final_line_and_refuses_later_data():
    box = Outbox(100)
    box.push(b"a\r\n")
    box.close(b"ERROR :bye\r\n")
    assert box.closed and not box.overflowed
    box.push(b"late\r\n")  # silently dropped
    box.close(b"ERROR :twice\r\n")  # a second close changes nothing
    assert box.take() == b"a\r\nERROR :bye\r\n"


def test_wake_on_first_data_and_on_close_only():
    wake = WakeCounter()
    box = Outbox(100, wake)
    box.push(b"a")
    box.push(b"b")
    assert wake.count == 1  # empty -> non-empty only
    box.take()
    box.push(b"c")
    assert wake.count == 2
    box.close()
    assert wake.count == 3


def test_wake_on_overflow():
    wake = WakeCounter()
    box = Outbox(3, wake)
    box.push(b"ab")
    box.push(b"cd")
    assert wake.count == 2
