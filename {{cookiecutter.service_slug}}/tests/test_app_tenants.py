"""Startup with schema-per-tenant: the shared schema, then every tenant."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from {{ cookiecutter.package_name }}.database.postgresql import PostgresSession
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.errors import MigrationError, Remedy
from {{ cookiecutter.package_name }}.startup import prepare_database
from {{ cookiecutter.package_name }}.tenants.creation import create_tenant
from {{ cookiecutter.package_name }}.tenants.one_tenant import rollback_tenant_migrations
from conftest import settings_for

pytest_plugins = ["helpers_tenants"]


def test_startup_migrates_the_shared_schema_then_every_tenant(
    shared_target: PostgresTarget, new_tenant_id: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    tenants = [new_tenant_id("one"), new_tenant_id("two")]
    with session_scope(shared_target) as shared:
        assert isinstance(shared, PostgresSession)
        for tenant_id in tenants:
            create_tenant(shared, tenant_id)
            rollback_tenant_migrations(shared, tenant_id)
    caplog.set_level(logging.INFO)

    prepare_database(settings_for(shared_target, AUTO_MIGRATE_TENANTS="false"))
    with session_scope(shared_target) as shared:
        skipped = [shared.execute(f"SELECT to_regclass('\"tenant_{t}\".users')")[0][0] for t in tenants]
    prepare_database(settings_for(shared_target))

    assert skipped == [None, None]
    assert "Tenant migrations completed (tenants: 2, migrated: 2, failed: 0)" in [
        record.getMessage() for record in caplog.records
    ]
    with session_scope(shared_target) as shared:
        assert shared.execute("SELECT to_regclass('users') IS NOT NULL") == [(True,)]
        for tenant_id in tenants:
            assert shared.execute(f'SELECT id FROM "tenant_{tenant_id}".schema_migrations') == [
                ("0001_create_users_table",)
            ]


def test_startup_fails_fast_when_a_tenant_fails(
    shared_target: PostgresTarget, new_tenant_id: Callable[[str], str]
) -> None:
    broken = new_tenant_id("broken")
    with session_scope(shared_target) as shared:
        assert isinstance(shared, PostgresSession)
        create_tenant(shared, broken)
        shared.execute(f'DELETE FROM "tenant_{broken}".schema_migrations')  # 0001 now conflicts

    with pytest.raises(
        MigrationError, match=rf"1 tenant\(s\) failed to migrate: {broken} \(migration "
    ) as raised:
        prepare_database(settings_for(shared_target))

    assert raised.value.remedies == (Remedy("tenants", purpose="list them"),)
