"""Logging setup: structlog for our own events, stdlib ``logging`` routed alike.

The server logs structured events (``log.info("client.registered",
nick=...)``); per-connection fields are bound once with
``structlog.contextvars.bind_contextvars`` and appear on every event of that
connection's task. Operators choose between a readable console format and
JSON lines for log collectors; libraries that use stdlib ``logging`` (trio,
trio-websocket) come out in the same format, at warning level and above only,
so their debug chatter never floods the server's log.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog

from confchat.config import LoggingSection

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Our stdlib handler, a class of its own so reconfiguring replaces it.

    Other handlers on the root logger (pytest's, an embedding program's)
    are left alone.
    """


def configure_logging(section: LoggingSection, stream: TextIO | None = None) -> None:
    """Configure structlog and stdlib logging from the ``[logging]`` section.

    ``stream`` defaults to ``sys.stderr`` as it is at call time (not at
    import time, so redirections such as pytest's capture are honoured).
    Safe to call again: the latest call wins.
    """
    if stream is None:
        stream = sys.stderr
    try:
        level = _LEVELS[section.level]
    except KeyError:
        raise ValueError(f"unknown log level {section.level!r}") from None
    if section.format not in ("console", "json"):
        raise ValueError(f"unknown log format {section.format!r}")

    json_lines = section.format == "json"
    if json_lines:
        timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
        renderer: Any = structlog.processors.JSONRenderer()
        # JSON needs the traceback as a string; the console renderer formats
        # exceptions itself (and warns if they were formatted before it).
        exceptions: list[Any] = [structlog.processors.format_exc_info]
    else:
        timestamper = structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False)
        renderer = structlog.dev.ConsoleRenderer(
            colors=_wants_colour(stream),
            # Plain tracebacks: the default (rich) one prints local
            # variables, which may hold message bodies or passwords.
            exception_formatter=structlog.dev.plain_traceback,
        )
        exceptions = []

    common: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _add_logger_name,
        timestamper,
        structlog.processors.StackInfoRenderer(),
    ]
    structlog.configure(
        processors=[*common, *exceptions, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_NamedPrintLoggerFactory(stream),
        # Not cached: modules create loggers at import time, and a later
        # configure_logging (tests, a reload) must still reach them.
        cache_logger_on_first_use=False,
    )

    handler = _Handler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=common,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *exceptions,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))


def get_logger(name: str) -> Any:
    """A structlog logger whose events carry ``logger=name``.

    Usually called at module level as ``log = get_logger(__name__)``; it may
    be called before ``configure_logging``, which it follows once called.
    """
    return structlog.get_logger(name)


class _NamedPrintLogger(structlog.PrintLogger):
    """A PrintLogger that remembers the name given to ``get_logger``."""

    def __init__(self, file: TextIO, name: str | None) -> None:
        super().__init__(file)
        self.name = name


class _NamedPrintLoggerFactory:
    """Make loggers printing to one stream; ``get_logger(name)`` passes the name here.

    Passing the name through the factory, rather than binding it, keeps
    module-level loggers lazy: they follow whatever configuration is current
    when they log.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, *args: Any) -> _NamedPrintLogger:
        return _NamedPrintLogger(self._stream, str(args[0]) if args else None)


def _add_logger_name(logger: Any, method_name: str, event_dict: Any) -> Any:
    """Add ``logger=<name>`` for structlog loggers and stdlib records alike."""
    record = event_dict.get("_record")
    name = record.name if record is not None else getattr(logger, "name", None)
    if name:
        event_dict.setdefault("logger", name)
    return event_dict


def _wants_colour(stream: TextIO) -> bool:
    """Colours only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
