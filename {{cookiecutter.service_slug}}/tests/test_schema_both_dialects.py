"""The users schema on a service with both dialects: the same on each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.database.session import Session, session_scope
from {{ cookiecutter.package_name }}.database.target import Dialect, supported_dialects
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from conftest import make_target
from schema_snapshot import NAMED_INDEXES, Snapshot, snapshot


@pytest.fixture
def sessions_by_dialect(tmp_path: Path) -> Iterator[dict[Dialect, Session]]:
    """One fresh database of every supported dialect at once (for parity checks)."""
    with ExitStack() as stack:
        sessions: dict[Dialect, Session] = {}
        for dialect in supported_dialects():
            fresh = stack.enter_context(make_target(dialect, tmp_path))
            sessions[dialect] = stack.enter_context(session_scope(fresh))
        yield sessions


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
