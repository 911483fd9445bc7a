"""The service's command line: `python -m {{ cookiecutter.package_name }} <command>`.

Every Makefile target is a thin call of one of these commands, so they work
without make too. Errors are printed as one line, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from ..config import Settings, load_settings
from ..database.session import Session, session_scope
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
from ..database.target import PostgresTarget
{%- endif %}
from ..errors import ServiceError
from ..logging_setup import configure_logging
from ..migrator.drift import DriftError, accept_change, drift_message, find_drift
{%- if cookiecutter.database != "sqlite" %}
from ..migrator.lint import all_migration_files, lint_files, pending_migration_files
{%- endif %}
from ..migrator.plan import Plan, plan_migrations
from ..migrator.runner import MigrationStatus, get_migration_status, rollback_migrations, run_migrations
from ..migrator.scaffold import make_migration, make_seed
from ..progress import Progress
from ..seed_runner import run_seeds, seeds_directory
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
from ..tenants.runner import (
    accept_tenant_change,
    get_tenant_migration_status,
    rollback_tenant_migrations,
)
from .tenants import accept_in_tenants, add_tenant_commands, migrate_tenants, print_tenant_plan
{%- endif %}

Command = Callable[[argparse.Namespace, Settings], int]
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
MIGRATE_HELP = "apply pending migrations as one batch: the shared schema, then every tenant"
{%- else %}
MIGRATE_HELP = "apply pending migrations as one batch"
{%- endif %}


def connected(settings: Settings) -> AbstractContextManager[Session]:
    """A session on the configured database, waiting DB_CONNECT_TIMEOUT for it."""
    return session_scope(settings.database, wait=settings.connect_timeout)


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        if args.dry_run:
            print_plan(plan_migrations(session), settings)
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
            if isinstance(settings.database, PostgresTarget):
                print_tenant_plan(session)
{%- endif %}
            return 0
        check_drift(session, settings)
        result = run_migrations(
            session,
            lock_timeout=settings.migration_lock_timeout,
            lock_retry=settings.lock_retry,
            on_drift="ignore",
        )
    if not result.applied:
        print(f"Nothing to migrate: {settings.database.describe()} is up to date.")
    else:
        print(f"Applied {len(result.applied)} migration(s) in batch {result.batch}:")
        for name in result.applied:
            print(f"  {name}")
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
    # The shared schema first, then every tenant (SQLite has no tenants).
    if isinstance(settings.database, PostgresTarget):
        return migrate_tenants(settings)
{%- endif %}
    return 0


def check_drift(session: Session, settings: Settings, action: str = "migrate") -> None:
    """Applied migrations whose files changed: refused in production, a warning elsewhere."""
    drift = find_drift(session)
    if not drift:
        return
    if settings.is_production:
        raise DriftError(f"refusing to {action} in production: {drift_message(drift)}")
    print(f"warning: {drift_message(drift)}", file=sys.stderr)


def print_plan(plan: Plan, settings: Settings) -> None:
    print(f"Dry run on {settings.database.describe()}: nothing is changed.")
    if not plan.migrations:
        print("Nothing to migrate.")
        return
    for migration in plan.migrations:
        print(f"\n-- {migration.name} ({migration.path.name})")
        for statement in migration.statements:
            print(statement)
    print(f"\n{len(plan.migrations)} migration(s) would be applied as batch {plan.batch}.")


def accept(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
        if args.tenant:
            checksum = accept_tenant_change(session, args.tenant, args.name)
            print(_accepted(args.name, checksum, f"tenant {args.tenant}"))
            return 0
{%- endif %}
        checksum = accept_change(session, args.name)
    print(_accepted(args.name, checksum, settings.database.describe()))
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
    if isinstance(settings.database, PostgresTarget):
        accept_in_tenants(settings, args.name)
{%- endif %}
    return 0


def _accepted(name: str, checksum: str | None, where: str) -> str:
    if checksum is None:
        return f"Nothing to accept: {name} matches its file on {where}."
    return f"Accepted the current content of {name} on {where} (checksum {checksum[:12]})."


def rollback(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
        if args.tenant:
            result = rollback_tenant_migrations(
                session,
                args.tenant,
                lock_timeout=settings.migration_lock_timeout,
                lock_retry=settings.lock_retry,
                all_batches=args.all,
            )
        else:
            check_drift(session, settings, "roll back")
            result = rollback_migrations(
                session,
                lock_timeout=settings.migration_lock_timeout,
                lock_retry=settings.lock_retry,
                all_batches=args.all,
            )
{%- else %}
        check_drift(session, settings, "roll back")
        result = rollback_migrations(
            session,
            lock_timeout=settings.migration_lock_timeout,
            lock_retry=settings.lock_retry,
            all_batches=args.all,
        )
{%- endif %}
    if not result.rolled_back:
        print("Nothing to roll back: no migration is applied.")
        return 0
    batches = ", ".join(str(batch) for batch in result.batches)
    print(f"Rolled back {len(result.rolled_back)} migration(s) of batch {batches}:")
    for name in result.rolled_back:
        print(f"  {name}")
    return 0


def status(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        state = migration_status(args, session)
    print(f"Database: {settings.database.describe()}")
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
    if args.tenant:
        print(f"Tenant: {args.tenant}")
{%- endif %}
    changed = {drift.name: drift.reason for drift in state.drift}
    print(f"Completed: {len(state.completed)}")
    for done in state.completed:
        applied_at = done.applied_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        mark = f"  DRIFT: file {changed[done.name]} since applied" if done.name in changed else ""
        print(f"  {done.name}  batch {done.batch}  applied {applied_at}{mark}")
    print(f"Pending: {len(state.pending)}")
    for name in state.pending:
        print(f"  {name}")
    if state.drift:
        print(f"Drift: {drift_message(state.drift)}")
    if state.invalid_indexes:
        print(f"Invalid indexes: {len(state.invalid_indexes)} (a failed CREATE INDEX CONCURRENTLY left them)")
        for index in state.invalid_indexes:
            print(f"  {index.describe()}")
    return 0


def list_migrations(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        state = migration_status(args, session)
    for done in state.completed:
        print(f"[x] {done.name} (batch {done.batch})")
    for name in state.pending:
        print(f"[ ] {name} (pending)")
    return 0


def migration_status(args: argparse.Namespace, session: Session) -> MigrationStatus:
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
    if args.tenant:
        return get_tenant_migration_status(session, args.tenant)
{%- endif %}
    return get_migration_status(session)


def new_migration(args: argparse.Namespace, _: Settings) -> int:
    for path in make_migration(args.name):
        print(f"Created {path}")
{%- if cookiecutter.database != "sqlite" %}
    print("Check it with: make migrate-lint (squawk, on the PostgreSQL files)")
{%- endif %}
    return 0
{%- if cookiecutter.database != "sqlite" %}


def lint_migrations(args: argparse.Namespace, settings: Settings) -> int:
    """squawk on the PostgreSQL migrations: the files given, all, or those not yet applied."""
    database = settings.database.describe()
    if args.files:
        paths, scope = args.files, "the files given"
    elif args.all:
        paths, scope = all_migration_files(), "every migration"
    elif settings.database.dialect != "postgresql":
        paths, scope = all_migration_files(), f"every migration: {database} cannot tell which are applied"
    else:
        with connected(settings) as session:
            paths = pending_migration_files(session)
        if not paths:
            print(f"Nothing to lint: every migration is applied on {database} (ALL=1 lints them all).")
            return 0
        scope = f"those not yet applied on {database}"
    result = lint_files(paths)
    print("\n".join(result.report(scope)))
    return 0 if result.passed else 1
{%- endif %}


def new_seed(args: argparse.Namespace, _: Settings) -> int:
    print(f"Created {make_seed(args.name, seeds_directory())}")
    return 0


def seed(_: argparse.Namespace, settings: Settings) -> int:
    progress = Progress("Running seeds")
    with connected(settings) as session:
        names = run_seeds(
            session,
            production=settings.is_production,
            on_start=progress.start,
            on_done=lambda _: progress.advance(),
        )
    progress.finish()
    print(f"Ran {len(names)} seed(s): {', '.join(names) or 'none'}")
    return 0


def serve(_: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from ..app import create_app, open_app_pool
    from ..startup import prepare_database

    prepare_database(settings)
    app = create_app(settings, open_app_pool(settings))
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="{{ cookiecutter.package_name }}", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Command, help_text: str, aliases: Sequence[str] = ()
    ) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, aliases=list(aliases))
        command.set_defaults(handler=handler)
        return command

    add("migrate", migrate, MIGRATE_HELP, aliases=["migrate-latest"]).add_argument(
        "--dry-run", action="store_true", help="print the SQL that would run; change nothing"
    )
    accept_command = add("accept-migration", accept, "record an applied migration's changed file as intended")
    accept_command.add_argument("name")
    rollback_command = add("rollback", rollback, "undo the last batch of migrations")
    rollback_command.add_argument("--all", action="store_true", help="undo every batch")
    {% if cookiecutter.tenancy == "schema-per-tenant" %}status_command = {% endif %}add("status", status, "show completed and pending migrations")
    {% if cookiecutter.tenancy == "schema-per-tenant" %}list_command = {% endif %}add("list", list_migrations, "list every migration with its state")
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
    for command in (rollback_command, status_command, list_command, accept_command):
        command.add_argument("--tenant", help="a tenant's schema instead of the shared one")
{%- endif %}
    add("make-migration", new_migration, "create a migration and its rollback file").add_argument("name")
{%- if cookiecutter.database != "sqlite" %}
    lint_command = add("lint-migrations", lint_migrations, "lint the PostgreSQL migrations with squawk")
    lint_command.add_argument("--all", action="store_true", help="every migration, applied or not")
    lint_command.add_argument("files", nargs="*", help="these files only")
{%- endif %}
    add("make-seed", new_seed, "create a seed file").add_argument("name")
    add("seed", seed, "run the seed files (not in production)")
    add("serve", serve, "migrate (when AUTO_MIGRATE is on), then serve HTTP")
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
    add_tenant_commands(add)
{%- endif %}
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings)
        handler: Command = args.handler
        return handler(args, settings)
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        logging.getLogger(__name__).debug("command failed", exc_info=True)
        return 1
    except KeyboardInterrupt:
        # The transaction of a migration in progress never committed, so the
        # server rolled it back; the locks died with the connection.
        print(
            "error: interrupted; a migration in progress was rolled back with its transaction "
            "(one marked transactional: false keeps the statements it finished); run the command again",
            file=sys.stderr,
        )
        return 130
