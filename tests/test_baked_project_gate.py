"""Each supported bake passes its own gate: ruff, mypy --strict, and its tests.

The baked projects run with this suite's environment (its `service` group holds
what they need), on SQLite and on the PostgreSQL of TEST_DATABASE_URL. With
REQUIRE_POSTGRES=1 a baked suite fails rather than skip its PostgreSQL tests.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.baking import bake, clean_environment
from tests.combinations import SUPPORTED_COMBINATIONS
from tests.databases import fresh_database

DIALECTS = {
    "postgresql+sqlite": ["postgresql", "sqlite"],
    "postgresql": ["postgresql"],
    "sqlite": ["sqlite"],
}
SHELL_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.MULTILINE | re.DOTALL)
# The first line of each migration file the guide shows: a comment naming it.
EXAMPLE_FILE = re.compile(r"^-- (\d{4}_[a-z0-9_]+(?:\.rollback)?\.sql)\n", re.MULTILINE)


def run_in(
    project: Path, *command: str, python_path: Path | None = None, **variables: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=project,
        env=clean_environment(PYTHONPATH=str(python_path or project / "src"), **variables),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@dataclass(frozen=True)
class Bake:
    answers: dict[str, str]
    project: Path

    @property
    def dialects(self) -> list[str]:
        return DIALECTS[self.answers["database"]]


@pytest.fixture(scope="module", params=SUPPORTED_COMBINATIONS)
def baked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Bake:
    answers: dict[str, str] = request.param
    return Bake(answers, bake(tmp_path_factory.mktemp("gate"), answers))


def test_baked_project_passes_ruff(baked: Bake) -> None:
    result = run_in(baked.project, "ruff", "check", "--no-cache", ".")
    formatted = run_in(baked.project, "ruff", "format", "--no-cache", "--check", ".")

    assert result.returncode == 0, result.stdout + result.stderr
    # The pre-commit hook formats: a first commit must not rewrite the template's code.
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_baked_project_passes_mypy_strict(baked: Bake) -> None:
    result = run_in(baked.project, "mypy", "--cache-dir", str(baked.project / ".mypy_cache"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_baked_project_keeps_its_layers(baked: Bake) -> None:
    """import-linter: each layer imports only those below it (the baked pyproject's contracts)."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=baked.project,
        env=clean_environment(PYTHONPATH=str(baked.project / "src")),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_baked_project_passes_its_own_tests(baked: Bake) -> None:
    result = run_in(baked.project, "pytest", "-q", "-p", "no:cacheprovider")

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), summary
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        # pytest -ra lists each skip with its reason: with a server required,
        # only the Citus and PgBouncer tests may skip, each only when not required.
        skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
        allowed = tuple(
            reason
            for variable, reason in (
                ("REQUIRE_CITUS", "CITUS_TEST_URL is unset"),
                ("REQUIRE_PGBOUNCER", "pgbouncer is not installed"),
            )
            if os.environ.get(variable) != "1"
        )
        assert all(any(reason in line for reason in allowed) for line in skips), "\n".join(skips)


