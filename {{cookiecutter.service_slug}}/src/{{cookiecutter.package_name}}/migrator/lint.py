"""`migrate-lint`: squawk, the PostgreSQL migration linter, told how the runner runs each file.

squawk reads one SQL file at a time and cannot know how it will run, so this
module tells it, file by file:

- a migration runs in one transaction unless its header says
  `-- transactional: false` (read with yoyo's own parser, as the runner reads
  it), and is linted as in a transaction or outside one accordingly;
- a rollback file runs the way its migration does, and is linted the same way,
  except for the rules against removing things (ROLLBACK_EXCLUDED_RULES):
  removing what its migration added is what a rollback is for.

The rules themselves, and why each noisy one is on or off, are in the
project's `.squawk.toml` (read by lint_config.py). squawk ships as a binary
inside the squawk-cli wheel (lint_squawk.py finds and runs it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from ..database.session import Session
from .lint_config import LintConfig, read_config
from .lint_results import LintError, LintFile, LintResult, Violation, read_text, shown
from .lint_squawk import find_squawk, run_squawk
from .runner import pending_migrations
from .sources import ROLLBACK_SUFFIX, MigrationSource
from .yoyo_adapter import header_transactional

# A rollback removes what its migration added: a table, a column, a
# constraint, a NOT NULL, a default. These rules guard running code against
# losing what it reads; a rollback runs when that code is being withdrawn.
ROLLBACK_EXCLUDED_RULES: Final = (
    "ban-drop-column",
    "ban-drop-default",
    "ban-drop-constraint",
    "ban-drop-not-null",
    "ban-drop-table",
)
# Inside a transaction an index cannot be dropped CONCURRENTLY; and a
# transactional migration may only build indexes on tables it created itself
# (squawk's require-concurrent-index-creation says so), which its rollback drops.
ROLLBACK_IN_TRANSACTION_EXCLUDED_RULES: Final = ("require-concurrent-index-deletion",)


def all_migration_files() -> list[Path]:
    """Every PostgreSQL migration file and rollback file, in order."""
    source = MigrationSource.for_dialect("postgresql")
    return migration_files(source, source.migration_ids())


def pending_migration_files(session: Session) -> list[Path]:
    """The files of the PostgreSQL migrations that `session`'s database has not applied."""
    source = MigrationSource.for_dialect("postgresql")
    return migration_files(source, pending_migrations(session, source))


def migration_files(source: MigrationSource, ids: Iterable[str]) -> list[Path]:
    """Each migration's file and, when it has one, its rollback file, in order."""
    paths: list[Path] = []
    for migration_id in ids:
        paths.append(source.path(migration_id))
        rollback = source.rollback_path(migration_id)
        if rollback is not None and rollback.is_file():
            paths.append(rollback)
    return paths


def lint_files(
    names: Sequence[Path | str], *, config: Path | None = None, squawk: Path | None = None
) -> LintResult:
    """Run squawk on these files: one run per way of running them (see the module's docstring)."""
    paths = [Path(name) for name in names]
    missing = [shown(path) for path in paths if not path.is_file()]
    if missing:
        raise LintError(f"no such migration file: {', '.join(missing)}")
    settings = read_config(config)
    files, skipped = _select(paths, settings)
    if not files:
        return LintResult(linted=[], violations=[], skipped=skipped)
    squawk = squawk or find_squawk()
    violations: list[Violation] = []
    for rollback in (False, True):
        for in_transaction in (True, False):
            group = [f for f in files if f.rollback == rollback and f.in_transaction == in_transaction]
            if group:
                command = squawk_command(squawk, settings, rollback=rollback, in_transaction=in_transaction)
                violations += run_squawk([*command, "--", *(f.shown for f in group)])
    return LintResult(linted=files, violations=violations, skipped=skipped)


def _select(paths: list[Path], settings: LintConfig) -> tuple[list[LintFile], list[tuple[Path, str]]]:
    """The files squawk is given, each with how it runs; and those it is not, with why."""
    skipped: list[tuple[Path, str]] = []
    files: list[LintFile] = []
    for path in paths:
        if path.suffix != ".sql":
            skipped.append((path, "not SQL (squawk reads SQL files only)"))
        elif settings.excludes(path):
            skipped.append((path, f"excluded_paths in {shown(settings.path)}"))
        else:
            files.append(classify(path))
    return files, skipped


def squawk_command(squawk: Path, settings: LintConfig, *, rollback: bool, in_transaction: bool) -> list[str]:
    """squawk's command line for the files that run this way (the files come after it)."""
    command = [
        str(squawk),
        f"--config={settings.path}",
        "--reporter=json",
        # Every path was checked above; squawk need not complain again
        # about a file that its own excluded_paths leaves out.
        "--no-error-on-unmatched-pattern",
        "--assume-in-transaction" if in_transaction else "--no-assume-in-transaction",
    ]
    if rollback:
        # --exclude replaces the configuration's list, so it carries that list too.
        rules = [*settings.excluded_rules, *ROLLBACK_EXCLUDED_RULES]
        if in_transaction:
            rules += ROLLBACK_IN_TRANSACTION_EXCLUDED_RULES
        command.append(f"--exclude={','.join(dict.fromkeys(rules))}")
    return command


def classify(path: Path) -> LintFile:
    """A file with how the runner runs it: a rollback runs the way its migration does."""
    if path.name.endswith(ROLLBACK_SUFFIX):
        forward = path.with_name(path.name[: -len(ROLLBACK_SUFFIX)] + ".sql")
        in_transaction = runs_in_transaction(forward) if forward.is_file() else True
        return LintFile(path, rollback=True, in_transaction=in_transaction)
    return LintFile(path, rollback=False, in_transaction=runs_in_transaction(path))


def runs_in_transaction(path: Path) -> bool:
    """False when the file's header says `-- transactional: false`, read as yoyo reads it."""
    return header_transactional(read_text(path))
