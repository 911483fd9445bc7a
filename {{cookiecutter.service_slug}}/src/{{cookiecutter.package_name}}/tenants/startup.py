"""At startup, after the shared schema: every tenant schema (AUTO_MIGRATE_TENANTS)."""

from __future__ import annotations

import logging

from ..config import Settings
from ..database.postgresql_target import PostgresTarget
from ..database.session import session_scope
from ..errors import MigrationError, Remedy
from . import citus
from .runner import run_all_tenant_migrations
from .schemas import postgres_only

log = logging.getLogger(__name__)


def after_shared_schema(settings: Settings) -> None:
    """Every tenant schema, after the shared one; any failed tenant stops the start."""
    if not isinstance(settings.migration_database, PostgresTarget):
        return
    log_citus(settings, settings.migration_database)
    if not settings.auto_migrate_tenants:
        return
    log.info("Running tenant migrations")
    report = run_all_tenant_migrations(
        settings.migration_database,
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
        shown = report.failed[:3]
        named = ", ".join(f"{r.tenant_id} ({r.error})" for r in shown)
        more = f" and {len(report.failed) - 3} more" if len(report.failed) > 3 else ""
        # Listing them first, then what fixes the failures shown (each once).
        remedies = [Remedy("tenants", purpose="list them")]
        for remedy in (remedy for result in shown for remedy in result.remedies):
            if remedy not in remedies:
                remedies.append(remedy)
        raise MigrationError(
            f"{len(report.failed)} tenant(s) failed to migrate: {named}{more} "
            "(AUTO_MIGRATE_TENANTS=false starts without tenants)",
            *remedies,
        )


def log_citus(settings: Settings, target: PostgresTarget) -> None:
    """Say once, at startup, whether tenant schemas are distributed over a Citus cluster."""
    with session_scope(target, wait=settings.connect_timeout) as session:
        found = citus.detect(postgres_only(session))
    if found is None:
        return
    if settings.distribute_tenant_schemas:
        log.info("%s detected: tenant schemas are distributed", found.describe())
    else:
        log.info(
            "%s detected: new tenant schemas stay on the coordinator (DISTRIBUTE_TENANT_SCHEMAS=false)",
            found.describe(),
        )
