"""The users schema: its columns, indexes and rollback, on every dialect."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.database.session import Session
from {{ cookiecutter.package_name }}.migrator.runner import rollback_migrations, run_migrations
from schema_snapshot import NAMED_INDEXES, Snapshot, snapshot

USERS_COLUMNS = [
    "id",
    "email",
    "password_hash",
    "name",
    "is_active",
    "email_verified",
    "verification_token",
    "verification_token_expires_at",
    "last_login_at",
    "created_at",
    "updated_at",
]
NULLABLE = {"verification_token", "verification_token_expires_at", "last_login_at"}


def test_migrate_creates_users_table_with_its_columns_and_six_indexes(session: Session) -> None:
    run_migrations(session)

    schema = snapshot(session)
    columns = schema.tables["users"]
    assert [c.name for c in columns] == USERS_COLUMNS
    assert {c.name for c in columns if c.nullable} == NULLABLE
    assert {name for name, table in schema.indexes.items() if table == "users"} >= NAMED_INDEXES


def test_rollback_round_trip_returns_the_schema_exactly(session: Session) -> None:
    before = snapshot(session).without_history()

    run_migrations(session)
    migrated = snapshot(session)
    rollback_migrations(session, all_batches=True)
    after_rollback = snapshot(session).without_history()
    run_migrations(session)
    migrated_again = snapshot(session)

    assert before == Snapshot(tables={}, indexes={})
    assert after_rollback == before
    assert migrated_again == migrated
