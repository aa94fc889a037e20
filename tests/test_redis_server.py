"""The tests' real Redis (tests/redis_server.py): it answers, and a restart
on the same port and directory keeps what was written."""

from __future__ import annotations

import socket

from redis_server import RedisServer


def test_it_answers_ping_over_a_raw_socket(redis_server):
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")  # an inline command
        assert sock.recv(64) == b"+PONG\r\n"


def test_a_restart_keeps_the_data_and_the_port(redis_server: RedisServer):
    port = redis_server.port
    assert redis_server.command("SET", "greeting", "hello") == "OK"
    redis_server.stop()
    assert not redis_server.running
    redis_server.start()
    assert redis_server.port == port
    assert redis_server.command("GET", "greeting") == b"hello"


def test_a_killed_redis_keeps_what_was_fsynced(redis_server: RedisServer):
    # appendfsync always: acknowledged writes are on disk before the reply.
    assert redis_server.command("RPUSH", "queue", "a", "b") == 2
    redis_server.kill()
    redis_server.start()
    assert redis_server.command("LRANGE", "queue", 0, -1) == [b"a", b"b"]
