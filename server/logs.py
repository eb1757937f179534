"""Log lines: one JSON object per line (for log collectors) or plain text (for people).

Every line carries the context of the work that wrote it: the HTTP request's id
(:mod:`server.telemetry` binds it for each request) or the job's id and kind
(:meth:`server.jobs.JobService.execute` binds them while a job runs). The context lives in
a :class:`~contextvars.ContextVar`, so it follows a request into the threads
``anyio.to_thread`` runs for it and never leaks into another request. A
:class:`ContextFilter` on the handler copies it onto each record.

``MUSEUM_LOG_FORMAT``: ``json``, ``text``, or ``auto`` (the default): text when stderr
is a terminal, JSON otherwise (a service manager, a container, a pipe to a collector).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

LOG_FORMATS = ("auto", "json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_context: ContextVar[Mapping[str, str]] = ContextVar(
    "museum_log_context", default=MappingProxyType({})
)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RESERVED = frozenset(
    {
        *vars(logging.LogRecord("", 0, "", 0, "", None, None)),
        "message",
        "asctime",
        "context",
        "taskName",
    }
)


@contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Add ``fields`` (request_id, job_id, job_kind ...) to every line logged in the block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current log context onto each record (as ``record.context``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "context"):
            record.context = dict(_context.get())
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then the
    context (request_id, job_id, job_kind) and any ``extra=`` fields. ``json.dumps`` does
    all the escaping, so a newline or quote in a message can never split or forge a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "context", {}))
        for key, value in _extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with the context appended as ``[request_id=… job_id=…]``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = getattr(record, "context", {})
        if not context:
            return line
        pairs = " ".join(f"{key}={value}" for key, value in context.items())
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{first} [{pairs}]{newline}{rest}"


def resolve_format(choice: str, stream: TextIO) -> str:
    """``json`` or ``text``: ``auto`` is text on a terminal, JSON anywhere else."""
    if choice != "auto":
        return choice
    try:
        return "text" if stream.isatty() else "json"
    except ValueError:  # a closed stream
        return "json"


def build_handler(choice: str, stream: TextIO | None = None) -> logging.Handler:
    """A handler for ``stream`` (stderr) in the chosen format, with the context filter."""
    target = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(target)
    handler.setFormatter(
        JsonFormatter() if resolve_format(choice, target) == "json" else TextFormatter()
    )
    handler.addFilter(ContextFilter())
    handler.set_name("museum")
    return handler


def configure(level: str, choice: str, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger (the museum's, uvicorn's, huey's) through one handler on the root.

    Calling it again replaces the museum's handler, never one that someone else added.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "museum"]:
        root.removeHandler(old)
    handler = build_handler(choice, stream)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Uvicorn's loggers propagate to the root; its access log is replaced by ours.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    return handler
