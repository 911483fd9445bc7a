"""The command line, run as a user runs it: a child process, its output, its exit code."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.db.target import DatabaseTarget
from conftest import cli, target_url


def test_migrate_status_list_rollback_round_trip(target: DatabaseTarget) -> None:
    url = target_url(target)

    migrated = cli("migrate", DATABASE_URL=url)
    status = cli("status", DATABASE_URL=url)
    listing = cli("list", DATABASE_URL=url)
    again = cli("migrate-latest", DATABASE_URL=url)
    rolled_back = cli("rollback", DATABASE_URL=url)
    after = cli("status", DATABASE_URL=url)

    assert migrated.returncode == 0, migrated.stderr
    assert "Applied 1 migration(s) in batch 1:\n  0001_create_users_table" in migrated.stdout
    assert "0001_create_users_table  batch 1  applied " in status.stdout
    assert "Pending: 0" in status.stdout
    assert "[x] 0001_create_users_table (batch 1)" in listing.stdout
    assert "Nothing to migrate" in again.stdout
    assert "Rolled back 1 migration(s) of batch 1:\n  0001_create_users_table" in rolled_back.stdout
    assert "Completed: 0\nPending: 1\n  0001_create_users_table" in after.stdout


def test_seed_runs_twice_without_duplicating(target: DatabaseTarget) -> None:
    url = target_url(target)
    cli("migrate", DATABASE_URL=url)

    first = cli("seed", DATABASE_URL=url)
    second = cli("seed", DATABASE_URL=url)

    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "Ran 1 seed(s): 0001_demo_user" in second.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:hunter2-secret@db.internal:notaport/app", "DATABASE_URL"),
        ("mysql://root:hunter2-secret@localhost/app", "unsupported scheme 'mysql'"),
    ],
)
def test_bad_database_url_is_one_line_naming_the_variable_and_hiding_the_password(
    url: str, expected: str
) -> None:
    result = cli("status", DATABASE_URL=url)

    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "hunter2-secret" not in result.stderr


def test_bad_setting_names_the_variable() -> None:
    result = cli("status", AUTO_MIGRATE="maybe")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: AUTO_MIGRATE has value 'maybe': not a valid boolean (use true or false)"
    )


def test_migration_name_with_spaces_or_separators_is_refused() -> None:
    result = cli("make-migration", "../add avatar")

    assert result.returncode == 1
    assert "migration name '../add avatar' is not valid" in result.stderr
{%- if cookiecutter.database != "sqlite" %}


def test_production_refuses_default_postgres_credentials_without_printing_them() -> None:
    result = cli(
        "serve",
        APP_ENV="production",
        DATABASE_URL="postgresql://postgres:postgres@127.0.0.1:5432/app",
    )

    assert result.returncode == 1
    assert "refusing to start in production with a default or empty PostgreSQL password" in result.stderr
    assert ":postgres@" not in result.stderr


def test_serve_exits_non_zero_with_the_reason_when_the_database_is_down() -> None:
    result = cli(
        "serve",
        DATABASE_URL="postgresql://svc:s3cret-pw@127.0.0.1:1/app",
        DB_CONNECT_TIMEOUT="1",
    )

    assert result.returncode == 1
    assert "error: cannot connect to postgresql://svc@127.0.0.1:1/app within 1 s" in result.stderr
    assert "s3cret-pw" not in result.stderr
{%- endif %}
