"""The marks that spare the no-op check reading every tenant's history stay true.

A tenant marked up to date is not read; any change to its history made
outside the runner, however it is made, makes the next look read it again.
On plain PostgreSQL only: on Citus nothing is marked (the other tenant tests
cover that path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psycopg
import pytest

from {{ cookiecutter.package_name }}.database.postgresql import PostgresSession, open_postgres_session
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from {{ cookiecutter.package_name }}.tenants import history_marks
from {{ cookiecutter.package_name }}.tenants.creation import create_tenant
from {{ cookiecutter.package_name }}.tenants.history_marks import Marks
from {{ cookiecutter.package_name }}.tenants.one_tenant import run_tenant_migrations
from {{ cookiecutter.package_name }}.tenants.pending import summarize, tenants_with_pending
from {{ cookiecutter.package_name }}.tenants.runner import run_all_tenant_migrations
from {{ cookiecutter.package_name }}.tenants.schemas import enter_tenant_schema_to_migrate, tenant_schema
from helpers_citus import shared_schema_on

pytest_plugins = ["helpers_tenants"]

NewTenantId = Callable[[str], str]
Create = Callable[..., list[str]]
IDS = ("0001_create_notes",)
# The record of later_source's second migration, as a worker writes it.
RECORD = "'0002_create_tags', '', 2, 0"
# The first migration of every source here (name, forward SQL).
FIRST = ("0001_create_notes", "CREATE TABLE IF NOT EXISTS notes (id integer);")


@pytest.fixture
def shared_target() -> Iterator[PostgresTarget]:
    """Plain PostgreSQL only (this overrides the fixture of both servers)."""
    with shared_schema_on("postgresql") as target:
        yield target


@pytest.fixture
def source(tmp_path: Path) -> MigrationSource:
    """One migration that can run again over its own work, so that a tenant
    whose history lost it by hand migrates again cleanly."""
    write_migration(tmp_path, *FIRST)
    return MigrationSource(tmp_path)


@pytest.fixture
def later_source(tmp_path: Path) -> MigrationSource:
    """A later release: the same first migration and one more after it."""
    return source_in(tmp_path / "later", FIRST, ("0002_create_tags", "CREATE TABLE tags (id integer);"))


def source_in(directory: Path, *migrations: tuple[str, str]) -> MigrationSource:
    """A source of these migrations (name, forward SQL), in a new directory."""
    directory.mkdir()
    for name, forward in migrations:
        write_migration(directory, name, forward)
    return MigrationSource(directory)


def write_migration(directory: Path, name: str, forward: str) -> None:
    """A migration file and its rollback, which drops the table it creates."""
    (directory / f"{name}.sql").write_text(f"{forward}\n")
    (directory / f"{name}.rollback.sql").write_text(f"DROP TABLE {name.split('_', 2)[2]};\n")


@pytest.fixture
def created(shared: PostgresSession, source: MigrationSource, new_tenant_id: NewTenantId) -> Create:
    """Tenants created (and so marked) with `source`, by name: their ids."""

    def create(*names: str) -> list[str]:
        tenants = [new_tenant_id(name) for name in names]
        for tenant_id in tenants:
            create_tenant(shared, tenant_id, source)
        return tenants

    return create


@pytest.fixture
def marks(shared: PostgresSession) -> Marks:
    found = history_marks.prepare(shared)
    assert found is not None
    return found


@pytest.fixture
def other(shared_target: PostgresTarget) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A second connection, as a person at psql would have."""
    with psycopg.connect(**shared_target.connect_kwargs(), autocommit=True) as connection:
        yield connection


def table(tenant_id: str) -> str:
    return f'"tenant_{tenant_id}".schema_migrations'


def watched(shared: PostgresSession, marks: Marks, tenant_id: str) -> bool:
    """Whether the catalog shows the tenant's trigger and mark in place."""
    return all(u.watched for u in history_marks.unmarked(shared, marks, [tenant_id], "any"))


