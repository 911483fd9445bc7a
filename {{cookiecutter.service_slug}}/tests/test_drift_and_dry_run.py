"""Drift (an applied migration whose file changed) and dry runs, on every dialect."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.database.session import Session, session_scope
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget
from {{ cookiecutter.package_name }}.errors import Remedy
from {{ cookiecutter.package_name }}.migrator.drift import (
    Drift,
    DriftError,
    accept_change,
    drift_message,
    drift_remedies,
    find_drift,
)
from {{ cookiecutter.package_name }}.migrator.plan import plan_migrations
from {{ cookiecutter.package_name }}.migrator.runner import get_migration_status, run_migrations
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from conftest import cli, dialect_helpers, target_url

FIRST = "0001_create_users_table"
ACCEPT_FIRST = Remedy("accept-migration", {"name": FIRST}, "record it")


def edit(source: MigrationSource, name: str) -> None:
    path = source.directory / f"{name}.sql"
    path.write_text(path.read_text() + "\n-- edited after it was applied\n")


def add_migration(source: MigrationSource, name: str, forward: str, rollback: str) -> None:
    (source.directory / f"{name}.sql").write_text(forward)
    (source.directory / f"{name}.rollback.sql").write_text(rollback)


def test_an_edited_applied_migration_is_reported_as_drift(
    session: Session, source_copy: MigrationSource
) -> None:
    run_migrations(session, source_copy)
    assert find_drift(session, source_copy) == []

    edit(source_copy, FIRST)

    assert find_drift(session, source_copy) == [Drift(FIRST, "changed")]
    assert get_migration_status(session, source_copy).drift == [Drift(FIRST, "changed")]


def test_a_deleted_applied_migration_is_reported_as_missing(
    session: Session, source_copy: MigrationSource
) -> None:
    run_migrations(session, source_copy)
    for path in source_copy.directory.glob(f"{FIRST}*"):
        path.unlink()

    assert find_drift(session, source_copy) == [Drift(FIRST, "missing")]


def test_drift_refuses_to_migrate_when_told_and_warns_otherwise(
    session: Session, source_copy: MigrationSource, caplog: pytest.LogCaptureFixture
) -> None:
    run_migrations(session, source_copy)
    edit(source_copy, FIRST)
    add_migration(
        source_copy, "0002_add_nickname", "ALTER TABLE users ADD COLUMN nickname TEXT;", "SELECT 1;"
    )

    with pytest.raises(
        DriftError, match=rf"refusing to migrate: 1 applied migration\(s\) differ.*{FIRST}"
    ) as refused:
        run_migrations(session, source_copy, on_drift="refuse")
    assert refused.value.remedies == (ACCEPT_FIRST,)
    assert get_migration_status(session, source_copy).pending == ["0002_add_nickname"]

    applied = run_migrations(session, source_copy, on_drift="warn").applied

    assert applied == ["0002_add_nickname"]
    [warning] = [record for record in caplog.records if "differ from their files" in record.getMessage()]
    assert FIRST in warning.getMessage()
    assert getattr(warning, "remedies", None) == (ACCEPT_FIRST,)


def test_accepting_a_change_stores_the_new_checksum(session: Session, source_copy: MigrationSource) -> None:
    run_migrations(session, source_copy)
    edit(source_copy, FIRST)

    accepted = accept_change(session, FIRST, source_copy)

    assert accepted == source_copy.checksum(FIRST)
    assert session.execute("SELECT checksum FROM schema_migrations WHERE id = %s", (FIRST,)) == [(accepted,)]
    assert find_drift(session, source_copy) == []
    assert accept_change(session, FIRST, source_copy) is None


def test_dry_run_shows_each_pending_migrations_sql_and_changes_nothing(
    session: Session, source_copy: MigrationSource
) -> None:
    run_migrations(session, source_copy)
    add_migration(
        source_copy,
        "0002_add_nickname",
        "ALTER TABLE users ADD COLUMN nickname TEXT;\nCREATE INDEX users_nickname_idx ON users (nickname);",
        "DROP INDEX users_nickname_idx;\nALTER TABLE users DROP COLUMN nickname;",
    )
    before = session.execute("SELECT id, batch, checksum FROM schema_migrations")

    plan = plan_migrations(session, source_copy)

    assert plan.batch == 2
    assert [(m.name, m.statements) for m in plan.migrations] == [
        (
            "0002_add_nickname",
            [
                "ALTER TABLE users ADD COLUMN nickname TEXT;",
                "CREATE INDEX users_nickname_idx ON users (nickname);",
            ],
        )
    ]
    assert session.execute("SELECT id, batch, checksum FROM schema_migrations") == before
    assert get_migration_status(session, source_copy).pending == ["0002_add_nickname"]


def test_dry_run_on_an_empty_database_creates_not_even_the_bookkeeping_table(target: DatabaseTarget) -> None:
    url = target_url(target)

    result = cli("migrate", "--dry-run", DATABASE_URL=url)
    status = cli("status", DATABASE_URL=url)

    assert result.returncode == 0, result.stderr
    assert f"-- {FIRST} ({FIRST}.sql)\nCREATE TABLE users (" in result.stdout
    assert "1 migration(s) would be applied as batch 1." in result.stdout
    assert f"Pending: 1\n  {FIRST}" in status.stdout
    assert "Completed: 0" in status.stdout


def test_the_advice_for_a_missing_file_is_to_restore_it_not_to_accept_it() -> None:
    missing = drift_message([Drift("0001_x", "missing")])
    both = drift_message([Drift("0001_x", "missing"), Drift("0002_y", "changed")])

    assert missing.endswith("; restore each missing file")
    assert drift_remedies([Drift("0001_x", "missing")]) == ()
    assert both.endswith(
        "restore each missing file; restore each changed file, or record its new content as intended"
    )
    assert drift_remedies([Drift("0001_x", "missing"), Drift("0002_y", "changed")]) == (
        Remedy("accept-migration", {"name": "0002_y"}, "record it"),
    )


def production_url(target: DatabaseTarget) -> str:
    """target_url with a password production accepts, where the dialect has one."""
    url: str = dialect_helpers(target.dialect).production_url(target)
    return url


def test_rollback_in_production_refuses_drift_as_migrate_does(target: DatabaseTarget) -> None:
    url = production_url(target)
    assert cli("migrate", DATABASE_URL=url).returncode == 0
    with session_scope(target) as session:
        session.execute("UPDATE schema_migrations SET checksum = 'edited'")

    refused = cli("rollback", DATABASE_URL=url, APP_ENV="production")
    status = cli("status", DATABASE_URL=url)
    warned = cli("rollback", DATABASE_URL=url)

    accept = f"; record it: make migrate-accept NAME={FIRST}"
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: refusing to roll back in production: 1 applied migration(s) differ"), line
    assert line.endswith(accept), line
    assert f"\nDrift: 1 applied migration(s) differ from their files: {FIRST} " in status.stdout
    assert f"{accept}\n" in status.stdout
    assert warned.returncode == 0, warned.stderr
    assert warned.stderr.startswith("warning: 1 applied migration(s) differ")
    assert warned.stderr.splitlines()[0].endswith(accept)
