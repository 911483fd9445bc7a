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
project's `.squawk.toml`. squawk ships as a binary inside the squawk-cli wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Final

from ..database.session import Session
from ..errors import ServiceError
from .runner import pending_migrations
from .sources import ROLLBACK_SUFFIX, MigrationSource
from .yoyo_adapter import header_transactional

CONFIG_NAME: Final = ".squawk.toml"
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
SQUAWK_TIMEOUT: Final = 300.0


class LintError(ServiceError):
    """The linter could not run: squawk or its configuration is missing, or a file is."""


@dataclass(frozen=True)
class LintFile:
    """One SQL file, with how the runner runs it."""

    path: Path
    rollback: bool
    in_transaction: bool

    @property
    def shown(self) -> str:
        return shown(self.path)


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    column: int
    rule: str
    message: str
    help: str | None = None

    def __str__(self) -> str:
        advice = f" {self.help}" if self.help else ""
        return f"{self.file}:{self.line}:{self.column}: {self.rule}: {self.message}{advice}"


@dataclass(frozen=True)
class LintResult:
    linted: list[LintFile]
    violations: list[Violation]
    # Files squawk was not given, each with the reason.
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations

    def report(self, scope: str) -> list[str]:
        """What the command prints: the files, each problem on one line, a summary."""
        lines = [f"Linting {len(self.linted)} file(s) with squawk ({scope}):"]
        lines += [f"  {file.shown}" for file in self.linted]
        lines += [f"  skipped {shown(path)}: {reason}" for path, reason in self.skipped]
        lines += [str(violation) for violation in self.violations]
        if self.passed:
            lines.append("No problems found.")
        else:
            files = len({violation.file for violation in self.violations})
            lines.append(
                f"{len(self.violations)} problem(s) in {files} file(s): see the migration guide's "
                "safe patterns (docs/migrations.md)"
            )
        return lines


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
    config = config or find_config()
    settings = _read_config(config)
    excluded_paths = _strings(settings, "excluded_paths", config)
    skipped: list[tuple[Path, str]] = []
    files: list[LintFile] = []
    for path in paths:
        if path.suffix != ".sql":
            skipped.append((path, "not SQL (squawk reads SQL files only)"))
        elif any(fnmatch(shown(path), pattern) or fnmatch(path.name, pattern) for pattern in excluded_paths):
            skipped.append((path, f"excluded_paths in {shown(config)}"))
        else:
            files.append(classify(path))
    if not files:
        return LintResult(linted=[], violations=[], skipped=skipped)
    squawk = squawk or find_squawk()
    excluded_rules = _strings(settings, "excluded_rules", config)
    violations: list[Violation] = []
    for rollback in (False, True):
        for in_transaction in (True, False):
            group = [f for f in files if f.rollback == rollback and f.in_transaction == in_transaction]
            if not group:
                continue
            command = [
                str(squawk),
                f"--config={config}",
                "--reporter=json",
                # Every path was checked above; squawk need not complain again
                # about a file that its own excluded_paths leaves out.
                "--no-error-on-unmatched-pattern",
                "--assume-in-transaction" if in_transaction else "--no-assume-in-transaction",
            ]
            if rollback:
                # --exclude replaces the configuration's list, so it carries that list too.
                rules = [*excluded_rules, *ROLLBACK_EXCLUDED_RULES]
                if in_transaction:
                    rules += ROLLBACK_IN_TRANSACTION_EXCLUDED_RULES
                command.append(f"--exclude={','.join(dict.fromkeys(rules))}")
            violations += _run_squawk([*command, "--", *(f.shown for f in group)])
    return LintResult(linted=files, violations=violations, skipped=skipped)


def classify(path: Path) -> LintFile:
    """A file with how the runner runs it: a rollback runs the way its migration does."""
    if path.name.endswith(ROLLBACK_SUFFIX):
        forward = path.with_name(path.name[: -len(ROLLBACK_SUFFIX)] + ".sql")
        in_transaction = runs_in_transaction(forward) if forward.is_file() else True
        return LintFile(path, rollback=True, in_transaction=in_transaction)
    return LintFile(path, rollback=False, in_transaction=runs_in_transaction(path))


def runs_in_transaction(path: Path) -> bool:
    """False when the file's header says `-- transactional: false`, read as yoyo reads it."""
    return header_transactional(_read(path))


def find_squawk(python: Path | None = None, search_path: str | None = None) -> Path:
    """The squawk binary: beside this Python (the virtualenv's bin), else on PATH."""
    python_dir = (python or Path(sys.executable)).parent
    found = shutil.which("squawk", path=str(python_dir)) or shutil.which(
        "squawk", path=os.environ.get("PATH", "") if search_path is None else search_path
    )
    if found is None:
        raise LintError(
            f"squawk is not installed: it is neither in {python_dir} nor on PATH; "
            "run make install (squawk-cli is a dev dependency)"
        )
    return Path(found)


def find_config(start: Path | None = None) -> Path:
    """The project's .squawk.toml: at the root of the checkout this package runs
    from, else in the working directory or one of its parents (where squawk looks)."""
    # src/<package>/migrator/lint.py: three levels up is the checkout's root.
    checkout = list(Path(__file__).resolve().parents[3:4])
    directory = (start or Path.cwd()).resolve()
    for candidate in (*checkout, directory, *directory.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate / CONFIG_NAME
    raise LintError(f"no {CONFIG_NAME} in {directory} or its parents: run the linter from the project's root")


def shown(path: Path) -> str:
    """The path relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LintError(f"cannot read {shown(path)}: {error}") from None


def _read_config(config: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(_read(config))
    except tomllib.TOMLDecodeError as error:
        raise LintError(f"{shown(config)} is not valid TOML: {error}") from None


def _strings(settings: dict[str, Any], key: str, config: Path) -> list[str]:
    value = settings.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise LintError(f"{key} in {shown(config)} has value {value!r}: expected a list of strings")
    return value


def _run_squawk(command: list[str]) -> list[Violation]:
    try:
        done = subprocess.run(  # noqa: S603 - the binary found above, with our own arguments
            command, capture_output=True, text=True, timeout=SQUAWK_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LintError(f"cannot run squawk ({command[0]}): {error}") from None
    try:
        found = json.loads(done.stdout)
    except json.JSONDecodeError:
        found = None
    if done.returncode not in (0, 1) or not isinstance(found, list):
        said = done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}"
        raise LintError(f"squawk failed: {said.splitlines()[0]}")
    try:
        # squawk's JSON counts lines and columns from 0; editors count from 1.
        return [
            Violation(
                file=str(item["file"]),
                line=int(item["line"]) + 1,
                column=int(item["column"]) + 1,
                rule=str(item["rule_name"]),
                message=str(item["message"]),
                help=item.get("help") or None,
            )
            for item in found
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise LintError(f"squawk's report is not in the form this command reads: {error!r}") from None
