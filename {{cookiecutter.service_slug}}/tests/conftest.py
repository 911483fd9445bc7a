"""Fixtures: a fresh database per test, on every dialect this service supports.

PostgreSQL tests use TEST_DATABASE_URL (a server where they may create
schemas); each test gets a schema of its own, dropped afterwards. Without the
variable they are skipped with the reason, unless REQUIRE_POSTGRES=1, where a
missing server fails the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import {% if cookiecutter.tenancy == "schema-per-tenant" %}Callable, {% endif %}Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import pytest

from {{ cookiecutter.package_name }}.database.session import Session, open_session, session_scope
from {{ cookiecutter.package_name }}.database.target import (
    SUPPORTED_DIALECTS,
    DatabaseTarget,
    Dialect,
    PostgresTarget,
    SqliteTarget,
    parse_database_url,
)
from {{ cookiecutter.package_name }}.errors import ServiceError
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource


def postgres_server() -> PostgresTarget:
    """The server named by TEST_DATABASE_URL, or a skip (a failure when required)."""
    required = os.environ.get("REQUIRE_POSTGRES") == "1"
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        reason = "TEST_DATABASE_URL is unset: PostgreSQL tests need a server"
        if required:
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    target = parse_database_url(url)
    assert isinstance(target, PostgresTarget), "TEST_DATABASE_URL must be a postgresql:// URL"
    return target


@contextmanager
def postgres_schema_target(server: PostgresTarget) -> Iterator[PostgresTarget]:
    """A fresh, empty schema on `server`, as the only schema on the search path."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    try:
        admin = open_session(server)
    except ServiceError as error:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {error}")
        pytest.skip(f"PostgreSQL is unreachable: {error}")
    try:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        yield replace(server, params={**server.params, "options": f"-c search_path={schema}"})
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@contextmanager
def make_target(dialect: Dialect, tmp_path: Path) -> Iterator[DatabaseTarget]:
    """A fresh, empty database of `dialect`, removed afterwards."""
    if dialect == "sqlite":
        yield SqliteTarget(path=str(tmp_path / "test.db"))
    else:
        with postgres_schema_target(postgres_server()) as target:
            yield target


@pytest.fixture(params=SUPPORTED_DIALECTS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseTarget]:
    """A fresh, empty database of each supported dialect in turn."""
    with make_target(request.param, tmp_path) as fresh:
        yield fresh


@pytest.fixture
def sessions_by_dialect(tmp_path: Path) -> Iterator[dict[Dialect, Session]]:
    """One fresh database of every supported dialect at once (for parity checks)."""
    with ExitStack() as stack:
        sessions: dict[Dialect, Session] = {}
        for dialect in SUPPORTED_DIALECTS:
            fresh = stack.enter_context(make_target(dialect, tmp_path))
            sessions[dialect] = stack.enter_context(session_scope(fresh))
        yield sessions


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
    if isinstance(target, SqliteTarget):
        return f"sqlite:///{target.path}"
    query = urlencode(dict(target.params))
    return f"postgresql://{target.user}:{target.password}@{target.host}:{target.port}/{target.dbname}?{query}"


SOURCE_ROOT = Path(__file__).resolve().parents[1] / "src"


def subprocess_env(**variables: str) -> dict[str, str]:
    """The environment for running this service in a child process."""
    python_path = os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": python_path, **variables}


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
{%- if cookiecutter.tenancy == "schema-per-tenant" %}


@pytest.fixture
def shared_target() -> Iterator[PostgresTarget]:
    """A fresh shared schema (where the tenant registry lives) on the test server."""
    with postgres_schema_target(postgres_server()) as target:
        yield target


@pytest.fixture
def new_tenant_id(shared_target: PostgresTarget) -> Iterator[Callable[[str], str]]:
    """Tenant ids unique to this test; their schemas are dropped afterwards.

    Tenant schemas are database-wide, so a random prefix keeps tests that run
    at the same time apart."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    made: list[str] = []

    def new(name: str) -> str:
        made.append(prefix + name)
        return made[-1]

    yield new
    with session_scope(shared_target) as admin:
        for tenant_id in made:
            admin.execute(f'DROP SCHEMA IF EXISTS "tenant_{tenant_id}" CASCADE')
{%- endif %}
