"""The core commands: migrate, roll back, status, new files, seeds, serve.

Each command takes the parsed arguments and the settings, prints what it did,
and returns the exit code. Extensions (see main.py) add commands of their own
through `Commands`, and may wrap a core command's handler. Each command is
added with the Makefile target that calls it (remedies.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from ..config import Settings
from ..database.session import Session, session_scope
from ..migrator.drift import DriftError, accept_change, drift_message, drift_remedies, find_drift
from ..migrator.plan import plan_migrations
from ..migrator.runner import get_migration_status, rollback_migrations, run_migrations
from ..migrator.scaffold import make_migration, make_seed
from ..progress import Progress
from ..seed_runner import run_seeds, seeds_directory
from .remedies import MakeTarget, advice, register
from .reports import accepted_line, print_listing, print_plan, print_rollback, print_status

Command = Callable[[argparse.Namespace, Settings], int]


class Commands:
    """The subcommands being built: add one, reach its parser, or wrap its handler."""

    def __init__(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        self._subparsers = subparsers
        self._parsers: dict[str, argparse.ArgumentParser] = {}

    def add(
        self, name: str, handler: Command, help_text: str, *, make: MakeTarget, aliases: Sequence[str] = ()
    ) -> argparse.ArgumentParser:
        """A command, with `make`: the Makefile target that calls it."""
        parser = self._subparsers.add_parser(name, help=help_text, aliases=list(aliases))
        parser.set_defaults(handler=handler)
        self._parsers[name] = parser
        register(name, make)
        return parser

    def parser(self, name: str) -> argparse.ArgumentParser:
        return self._parsers[name]

    def wrap(self, name: str, wrapper: Callable[[Command], Command]) -> None:
        """Replace the command's handler with `wrapper(handler)`."""
        parser = self._parsers[name]
        parser.set_defaults(handler=wrapper(parser.get_default("handler")))


def add_core_commands(commands: Commands) -> None:
    commands.add(
        "migrate",
        migrate,
        "apply pending migrations as one batch",
        make=MakeTarget("migrate", {"dry_run": "DRY_RUN"}),
        aliases=["migrate-latest"],
    ).add_argument("--dry-run", action="store_true", help="print the SQL that would run; change nothing")
    commands.add(
        "accept-migration",
        accept,
        "record an applied migration's changed file as intended",
        make=MakeTarget("migrate-accept", {"name": "NAME"}),
    ).add_argument("name")
    commands.add(
        "rollback",
        rollback,
        "undo the last batch of migrations",
        make=MakeTarget("migrate-rollback", {"all": "ALL"}),
    ).add_argument("--all", action="store_true", help="undo every batch")
    commands.add("status", status, "show completed and pending migrations", make=MakeTarget("migrate-status"))
    commands.add(
        "list", list_migrations, "list every migration with its state", make=MakeTarget("migrate-list")
    )
    commands.add(
        "make-migration",
        new_migration,
        "create a migration and its rollback file",
        make=MakeTarget("migrate-make", {"name": "NAME"}),
    ).add_argument("name")
    commands.add(
        "make-seed", new_seed, "create a seed file", make=MakeTarget("seed-make", {"name": "NAME"})
    ).add_argument("name")
    commands.add("seed", seed, "run the seed files (not in production)", make=MakeTarget("seed-run"))
    commands.add("serve", serve, "migrate (when AUTO_MIGRATE is on), then serve HTTP", make=MakeTarget("run"))


def connected(settings: Settings) -> AbstractContextManager[Session]:
    """A session on the configured database, waiting DB_CONNECT_TIMEOUT for it."""
    return session_scope(settings.migration_database, wait=settings.connect_timeout)


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        if args.dry_run:
            print_plan(plan_migrations(session), settings)
            return 0
        check_drift(session, settings)
        result = run_migrations(
            session,
            lock_timeout=settings.migration_lock_timeout,
            lock_retry=settings.lock_retry,
            on_drift="ignore",
        )
    if not result.applied:
        print(f"Nothing to migrate: {settings.migration_database.describe()} is up to date.")
    else:
        print(f"Applied {len(result.applied)} migration(s) in batch {result.batch}:")
        for name in result.applied:
            print(f"  {name}")
    return 0


def check_drift(session: Session, settings: Settings, action: str = "migrate") -> None:
    """Applied migrations whose files changed: refused or a warning, as the
    settings decide (Settings.on_drift), before the command changes anything."""
    drift = find_drift(session)
    if not drift:
        return
    if settings.on_drift == "refuse":
        raise DriftError(
            f"refusing to {action} in production: {drift_message(drift)}", *drift_remedies(drift)
        )
    print(f"warning: {drift_message(drift)}{advice(drift_remedies(drift))}", file=sys.stderr)


def accept(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        checksum = accept_change(session, args.name)
    print(accepted_line(args.name, checksum, settings.migration_database.describe()))
    return 0


def rollback(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        check_drift(session, settings, "roll back")
        result = rollback_migrations(
            session,
            lock_timeout=settings.migration_lock_timeout,
            lock_retry=settings.lock_retry,
            all_batches=args.all,
        )
    return print_rollback(result)


def status(_: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        state = get_migration_status(session)
    return print_status(state, settings)


def list_migrations(_: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        state = get_migration_status(session)
    return print_listing(state)


def new_migration(args: argparse.Namespace, _: Settings) -> int:
    for path in make_migration(args.name):
        print(f"Created {path}")
    return 0


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
