"""Tenants in the core commands (schema-per-tenant services).

`extend` gives rollback, status, list and accept-migration a `--tenant`
option (that tenant's schema instead of the shared one), makes
accept-migration go on to every tenant that applied the file, and makes
`migrate` (and its dry run) go on to every tenant after the shared schema.
The tenant commands themselves are in tenants.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..config import Settings
from ..database.postgresql_target import PostgresTarget
from ..database.session import Session
from ..migrator.sources import MigrationSource
from ..tenants.one_tenant import accept_tenant_change, get_tenant_migration_status, rollback_tenant_migrations
from ..tenants.pending import summarize
from ..tenants.runner import accept_change_in_all_tenants
from ..tenants.schemas import postgres_only
from .commands import Command, Commands, connected
from .remedies import add_variable
from .reports import accepted_line, print_listing, print_rollback, print_status
from .tenants import postgres_target, print_names, report_tenant_migrations, shared_session


def extend(commands: Commands) -> None:
    for name in ("rollback", "status", "list", "accept-migration"):
        commands.parser(name).add_argument("--tenant", help="a tenant's schema instead of the shared one")
        add_variable(name, "tenant", "TENANT")
    commands.wrap("migrate", _then_every_tenant)
    commands.wrap("accept-migration", _accept_in_tenants_too)
    commands.wrap("rollback", _or_in_one_tenant(_roll_back_tenant))
    commands.wrap("status", _or_in_one_tenant(_tenant_status))
    commands.wrap("list", _or_in_one_tenant(_tenant_listing))


def _then_every_tenant(migrate: Command) -> Command:
    """The shared schema first, then every tenant (SQLite has no tenants)."""

    def migrate_shared_then_tenants(args: argparse.Namespace, settings: Settings) -> int:
        code = migrate(args, settings)
        if code != 0 or not isinstance(settings.migration_database, PostgresTarget):
            return code
        if args.dry_run:
            with shared_session(settings) as session:
                print_tenant_plan(session)
            return 0
        return report_tenant_migrations(settings)

    return migrate_shared_then_tenants


def print_tenant_plan(session: Session) -> None:
    """What a dry run says of the tenants: which ones the same files would migrate."""
    summary = summarize(postgres_only(session), MigrationSource.for_dialect("postgresql").migration_ids())
    print(
        f"Tenants with pending migrations: {len(summary.pending)} of {summary.total} "
        "(each would run its own pending files; make migrate-status TENANT=<id> lists them)."
    )
    print_names(summary.pending)


def _accept_in_tenants_too(accept: Command) -> Command:
    def accept_here_and_in_tenants(args: argparse.Namespace, settings: Settings) -> int:
        if args.tenant:
            with connected(settings) as session:
                checksum = accept_tenant_change(session, args.tenant, args.name)
            print(accepted_line(args.name, checksum, f"tenant {args.tenant}"))
            return 0
        code = accept(args, settings)
        if isinstance(settings.migration_database, PostgresTarget):
            accept_in_tenants(settings, args.name)
        return code

    return accept_here_and_in_tenants


def accept_in_tenants(settings: Settings, name: str) -> None:
    accepted = accept_change_in_all_tenants(postgres_target(settings), name)
    print(f"Accepted the current content of {name} in {len(accepted)} tenant(s).")
    print_names(accepted)


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
