"""The users schema: its columns, indexes and rollback, on every dialect."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.database.session import Session
{%- if cookiecutter.database == "postgresql+sqlite" %}
from {{ cookiecutter.package_name }}.database.target import Dialect
{%- endif %}
from {{ cookiecutter.package_name }}.migrator.runner import rollback_migrations, run_migrations
from schema_snapshot import Snapshot, snapshot

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
NAMED_INDEXES = {
    "users_email_idx",
    "users_email_verified_idx",
    "users_is_active_idx",
    "users_verification_token_idx",
    "users_created_at_idx",
    "users_active_verified_idx",
}


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
{%- if cookiecutter.database == "postgresql+sqlite" %}


def test_both_dialects_have_the_same_columns_nullability_and_index_names(
    sessions_by_dialect: dict[Dialect, Session],
) -> None:
    schemas: dict[Dialect, Snapshot] = {}
    for dialect, session in sessions_by_dialect.items():
        run_migrations(session)
        schemas[dialect] = snapshot(session).without_history()

    def shape(schema: Snapshot) -> dict[str, list[tuple[str, bool]]]:
        return {table: [(c.name, c.nullable) for c in cols] for table, cols in schema.tables.items()}

    def named(schema: Snapshot) -> set[str]:
        # Primary-key indexes are named by each engine itself.
        return {name for name in schema.indexes if not name.endswith("_pkey") and "autoindex" not in name}

    assert shape(schemas["sqlite"]) == shape(schemas["postgresql"])
    assert named(schemas["sqlite"]) == named(schemas["postgresql"]) == NAMED_INDEXES
{%- endif %}
