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

import pytest
from cookiecutter.main import cookiecutter

from tests.combinations import SUPPORTED_COMBINATIONS
from tests.databases import fresh_database
from tests.hook_rendering import TEMPLATE_ROOT

# Variables of ours that must not leak from the caller into a baked project's run.
DIALECTS = {
    "postgresql+sqlite": ["postgresql", "sqlite"],
    "postgresql": ["postgresql"],
    "sqlite": ["sqlite"],
}
SHELL_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
SERVICE_VARIABLES = (
    "DATABASE_URL",
    "APP_ENV",
    "AUTO_MIGRATE",
    "DB_HOST",
    "DB_USER",
    "DB_PASSWORD",
    "DB_NAME",
)


def bake(output: Path, answers: dict[str, str]) -> Path:
    return Path(
        cookiecutter(str(TEMPLATE_ROOT), no_input=True, output_dir=str(output), extra_context=answers)
    )


def run_in(
    project: Path, *command: str, python_path: Path | None = None, **variables: str
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    env["PYTHONPATH"] = str(python_path or project / "src")
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=project,
        env={**env, **variables},
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


def test_baked_project_passes_its_own_tests(baked: Bake) -> None:
    result = run_in(baked.project, "pytest", "-q", "-p", "no:cacheprovider")

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), summary
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        assert "skipped" not in summary, summary


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
            f"from {package}.db.sources import MigrationSource; "
            f"source = MigrationSource.for_dialect({dialect!r}); "
            "print(source.directory); print(source.migration_ids())"
        )
        result = subprocess.run(
            [sys.executable, "-c", finder],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(site)},
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


def test_the_migration_guides_examples_run(baked: Bake, tmp_path: Path) -> None:
    # A copy: the examples create migration files, which the other gates must not see.
    project = Path(shutil.copytree(baked.project, tmp_path / "project"))
    commands = guide_commands(project)
    assert commands[:2] == ["make migrate", "make migrate-status"]
    if baked.answers["tenancy"] == "schema-per-tenant":
        assert "make tenant-create TENANT=acme" in commands
    # The Makefile's targets, run with this suite's interpreter in place of the
    # project's .venv (marked as installed), exactly as a user types them.
    (project / ".venv").mkdir()
    (project / ".venv" / ".installed").touch()
    overrides = [f"VENV_PYTHON={sys.executable}", f"POETRY={sys.executable}"]
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}

    with guide_database(baked, tmp_path) as url:
        for command in commands:
            make, *arguments = shlex.split(command)
            assert make == "make", command
            result = subprocess.run(
                ["make", "--no-print-directory", *arguments, *overrides],
                cwd=project,
                env={**env, "PYTHONPATH": str(project / "src"), "DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
            assert result.stdout.strip(), command
