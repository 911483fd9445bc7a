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

from .config import Settings, load_settings
from .db.runner import get_migration_status, rollback_migrations, run_migrations
from .db.scaffold import make_migration, make_seed
from .db.seeds import run_seeds, seeds_directory
from .db.session import Session, session_scope
from .errors import ServiceError
from .logging_setup import configure_logging

Command = Callable[[argparse.Namespace, Settings], int]


def connected(settings: Settings) -> AbstractContextManager[Session]:
    """A session on the configured database, waiting DB_CONNECT_TIMEOUT for it."""
    return session_scope(settings.database, wait=settings.connect_timeout)


def migrate(_: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        result = run_migrations(session, lock_timeout=settings.migration_lock_timeout)
    if not result.applied:
        print(f"Nothing to migrate: {settings.database.describe()} is up to date.")
        return 0
    print(f"Applied {len(result.applied)} migration(s) in batch {result.batch}:")
    for name in result.applied:
        print(f"  {name}")
    return 0


def rollback(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        result = rollback_migrations(
            session, lock_timeout=settings.migration_lock_timeout, all_batches=args.all
        )
    if not result.rolled_back:
        print("Nothing to roll back: no migration is applied.")
        return 0
    batches = ", ".join(str(batch) for batch in result.batches)
    print(f"Rolled back {len(result.rolled_back)} migration(s) of batch {batches}:")
    for name in result.rolled_back:
        print(f"  {name}")
    return 0


def status(_: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        state = get_migration_status(session)
    print(f"Database: {settings.database.describe()}")
    print(f"Completed: {len(state.completed)}")
    for done in state.completed:
        applied_at = done.applied_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        print(f"  {done.name}  batch {done.batch}  applied {applied_at}")
    print(f"Pending: {len(state.pending)}")
    for name in state.pending:
        print(f"  {name}")
    return 0


def list_migrations(_: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        state = get_migration_status(session)
    for done in state.completed:
        print(f"[x] {done.name} (batch {done.batch})")
    for name in state.pending:
        print(f"[ ] {name} (pending)")
    return 0


def new_migration(args: argparse.Namespace, _: Settings) -> int:
    for path in make_migration(args.name):
        print(f"Created {path}")
    return 0


def new_seed(args: argparse.Namespace, _: Settings) -> int:
    print(f"Created {make_seed(args.name, seeds_directory())}")
    return 0


def seed(_: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as session:
        names = run_seeds(session, production=settings.is_production)
    print(f"Ran {len(names)} seed(s): {', '.join(names) or 'none'}")
    return 0


def serve(_: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from .app import create_app
    from .startup import prepare_database

    prepare_database(settings)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
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

    add("migrate", migrate, "apply pending migrations as one batch", aliases=["migrate-latest"])
    add("rollback", rollback, "undo the last batch of migrations").add_argument(
        "--all", action="store_true", help="undo every batch"
    )
    add("status", status, "show completed and pending migrations")
    add("list", list_migrations, "list every migration with its state")
    add("make-migration", new_migration, "create a migration and its rollback file").add_argument("name")
    add("make-seed", new_seed, "create a seed file").add_argument("name")
    add("seed", seed, "run the seed files (not in production)")
    add("serve", serve, "migrate (when AUTO_MIGRATE is on), then serve HTTP")
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
