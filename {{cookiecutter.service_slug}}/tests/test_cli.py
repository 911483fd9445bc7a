"""The command line, run as a user runs it: a child process, its output, its exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget, Dialect, supported_dialects
from {{ cookiecutter.package_name }}.migrator import history
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from conftest import SOURCE_ROOT, cli, target_url

FIRST = "0001_create_users_table"
# The commands that read the migration folder: each must refuse a bad file.
READING_COMMANDS = [
    pytest.param(("migrate",), id="migrate"),
    pytest.param(("migrate", "--dry-run"), id="dry-run"),
    pytest.param(("status",), id="status"),
    pytest.param(("list",), id="list"),
]


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
        *(
            (f"{dialect}://app:hunter2-secret@db.internal:notaport/app", "DATABASE_URL")
            for dialect in supported_dialects()
        ),
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


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the service's source: a test adds migration files to it as a user would."""
    return Path(shutil.copytree(SOURCE_ROOT, tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__")))


def migrations_folder(package: Path, dialect: Dialect) -> Path:
    return package / "{{ cookiecutter.package_name }}" / "migrations" / dialect


def add_migration_files(folder: Path, name: str, forward: str, rollback: str) -> None:
    (folder / f"{name}.sql").write_text(forward)
    (folder / f"{name}.rollback.sql").write_text(rollback)


def migrate_shipped(target: DatabaseTarget) -> None:
    with session_scope(target) as session:
        run_migrations(session)


def applied(target: DatabaseTarget) -> set[str]:
    with session_scope(target) as session:
        return history.applied_ids(session)


def files_in(package: Path) -> dict[Dialect, list[str]]:
    return {
        dialect: sorted(p.name for p in migrations_folder(package, dialect).iterdir())
        for dialect in supported_dialects()
    }


@pytest.mark.parametrize("command", READING_COMMANDS)
def test_a_migration_file_with_only_a_number_is_refused_before_anything_applies(
    target: DatabaseTarget, package_copy: Path, command: tuple[str, ...]
) -> None:
    migrate_shipped(target)
    folder = migrations_folder(package_copy, target.dialect)
    # A good pending migration before the bad one: it must not apply either.
    add_migration_files(folder, "0002_create_teams", "CREATE TABLE teams (id INTEGER);", "DROP TABLE teams;")
    (folder / "0003.sql").write_text("CREATE TABLE roles (id INTEGER);")

    result = cli(*command, PYTHONPATH=str(package_copy), DATABASE_URL=target_url(target))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: migration file 0003.sql in {folder} has a number but no name; "
        "rename it 0003_<what_it_does>.sql, with its rollback file as 0003_<what_it_does>.rollback.sql"
    ]
    assert applied(target) == {FIRST}


@pytest.mark.parametrize("command", READING_COMMANDS)
def test_two_migration_files_with_one_number_are_refused_naming_both(
    target: DatabaseTarget, package_copy: Path, command: tuple[str, ...]
) -> None:
    migrate_shipped(target)
    folder = migrations_folder(package_copy, target.dialect)
    add_migration_files(folder, "0002_create_teams", "CREATE TABLE teams (id INTEGER);", "DROP TABLE teams;")
    add_migration_files(folder, "0002_create_roles", "CREATE TABLE roles (id INTEGER);", "DROP TABLE roles;")

    result = cli(*command, PYTHONPATH=str(package_copy), DATABASE_URL=target_url(target))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: two migrations have the number 0002: 0002_create_roles.sql and 0002_create_teams.sql "
        f"in {folder}; give one of them the next free number"
    ]
    assert applied(target) == {FIRST}


def test_make_migration_twice_with_one_name_refuses_the_second(package_copy: Path) -> None:
    first = cli("make-migration", "add_email", PYTHONPATH=str(package_copy))
    before = files_in(package_copy)

    second = cli("make-migration", "add_email", PYTHONPATH=str(package_copy))

    assert first.returncode == 0, first.stderr
    assert second.returncode == 1
    assert second.stdout == ""
    assert second.stderr.splitlines() == [
        "error: migration name 'add_email' is already used by 0002_add_email.sql in "
        f"{migrations_folder(package_copy, supported_dialects()[0])}; "
        "choose another name, or edit that file if no database has applied it yet"
    ]
    assert files_in(package_copy) == before


@pytest.mark.parametrize("dialect", supported_dialects())
def test_make_migration_refuses_a_name_that_any_dialect_already_has(
    dialect: Dialect, package_copy: Path
) -> None:
    folder = migrations_folder(package_copy, dialect)
    add_migration_files(folder, "0007_add_email", "SELECT 1;", "SELECT 1;")
    before = files_in(package_copy)

    result = cli("make-migration", "add_email", PYTHONPATH=str(package_copy))

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: migration name 'add_email' is already used by 0007_add_email.sql in {folder}; "
        "choose another name, or edit that file if no database has applied it yet"
    ]
    assert files_in(package_copy) == before


@pytest.mark.parametrize("dialect", supported_dialects())
def test_make_migration_numbers_past_a_file_without_a_name(dialect: Dialect, package_copy: Path) -> None:
    (migrations_folder(package_copy, dialect) / "0004.sql").write_text("SELECT 1;")

    result = cli("make-migration", "add_email", PYTHONPATH=str(package_copy))

    assert result.returncode == 0, result.stderr
    for each in supported_dialects():
        names = files_in(package_copy)[each]
        assert {"0005_add_email.sql", "0005_add_email.rollback.sql"} <= set(names)
        assert not [name for name in names if name.startswith("0004_")]
