"""The migration runner: batches, status, failures, rollback files, new migrations."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.database.session import MissingTable, Session
from {{ cookiecutter.package_name }}.database.target import Dialect
from {{ cookiecutter.package_name }}.errors import MigrationError
from {{ cookiecutter.package_name }}.migrator import history
from {{ cookiecutter.package_name }}.migrator.runner import (
    get_migration_status,
    pending_migrations,
    rollback_migrations,
    run_migrations,
)
from {{ cookiecutter.package_name }}.migrator.scaffold import InvalidNameError, make_migration
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource

FIRST = "0001_create_users_table"


def add_migration(source: MigrationSource, name: str, forward: str, rollback: str | None) -> None:
    (source.directory / f"{name}.sql").write_text(forward)
    if rollback is not None:
        (source.directory / f"{name}.rollback.sql").write_text(rollback)


def table_exists(session: Session, table: str) -> bool:
    try:
        session.execute(f"SELECT count(*) FROM {table}")
    except MissingTable:
        return False
    return True


def test_migrate_applies_everything_pending_as_batch_one(session: Session) -> None:
    result = run_migrations(session)

    assert result.applied == [FIRST]
    assert result.batch == 1
    rows = session.execute("SELECT id, batch FROM schema_migrations")
    assert rows == [(FIRST, 1)]


def test_second_migrate_finds_nothing_pending_and_records_nothing(session: Session) -> None:
    run_migrations(session)

    again = run_migrations(session)

    assert again.applied == []
    assert again.batch is None
    assert pending_migrations(session) == []
    assert session.execute("SELECT count(*) FROM schema_migrations") == [(1,)]


def test_status_lists_pending_before_and_completed_with_batch_and_time_after(session: Session) -> None:
    before = get_migration_status(session)
    run_migrations(session)
    after = get_migration_status(session)

    assert before.pending == [FIRST]
    assert before.completed == []
    assert after.pending == []
    assert [(c.name, c.batch) for c in after.completed] == [(FIRST, 1)]
    assert after.completed[0].applied_at.tzinfo is not None


def test_rollback_undoes_only_the_last_batch(session: Session, source_copy: MigrationSource) -> None:
    run_migrations(session, source_copy)
    add_migration(source_copy, "0002_create_teams", "CREATE TABLE teams (id INTEGER);", "DROP TABLE teams;")
    add_migration(source_copy, "0003_create_roles", "CREATE TABLE roles (id INTEGER);", "DROP TABLE roles;")
    second = run_migrations(session, source_copy)

    result = rollback_migrations(session, source_copy)

    assert second.batch == 2
    assert result.rolled_back == ["0003_create_roles", "0002_create_teams"]
    assert result.batches == [2]
    assert not table_exists(session, "teams")
    assert not table_exists(session, "roles")
    assert table_exists(session, "users")
    assert get_migration_status(session, source_copy).pending == ["0002_create_teams", "0003_create_roles"]


def test_a_batch_whose_rollback_fails_midway_is_left_as_it_was(
    session: Session, source_copy: MigrationSource
) -> None:
    run_migrations(session, source_copy)
    add_migration(
        source_copy, "0002_create_teams", "CREATE TABLE teams (id INTEGER);", "DROP TABLE no_such_table;"
    )
    add_migration(source_copy, "0003_create_roles", "CREATE TABLE roles (id INTEGER);", "DROP TABLE roles;")
    run_migrations(session, source_copy)

    # 0003's rollback runs first and succeeds; 0002's fails: the batch is all or nothing.
    with pytest.raises(MigrationError, match=r"0002_create_teams\.sql failed, so batch 2 was left as it was"):
        rollback_migrations(session, source_copy)

    assert table_exists(session, "roles")
    assert table_exists(session, "teams")
    assert history.applied_ids(session) == {FIRST, "0002_create_teams", "0003_create_roles"}


def test_a_batch_with_a_non_transactional_migration_says_what_was_rolled_back(
    session: Session, source_copy: MigrationSource
) -> None:
    run_migrations(session, source_copy)
    add_migration(
        source_copy,
        "0002_create_teams",
        "-- transactional: false\nCREATE TABLE teams (id INTEGER);",
        "DROP TABLE no_such_table;",
    )
    add_migration(source_copy, "0003_create_roles", "CREATE TABLE roles (id INTEGER);", "DROP TABLE roles;")
    run_migrations(session, source_copy)

    with pytest.raises(MigrationError) as raised:
        rollback_migrations(session, source_copy)

    message = str(raised.value)
    assert "rollback of" in message and "0002_create_teams.sql failed" in message
    assert "0003_create_roles of batch 2 had already been rolled back" in message
    assert "partly applied" in message
    assert not table_exists(session, "roles")
    assert table_exists(session, "teams")
    assert history.applied_ids(session) == {FIRST, "0002_create_teams"}


def test_rollback_with_nothing_applied_does_nothing(session: Session) -> None:
    result = rollback_migrations(session)

    assert result.rolled_back == []


def test_failing_migration_leaves_nothing_partial_and_names_its_file(
    session: Session, source_copy: MigrationSource
) -> None:
    add_migration(
        source_copy,
        "0002_broken",
        "CREATE TABLE half_done (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);",
        "DROP TABLE half_done;",
    )

    with pytest.raises(MigrationError, match=r"0002_broken\.sql") as raised:
        run_migrations(session, source_copy)

    assert "no_such_table" in str(raised.value)
    assert not table_exists(session, "half_done")
    status = get_migration_status(session, source_copy)
    assert status.pending == ["0002_broken"]
    assert [c.name for c in status.completed] == [FIRST]


def test_fixed_migration_applies_on_the_next_run(session: Session, source_copy: MigrationSource) -> None:
    add_migration(source_copy, "0002_broken", "INSERT INTO no_such_table VALUES (1);", "SELECT 1;")
    with pytest.raises(MigrationError):
        run_migrations(session, source_copy)
    add_migration(source_copy, "0002_broken", "CREATE TABLE fixed (id INTEGER);", "DROP TABLE fixed;")

    result = run_migrations(session, source_copy)

    assert result.applied == ["0002_broken"]
    assert table_exists(session, "fixed")


def test_rollback_refuses_when_a_rollback_file_is_missing(
    session: Session, source_copy: MigrationSource
) -> None:
    add_migration(source_copy, "0002_no_rollback", "CREATE TABLE kept (id INTEGER PRIMARY KEY);", None)
    run_migrations(session, source_copy)

    with pytest.raises(MigrationError, match=r"0002_no_rollback\.rollback\.sql is missing"):
        rollback_migrations(session, source_copy)

    assert table_exists(session, "kept")
    assert "0002_no_rollback" in history.applied_ids(session)


def test_python_migration_that_cannot_be_imported_is_reported_by_its_file(
    session: Session, source_copy: MigrationSource
) -> None:
    (source_copy.directory / "0002_broken_python.py").write_text("raise RuntimeError('oops')\n")

    with pytest.raises(
        MigrationError, match=r"0002_broken_python\.py could not be read \(RuntimeError: oops\)"
    ):
        run_migrations(session, source_copy)

    # Every pending file is read before the first is applied: nothing was.
    assert get_migration_status(session, source_copy).pending == [FIRST, "0002_broken_python"]


def test_two_files_with_the_same_id_are_refused(session: Session, source_copy: MigrationSource) -> None:
    (source_copy.directory / f"{FIRST}.py").write_text("steps = []\n")

    with pytest.raises(MigrationError, match="two migrations have the id"):
        run_migrations(session, source_copy)


def test_bookkeeping_stores_a_checksum_of_the_files(session: Session) -> None:
    run_migrations(session)

    [(checksum,)] = session.execute("SELECT checksum FROM schema_migrations")
    assert checksum == MigrationSource.for_dialect(session.dialect).checksum(FIRST)
    assert len(checksum) == 64


def test_missing_migrations_folder_is_reported_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="missing from the installed package"):
        MigrationSource.for_dialect("no-such-dialect")


def test_make_migration_creates_numbered_files_in_every_dialect(tmp_path: Path) -> None:
    # Two dialects' folders; the scaffold cares about their files, not their names.
    dialects: tuple[Dialect, ...] = ("first_dialect", "second_dialect")
    sources: dict[Dialect, MigrationSource] = {}
    for dialect in dialects:
        directory = tmp_path / dialect
        directory.mkdir()
        (directory / f"{FIRST}.sql").write_text("SELECT 1;")
        sources[dialect] = MigrationSource(directory)

    created = make_migration("add_user_avatar", sources)

    assert sorted(p.name for p in created) == [
        "0002_add_user_avatar.rollback.sql",
        "0002_add_user_avatar.rollback.sql",
        "0002_add_user_avatar.sql",
        "0002_add_user_avatar.sql",
    ]
    for source in sources.values():
        assert source.migration_ids() == [FIRST, "0002_add_user_avatar"]


@pytest.mark.parametrize("name", ["add avatar", "../escape", "a/b", "Add", "", "1_starts_with_digit"])
def test_make_migration_refuses_names_that_make_bad_file_names(name: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidNameError, match="name"):
        make_migration(name, {"sqlite": MigrationSource(tmp_path)})

    assert list(tmp_path.iterdir()) == []


def test_new_migration_from_the_scaffold_applies_and_rolls_back(
    session: Session, source_copy: MigrationSource
) -> None:
    run_migrations(session, source_copy)
    make_migration("add_user_avatar", {session.dialect: source_copy})

    applied = run_migrations(session, source_copy)
    rolled_back = rollback_migrations(session, source_copy)

    assert applied.applied == ["0002_add_user_avatar"]
    assert rolled_back.rolled_back == ["0002_add_user_avatar"]


def one_file_source(directory: Path) -> MigrationSource:
    directory.mkdir()
    source = MigrationSource(directory)
    add_migration(source, "0001_first", "CREATE TABLE first_one (id integer);", "DROP TABLE first_one;")
    return source


def edit_first_file(source: MigrationSource) -> None:
    add_migration(source, "0001_first", "CREATE TABLE first_one (id bigint);", "DROP TABLE first_one;")


def test_a_pinned_source_keeps_the_files_as_they_were(tmp_path: Path) -> None:
    source = one_file_source(tmp_path / "migrations")
    pinned = source.pinned()
    before = pinned.checksum("0001_first")

    edit_first_file(source)
    add_migration(source, "0002_second", "CREATE TABLE second_one (id integer);", "DROP TABLE second_one;")

    assert pinned.migration_ids() == ["0001_first"]
    assert pinned.checksum("0001_first") == before
    assert source.checksum("0001_first") != before
    assert source.migration_ids() == ["0001_first", "0002_second"]
    assert pinned.pinned() is pinned
    # Parsing the edited file would run SQL that the pinned checksum does not describe.
    with pytest.raises(MigrationError, match=r"0001_first\.sql changed while this run was migrating"):
        pinned.load("0001_first")


def test_a_pinned_source_parses_a_file_once_for_every_schema(tmp_path: Path) -> None:
    source = one_file_source(tmp_path / "migrations")
    pinned = source.pinned()
    loaded = pinned.load("0001_first")

    edit_first_file(source)

    assert pinned.load("0001_first") is loaded
    assert list(loaded.statements()) == ["CREATE TABLE first_one (id integer);"]
