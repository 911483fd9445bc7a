"""`lint-migrations`: squawk on the PostgreSQL migrations (services with PostgreSQL)."""

from __future__ import annotations

import argparse

from ..config import Settings
from ..migrator.lint import all_migration_files, lint_files, pending_migration_files
from .commands import Command, Commands, connected
from .remedies import MakeTarget


def extend(commands: Commands) -> None:
    command = commands.add(
        "lint-migrations",
        lint_migrations,
        "lint the PostgreSQL migrations with squawk",
        make=MakeTarget("migrate-lint", {"all": "ALL", "files": "FILES"}),
    )
    command.add_argument("--all", action="store_true", help="every migration, applied or not")
    command.add_argument("files", nargs="*", help="these files only")
    commands.wrap("make-migration", _then_suggest_linting)


def lint_migrations(args: argparse.Namespace, settings: Settings) -> int:
    """squawk on the PostgreSQL migrations: the files given, all, or those not yet applied."""
    database = settings.migration_database.describe()
    if args.files:
        paths, scope = args.files, "the files given"
    elif args.all:
        paths, scope = all_migration_files(), "every migration"
    elif settings.migration_database.dialect != "postgresql":
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


def _then_suggest_linting(new_migration: Command) -> Command:
    def new_migration_then_suggest_linting(args: argparse.Namespace, settings: Settings) -> int:
        code = new_migration(args, settings)
        print("Check it with: make migrate-lint (squawk, on the PostgreSQL files)")
        return code

    return new_migration_then_suggest_linting
