"""At startup, after the shared schema: every tenant schema (AUTO_MIGRATE_TENANTS)."""

from __future__ import annotations

import logging

from ..config import Settings
from ..database.postgresql_target import PostgresTarget
from ..errors import MigrationError
from .runner import run_all_tenant_migrations

log = logging.getLogger(__name__)


def after_shared_schema(settings: Settings) -> None:
    """Every tenant schema, after the shared one; any failed tenant stops the start."""
    if not settings.auto_migrate_tenants or not isinstance(settings.database, PostgresTarget):
        return
    log.info("Running tenant migrations")
    report = run_all_tenant_migrations(
        settings.database,
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
