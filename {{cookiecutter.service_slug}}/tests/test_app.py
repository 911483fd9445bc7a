"""The startup runner and the web app's health and readiness endpoints."""

from __future__ import annotations

import logging
{%- if cookiecutter.database != "sqlite" %}
import time
{%- endif %}
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
from collections.abc import Callable
{%- endif %}
{%- if cookiecutter.database != "sqlite" %}
from dataclasses import replace
{%- endif %}
{%- if cookiecutter.database != "postgresql" %}
from pathlib import Path
{%- endif %}

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.config import Settings, load_settings
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
from {{ cookiecutter.package_name }}.db.postgresql import PostgresSession
{%- endif %}
from {{ cookiecutter.package_name }}.db.runner import run_migrations
from {{ cookiecutter.package_name }}.db.session import MissingTable, {% if cookiecutter.database != "sqlite" %}open_session, {% endif %}session_scope
from {{ cookiecutter.package_name }}.db.target import DatabaseTarget
{%- if cookiecutter.tenancy == "schema-per-tenant" %}, PostgresTarget{% endif %}
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
from {{ cookiecutter.package_name }}.db.tenant_runner import create_tenant, rollback_tenant_migrations
{%- endif %}
from {{ cookiecutter.package_name }}.errors import DatabaseUnavailableError
{%- if cookiecutter.tenancy == "schema-per-tenant" %}, MigrationError{% endif %}
from {{ cookiecutter.package_name }}.startup import prepare_database
from conftest import {% if cookiecutter.database != "sqlite" %}postgres_server, {% endif %}target_url


def settings_for(target: DatabaseTarget, **variables: str) -> Settings:
    return load_settings({"DATABASE_URL": target_url(target), **variables}, env_file=None)


def test_startup_with_auto_migrate_applies_and_logs_the_three_lines(
    target: DatabaseTarget, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    applied = prepare_database(settings_for(target, AUTO_MIGRATE="true"))

    assert applied == ["0001_create_users_table"]
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("Database connected") for message in messages)
    assert "Running database migrations" in messages
    assert "Database migrations completed (count: 1)" in messages
    with session_scope(target) as session:
        assert session.execute("SELECT count(*) FROM schema_migrations") == [(1,)]


def test_startup_again_applies_nothing(target: DatabaseTarget, caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(target, AUTO_MIGRATE="true")
    prepare_database(settings)
    caplog.set_level(logging.INFO)

    assert prepare_database(settings) == []
    assert "Database migrations completed (count: 0)" in [r.getMessage() for r in caplog.records]


def test_startup_with_auto_migrate_off_applies_nothing_and_ready_says_pending(target: DatabaseTarget) -> None:
    settings = settings_for(target, AUTO_MIGRATE="false")

    assert prepare_database(settings) == []
    with TestClient(create_app(settings)) as client:
        response = client.get("/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "migrations pending", "pending": ["0001_create_users_table"]}
    with session_scope(target) as session, pytest.raises(MissingTable):
        session.execute("SELECT count(*) FROM users")


def test_ready_once_migrated_and_health_always(target: DatabaseTarget) -> None:
    settings = settings_for(target, AUTO_MIGRATE="false")
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").status_code == 503
        with session_scope(target) as session:
            run_migrations(session)
        response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
{%- if cookiecutter.database != "postgresql" %}


def test_startup_fails_fast_when_the_sqlite_file_cannot_be_opened(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings = load_settings({"DATABASE_URL": f"sqlite:///{blocker}/service.db"}, env_file=None)

    with pytest.raises(DatabaseUnavailableError, match="cannot open"):
        prepare_database(settings)
{%- endif %}
{%- if cookiecutter.database != "sqlite" %}


def test_startup_gives_up_on_an_unreachable_server_after_its_wait_without_the_password() -> None:
    settings = load_settings(
        {"DATABASE_URL": "postgresql://svc:s3cret-pw@127.0.0.1:1/app", "DB_CONNECT_TIMEOUT": "1"},
        env_file=None,
    )
    started = time.monotonic()

    with pytest.raises(DatabaseUnavailableError, match="within 1 s") as raised:
        prepare_database(settings)

    assert time.monotonic() - started < 10
    assert "s3cret-pw" not in str(raised.value)
    assert "postgresql://svc@127.0.0.1:1/app" in str(raised.value)


def test_a_missing_database_fails_at_once_instead_of_waiting() -> None:
    missing = replace(postgres_server(), dbname="no_database_has_this_name")
    started = time.monotonic()

    with pytest.raises(DatabaseUnavailableError, match="does not exist"):
        open_session(missing, wait=60)

    # Far below the 60 s wait: the server's refusal is not retried.
    assert time.monotonic() - started < 30
{%- endif %}
{%- if cookiecutter.tenancy == "schema-per-tenant" %}


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

    with pytest.raises(MigrationError, match=rf"1 tenant\(s\) failed to migrate: {broken} \(migration "):
        prepare_database(settings_for(shared_target))
{%- endif %}
