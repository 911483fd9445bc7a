"""Logging: readable lines in development, one JSON object per line in production."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from .config import Settings
from .log_context import LogContextFilter

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def context_of(record: logging.LogRecord) -> dict[str, object]:
    """The fields a log line carries when its work has them: which migration,
    in which batch, those of the log context, and how long it took."""
    names = ("migration", "batch", *getattr(record, "context_fields", ()), "duration_ms")
    return {name: getattr(record, name) for name in names if hasattr(record, name)}


class TextFormatter(logging.Formatter):
    """Readable lines, with the context fields appended as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{key}={value}" for key, value in context_of(record).items())
        return f"{line} [{context}]" if context else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **context_of(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter(TEXT_FORMAT))
    handler.addFilter(LogContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # yoyo logs every SQL step at INFO; our runner already logs each migration.
    logging.getLogger("yoyo").setLevel(max(logging.WARNING, root.level))
    # yoyo logs a Python migration that fails to import with its traceback,
    # then raises; the runner reports that failure itself, in one line.
    logging.getLogger("yoyo.migrations").addFilter(_not_an_import_failure)


def _not_an_import_failure(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Could not import migration")
