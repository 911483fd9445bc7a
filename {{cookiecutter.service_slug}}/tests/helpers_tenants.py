"""Fixtures for the tenant tests: a shared schema on the test server, and tenant ids.

A test module that uses them loads this module as a plugin
(`pytest_plugins = ["helpers_tenants"]`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.database.target import PostgresTarget
from helpers_postgresql import postgres_schema_target, postgres_server


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
