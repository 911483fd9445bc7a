"""The startup runner: connect, migrate when AUTO_MIGRATE is on, or refuse to serve.

It runs before the web server binds its port, so the service never serves a
half-migrated database: any failure raises a ServiceError, which the CLI
reports in one line before exiting non-zero.
"""

from __future__ import annotations

import logging

from .config import Settings
from .db.runner import pending_migrations, run_migrations
from .db.session import session_scope

log = logging.getLogger(__name__)


def prepare_database(settings: Settings) -> list[str]:
    """Wait for the database, migrate if configured; return the migrations applied."""
    with session_scope(settings.database, wait=settings.connect_timeout) as session:
        session.execute("SELECT 1")
        log.info("Database connected (%s)", settings.database.describe())
        if not settings.auto_migrate:
            pending = pending_migrations(session)
            if pending:
                log.warning(
                    "AUTO_MIGRATE is off and %d migration(s) are pending: /ready answers 503 "
                    "until they are applied (make migrate)",
                    len(pending),
                )
            return []
        log.info("Running database migrations")
        result = run_migrations(session, lock_timeout=settings.migration_lock_timeout)
        log.info("Database migrations completed (count: %d)", len(result.applied))
        return result.applied