def unmarked(shared: PostgresSession, marks: Marks, tenants: list[str], ids: Sequence[str] = IDS) -> set[str]:
    return {u.tenant_id for u in history_marks.unmarked(shared, marks, tenants, history_marks.digest(ids))}


def look_reading_nothing(
    shared: PostgresSession,
    other: psycopg.Connection[tuple[object, ...]],
    marks: Marks,
    tenants: list[str],
    ids: Sequence[str],
) -> set[str]:
    """The look's pending tenants, while the first one's history is locked:
    should the look read a history, it would wait for that lock and fail."""
    with other.transaction():
        other.execute(f"LOCK TABLE {table(tenants[0])} IN ACCESS EXCLUSIVE MODE")
        shared.execute("SET lock_timeout = '10s'")
        return tenants_with_pending(shared, tenants, ids, marks)


def test_the_earlier_digests_are_those_of_every_shorter_run_from_the_first() -> None:
    ids = ["0001_a", "0002_b", "0003_c"]
    assert history_marks.earlier_digests(ids) == [history_marks.digest(ids[:count]) for count in range(3)]
    assert history_marks.earlier_digests([]) == []


def test_a_created_tenant_is_marked_and_its_history_is_not_read(
    shared: PostgresSession,
    marks: Marks,
    created: Create,
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    tenants = created("a", "b")
    assert unmarked(shared, marks, tenants) == set()
    assert look_reading_nothing(shared, other, marks, tenants, IDS) == set()


CHANGES_BY_HAND = {
    "a deleted row": ["DELETE FROM {table}"],
    "an updated row": ["UPDATE {table} SET id = id || '_renamed'"],
    "a truncated table": ["TRUNCATE {table}"],
    "a delete in replica mode": ["SET session_replication_role = replica", "DELETE FROM {table}"],
    "a trigger disabled before the delete": [
        "ALTER TABLE {table} DISABLE TRIGGER ALL",
        "DELETE FROM {table}",
    ],
    # As pg_restore does it: the table made again, its rows copied in before
    # the trigger is put back; the mark's version has not moved.
    "a table restored without its last row": [
        "ALTER TABLE {table} RENAME TO dumped",
        "CREATE TABLE {table} (LIKE {schema}.dumped INCLUDING ALL)",
        "INSERT INTO {table} SELECT * FROM {schema}.dumped WHERE id <> (SELECT max(id) FROM {schema}.dumped)",
        "DROP TABLE {schema}.dumped",
        "CREATE TRIGGER _tenant_history_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
        " FOR EACH STATEMENT WHEN (current_setting('tenant_history.runner', true) IS DISTINCT FROM 'on')"
        " EXECUTE FUNCTION {function}()",
        "ALTER TABLE {table} ENABLE ALWAYS TRIGGER _tenant_history_changed",
    ],
}


@pytest.mark.parametrize("change", list(CHANGES_BY_HAND))
def test_a_change_by_hand_to_a_marked_history_is_found_and_migrated(
    change: str,
    source: MigrationSource,
    shared_target: PostgresTarget,
    shared: PostgresSession,
    marks: Marks,
    created: Create,
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    changed, untouched = created("changed", "untouched")
    for statement in CHANGES_BY_HAND[change]:
        other.execute(
            statement.format(
                table=table(changed),
                schema=f'"tenant_{changed}"',
                function=marks.function.as_string(),
            )
        )

    assert tenants_with_pending(shared, [changed, untouched], IDS, marks) == {changed}
    report = run_all_tenant_migrations(shared_target, source)
    assert report.ok
    assert [result.tenant_id for result in report.migrated] == [changed]
    # The worker that migrated it marked it: the next look does not read it.
    assert unmarked(shared, marks, [changed, untouched]) == set()
    assert tenants_with_pending(shared, [changed, untouched], IDS, marks) == set()


def test_a_tenant_made_before_the_marks_is_watched_and_marked_by_the_next_run(
    source: MigrationSource,
    shared_target: PostgresTarget,
    shared: PostgresSession,
    marks: Marks,
    created: Create,
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    (tenant_id,) = created("older")
    other.execute(f"DROP TRIGGER _tenant_history_changed ON {table(tenant_id)}")
    other.execute(f"TRUNCATE {marks.table.as_string()}")
    assert not watched(shared, marks, tenant_id)

    first = run_all_tenant_migrations(shared_target, source)

    assert first.up_to_date == 1
    assert unmarked(shared, marks, [tenant_id]) == set()
    # Watched now: a change by hand is found.
    other.execute(f"DELETE FROM {table(tenant_id)}")
    assert tenants_with_pending(shared, [tenant_id], IDS, marks) == {tenant_id}


def test_emptying_the_marks_makes_the_next_look_read_and_mark_every_history(
    source: MigrationSource,
    shared_target: PostgresTarget,
    shared: PostgresSession,
    marks: Marks,
    created: Create,
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    tenants = created("a", "b")
    other.execute(f"TRUNCATE {marks.table.as_string()}")
    other.execute(f"DELETE FROM {table(tenants[0])}")
    assert unmarked(shared, marks, tenants) == set(tenants)

    assert tenants_with_pending(shared, tenants, IDS, marks) == {tenants[0]}

    assert unmarked(shared, marks, tenants) == {tenants[0]}
    assert run_all_tenant_migrations(shared_target, source).ok
    assert unmarked(shared, marks, tenants) == set()


def test_a_busy_history_table_is_read_and_left_unwatched(
    shared: PostgresSession,
    marks: Marks,
    created: Create,
    other: psycopg.Connection[tuple[object, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tenant_id,) = created("busy")
    other.execute(f"DROP TRIGGER _tenant_history_changed ON {table(tenant_id)}")
    monkeypatch.setattr("{{ cookiecutter.package_name }}.tenants.history_marks.WATCH_LOCK_TIMEOUT", 0.05)
    # A writer's open transaction: the trigger cannot go on meanwhile.
    with other.transaction():
        other.execute(f"LOCK TABLE {table(tenant_id)} IN ROW EXCLUSIVE MODE")
        assert tenants_with_pending(shared, [tenant_id], IDS, marks) == set()
    assert not watched(shared, marks, tenant_id)


def test_a_look_skips_a_mark_that_an_uncommitted_change_holds_and_the_next_look_finds_the_change(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    marks: Marks,
    created: Create,
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    (tenant_id,) = created("held")
    # Make the look read it: its mark is for other migrations.
    other.execute(f"UPDATE {marks.table.as_string()} SET checked_for = 'older'")
    with other.transaction():
        # A rollback by hand, not yet committed: its trigger holds the mark's row.
        other.execute(f"DELETE FROM {table(tenant_id)}")
        # Should the look wait for that row, it would fail here.
        shared.execute("SET lock_timeout = '10s'")
        # Its snapshot has the history complete; it must not mark it so.
        assert tenants_with_pending(shared, [tenant_id], IDS, marks) == set()
        assert unmarked(shared, marks, [tenant_id]) == {tenant_id}
    assert tenants_with_pending(shared, [tenant_id], IDS, marks) == {tenant_id}


def test_a_tenant_marked_by_an_earlier_release_is_pending_unread_and_marked_once_migrated(
    later_source: MigrationSource,
    shared_target: PostgresTarget,
    shared: PostgresSession,
    marks: Marks,
    created: Create,
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    tenants = created("a", "b")
    later = later_source.migration_ids()
    assert look_reading_nothing(shared, other, marks, tenants, later) == set(tenants)

    report = run_all_tenant_migrations(shared_target, later_source)

    assert report.ok
    assert {result.tenant_id for result in report.migrated} == set(tenants)
    assert unmarked(shared, marks, tenants, later) == set()
    assert tenants_with_pending(shared, tenants, later, marks) == set()


def test_a_tenant_marked_earlier_that_holds_every_migration_is_found_up_to_date_and_marked(
    later_source: MigrationSource,
    shared_target: PostgresTarget,
    shared: PostgresSession,
    marks: Marks,
    new_tenant_id: NewTenantId,
) -> None:
    # A rolling release: the new code created the tenant with both
    # migrations, then a replica still on the old code looked at it and
    # marked it for the first migration only.
    tenant_id = new_tenant_id("rolling")
    create_tenant(shared, tenant_id, later_source)
    later = later_source.migration_ids()
    assert tenants_with_pending(shared, [tenant_id], IDS, marks) == set()
    assert unmarked(shared, marks, [tenant_id], later) == {tenant_id}

    assert tenants_with_pending(shared, [tenant_id], later, marks) == {tenant_id}
    report = run_all_tenant_migrations(shared_target, later_source)

    assert report.ok and report.up_to_date == 1 and not report.migrated
    assert unmarked(shared, marks, [tenant_id], later) == set()


def test_a_tenant_migrated_on_its_own_is_marked_unless_its_run_failed(
    source: MigrationSource,
    later_source: MigrationSource,
    tmp_path: Path,
    shared: PostgresSession,
    marks: Marks,
    created: Create,
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    migrated, touched, failing = created("alone", "touched", "failing")
    later = later_source.migration_ids()
    # A change by hand moves the version: that mark no longer counts.
    other.execute(f"UPDATE {table(touched)} SET checksum = checksum")
    assert unmarked(shared, marks, [touched]) == {touched}
    failing_tags = ("0002_create_tags", "CREATE TABLE tags (id no_such_type);")
    broken = source_in(tmp_path / "broken", FIRST, failing_tags)

    assert run_tenant_migrations(shared, migrated, later_source).outcome == "applied"
    assert run_tenant_migrations(shared, touched, source).outcome == "up to date"
    assert run_tenant_migrations(shared, failing, broken).failed

    assert unmarked(shared, marks, [migrated], later) == set()
    assert look_reading_nothing(shared, other, marks, [migrated], later) == set()
    assert unmarked(shared, marks, [touched]) == set()
    # The failed migration's record rolled back with it: the mark is still
    # the one tenant-create made, for the first migration only.
    assert unmarked(shared, marks, [failing]) == set()
    assert unmarked(shared, marks, [failing], later) == {failing}
    assert tenants_with_pending(shared, [failing], later, marks) == {failing}


def test_a_tenant_run_on_its_own_without_a_bookkeeping_table_is_left_unmarked(
    tmp_path: Path,
    shared: PostgresSession,
    marks: Marks,
    created: Create,
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    [bare] = created("bare")
    other.execute(f"DROP TABLE {table(bare)}")
    # No migration to apply, so none creates the table: nothing to mark, no error.
    assert run_tenant_migrations(shared, bare, source_in(tmp_path / "none")).outcome == "up to date"
    assert unmarked(shared, marks, [bare], []) == {bare}


def test_the_status_summary_trusts_counting_marks_reads_the_rest_and_writes_nothing(
    later_source: MigrationSource,
    shared: PostgresSession,
    marks: Marks,
    created: Create,
    new_tenant_id: NewTenantId,
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    marked, changed, touched, unwatched = created("marked", "changed", "touched", "unwatched")
    other.execute(f"DELETE FROM {table(changed)}")
    # Its version moved, but its history still holds every migration.
    other.execute(f"UPDATE {table(touched)} SET duration_ms = duration_ms + 1")
    # Without its trigger, a change leaves the version as it was.
    other.execute(f"DROP TRIGGER _tenant_history_changed ON {table(unwatched)}")
    other.execute(f"DELETE FROM {table(unwatched)}")
    # Created with both migrations, then marked for the first only (a
    # replica still on the old release looked at it): it holds every one.
    rolling = new_tenant_id("rolling")
    create_tenant(shared, rolling, later_source)
    assert tenants_with_pending(shared, [rolling], IDS, marks) == set()

    def state() -> object:
        rows = other.execute(f"SELECT * FROM {marks.table.as_string()} ORDER BY schema_name").fetchall()
        triggers = other.execute("SELECT count(*) FROM pg_trigger WHERE tgname = '_tenant_history_changed'")
        return rows, triggers.fetchall()

    before = state()
    shared.execute("SET default_transaction_read_only = on")
    try:
        # Should the summary read the marked tenant's history, it would wait
        # for this lock and fail.
        with other.transaction():
            other.execute(f"LOCK TABLE {table(marked)} IN ACCESS EXCLUSIVE MODE")
            shared.execute("SET lock_timeout = '10s'")
            now = summarize(shared, IDS)
        later = summarize(shared, later_source.migration_ids())
    finally:
        shared.execute("RESET default_transaction_read_only")
        shared.execute("RESET lock_timeout")

    assert (now.total, sorted(now.pending)) == (5, sorted([changed, unwatched]))
    # For the later release, the earlier marks do not spare a read: the
    # tenant that holds both migrations is up to date, not pending.
    assert sorted(later.pending) == sorted([marked, changed, touched, unwatched])
    assert state() == before
    assert not watched(shared, marks, unwatched)


@pytest.fixture
def entered_pair(
    shared_target: PostgresTarget,
    marks: Marks,
    created: Create,
    other: psycopg.Connection[tuple[object, ...]],
) -> tuple[list[str], dict[str, int]]:
    """Two tenants as a runner leaves them before it marks them: each entered
    by a worker, its version read with the entering statement, then migrated
    as a worker records it (skipping the trigger). Their ids, and their
    versions on entering."""
    tenant_ids = created("first", "second")
    versions: dict[str, int] = {}
    entering = history_marks.version_on_entering(marks)
    worker = open_postgres_session(shared_target)
    try:
        for tenant_id in tenant_ids:
            version, _ = enter_tenant_schema_to_migrate(worker, tenant_id, entering)
            assert isinstance(version, int)
            versions[tenant_schema(tenant_id)] = version
    finally:
        worker.close()
    other.execute("SET tenant_history.runner = 'on'")
    for tenant_id in tenant_ids:
        other.execute(f"INSERT INTO {table(tenant_id)} (id, checksum, batch, duration_ms) VALUES ({RECORD})")
    other.execute("RESET tenant_history.runner")
    return tenant_ids, versions


def test_a_tenant_changed_by_hand_after_its_worker_entered_it_is_not_marked_with_the_others(
    later_source: MigrationSource,
    shared: PostgresSession,
    marks: Marks,
    entered_pair: tuple[list[str], dict[str, int]],
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    [changed, untouched], versions = entered_pair
    later = later_source.migration_ids()
    # A change by hand to one of them, before the runner marks them.
    other.execute(f"DELETE FROM {table(changed)} WHERE id = '{IDS[0]}'")

    history_marks.mark_migrated(shared, marks, later, versions)

    assert unmarked(shared, marks, [changed, untouched], later) == {changed}
    assert tenants_with_pending(shared, [changed, untouched], later, marks) == {changed}


def test_marking_after_a_run_skips_a_mark_that_an_uncommitted_change_holds(
    later_source: MigrationSource,
    shared: PostgresSession,
    marks: Marks,
    entered_pair: tuple[list[str], dict[str, int]],
    other: psycopg.Connection[tuple[object, ...]],
) -> None:
    [held, free], versions = entered_pair
    later = later_source.migration_ids()
    with other.transaction():
        # A change by hand, not yet committed: its trigger holds the mark's row.
        other.execute(f"DELETE FROM {table(held)} WHERE id = '{IDS[0]}'")
        # Should the marking wait for that row, it would fail here.
        shared.execute("SET lock_timeout = '10s'")
        history_marks.mark_migrated(shared, marks, later, versions)
        shared.execute("RESET lock_timeout")
        assert unmarked(shared, marks, [held, free], later) == {held}
    assert unmarked(shared, marks, [held, free], later) == {held}
