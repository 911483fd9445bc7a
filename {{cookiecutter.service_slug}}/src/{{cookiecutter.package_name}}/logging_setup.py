"""Logging: readable lines in development, one JSON object per line in production."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from .config import Settings
from .log_context import current_tenant

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


# Fields a log line carries when its work has them: which migration, in which
# batch, for which tenant, and how long it took.
CONTEXT_FIELDS = ("migration", "batch", "tenant", "duration_ms")


class TenantContextFilter(logging.Filter):
    """Adds the tenant being worked on (log_context) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        tenant = current_tenant.get()
        if tenant is not None and not hasattr(record, "tenant"):
            record.tenant = tenant
        return True


def context_of(record: logging.LogRecord) -> dict[str, object]:
    return {field: getattr(record, field) for field in CONTEXT_FIELDS if hasattr(record, field)}


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
    handler.addFilter(TenantContextFilter())
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
