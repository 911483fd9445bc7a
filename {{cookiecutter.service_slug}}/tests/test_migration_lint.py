"""`lint-migrations` (make migrate-lint): squawk on the PostgreSQL migrations, run as a user runs it.

Each test works on a copy of the package and of `.squawk.toml`, so that it can
add migration files; the command runs in a child process from the copy's root,
with squawk from this environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.errors import INSTALL, Remedy
from {{ cookiecutter.package_name }}.migrator.lint_results import LintError
from {{ cookiecutter.package_name }}.migrator.lint_squawk import find_squawk
from conftest import SOURCE_ROOT, target_url
from helpers_postgresql import postgres_schema_target, postgres_server

PACKAGE = "{{ cookiecutter.package_name }}"
FIRST = "0001_create_users_table"


@dataclass(frozen=True)
class Project:
    """A copy of this service's package and squawk configuration."""

    root: Path

    @property
    def migrations(self) -> Path:
        return self.root / "src" / PACKAGE / "migrations" / "postgresql"

    def add(self, name: str, forward: str, rollback: str | None = None) -> Path:
        """Write migration `name` (and its rollback file); the path of the migration, from the root."""
        path = self.migrations / f"{name}.sql"
        path.write_text(f"-- {name}: written by a test.\n{forward}\n", encoding="utf-8")
        if rollback is not None:
            path.with_name(f"{name}.rollback.sql").write_text(f"{rollback}\n", encoding="utf-8")
        return path.relative_to(self.root)

    def run(self, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
        """This copy's command line, from its root (as make runs it)."""
        environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        return subprocess.run(
            [sys.executable, "-m", PACKAGE, *args],
            cwd=self.root,
            env={
                **environment,
                "PYTHONPATH": str(self.root / "src"),
                "APP_ENV": "development",
                "LOG_LEVEL": "WARNING",
                **variables,
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def lint(self, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
        return self.run("lint-migrations", *args, **variables)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    shutil.copytree(
        SOURCE_ROOT / PACKAGE, root / "src" / PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(SOURCE_ROOT.parent / ".squawk.toml", root / ".squawk.toml")
    return Project(root)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A DATABASE_URL for a fresh, empty PostgreSQL schema."""
    with postgres_schema_target(postgres_server()) as target:
        yield target_url(target)


def linted(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The files the command says it linted."""
    return [
        line.strip() for line in result.stdout.splitlines() if line.startswith("  ") and "skipped" not in line
    ]


PROBLEM = re.compile(r"^(\S+):(\d+):\d+: ([a-z-]+): ", re.MULTILINE)


def problems(result: subprocess.CompletedProcess[str]) -> list[tuple[str, int, str]]:
    """Each problem the command reported: file, line and squawk rule."""
    return [(file, int(line), rule) for file, line, rule in PROBLEM.findall(result.stdout)]


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@dataclass(frozen=True)
class Pattern:
    """A dangerous statement, the squawk rule that catches it, and its safe version
    (one or more migrations, each with its header)."""

    rule: str
    dangerous: str
    safe: tuple[str, ...]


PATTERNS = {
    "index-without-concurrently": Pattern(
        "require-concurrent-index-creation",
        "CREATE INDEX users_name_idx ON users (name);",
        ("-- transactional: false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);",),
    ),
    "set-not-null": Pattern(
        "adding-not-nullable-field",
        "ALTER TABLE users ALTER COLUMN verification_token SET NOT NULL;",
        (
            "ALTER TABLE users ADD CONSTRAINT users_token_not_null\n"
            "    CHECK (verification_token IS NOT NULL) NOT VALID;",
            "ALTER TABLE users VALIDATE CONSTRAINT users_token_not_null;\n"
            "ALTER TABLE users ALTER COLUMN verification_token SET NOT NULL;",
        ),
    ),
    "column-with-volatile-default": Pattern(
        "adding-field-with-default",
        "ALTER TABLE users ADD COLUMN public_id UUID DEFAULT gen_random_uuid();",
        (
            "ALTER TABLE users ADD COLUMN public_id UUID NULL;\n"
            "ALTER TABLE users ALTER COLUMN public_id SET DEFAULT gen_random_uuid();",
        ),
    ),
    "column-type-change": Pattern(
        "changing-column-type",
        "ALTER TABLE users ALTER COLUMN name TYPE TEXT;",
        ("ALTER TABLE users ADD COLUMN full_name TEXT NULL;",),
    ),
    "foreign-key-without-not-valid": Pattern(
        "adding-foreign-key-constraint",
        "ALTER TABLE users ADD CONSTRAINT users_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams (id);",
        (
            "ALTER TABLE users ADD CONSTRAINT users_team_id_fkey\n"
            "    FOREIGN KEY (team_id) REFERENCES teams (id) NOT VALID;",
            "ALTER TABLE users VALIDATE CONSTRAINT users_team_id_fkey;",
        ),
    ),
    "check-without-not-valid": Pattern(
        "constraint-missing-not-valid",
        "ALTER TABLE users ADD CONSTRAINT users_name_not_blank CHECK (name <> '');",
        (
            "ALTER TABLE users ADD CONSTRAINT users_name_not_blank CHECK (name <> '') NOT VALID;",
            "ALTER TABLE users VALIDATE CONSTRAINT users_name_not_blank;",
        ),
    ),
}


def test_the_shipped_migrations_and_their_rollbacks_pass(project: Project) -> None:
    result = project.lint("--all")

    assert result.returncode == 0, result.stdout + result.stderr
    assert [Path(path).name for path in linted(result)] == [f"{FIRST}.sql", f"{FIRST}.rollback.sql"]
    assert result.stdout.endswith("No problems found.\n")


@pytest.mark.parametrize("pattern", PATTERNS.values(), ids=PATTERNS.keys())
def test_a_dangerous_migration_fails_naming_the_file_the_line_and_the_rule(
    project: Project, pattern: Pattern
) -> None:
    path = project.add("0002_dangerous", pattern.dangerous)

    result = project.lint(str(path))

    assert result.returncode == 1, result.stdout + result.stderr
    # The statement is on the file's second line, after the name comment.
    assert (str(path), 2, pattern.rule) in problems(result), result.stdout
    assert "problem(s) in 1 file(s)" in result.stdout


@pytest.mark.parametrize("pattern", PATTERNS.values(), ids=PATTERNS.keys())
def test_its_safe_version_passes(project: Project, pattern: Pattern) -> None:
    paths = [project.add(f"{number:04d}_safe", sql) for number, sql in enumerate(pattern.safe, start=2)]

    result = project.lint(*map(str, paths))

    assert result.returncode == 0, result.stdout + result.stderr
    assert linted(result) == [str(path) for path in paths]


def test_concurrently_in_a_transactional_migration_fails_as_it_would_at_run_time(project: Project) -> None:
    # (squawk says nothing of a file whose only statement this is; the runner
    # then refuses it when it runs, and applies nothing.)
    path = project.add(
        "0002_add_nickname",
        "ALTER TABLE users ADD COLUMN nickname TEXT NULL;\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_nickname_idx ON users (nickname);",
    )

    result = project.lint(str(path))

    assert result.returncode == 1
    assert problems(result) == [(str(path), 3, "ban-concurrent-index-creation-in-transaction")]


def test_a_non_transactional_migration_must_be_safe_to_run_again(project: Project) -> None:
    statement = "ALTER TABLE users ADD COLUMN nickname TEXT NULL;"
    outside = project.add("0002_outside", f"-- transactional: false\n{statement}")
    inside = project.add("0003_inside", statement)

    result = project.lint(str(outside), str(inside))

    assert result.returncode == 1
    assert problems(result) == [(str(outside), 3, "prefer-robust-stmts")]


def test_a_rollback_may_drop_what_its_migration_added_but_a_migration_may_not(project: Project) -> None:
    forward = project.add(
        "0002_add_nickname",
        "ALTER TABLE users ADD COLUMN nickname TEXT NULL;",
        rollback="ALTER TABLE users DROP COLUMN nickname;",
    )
    dropping = project.add("0003_drop_nickname", "ALTER TABLE users DROP COLUMN nickname;")
    rollback = forward.with_name("0002_add_nickname.rollback.sql")

    result = project.lint(str(forward), str(rollback), str(dropping))

    assert result.returncode == 1
    assert linted(result) == [str(forward), str(rollback), str(dropping)]
    assert problems(result) == [(str(dropping), 2, "ban-drop-column")]


def test_a_rollback_outside_a_transaction_must_drop_its_index_concurrently(project: Project) -> None:
    forward = project.add(
        "0002_add_users_name_index",
        "-- transactional: false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);",
        rollback="DROP INDEX IF EXISTS users_name_idx;",
    )
    rollback = forward.with_name("0002_add_users_name_index.rollback.sql")

    blocking = project.lint(str(forward), str(rollback))
    (project.root / rollback).write_text(
        "DROP INDEX CONCURRENTLY IF EXISTS users_name_idx;\n", encoding="utf-8"
    )
    concurrent = project.lint(str(forward), str(rollback))

    assert blocking.returncode == 1
    assert problems(blocking) == [(str(rollback), 1, "require-concurrent-index-deletion")]
    assert concurrent.returncode == 0, concurrent.stdout


def test_files_lints_only_the_files_given(project: Project) -> None:
    project.add("0002_dangerous", PATTERNS["index-without-concurrently"].dangerous)
    safe = project.add("0003_safe", PATTERNS["index-without-concurrently"].safe[0])

    result = project.lint(str(safe))

    assert result.returncode == 0, result.stdout
    assert "(the files given)" in result.stdout
    assert linted(result) == [str(safe)]


def test_all_lints_every_migration_and_rollback_file(project: Project) -> None:
    dangerous = project.add("0002_dangerous", PATTERNS["index-without-concurrently"].dangerous, rollback="")

    result = project.lint("--all")

    assert result.returncode == 1
    assert [Path(path).name for path in linted(result)] == [
        f"{FIRST}.sql",
        f"{FIRST}.rollback.sql",
        "0002_dangerous.sql",
        "0002_dangerous.rollback.sql",
    ]
    assert problems(result) == [(str(dangerous), 2, "require-concurrent-index-creation")]


def test_by_default_it_lints_only_what_the_database_has_not_applied(
    project: Project, postgres_url: str
) -> None:
    # Applied (with 0001) before the linter was run: not linted again by default.
    applied = project.add("0002_applied", PATTERNS["index-without-concurrently"].dangerous)
    migrated = project.run("migrate", DATABASE_URL=postgres_url)
    assert migrated.returncode == 0, migrated.stderr
    pending = project.add(
        "0003_pending",
        "ALTER TABLE users ADD COLUMN nickname TEXT NULL;",
        "ALTER TABLE users DROP COLUMN nickname;",
    )

    by_default = project.lint(DATABASE_URL=postgres_url)
    every = project.lint("--all", DATABASE_URL=postgres_url)
    project.run("migrate", DATABASE_URL=postgres_url)
    up_to_date = project.lint(DATABASE_URL=postgres_url)

    assert by_default.returncode == 0, by_default.stdout + by_default.stderr
    assert "(those not yet applied on postgresql://" in by_default.stdout
    assert linted(by_default) == [str(pending), str(pending.with_name("0003_pending.rollback.sql"))]
    assert every.returncode == 1
    assert problems(every) == [(str(applied), 2, "require-concurrent-index-creation")]
    assert up_to_date.returncode == 0
    assert up_to_date.stdout.startswith("Nothing to lint: every migration is applied on postgresql://")
{%- if cookiecutter.database == "postgresql+sqlite" %}


def test_by_default_on_sqlite_it_lints_every_postgresql_migration(project: Project, tmp_path: Path) -> None:
    # A SQLite database cannot say which PostgreSQL migrations production has applied.
    result = project.lint(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.db'}")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "(every migration: sqlite:///" in result.stdout
    assert [Path(path).parent.name for path in linted(result)] == ["postgresql", "postgresql"]
    assert not (tmp_path / "dev.db").exists()
{%- endif %}


def test_by_default_with_the_database_down_it_says_so_in_one_line(project: Project) -> None:
    result = project.lint(DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere", DB_CONNECT_TIMEOUT="1")

    assert one_error_line(result).startswith(
        "error: cannot connect to postgresql://postgres@127.0.0.1:1/nowhere"
    )


def test_a_missing_file_is_one_error_line(project: Project) -> None:
    result = project.lint("0002_nowhere.sql")

    assert one_error_line(result) == "error: no such migration file: 0002_nowhere.sql"


def test_a_broken_configuration_is_one_error_line(project: Project) -> None:
    (project.root / ".squawk.toml").write_text("excluded_rules = [\n", encoding="utf-8")

    result = project.lint("--all")

    assert one_error_line(result).startswith("error: .squawk.toml is not valid TOML: ")


def test_a_configuration_value_of_the_wrong_type_is_one_error_line(project: Project) -> None:
    (project.root / ".squawk.toml").write_text('excluded_rules = "prefer-text-field"\n', encoding="utf-8")

    result = project.lint("--all")

    assert one_error_line(result) == (
        "error: excluded_rules in .squawk.toml has value 'prefer-text-field': expected a list of strings"
    )


def test_excluded_paths_are_skipped_and_said_to_be(project: Project) -> None:
    dangerous = project.add("0002_dangerous", PATTERNS["index-without-concurrently"].dangerous)
    config = project.root / ".squawk.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\nexcluded_paths = ["*/0002_dangerous.sql"]\n')

    result = project.lint("--all")

    assert result.returncode == 0, result.stdout
    assert f"  skipped {dangerous}: excluded_paths in .squawk.toml" in result.stdout
    assert str(dangerous) not in linted(result)


def test_without_squawk_the_error_says_to_install_the_dev_dependencies(tmp_path: Path) -> None:
    # Nothing beside this (pretend) interpreter, nothing on the search path.
    with pytest.raises(
        LintError, match=r"squawk is not installed: .*\(squawk-cli is a dev dependency\)$"
    ) as raised:
        find_squawk(python=tmp_path / "bin" / "python", search_path=str(tmp_path))

    assert raised.value.remedies == (Remedy(INSTALL, purpose="install it"),)


def test_squawk_is_found_beside_the_interpreter_first() -> None:
    assert find_squawk(search_path="") == Path(sys.executable).parent / "squawk"


def test_a_new_migration_comes_with_a_reminder_and_passes(project: Project) -> None:
    made = project.run("make-migration", "add_nickname")
    *created, reminder = made.stdout.strip().splitlines()
    postgresql = [line.removeprefix("Created ") for line in created if "/postgresql/" in line]

    result = project.lint(*postgresql)

    assert made.returncode == 0, made.stderr
    assert reminder == "Check it with: make migrate-lint (squawk, on the PostgreSQL files)"
    assert [Path(path).name for path in postgresql] == [
        "0002_add_nickname.sql",
        "0002_add_nickname.rollback.sql",
    ]
    assert result.returncode == 0, result.stdout
    assert len(linted(result)) == 2
