"""The tenant commands of the command line (schema-per-tenant services).

`extend` adds tenant-create, migrate-tenant, migrate-tenants and tenants;
tenant_options.py brings tenants into the core commands. Tenant commands need
PostgreSQL: on a SQLite DATABASE_URL they say so.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager

from ..config import Settings
from ..database.postgresql_target import PostgresTarget
from ..database.session import Session, session_scope
from ..errors import ConfigError, Remedy
from ..migrator.sources import MigrationSource
from ..progress import Progress
from ..tenants.creation import create_tenant
from ..tenants.one_tenant import run_tenant_migrations
from ..tenants.pending import summarize
from ..tenants.results import TenantResult
from ..tenants.runner import run_all_tenant_migrations
from ..tenants.schemas import postgres_only
from .commands import Commands
from .remedies import MakeTarget, advice

# How many tenant names a summary prints before it only counts the rest.
SHOWN = 20


def postgres_target(settings: Settings) -> PostgresTarget:
    if not isinstance(settings.migration_database, PostgresTarget):
        raise ConfigError(
            "schema-per-tenant needs PostgreSQL: DATABASE_URL points to "
            f"{settings.migration_database.describe()}, where tenant commands cannot run"
        )
    return settings.migration_database


def shared_session(settings: Settings) -> AbstractContextManager[Session]:
    """A session on the shared schema (where the tenant registry lives)."""
    return session_scope(postgres_target(settings), wait=settings.connect_timeout)


def report_tenant_migrations(settings: Settings, concurrency: int | None = None) -> int:
    """Migrate every registered tenant; print a summary; 1 if any tenant failed."""
    target = postgres_target(settings)
    progress = Progress("Migrating tenants")
    report = run_all_tenant_migrations(
        target,
        concurrency=settings.tenant_migration_concurrency if concurrency is None else concurrency,
        lock_timeout=settings.migration_lock_timeout,
        lock_retry=settings.lock_retry,
        on_drift=settings.on_drift,
        on_start=progress.start,
        on_result=lambda result: progress.advance(failed=result.failed),
    )
    progress.finish()
    print(
        f"Tenants: {len(report.results)} in all, {len(report.migrated)} migrated, "
        f"{report.up_to_date} already up to date, {len(report.failed)} failed."
    )
    for failed in report.failed:
        print(f"  FAILED {failed.tenant_id}: {failed.error}{advice(failed.remedies)}")
    return 0 if report.ok else 1


def tenant_create(args: argparse.Namespace, settings: Settings) -> int:
    with shared_session(settings) as session:
        result = create_tenant(
            session,
            args.tenant,
            lock_retry=settings.lock_retry,
            distribute=settings.distribute_tenant_schemas,
        )
    print(f"Created tenant {result.tenant_id}; applied {len(result.applied)} migration(s):")
    print_names(result.applied)
    return 0


def migrate_tenant(args: argparse.Namespace, settings: Settings) -> int:
    with shared_session(settings) as session:
        result = run_tenant_migrations(
            session,
            args.tenant,
            lock_timeout=settings.migration_lock_timeout,
            lock_retry=settings.lock_retry,
            on_drift=settings.on_drift,
        )
    return _report_one(result)


def migrate_all(args: argparse.Namespace, settings: Settings) -> int:
    return report_tenant_migrations(settings, args.concurrency)


def tenants_status(args: argparse.Namespace, settings: Settings) -> int:
    with shared_session(settings) as session:
        summary = summarize(postgres_only(session), MigrationSource.for_dialect("postgresql").migration_ids())
    # For the extensions that add to this report (tenants_on_citus.py).
    args.summary = summary
    print(f"Tenants: {summary.total}")
    print(f"Up to date: {summary.up_to_date}")
    print(f"Pending migrations: {len(summary.pending)}")
    print_names(summary.pending)
    print(f"Failed last run: {len(summary.failed)}")
    for failed in summary.failed[:SHOWN]:
        when = failed.failed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        retry = Remedy("migrate-tenant", {"tenant": failed.tenant_id}, "once fixed, retry it")
        print(f"  {failed.tenant_id}  {when}  {failed.error}{advice([retry])}")
    return 0


def extend(commands: Commands) -> None:
    commands.add(
        "tenant-create",
        tenant_create,
        "register a tenant, create its schema and migrate it",
        make=MakeTarget("tenant-create", {"tenant": "TENANT"}),
    ).add_argument("tenant")
    commands.add(
        "migrate-tenant",
        migrate_tenant,
        "apply pending migrations to one tenant",
        make=MakeTarget("migrate-tenant", {"tenant": "TENANT"}),
    ).add_argument("tenant")
    commands.add(
        "migrate-tenants",
        migrate_all,
        "apply pending migrations to every tenant",
        make=MakeTarget("migrate-tenants", {"concurrency": "CONCURRENCY"}),
    ).add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="connections at once, 1 or more (TENANT_MIGRATION_CONCURRENCY)",
    )
    commands.add(
        "tenants",
        tenants_status,
        "summarize every tenant's migration state",
        make=MakeTarget("tenants-status"),
    )


def _report_one(result: TenantResult) -> int:
    if result.failed:
        print(
            f"error: tenant {result.tenant_id} failed: {result.error}{advice(result.remedies)}",
            file=sys.stderr,
        )
        return 1
    if not result.applied:
        print(f"Nothing to migrate: tenant {result.tenant_id} is up to date.")
        return 0
    print(f"Applied {len(result.applied)} migration(s) to tenant {result.tenant_id}:")
    print_names(result.applied)
    return 0


def print_names(names: tuple[str, ...] | list[str]) -> None:
    for name in names[:SHOWN]:
        print(f"  {name}")
    if len(names) > SHOWN:
        print(f"  ... and {len(names) - SHOWN} more")
