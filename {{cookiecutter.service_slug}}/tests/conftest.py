"""Fixtures: a fresh database per test, on every dialect this service supports.

What a dialect needs of its own (a server, a file, a URL) is in its helper
module, helpers_<dialect>.py, which the generator removes from a service
without that dialect; this file finds it by the dialect's name.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, cast

import pytest

from {{ cookiecutter.package_name }}.config import Settings, load_settings
from {{ cookiecutter.package_name }}.database.session import Session, session_scope
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget, Dialect, supported_dialects
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource


class DialectHelpers(Protocol):
    """What each dialect's helper module (helpers_<dialect>.py) offers."""

    def fresh_target(self, tmp_path: Path) -> AbstractContextManager[Any]: ...

    def url(self, target: Any) -> str: ...

    def production_url(self, target: Any) -> str: ...

    def write_drill_migration(self, directory: Path, name: str) -> None: ...

    def inside_the_drill_sleep(self, target: Any, directory: Path, name: str) -> bool: ...

    def schema_snapshot(self, session: Session) -> Any: ...

    def bad_input_values(self, target: Any, encoded_password: str) -> dict[str, str]: ...

    def database_state(self, target: Any) -> object: ...

    def held(self, hold: str, target: Any) -> AbstractContextManager[None]: ...


def dialect_helpers(dialect: Dialect) -> DialectHelpers:
    """The helper module of `dialect`."""
    return cast(DialectHelpers, importlib.import_module(f"helpers_{dialect}"))


@contextmanager
def make_target(dialect: Dialect, tmp_path: Path) -> Iterator[DatabaseTarget]:
    """A fresh, empty database of `dialect`, removed afterwards."""
    with dialect_helpers(dialect).fresh_target(tmp_path) as fresh:
        yield fresh


@pytest.fixture(params=supported_dialects())
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseTarget]:
    """A fresh, empty database of each supported dialect in turn."""
    with make_target(request.param, tmp_path) as fresh:
        yield fresh


@pytest.fixture
def session(target: DatabaseTarget) -> Iterator[Session]:
    with session_scope(target) as opened:
        yield opened


@pytest.fixture
def source_copy(target: DatabaseTarget, tmp_path: Path) -> MigrationSource:
    """A writable copy of the shipped migrations, for tests that add files."""
    directory = tmp_path / "migrations"
    shutil.copytree(MigrationSource.for_dialect(target.dialect).directory, directory)
    return MigrationSource(directory)


def target_url(target: DatabaseTarget) -> str:
    """A DATABASE_URL for `target`, to hand to a subprocess."""
    return dialect_helpers(target.dialect).url(target)


def settings_for(target: DatabaseTarget, **variables: str) -> Settings:
    """The settings of a service on `target`, with `variables` and no .env file."""
    return load_settings({"DATABASE_URL": target_url(target), **variables}, env_file=None)


SOURCE_ROOT = Path(__file__).resolve().parents[1] / "src"


NOT_INHERITED = ("MIGRATION_DATABASE_URL", "DB_PREPARED_STATEMENTS")


def subprocess_env(**variables: str) -> dict[str, str]:
    """The environment for running this service in a child process."""
    python_path = os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]))
    # A developer's own migration URL must never receive a test's migrations.
    inherited = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return {**inherited, "PYTHONPATH": python_path, **variables}


def cli(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run this service's command line in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", *args],
        env=subprocess_env(**{"APP_ENV": "development", "LOG_LEVEL": "WARNING", **variables}),
        # Away from the project, so that a developer's .env cannot change the outcome.
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
