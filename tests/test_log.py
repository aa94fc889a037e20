"""Logging: formats, level filtering, context fields, stdlib routing."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import structlog

from confchat.config import LoggingSection
from confchat.log import configure_logging, get_logger

ANSI = "\x1b["


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test configures logging afresh; put structlog and the root logger back."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def configure(stream: io.StringIO, **section: Any) -> None:
    configure_logging(LoggingSection(**section), stream)


def test_json_lines_have_event_level_timestamp_and_logger() -> None:
    stream = io.StringIO()
    configure(stream, format="json")
    get_logger("confchat.test").info("client.registered", nick="alice", port=6667)
    [record] = json_lines(stream)
    assert record["event"] == "client.registered"
    assert record["level"] == "info"
    assert record["logger"] == "confchat.test"
    assert record["nick"] == "alice" and record["port"] == 6667
    timestamp = datetime.fromisoformat(record["timestamp"])
    assert timestamp.utcoffset() is not None and timestamp.utcoffset().total_seconds() == 0


def test_level_filtering() -> None:
    stream = io.StringIO()
    configure(stream, format="json", level="warning")
    log = get_logger("confchat.test")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    assert [r["event"] for r in json_lines(stream)] == ["w", "e"]


def test_debug_level_shows_debug() -> None:
    stream = io.StringIO()
    configure(stream, format="json", level="debug")
    get_logger("confchat.test").debug("d")
    assert [r["level"] for r in json_lines(stream)] == ["debug"]


def test_context_variables_appear_on_every_event() -> None:
    stream = io.StringIO()
    configure(stream, format="json")
    log = get_logger("confchat.test")
    structlog.contextvars.bind_contextvars(conn_id=7, peer="192.0.2.1")
    log.info("one")
    log.info("two")
    structlog.contextvars.unbind_contextvars("peer")
    log.info("three")
    records = json_lines(stream)
    assert [r["conn_id"] for r in records] == [7, 7, 7]
    assert [r.get("peer") for r in records] == ["192.0.2.1", "192.0.2.1", None]


def test_loggers_made_before_configuration_follow_it() -> None:
    """Modules call get_logger at import time, before main() configures logging."""
    early = get_logger("confchat.early")
    plain = structlog.get_logger("confchat.plain")  # the form other modules use
    first, second = io.StringIO(), io.StringIO()
    configure(first, format="json")
    early.info("a")
    configure(second, format="json")
    early.info("b")
    plain.info("c")
    assert [r["event"] for r in json_lines(first)] == ["a"]
    assert [(r["event"], r["logger"]) for r in json_lines(second)] == [
        ("b", "confchat.early"),
        ("c", "confchat.plain"),
    ]


def test_exceptions_are_one_json_line_with_the_traceback() -> None:
    stream = io.StringIO()
    configure(stream, format="json")
    try:
        raise RuntimeError("kaboom")
    except RuntimeError:
        get_logger("confchat.test").exception("handler.crashed")
    [record] = json_lines(stream)
    assert record["level"] == "error"
    assert "Traceback" in record["exception"]
    assert "RuntimeError: kaboom" in record["exception"]


def test_stdlib_warnings_use_the_same_format() -> None:
    stream = io.StringIO()
    configure(stream, format="json", level="debug")
    structlog.contextvars.bind_contextvars(conn_id=3)
    library = logging.getLogger("trio_websocket.test")
    library.info("chatter")  # below warning: dropped even at debug level
    library.warning("slow %s", "peer")
    [record] = json_lines(stream)
    assert record["event"] == "slow peer"
    assert record["level"] == "warning"
    assert record["logger"] == "trio_websocket.test"
    assert record["conn_id"] == 3
    datetime.fromisoformat(record["timestamp"])


def test_stdlib_follows_a_stricter_level() -> None:
    stream = io.StringIO()
    configure(stream, format="json", level="error")
    logging.getLogger("lib").warning("w")
    logging.getLogger("lib").error("e")
    assert [r["event"] for r in json_lines(stream)] == ["e"]


def test_reconfiguring_does_not_duplicate_stdlib_output() -> None:
    configure(io.StringIO(), format="json")
    stream = io.StringIO()
    configure(stream, format="json")
    logging.getLogger("lib").warning("once")
    assert [r["event"] for r in json_lines(stream)] == ["once"]


def test_reconfiguring_keeps_foreign_handlers() -> None:
    foreign = logging.NullHandler()
    logging.getLogger().addHandler(foreign)
    configure(io.StringIO())
    configure(io.StringIO())
    assert foreign in logging.getLogger().handlers


def test_console_is_readable_and_plain_when_not_a_terminal() -> None:
    stream = io.StringIO()
    configure(stream)
    structlog.contextvars.bind_contextvars(conn_id=9)
    get_logger("confchat.test").info("client.registered", nick="alice")
    output = stream.getvalue()
    assert ANSI not in output
    assert "client.registered" in output
    assert "[info" in output
    assert "nick=alice" in output and "conn_id=9" in output
    assert "confchat.test" in output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output)


def test_console_colours_on_a_terminal() -> None:
    stream = FakeTty()
    configure(stream)
    get_logger("confchat.test").info("hello")
    assert ANSI in stream.getvalue()


def test_no_color_turns_colours_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    stream = FakeTty()
    configure(stream)
    get_logger("confchat.test").info("hello")
    assert "hello" in stream.getvalue()
    assert ANSI not in stream.getvalue()


def test_console_tracebacks_do_not_show_local_variables() -> None:
    stream = io.StringIO()
    configure(stream)
    try:
        password = "hunter2-in-a-local"
        raise ValueError("bad " + password[:3])
    except ValueError:
        get_logger("confchat.test").exception("oops")
    output = stream.getvalue()
    assert "ValueError: bad hun" in output
    assert "hunter2-in-a-local" not in output


def test_stdlib_console_output() -> None:
    stream = io.StringIO()
    configure(stream)
    logging.getLogger("trio").warning("careful")
    output = stream.getvalue()
    assert "careful" in output and "[warning" in output and "trio" in output


def test_unknown_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        configure(io.StringIO(), level="loud")
