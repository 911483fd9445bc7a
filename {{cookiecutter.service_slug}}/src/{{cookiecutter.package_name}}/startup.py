"""The startup runner: connect, migrate when AUTO_MIGRATE is on, or refuse to serve.

It runs before the web server binds its port, so the service never serves a
half-migrated database: any failure raises a ServiceError, which the CLI
reports in one line before exiting non-zero.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
from collections.abc import Callable
from typing import cast

from .config import Settings
from .database.session import session_scope
from .errors import ConfigError, Remedy
from .migrator.runner import pending_migrations, run_migrations

log = logging.getLogger(__name__)


def prepare_database(settings: Settings) -> list[str]:
    """Wait for the database, migrate if configured; return the migrations applied.
    Migrations run on MIGRATION_DATABASE_URL's connection (the app's URL by default)."""
    if settings.database.describe() == "sqlite:///:memory:":
        raise ConfigError(
            "DATABASE_URL sqlite:///:memory: cannot serve: each connection gets a database of its "
            "own, so requests would never see the migrated tables; use a file (sqlite:///data/app.db)"
        )
    with session_scope(settings.migration_database, wait=settings.connect_timeout) as session:
        session.execute("SELECT 1")
        log.info("Database connected (%s)", settings.migration_database.describe())
        if settings.migration_database == settings.database:
            # The app's pool connects here too (not through a pooler of its own).
            session.check_pool_fits(settings.pool_min)
        if not settings.auto_migrate:
            pending = pending_migrations(session)
            if pending:
                log.warning(
                    "AUTO_MIGRATE is off and %d migration(s) are pending: /ready answers 503 "
                    "until they are applied",
                    len(pending),
                    extra={"remedies": (Remedy("migrate", purpose="apply them"),)},
                )
            return []
        log.info("Running database migrations")
        result = run_migrations(
            session,
            lock_timeout=settings.migration_lock_timeout,
            lock_retry=settings.lock_retry,
            on_drift=settings.on_drift,
        )
        log.info("Database migrations completed (count: %d)", len(result.applied))
    for step in _steps_after_shared_schema():
        step(settings)
    return result.applied


def _steps_after_shared_schema() -> list[Callable[[Settings], None]]:
    """A folder of this package with a `startup` module adds a step of its own,
    run after the shared schema has migrated: its `after_shared_schema(settings)`.
    The generated project has only the folders it uses."""
    root = importlib.import_module(__package__ or __name__)
    steps = []
    for folder in sorted(info.name for info in pkgutil.iter_modules(root.__path__) if info.ispkg):
        name = f"{root.__name__}.{folder}.startup"
        if importlib.util.find_spec(name) is not None:
            module = importlib.import_module(name)
            steps.append(cast(Callable[[Settings], None], module.after_shared_schema))
    return steps
