"""The tenant commands of the command line (schema-per-tenant services).

`extend` adds the tenant commands, gives rollback, status, list and
accept-migration a `--tenant` option, and makes `migrate` (and its dry run)
go on to every tenant after the shared schema. Tenant commands need
PostgreSQL: on a SQLite DATABASE_URL they say so.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager

from ..config import Settings
from ..database.postgresql_target import PostgresTarget
from ..database.session import Session, session_scope
from ..errors import ConfigError
from ..migrator.sources import MigrationSource
from ..progress import Progress
from ..tenants.creation import create_tenant
from ..tenants.one_tenant import (
    accept_tenant_change,
    get_tenant_migration_status,
    rollback_tenant_migrations,
    run_tenant_migrations,
)
from ..tenants.pending import summarize
from ..tenants.results import TenantResult
from ..tenants.runner import accept_change_in_all_tenants, run_all_tenant_migrations
from ..tenants.schemas import postgres_only
from .commands import (
    Command,
    Commands,
    accepted_line,
    connected,
    print_listing,
    print_rollback,
    print_status,
)

# How many tenant names a summary prints before it only counts the rest.
SHOWN = 20


def postgres_target(settings: Settings) -> PostgresTarget:
    if not isinstance(settings.database, PostgresTarget):
        raise ConfigError(
            "schema-per-tenant needs PostgreSQL: DATABASE_URL points to "
            f"{settings.database.describe()}, where tenant commands cannot run"
        )
    return settings.database


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
        print(f"  FAILED {failed.tenant_id}: {failed.error}")
    return 0 if report.ok else 1


def tenant_create(args: argparse.Namespace, settings: Settings) -> int:
    with shared_session(settings) as session:
        result = create_tenant(
            session, args.tenant, lock_timeout=settings.migration_lock_timeout, lock_retry=settings.lock_retry
        )
    print(f"Created tenant {result.tenant_id}; applied {len(result.applied)} migration(s):")
    _print_names(result.applied)
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


def tenants_status(_: argparse.Namespace, settings: Settings) -> int:
    with shared_session(settings) as session:
        summary = summarize(postgres_only(session), MigrationSource.for_dialect("postgresql").migration_ids())
    print(f"Tenants: {summary.total}")
    print(f"Up to date: {summary.up_to_date}")
    print(f"Pending migrations: {len(summary.pending)}")
    _print_names(summary.pending)
    print(f"Failed last run: {len(summary.failed)}")
    for failed in summary.failed[:SHOWN]:
        when = failed.failed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        print(f"  {failed.tenant_id}  {when}  {failed.error}")
    return 0


def print_tenant_plan(session: Session) -> None:
    """What a dry run says of the tenants: which ones the same files would migrate."""
    summary = summarize(postgres_only(session), MigrationSource.for_dialect("postgresql").migration_ids())
    print(
        f"Tenants with pending migrations: {len(summary.pending)} of {summary.total} "
        "(each would run its own pending files; make migrate-status TENANT=<id> lists them)."
    )
    _print_names(summary.pending)


def accept_in_tenants(settings: Settings, name: str) -> None:
    accepted = accept_change_in_all_tenants(postgres_target(settings), name)
    print(f"Accepted the current content of {name} in {len(accepted)} tenant(s).")
    _print_names(accepted)


def extend(commands: Commands) -> None:
    commands.add(
        "tenant-create", tenant_create, "register a tenant, create its schema and migrate it"
    ).add_argument("tenant")
    commands.add("migrate-tenant", migrate_tenant, "apply pending migrations to one tenant").add_argument(
        "tenant"
    )
    commands.add("migrate-tenants", migrate_all, "apply pending migrations to every tenant").add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="connections at once, 1 or more (TENANT_MIGRATION_CONCURRENCY)",
    )
    commands.add("tenants", tenants_status, "summarize every tenant's migration state")
    for name in ("rollback", "status", "list", "accept-migration"):
        commands.parser(name).add_argument("--tenant", help="a tenant's schema instead of the shared one")
    commands.wrap("migrate", _then_every_tenant)
    commands.wrap("accept-migration", _accept_in_tenants_too)
    commands.wrap("rollback", _or_in_one_tenant(_roll_back_tenant))
    commands.wrap("status", _or_in_one_tenant(_tenant_status))
    commands.wrap("list", _or_in_one_tenant(_tenant_listing))


def _then_every_tenant(migrate: Command) -> Command:
    """The shared schema first, then every tenant (SQLite has no tenants)."""

    def migrate_shared_then_tenants(args: argparse.Namespace, settings: Settings) -> int:
        code = migrate(args, settings)
        if code != 0 or not isinstance(settings.database, PostgresTarget):
            return code
        if args.dry_run:
            with shared_session(settings) as session:
                print_tenant_plan(session)
            return 0
        return report_tenant_migrations(settings)

    return migrate_shared_then_tenants


def _accept_in_tenants_too(accept: Command) -> Command:
    def accept_here_and_in_tenants(args: argparse.Namespace, settings: Settings) -> int:
        if args.tenant:
            with connected(settings) as session:
                checksum = accept_tenant_change(session, args.tenant, args.name)
            print(accepted_line(args.name, checksum, f"tenant {args.tenant}"))
            return 0
        code = accept(args, settings)
        if isinstance(settings.database, PostgresTarget):
            accept_in_tenants(settings, args.name)
        return code

    return accept_here_and_in_tenants


def _or_in_one_tenant(in_tenant: Command) -> Callable[[Command], Command]:
    """With --tenant, the command runs on that tenant's schema instead."""

    def wrapper(shared: Command) -> Command:
        def shared_or_tenant(args: argparse.Namespace, settings: Settings) -> int:
            return in_tenant(args, settings) if args.tenant else shared(args, settings)

        return shared_or_tenant

    return wrapper


def _roll_back_tenant(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        result = rollback_tenant_migrations(
            session,
            args.tenant,
            lock_timeout=settings.migration_lock_timeout,
            lock_retry=settings.lock_retry,
            all_batches=args.all,
        )
    return print_rollback(result)


def _tenant_status(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        state = get_tenant_migration_status(session, args.tenant)
    return print_status(state, settings, scope=f"Tenant: {args.tenant}")


def _tenant_listing(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        state = get_tenant_migration_status(session, args.tenant)
    return print_listing(state)


def _report_one(result: TenantResult) -> int:
    if result.failed:
        print(f"error: tenant {result.tenant_id} failed: {result.error}", file=sys.stderr)
        return 1
    if not result.applied:
        print(f"Nothing to migrate: tenant {result.tenant_id} is up to date.")
        return 0
    print(f"Applied {len(result.applied)} migration(s) to tenant {result.tenant_id}:")
    _print_names(result.applied)
    return 0


def _print_names(names: tuple[str, ...] | list[str]) -> None:
    for name in names[:SHOWN]:
        print(f"  {name}")
    if len(names) > SHOWN:
        print(f"  ... and {len(names) - SHOWN} more")
