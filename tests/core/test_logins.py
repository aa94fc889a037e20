"""core/logins.py on its own: the queue of password checks and the lines a
request holds while it waits."""

from __future__ import annotations

from collections import deque

from confchat.core.client import Client
from confchat.core.flood import TokenBucket
from confchat.core.logins import MAX_HELD_BYTES, Verification, Verifications
from confchat.core.outbox import Outbox
from confchat.proto.codec import MAX_LINE_BYTES, LineTooLong


def a_client(cid: int = 1) -> Client:
    return Client(cid, "192.0.2.1", Outbox(1000), 0.0, TokenBucket(10, 1.0, 0.0), "tcp")


def a_request(client: Client | None = None, answers: list[bool] | None = None) -> Verification:
    client = client or a_client()
    request = Verification(client, "AUTHENTICATE", "$argon2id$...", "hunter2", (answers if answers is not None else []).append)
    client.verifying = request
    return request


def test_request_wakes_the_shell_and_requests_are_taken_in_order():
    woken = []
    queue = Verifications()
    queue.wake = lambda: woken.append(True)
    first, second = a_request(a_client(1)), a_request(a_client(2))
    queue.request(first)
    queue.request(second)
    assert woken == [True, True]
    assert queue.next() is first
    assert queue.next() is second
    assert queue.next() is None


def test_a_request_is_wanted_until_its_client_is_gone_or_moves_on():
    client = a_client()
    request = a_request(client)
    assert request.wanted
    client.gone = True
    assert not request.wanted
    other = a_client(2)
    stale = a_request(other)
    a_request(other)  # a newer request replaced it
    assert not stale.wanted


def test_held_lines_keep_their_order_up_to_the_limit():
    request = a_request()
    assert request.hold(b"CAP END")
    assert request.hold(b"JOIN #a")
    assert list(request.held) == [b"CAP END", b"JOIN #a"]
    line = b"x" * (MAX_HELD_BYTES - request.held_bytes)
    assert request.hold(line)  # exactly at the limit
    assert not request.hold(b"y")  # one byte past it
    assert list(request.held) == [b"CAP END", b"JOIN #a", line]


def test_a_line_too_long_counts_as_the_longest_line():
    request = a_request()
    too_long = LineTooLong("Input line was too long")
    assert request.hold(too_long)
    assert request.held_bytes == MAX_LINE_BYTES
    assert request.hold(too_long)
    assert not request.hold(too_long)


def test_lines_left_over_go_first_in_the_next_request():
    request = a_request()
    request.hold(b"NEW")
    request.take_over(deque([b"OLD1", b"OLD2"]))
    assert list(request.held) == [b"OLD1", b"OLD2", b"NEW"]
    assert request.held_bytes == 11


def test_the_password_is_not_in_the_repr():
    request = a_request()
    assert "hunter2" not in repr(request) and "argon2" not in repr(request)
    assert "AUTHENTICATE" in repr(request)


def test_a_decoy_request_says_so_and_carries_no_hash():
    client = a_client()
    request = Verification(client, "OPER", "", "hunter2", [].append, decoy="oper")
    assert request.decoy == "oper" and request.stored_hash == ""
    assert repr(request) == "<Verification OPER for client 1 (decoy oper)>"
    assert a_request().decoy == ""  # a real check
