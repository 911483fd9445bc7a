"""Fixtures for the tenant tests: a shared schema on each test server (plain
PostgreSQL, and a Citus cluster's coordinator), a session on it, a writable
copy of the migrations, and tenant ids.

A test module that uses them loads this module as a plugin
(`pytest_plugins = ["helpers_tenants"]`).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Final

import pytest

from {{ cookiecutter.package_name }}.database.postgresql import PostgresSession, open_postgres_session
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from helpers_citus import SERVERS, shared_schema_on


@pytest.fixture(params=SERVERS)
def shared_target(request: pytest.FixtureRequest) -> Iterator[PostgresTarget]:
    """A fresh shared schema (where the tenant registry lives) on each test server in turn."""
    with shared_schema_on(request.param) as target:
        yield target


@pytest.fixture
def shared(shared_target: PostgresTarget) -> Iterator[PostgresSession]:
    """A session on the shared schema."""
    session = open_postgres_session(shared_target)
    yield session
    session.close()


@pytest.fixture
def source(tmp_path: Path) -> MigrationSource:
    """A writable copy of the shipped PostgreSQL migrations."""
    directory = tmp_path / "migrations"
    shutil.copytree(MigrationSource.for_dialect("postgresql").directory, directory)
    return MigrationSource(directory)


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


class TenantRows:
    """The bad-input rows' extension for tenant commands (see bad_input_table.RowExtension):
    {tenant} is a tenant id of the row's run alone; its schema and the registry
    must not change, and the schema is dropped afterwards."""

    def values(self) -> dict[str, str]:
        return {"tenant": f"t{uuid.uuid4().hex[:12]}"}

    def state(self, target: DatabaseTarget, values: Mapping[str, str]) -> object:
        if not isinstance(target, PostgresTarget):
            return None
        with session_scope(target) as session:
            # Only this run's tenant: suites running at the same time make their own.
            schemas = session.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname = %s", (f"tenant_{values['tenant']}",)
            )
            registry_exists = session.execute("SELECT to_regclass('_tenant_registry') IS NOT NULL")[0][0]
            registry = session.execute("SELECT * FROM _tenant_registry ORDER BY 1") if registry_exists else []
        return schemas, registry

    def clean_up(self, target: DatabaseTarget, values: Mapping[str, str]) -> None:
        if not isinstance(target, PostgresTarget):
            return
        with session_scope(target) as session:
            session.execute(f'DROP SCHEMA IF EXISTS "tenant_{values["tenant"]}" CASCADE')


ROW_EXTENSION: Final = TenantRows()