def test_installed_wheel_ships_and_finds_its_migrations(baked: Bake, tmp_path: Path) -> None:
    package = "auth_service"
    built = run_in(
        baked.project, "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = tmp_path.glob("*.whl")
    site = tmp_path / "site"
    installed = run_in(baked.project, "pip", "install", "--no-deps", "--target", str(site), str(wheel))
    assert installed.returncode == 0, installed.stdout + installed.stderr

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    for dialect in baked.dialects:
        assert f"{package}/migrations/{dialect}/0001_create_users_table.sql" in names
        assert f"{package}/migrations/{dialect}/0001_create_users_table.rollback.sql" in names
        finder = (
            f"from {package}.migrator.sources import MigrationSource; "
            f"source = MigrationSource.for_dialect({dialect!r}); "
            "print(source.directory); print(source.migration_ids())"
        )
        result = subprocess.run(
            [sys.executable, "-c", finder],
            cwd=tmp_path,
            env=clean_environment(PYTHONPATH=str(site)),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        directory, ids = result.stdout.splitlines()
        assert Path(directory).is_relative_to(site)
        assert ids == "['0001_create_users_table']"
    if "sqlite" in baked.dialects:
        migrated = run_in(
            tmp_path, package, "migrate", python_path=site, DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}"
        )
        assert migrated.returncode == 0, migrated.stderr
        assert "Applied 1 migration(s) in batch 1" in migrated.stdout


def guide_commands(project: Path) -> list[str]:
    """Every command of the migration guide's shell examples, in order."""
    guide = (project / "docs" / "migrations.md").read_text(encoding="utf-8")
    lines = (
        line.split("#", 1)[0].strip() for block in SHELL_BLOCK.findall(guide) for line in block.splitlines()
    )
    return [line for line in lines if line]


@contextmanager
def guide_database(baked: Bake, tmp_path: Path) -> Iterator[str]:
    """SQLite for a SQLite-only service; otherwise a fresh PostgreSQL database
    (tenant commands need one), dropped afterwards."""
    if baked.dialects == ["sqlite"]:
        yield f"sqlite:///{tmp_path / 'guide.db'}"
        return
    with fresh_database("guide") as url:
        yield url


def copy_for_make(baked: Bake, tmp_path: Path) -> Path:
    """A copy of the project, which the examples may add migration files to
    (the other gates must not see them), whose Makefile runs with this suite's
    interpreter in place of the project's .venv (marked as installed)."""
    project = Path(shutil.copytree(baked.project, tmp_path / "project"))
    (project / ".venv").mkdir()
    (project / ".venv" / ".installed").touch()
    return project


def make(project: Path, command: str, database_url: str) -> subprocess.CompletedProcess[str]:
    """A make command, exactly as a user types it."""
    program, *arguments = shlex.split(command)
    assert program == "make", command
    overrides = [f"VENV_PYTHON={sys.executable}", f"POETRY={sys.executable}"]
    return subprocess.run(
        ["make", "--no-print-directory", *arguments, *overrides],
        cwd=project,
        env=clean_environment(
            PYTHONPATH=str(project / "src"), DATABASE_URL=database_url, LOG_LEVEL="WARNING"
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_migration_guides_examples_run(baked: Bake, tmp_path: Path) -> None:
    project = copy_for_make(baked, tmp_path)
    commands = guide_commands(project)
    assert commands[:2] == ["make migrate", "make migrate-status"]
    if baked.answers["tenancy"] == "schema-per-tenant":
        assert "make tenant-create TENANT=acme" in commands
    if "postgresql" in baked.dialects:
        assert "make migrate-lint ALL=1" in commands

    with guide_database(baked, tmp_path) as url:
        for command in commands:
            result = make(project, command, url)
            assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
            assert result.stdout.strip(), command


def safe_pattern_files(project: Path) -> dict[str, str]:
    """The migration files of the guide's "Safe patterns" section, by name: a
    ```sql block holds one file or more, each opening with a comment naming it."""
    guide = (project / "docs" / "migrations.md").read_text(encoding="utf-8")
    start = guide.index("\n## Safe patterns\n")
    section = guide[start : guide.index("\n## ", start + 1)]
    files: dict[str, str] = {}
    for block in SQL_BLOCK.findall(section):
        before, *named = EXAMPLE_FILE.split(block)
        assert before.strip() == "", f"a ```sql block that names no file: {block}"
        for name, body in zip(named[::2], named[1::2], strict=True):
            assert name not in files, f"{name} is shown twice"
            files[name] = f"-- {name}\n{body.strip()}\n"
    return files


# What the guide's examples leave behind, once applied: one row per column,
# index, constraint and table of the public schema, with what defines it.
CATALOG = """
SELECT format('column %s.%s %s null=%s default=%s', table_name, column_name, data_type, is_nullable,
              column_default)
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT format('index %s valid=%s', c.relname, i.indisvalid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace
UNION ALL
SELECT format('constraint %s %s validated=%s', conname, pg_get_constraintdef(oid), convalidated)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
ORDER BY 1
"""


def catalog(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        return {row[0] for row in connection.execute(CATALOG)}


def test_the_migration_guides_safe_patterns_pass_the_linter_apply_and_roll_back(
    baked: Bake, tmp_path: Path
) -> None:
    guide = (baked.project / "docs" / "migrations.md").read_text(encoding="utf-8")
    if "postgresql" not in baked.dialects:
        # A SQLite-only service has no linter, and its guide says nothing of one.
        assert "migrate-lint" not in guide
        assert "## Safe patterns" not in guide
        return
    project = copy_for_make(baked, tmp_path)
    files = safe_pattern_files(project)
    forward = sorted(name for name in files if not name.endswith(".rollback.sql"))
    # One series after 0001, each migration with its rollback file.
    assert [name[:4] for name in forward] == [f"{n:04d}" for n in range(2, 2 + len(forward))]
    assert sorted(files) == sorted([*forward, *(f"{name[:-4]}.rollback.sql" for name in forward)])
    migrations = project / "src" / "auth_service" / "migrations" / "postgresql"

    with fresh_database("patterns") as url:
        assert make(project, "make migrate", url).returncode == 0
        before = catalog(url)
        with psycopg.connect(url) as connection:
            # 2,500 users, so that each backfill runs three batches; every other
            # one has logged in, so that the rename has values to carry over.
            connection.execute(
                "INSERT INTO users (email, password_hash, name, last_login_at)"
                " SELECT format('u%s@example.com', n), 'x', format('User %s', n),"
                " CASE WHEN n % 2 = 0 THEN now() - n * interval '1 minute' END"
                " FROM generate_series(1, 2500) AS n"
            )
            logged_in = {row[0]: row[1] for row in connection.execute("SELECT id, last_login_at FROM users")}
        for name, text in files.items():
            (migrations / name).write_text(text, encoding="utf-8")

        linted = make(project, "make migrate-lint", url)
        migrated = make(project, "make migrate", url)
        applied = catalog(url)
        with psycopg.connect(url) as connection:
            public_ids = connection.execute("SELECT count(DISTINCT public_id) FROM users").fetchone()
            seen = {row[0]: row[1] for row in connection.execute("SELECT id, last_seen_at FROM users")}
        rolled_back = make(project, "make migrate-rollback", url)
        after = catalog(url)

    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert all(f"postgresql/{name}\n" in linted.stdout for name in files), linted.stdout
    assert "No problems found." in linted.stdout
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert f"Applied {len(forward)} migration(s) in batch 2:" in migrated.stdout
    # Each pattern did what the guide says.
    assert "index users_name_idx valid=t" in applied
    assert "constraint users_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams(id) validated=t" in applied
    assert "column users.public_id uuid null=NO default=gen_random_uuid()" in applied
    assert not any("users_public_id_not_null" in line for line in applied)
    assert public_ids == (2500,)
    assert seen == logged_in
    assert not any(line.startswith("column users.last_login_at ") for line in applied)
    # And the rollback put the schema back exactly as it was.
    assert rolled_back.returncode == 0, rolled_back.stdout + rolled_back.stderr
    assert f"Rolled back {len(forward)} migration(s) of batch 2:" in rolled_back.stdout
    assert after == before
