"""The migration runner on SQLite: a migrated file stays in WAL mode."""

from __future__ import annotations

from pathlib import Path

from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.database.sqlite_target import SqliteTarget
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations


def test_migrating_a_sqlite_file_switches_it_to_wal_for_good(tmp_path: Path) -> None:
    target = SqliteTarget(path=str(tmp_path / "wal.db"))
    with session_scope(target) as session:
        run_migrations(session)

    with session_scope(target) as reopened:
        assert reopened.execute("PRAGMA journal_mode") == [("wal",)]
        assert reopened.execute("PRAGMA foreign_keys") == [(1,)]
