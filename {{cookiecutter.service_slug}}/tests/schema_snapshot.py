"""What a database's schema holds, read from its catalog, for comparisons in tests."""

from __future__ import annotations

from dataclasses import dataclass

from {{ cookiecutter.package_name }}.database.session import Session
from {{ cookiecutter.package_name }}.migrator.history import TABLE as HISTORY_TABLE
from conftest import dialect_helpers

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
    """The session's schema, read by its dialect's helpers (helpers_<dialect>.py)."""
    taken: Snapshot = dialect_helpers(session.dialect).schema_snapshot(session)
    return taken
