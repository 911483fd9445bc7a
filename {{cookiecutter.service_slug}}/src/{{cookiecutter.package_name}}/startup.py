"""The startup runner: connect, migrate when AUTO_MIGRATE is on, or refuse to serve.

It runs before the web server binds its port, so the service never serves a
half-migrated database: any failure raises a ServiceError, which the CLI
reports in one line before exiting non-zero.
"""

from __future__ import annotations

import logging

from .config import Settings
{%- if cookiecutter.database != "sqlite" %}
from .database.postgresql import PostgresSession, check_pool_fits
{%- endif %}
from .database.session import session_scope
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
from .database.target import PostgresTarget
{%- endif %}
from .errors import ConfigError{% if cookiecutter.tenancy == "schema-per-tenant" %}, MigrationError{% endif %}
from .migrator.runner import pending_migrations, run_migrations
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
from .tenants.runner import run_all_tenant_migrations
{%- endif %}

log = logging.getLogger(__name__)


def prepare_database(settings: Settings) -> list[str]:
    """Wait for the database, migrate if configured; return the migrations applied."""
    if settings.database.describe() == "sqlite:///:memory:":
        raise ConfigError(
            "DATABASE_URL sqlite:///:memory: cannot serve: each connection gets a database of its "
            "own, so requests would never see the migrated tables; use a file (sqlite:///data/app.db)"
        )
    with session_scope(settings.database, wait=settings.connect_timeout) as session:
        session.execute("SELECT 1")
        log.info("Database connected (%s)", settings.database.describe())
{%- if cookiecutter.database != "sqlite" %}
        if isinstance(session, PostgresSession):
            check_pool_fits(session, settings.pool_min)
{%- endif %}
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
        result = run_migrations(
            session,
            lock_timeout=settings.migration_lock_timeout,
            lock_retry=settings.lock_retry,
            on_drift=settings.on_drift,
        )
        log.info("Database migrations completed (count: %d)", len(result.applied))
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
    if settings.auto_migrate_tenants and isinstance(settings.database, PostgresTarget):
        migrate_tenants(settings, settings.database)
{%- endif %}
    return result.applied
{%- if cookiecutter.tenancy == "schema-per-tenant" %}


def migrate_tenants(settings: Settings, target: PostgresTarget) -> None:
    """Every tenant schema, after the shared one; any failed tenant stops the start."""
    log.info("Running tenant migrations")
    report = run_all_tenant_migrations(
        target,
        concurrency=settings.tenant_migration_concurrency,
        lock_timeout=settings.migration_lock_timeout,
        lock_retry=settings.lock_retry,
        on_drift=settings.on_drift,
    )
    log.info(
        "Tenant migrations completed (tenants: %d, migrated: %d, failed: %d)",
        len(report.results),
        len(report.migrated),
        len(report.failed),
    )
    if report.failed:
        shown = ", ".join(f"{r.tenant_id} ({r.error})" for r in report.failed[:3])
        more = f" and {len(report.failed) - 3} more" if len(report.failed) > 3 else ""
        raise MigrationError(
            f"{len(report.failed)} tenant(s) failed to migrate: {shown}{more} "
            "(make tenants-status lists them; AUTO_MIGRATE_TENANTS=false starts without tenants)"
        )
{%- endif %}
