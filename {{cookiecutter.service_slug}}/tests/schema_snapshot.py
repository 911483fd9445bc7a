"""What a database's schema holds, read from its catalog, for comparisons in tests."""

from __future__ import annotations

from dataclasses import dataclass

from {{ cookiecutter.package_name }}.database.session import Session
from {{ cookiecutter.package_name }}.migrator.history import TABLE as HISTORY_TABLE

# The indexes the shipped migrations create on users, by name, on every dialect.
NAMED_INDEXES = {
    "users_email_idx",
    "users_email_verified_idx",
    "users_is_active_idx",
    "users_verification_token_idx",
    "users_created_at_idx",
    "users_active_verified_idx",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool


@dataclass(frozen=True)
class Snapshot:
    tables: dict[str, list[Column]]
    indexes: dict[str, str]  # index name -> table name

    def without_history(self) -> Snapshot:
        """The schema less the runner's bookkeeping table."""
        return Snapshot(
            tables={name: cols for name, cols in self.tables.items() if name != HISTORY_TABLE},
            indexes={name: table for name, table in self.indexes.items() if table != HISTORY_TABLE},
        )


def snapshot(session: Session) -> Snapshot:
    if session.dialect == "postgresql":
        return _postgresql(session)
    return _sqlite(session)


def _postgresql(session: Session) -> Snapshot:
    tables: dict[str, list[Column]] = {}
    for table, name, data_type, nullable in session.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ):
        tables.setdefault(table, []).append(Column(name, data_type, nullable == "YES"))
    indexes = {
        name: table
        for name, table in session.execute(
            "SELECT indexname, tablename FROM pg_indexes WHERE schemaname = current_schema()"
        )
    }
    return Snapshot(tables, indexes)


def _sqlite(session: Session) -> Snapshot:
    tables: dict[str, list[Column]] = {}
    for (table,) in session.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ):
        tables[table] = [
            Column(name, str(data_type).lower(), not notnull)
            for _, name, data_type, notnull, _, _ in session.execute(f"PRAGMA table_info('{table}')")
        ]
    indexes = {
        name: table
        for name, table in session.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
    }
    return Snapshot(tables, indexes)
