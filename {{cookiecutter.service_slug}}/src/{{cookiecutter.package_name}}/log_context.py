"""Context for log lines: fields that every log line of a piece of work
carries (for whom the work runs), set where the work happens.

A context variable, not a parameter: the engine's log lines get the fields
without the engine knowing who set them, and each worker thread of a
concurrent run has its own. `LogContextFilter`, which the logging setup
installs, copies them onto every record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_fields: ContextVar[tuple[tuple[str, object], ...]] = ContextVar("log_fields", default=())


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Every log line logged in the block (in this thread) carries `fields`."""
    token = _fields.set(_fields.get() + tuple(fields.items()))
    try:
        yield
    finally:
        _fields.reset(token)


class LogContextFilter(logging.Filter):
    """Adds the log context's fields to each record, where it is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _fields.get()
        for name, value in fields:
            if not hasattr(record, name):
                setattr(record, name, value)
        record.context_fields = tuple(name for name, _ in fields)
        return True
