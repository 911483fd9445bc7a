"""The startup runner and the web app's health and readiness endpoints."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.database.session import MissingTable, session_scope
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from {{ cookiecutter.package_name }}.startup import prepare_database
from conftest import settings_for


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
