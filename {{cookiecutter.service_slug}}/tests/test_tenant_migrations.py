"""Schema-per-tenant migrations on a real PostgreSQL: create, migrate one, migrate all.

Each test gets a fresh shared schema (the registry lives there) and tenant ids
of its own; tenant schemas are dropped afterwards.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from {{ cookiecutter.package_name }}.database.lock_retry import LockRetryPolicy
from {{ cookiecutter.package_name }}.database.postgresql import PostgresSession, open_postgres_session
from {{ cookiecutter.package_name }}.database.postgresql_entering import NAMED_LOCK_KEY_SQL
from {{ cookiecutter.package_name }}.database.postgresql_one_query import SEPARATOR
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.errors import MigrationError, Remedy
from {{ cookiecutter.package_name }}.log_context import LogContextFilter
from {{ cookiecutter.package_name }}.migrator.applying import NotTransactionalError
from {{ cookiecutter.package_name }}.migrator.history import SNAPSHOT_QUERY, snapshot_of
from {{ cookiecutter.package_name }}.migrator.runner import apply_pending, run_migrations
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from {{ cookiecutter.package_name }}.tenants import registry as tenant_registry
from {{ cookiecutter.package_name }}.tenants import runner as tenant_runner
from {{ cookiecutter.package_name }}.tenants.creation import create_tenant
from {{ cookiecutter.package_name }}.tenants.history_marks import Marks
from {{ cookiecutter.package_name }}.tenants.one_tenant import (
    get_tenant_migration_status,
    rollback_tenant_migrations,
    run_tenant_migrations,
)
from {{ cookiecutter.package_name }}.tenants.pending import summarize, tenants_with_pending
from {{ cookiecutter.package_name }}.tenants.registry import RegistryCollisionError
from {{ cookiecutter.package_name }}.tenants.results import TenantResult
from {{ cookiecutter.package_name }}.tenants.runner import (
    Lookout,
    accept_change_in_all_tenants,
    run_all_tenant_migrations,
)
from {{ cookiecutter.package_name }}.tenants.schemas import (
    InvalidTenantIdError,
    TenantExistsError,
    UnknownTenantError,
    enter_tenant_schema_to_migrate,
)
from {{ cookiecutter.package_name }}.tenants.workers import SMALLEST_SHARE
from conftest import cli, subprocess_env, target_url
from helpers_citus import shared_schema_on

pytest_plugins = ["helpers_tenants"]

FIRST = "0001_create_users_table"
NewTenantId = Callable[[str], str]


def add_migration(source: MigrationSource, name: str, forward: str, rollback: str) -> None:
    (source.directory / f"{name}.sql").write_text(forward)
    (source.directory / f"{name}.rollback.sql").write_text(rollback)


NICKNAME = "0002_add_nickname"


def created_then_behind(
    shared: PostgresSession, new_tenant_id: NewTenantId, source: MigrationSource, *names: str
) -> list[str]:
    """Tenants created with `source`, which then gains a migration (NICKNAME)
    that none of them has: their ids."""
    tenants = [new_tenant_id(name) for name in names]
    for tenant_id in tenants:
        create_tenant(shared, tenant_id, source)
    add_migration(
        source,
        NICKNAME,
        "ALTER TABLE users ADD COLUMN nickname TEXT;",
        "ALTER TABLE users DROP COLUMN nickname;",
    )
    return tenants


@contextmanager
def lock_held_elsewhere(target: PostgresTarget, tenant_id: str) -> Iterator[PostgresSession]:
    """The tenant's migration lock, held by another session for the block
    (or until that session, which it yields, is closed)."""
    holder = open_postgres_session(target)
    try:
        holder.execute(f'SET search_path TO "tenant_{tenant_id}"')
        with holder.migration_lock(timeout=5):
            yield holder
    finally:
        holder.close()


def history(session: PostgresSession, tenant_id: str) -> list[tuple[str, int]]:
    rows = session.execute(f'SELECT id, batch FROM "tenant_{tenant_id}".schema_migrations ORDER BY id')
    return [(row[0], row[1]) for row in rows]


def has_table(session: PostgresSession, schema: str, table: str) -> bool:
    return (
        session.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))", (schema, table))[0][0]
        is not None
    )


def schema_names(session: PostgresSession) -> set[str]:
    return {row[0] for row in session.execute("SELECT nspname FROM pg_namespace")}


def registry(session: PostgresSession) -> dict[str, str | None]:
    return dict(session.execute("SELECT id, last_outcome FROM _tenant_registry ORDER BY id"))


def test_three_tenants_each_get_the_users_table_and_a_history_of_their_own(
    shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    tenants = [new_tenant_id(name) for name in ("acme", "globex", "initech")]

    results = [create_tenant(shared, tenant_id) for tenant_id in tenants]

    assert [result.applied for result in results] == [(FIRST,)] * 3
    for tenant_id in tenants:
        assert has_table(shared, f"tenant_{tenant_id}", "users")
        assert history(shared, tenant_id) == [(FIRST, 1)]
    assert registry(shared) == dict.fromkeys(tenants, "applied")
    # The shared schema was not migrated by creating tenants.
    assert shared.execute("SELECT to_regclass('users')") == [(None,)]
    # A user in one tenant is not in another.
    shared.execute(
        f"INSERT INTO \"tenant_{tenants[0]}\".users (email, password_hash, name) VALUES ('a@x.io', 'h', 'A')"
    )
    assert shared.execute(f'SELECT count(*) FROM "tenant_{tenants[1]}".users') == [(0,)]


@pytest.mark.parametrize(
    "tenant_id",
    [
        "acme; DROP SCHEMA public CASCADE",
        'acme"; DROP SCHEMA public CASCADE; --',
        "Acme",
        "acme-eu",
        "../x",
        "",
    ],
)
def test_injection_attempts_are_refused_by_every_entry_point_and_change_nothing(
    shared: PostgresSession, tenant_id: str
) -> None:
    before = schema_names(shared)

    for attempt in (
        create_tenant,
        run_tenant_migrations,
        rollback_tenant_migrations,
        get_tenant_migration_status,
    ):
        with pytest.raises(InvalidTenantIdError, match="is not valid"):
            attempt(shared, tenant_id)

    assert schema_names(shared) == before
    # Refused before anything touched the database: not even the registry exists.
    assert shared.execute("SELECT to_regclass('_tenant_registry')") == [(None,)]


def test_a_non_transactional_migration_refuses_tenant_creation_and_leaves_nothing(
    shared: PostgresSession, new_tenant_id: NewTenantId, source: MigrationSource
) -> None:
    add_migration(
        source,
        "0002_index_users_email_concurrently",
        "-- transactional: false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);",
        "-- transactional: false\nDROP INDEX CONCURRENTLY IF EXISTS users_email_idx;",
    )
    acme = new_tenant_id("acme")

    with pytest.raises(NotTransactionalError) as raised:
        create_tenant(shared, acme, source)

    message = str(raised.value)
    assert "0002_index_users_email_concurrently.sql is marked `transactional: false`" in message
    assert message.endswith("(creating a tenant is one transaction: create tenants before adding it)")
    assert f"tenant_{acme}" not in schema_names(shared)
    assert acme not in registry(shared)


def test_a_failing_tenant_does_not_stop_the_others_and_a_rerun_migrates_only_it(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    tenants = [new_tenant_id(name) for name in ("a", "b", "c")]
    for tenant_id in tenants:
        create_tenant(shared, tenant_id, source)
    add_migration(
        source,
        "0002_create_audit_log",
        "CREATE TABLE audit_log (id BIGINT PRIMARY KEY);",
        "DROP TABLE audit_log;",
    )
    broken = tenants[1]
    shared.execute(f'CREATE TABLE "tenant_{broken}".audit_log (something TEXT)')

    first = run_all_tenant_migrations(shared_target, source, concurrency=2)

    assert {r.tenant_id for r in first.migrated} == {tenants[0], tenants[2]}
    assert [r.tenant_id for r in first.failed] == [broken]
    assert "0002_create_audit_log.sql" in (first.failed[0].error or "")
    assert "already exists" in (first.failed[0].error or "")
    assert history(shared, broken) == [(FIRST, 1)]
    assert history(shared, tenants[0]) == [(FIRST, 1), ("0002_create_audit_log", 2)]
    assert registry(shared) == {tenants[0]: "applied", broken: "failed", tenants[2]: "applied"}
    summary = summarize(shared, source.migration_ids())
    assert (summary.total, summary.up_to_date, summary.pending) == (3, 2, [broken])
    assert [f.tenant_id for f in summary.failed] == [broken]

    shared.execute(f'DROP TABLE "tenant_{broken}".audit_log')
    rerun = run_all_tenant_migrations(shared_target, source, concurrency=2)

    assert [r.tenant_id for r in rerun.migrated] == [broken]
    assert rerun.up_to_date == 2
    assert rerun.ok
    assert history(shared, broken) == [(FIRST, 1), ("0002_create_audit_log", 2)]
    assert summarize(shared, source.migration_ids()).failed == []


def test_finding_nothing_pending_opens_no_connection_per_tenant(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenants = [new_tenant_id(f"n{i}") for i in range(5)]
    for tenant_id in tenants:
        create_tenant(shared, tenant_id)
    opened: list[PostgresTarget] = []
    real_open = open_postgres_session

    def counting_open(target: PostgresTarget) -> PostgresSession:
        opened.append(target)
        return real_open(target)

    monkeypatch.setattr(tenant_runner, "open_postgres_session", counting_open)

    report = run_all_tenant_migrations(shared_target, concurrency=4)

    assert report.up_to_date == 5
    assert report.ok
    # The shared session, and one worker's to look at the few tenants: no
    # connection or yoyo backend per tenant.
    assert len(opened) == 2


def test_pending_check_sees_a_missing_history_row_and_a_missing_history_table(
    shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    tenants = [new_tenant_id(name) for name in ("ok", "row", "table")]
    for tenant_id in tenants:
        create_tenant(shared, tenant_id)
    ids = MigrationSource.for_dialect("postgresql").migration_ids()
    assert tenants_with_pending(shared, tenants, ids) == set()

    shared.execute(f'DELETE FROM "tenant_{tenants[1]}".schema_migrations')
    shared.execute(f'DROP TABLE "tenant_{tenants[2]}".schema_migrations')

    assert tenants_with_pending(shared, tenants, ids) == {tenants[1], tenants[2]}


def test_migrate_all_finds_every_tenant_changed_by_hand_whichever_connection_looks(
    shared_target: PostgresTarget, shared: PostgresSession, new_tenant_id: NewTenantId, tmp_path: Path
) -> None:
    # More tenants than one connection looks at (tenants/workers.py), so that
    # the look is split over several of the workers' connections.
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "0001_create_notes.sql").write_text("CREATE TABLE notes (id integer PRIMARY KEY);\n")
    (tiny / "0001_create_notes.rollback.sql").write_text("DROP TABLE notes;\n")
    source = MigrationSource(tiny)
    tenants = [new_tenant_id(f"many{number:03d}") for number in range(2 * SMALLEST_SHARE + 1)]
    for tenant_id in tenants:
        create_tenant(shared, tenant_id, source)
    # By hand, outside the runner: one tenant's history row deleted (its
    # migration rolled back by hand), another's whole history table dropped.
    by_hand = {tenants[SMALLEST_SHARE + 7], tenants[-1]}
    first, last = sorted(by_hand)
    shared.execute(f'DELETE FROM "tenant_{first}".schema_migrations')
    shared.execute(f'DROP TABLE "tenant_{first}".notes')
    shared.execute(f'DROP TABLE "tenant_{last}".schema_migrations')
    shared.execute(f'DROP TABLE "tenant_{last}".notes')

    report = run_all_tenant_migrations(shared_target, source, concurrency=4)

    assert report.ok
    assert {result.tenant_id for result in report.migrated} == by_hand
    assert report.up_to_date == len(tenants) - len(by_hand)
    for tenant_id in by_hand:
        assert history(shared, tenant_id) == [("0001_create_notes", 1)]


def test_pages_nearly_all_pending_skip_the_look_and_every_tenant_still_ends_right(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    source = MigrationSource(tiny)
    add_migration(
        source, "0001_create_notes", "CREATE TABLE notes (id integer PRIMARY KEY);", "DROP TABLE notes;"
    )
    # Six tenants behind by one migration, then two created with it (up to
    # date), last in the registry's order; pages of two.
    behind = [new_tenant_id(f"p{number}") for number in range(6)]
    for tenant_id in behind:
        create_tenant(shared, tenant_id, source)
    add_migration(
        source, "0002_create_tags", "CREATE TABLE tags (id integer PRIMARY KEY);", "DROP TABLE tags;"
    )
    current = [new_tenant_id(f"q{number}") for number in range(2)]
    for tenant_id in current:
        create_tenant(shared, tenant_id, source)
    small_pages = tenant_registry.pages

    def pages_of_two(session: PostgresSession, size: int = 2) -> Iterator[list[str]]:
        return small_pages(session, size=2)

    looked_at: list[list[str]] = []

    def counting_look(
        session: PostgresSession, tenant_ids: Sequence[str], ids: Sequence[str], marks: Marks | None
    ) -> set[str]:
        looked_at.append(list(tenant_ids))
        return tenants_with_pending(session, tenant_ids, ids, marks)

    monkeypatch.setattr(tenant_registry, "pages", pages_of_two)
    monkeypatch.setattr(tenant_runner, "tenants_with_pending", counting_look)

    report = run_all_tenant_migrations(shared_target, source, concurrency=2)

    # The first two pages were looked at (at once, on the workers'
    # connections: the second before the first's answer was in); both were
    # all pending, so the last two went straight to the workers, who found
    # the up-to-date tenants up to date.
    assert sorted(looked_at) == [behind[0:2], behind[2:4]]
    assert report.ok
    assert sorted(result.tenant_id for result in report.migrated) == sorted(behind)
    assert report.up_to_date == len(current)
    for tenant_id in behind:
        assert history(shared, tenant_id) == [("0001_create_notes", 1), ("0002_create_tags", 2)]
    for tenant_id in current:
        assert history(shared, tenant_id) == [("0001_create_notes", 1), ("0002_create_tags", 1)]
    assert set(registry(shared).values()) == {"applied", "up to date"}


def test_the_look_stops_while_pages_are_nearly_all_pending_and_starts_when_some_are_up_to_date() -> None:
    def page(name: str) -> list[str]:
        return [f"{name}{number}" for number in range(100)]

    def results(tenant_ids: list[str], up_to_date: int) -> None:
        for number, tenant_id in enumerate(tenant_ids):
            lookout.migrated(TenantResult(tenant_id, "up to date" if number < up_to_date else "applied"))

    lookout = Lookout()
    assert lookout.worth_looking()  # nothing known yet
    first = page("a")
    assert lookout.noting(first, lambda: set(first[:89]))() == set(first[:89])
    assert lookout.worth_looking()  # 89% pending: still worth it
    lookout.noting(first, lambda: set(first[:90]))()
    assert not lookout.worth_looking()  # 90%: straight to the workers

    # Results of looked-at tenants say nothing about the pages not looked at.
    results(first[: Lookout.SAMPLE], up_to_date=Lookout.SAMPLE)
    assert not lookout.worth_looking()

    unlooked = page("b")
    lookout.all_of(unlooked)
    results(unlooked[: Lookout.SAMPLE], up_to_date=Lookout.SAMPLE // 10)
    assert not lookout.worth_looking()  # a tenth up to date: not more
    results(unlooked[Lookout.SAMPLE :], up_to_date=Lookout.SAMPLE // 10 + 1)
    assert lookout.worth_looking()  # more than a tenth: look again


def test_creating_a_tenant_is_all_or_nothing(
    shared: PostgresSession, new_tenant_id: NewTenantId, source: MigrationSource
) -> None:
    add_migration(source, "0002_broken", "SELECT * FROM no_such_table;", "SELECT 1;")
    tenant_id = new_tenant_id("doomed")

    with pytest.raises(MigrationError, match=r"0002_broken\.sql failed"):
        create_tenant(shared, tenant_id, source)

    assert f"tenant_{tenant_id}" not in schema_names(shared)
    assert shared.execute("SELECT count(*) FROM _tenant_registry") == [(0,)]
    # Creating takes no migration lock (nobody else sees the new schema), and
    # leaves none behind.
    held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    assert shared.execute(held) == [(0,)]


def test_creating_a_tenant_waits_for_a_shared_table_no_longer_than_its_lock_timeout(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    # Creation takes no migration lock (nobody else sees the new schema), but
    # a tenant migration may still read a shared table that someone holds.
    plans = f'"{shared.execute("SELECT current_schema()")[0][0]}".plans'
    shared.execute(f"CREATE TABLE {plans} (id integer)")
    add_migration(source, "0002_reads_plans", f"SELECT count(*) FROM {plans};", "SELECT 1;")
    tenant_id = new_tenant_id("waits")
    holder = open_postgres_session(shared_target)
    try:
        # Were the wait unbounded, the server would end the holder after
        # 20 s, and the creation would then succeed: the test fails, not hangs.
        holder.execute("SET idle_in_transaction_session_timeout = '20s'")
        holder.execute("BEGIN")
        holder.execute(f"LOCK TABLE {plans} IN ACCESS EXCLUSIVE MODE")
        policy = LockRetryPolicy(max_timeout=0.2, window=0)
        with pytest.raises(MigrationError, match=r"0002_reads_plans\.sql failed.*lock timeout"):
            create_tenant(shared, tenant_id, source, lock_retry=policy)
    finally:
        holder.close()

    assert f"tenant_{tenant_id}" not in schema_names(shared)
    assert shared.execute("SELECT count(*) FROM _tenant_registry") == [(0,)]


@pytest.mark.parametrize(("header", "expected"), [("10s", "10s"), ("0", "0")])
def test_a_tenant_being_created_waits_as_long_as_its_most_patient_file_allows(
    shared: PostgresSession, new_tenant_id: NewTenantId, source: MigrationSource, header: str, expected: str
) -> None:
    # One transaction takes every file's locks: the service's 2 s, unless a
    # file allows more (10 s), or waits unbounded (0).
    add_migration(
        source,
        "0002_keeps_the_lock_timeout",
        "CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lock_timeout;",
        "DROP TABLE seen;",
    )
    add_migration(source, "0003_patient", f"-- lock_timeout: {header}\nSELECT 1;", "SELECT 1;")
    tenant_id = new_tenant_id("patient")

    create_tenant(shared, tenant_id, source)

    assert shared.execute(f'SELECT lock_timeout FROM "tenant_{tenant_id}".seen') == [(expected,)]


def test_an_existing_tenant_or_an_unregistered_schema_is_refused_and_kept(
    shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    existing, squatted = new_tenant_id("acme"), new_tenant_id("squatted")
    create_tenant(shared, existing)
    shared.execute(f'CREATE SCHEMA "tenant_{squatted}"')
    shared.execute(f'CREATE TABLE "tenant_{squatted}".keep (id INT)')

    with pytest.raises(TenantExistsError, match="already exists"):
        create_tenant(shared, existing)
    with pytest.raises(TenantExistsError, match="is not registered"):
        create_tenant(shared, squatted)

    assert history(shared, existing) == [(FIRST, 1)]
    assert has_table(shared, f"tenant_{squatted}", "keep")
    assert registry(shared) == {existing: "applied"}


def test_unregistered_tenants_are_refused_by_name(
    shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    ghost = new_tenant_id("ghost")

    with pytest.raises(UnknownTenantError, match="is not registered") as raised:
        run_tenant_migrations(shared, ghost)

    assert raised.value.remedies == (Remedy("tenant-create", {"tenant": ghost}, "create it"),)


def test_rolling_back_one_tenant_leaves_the_others_untouched(
    shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    rolled, kept = new_tenant_id("rolled"), new_tenant_id("kept")
    create_tenant(shared, rolled)
    create_tenant(shared, kept)
    search_path = shared.execute("SHOW search_path")

    result = rollback_tenant_migrations(shared, rolled)

    assert result.rolled_back == [FIRST]
    assert not has_table(shared, f"tenant_{rolled}", "users")
    assert history(shared, rolled) == []
    assert has_table(shared, f"tenant_{kept}", "users")
    assert history(shared, kept) == [(FIRST, 1)]
    assert shared.execute("SHOW search_path") == search_path
    assert get_tenant_migration_status(shared, rolled).pending == [FIRST]
    assert run_tenant_migrations(shared, rolled).applied == (FIRST,)


def test_the_lock_is_per_schema(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    busy, free = created_then_behind(shared, new_tenant_id, source, "busy", "free")
    with lock_held_elsewhere(shared_target, busy):
        blocked = run_tenant_migrations(shared, busy, source, lock_timeout=0.3)
        unblocked = run_tenant_migrations(shared, free, source, lock_timeout=0.3)

    assert blocked.failed
    assert "MIGRATION_LOCK_TIMEOUT" in (blocked.error or "")
    assert unblocked.applied == ("0002_add_nickname",)
    assert run_tenant_migrations(shared, busy, source).applied == ("0002_add_nickname",)


MIGRATE_ONE = """
import sys
from pathlib import Path
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from {{ cookiecutter.package_name }}.tenants.one_tenant import run_tenant_migrations

with session_scope(load_settings(env_file=None).database) as session:
    result = run_tenant_migrations(session, sys.argv[1], MigrationSource(Path(sys.argv[2])), lock_timeout=60)
print(result.outcome, ",".join(result.applied), result.error or "")
"""


def test_two_processes_migrating_the_same_tenant_apply_each_migration_once(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    tenant_id = new_tenant_id("raced")
    create_tenant(shared, tenant_id, source)
    # Slow enough that the second process arrives while the first holds the lock.
    add_migration(
        source, "0002_slow", "SELECT pg_sleep(1.5); CREATE TABLE slow (id INT);", "DROP TABLE slow;"
    )
    env = subprocess_env(DATABASE_URL=target_url(shared_target))
    command = [sys.executable, "-c", MIGRATE_ONE, tenant_id, str(source.directory)]

    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    # The last line is the script's (yoyo prints what a migration's SELECT returns).
    outputs = sorted(process.communicate(timeout=60)[0].strip().splitlines()[-1] for process in processes)

    assert [process.returncode for process in processes] == [0, 0]
    assert outputs == ["applied 0002_slow", "up to date"]
    assert history(shared, tenant_id) == [(FIRST, 1), ("0002_slow", 2)]


def test_tenant_commands_from_the_command_line(
    shared_target: PostgresTarget, shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    url = target_url(shared_target)
    acme, beta = new_tenant_id("acme"), new_tenant_id("beta")

    created = [cli("tenant-create", tenant_id, DATABASE_URL=url) for tenant_id in (acme, beta)]
    refused = cli("tenant-create", "acme; DROP SCHEMA public CASCADE", DATABASE_URL=url)
    rolled_back = cli("rollback", "--tenant", beta, DATABASE_URL=url)
    summary = cli("tenants", DATABASE_URL=url)
    migrated = cli("migrate", DATABASE_URL=url)
    status = cli("status", "--tenant", beta, DATABASE_URL=url)
    again = cli("migrate-tenants", "--concurrency", "2", DATABASE_URL=url)
    one = cli("migrate-tenant", acme, DATABASE_URL=url)

    assert [c.returncode for c in created] == [0, 0], [c.stderr for c in created]
    assert f"Created tenant {acme}; applied 1 migration(s):\n  {FIRST}" in created[0].stdout
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith(
        "error: tenant id 'acme; DROP SCHEMA public CASCADE' is not valid"
    )
    assert rolled_back.returncode == 0
    assert f"Tenants: 2\nUp to date: 1\nPending migrations: 1\n  {beta}\nFailed last run: 0" in summary.stdout
    assert migrated.returncode == 0, migrated.stderr
    assert "Applied 1 migration(s) in batch 1" in migrated.stdout  # the shared schema first
    assert "Tenants: 2 in all, 1 migrated, 1 already up to date, 0 failed." in migrated.stdout
    assert f"Tenant: {beta}\nCompleted: 1\n  {FIRST}  batch 1" in status.stdout
    assert "Tenants: 2 in all, 0 migrated, 2 already up to date, 0 failed." in again.stdout
    assert one.stdout.strip() == f"Nothing to migrate: tenant {acme} is up to date."


def test_migrate_exits_non_zero_and_names_the_failed_tenant(
    shared_target: PostgresTarget, shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    url = target_url(shared_target)
    good, bad = new_tenant_id("good"), new_tenant_id("bad")
    for tenant_id in (good, bad):
        assert cli("tenant-create", tenant_id, DATABASE_URL=url).returncode == 0
    # Forget the bad tenant's history while its users table stays: applying
    # 0001 again then conflicts with that table.
    shared.execute(f'DELETE FROM "tenant_{bad}".schema_migrations')

    result = cli("migrate-tenants", DATABASE_URL=url)

    assert result.returncode == 1
    assert "1 failed" in result.stdout
    assert f"FAILED {bad}: migration " in result.stdout
    assert 'relation "users" already exists' in result.stdout
    summary = cli("tenants", DATABASE_URL=url)
    # Its line among the failures (on Citus, the Nodes section lists it too).
    [listed] = [
        line for line in summary.stdout.splitlines() if line.startswith(f"  {bad}  ") and "exists" in line
    ]
    assert 'relation "users" already exists' in listed
    assert listed.endswith(f"; once fixed, retry it: make migrate-tenant TENANT={bad}"), listed
    with session_scope(shared_target) as session:
        assert session.execute("SELECT id, last_outcome FROM _tenant_registry ORDER BY id") == sorted(
            [(good, "applied"), (bad, "failed")]
        )


def test_drift_in_tenants_is_refused_when_told_then_accepted_everywhere(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    tenants = [new_tenant_id("d1"), new_tenant_id("d2")]
    for tenant_id in tenants:
        create_tenant(shared, tenant_id, source)
    first = source.directory / f"{FIRST}.sql"
    first.write_text(first.read_text() + "\n-- a comment added after it was applied\n")
    add_migration(source, "0002_add_nickname", "ALTER TABLE users ADD COLUMN nickname TEXT;", "SELECT 1;")

    refused = run_all_tenant_migrations(shared_target, source, on_drift="refuse")
    accepted = accept_change_in_all_tenants(shared_target, FIRST, source)
    migrated = run_all_tenant_migrations(shared_target, source, on_drift="refuse")

    assert sorted(r.tenant_id for r in refused.failed) == sorted(tenants)
    assert all("differ from their files" in (r.error or "") for r in refused.failed)
    assert sorted(accepted) == sorted(tenants)
    assert sorted(r.tenant_id for r in migrated.migrated) == sorted(tenants)


def test_migration_log_lines_name_their_tenant(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenants = [new_tenant_id("l1"), new_tenant_id("l2")]
    for tenant_id in tenants:
        create_tenant(shared, tenant_id)
        rollback_tenant_migrations(shared, tenant_id)
    caplog.set_level(logging.DEBUG, logger="{{ cookiecutter.package_name }}")
    # As configure_logging does: the filter runs where the line is logged, in
    # each worker thread, and reads that thread's tenant.
    caplog.handler.addFilter(LogContextFilter())

    run_all_tenant_migrations(shared_target, concurrency=2)

    applied = [r for r in caplog.records if r.getMessage().startswith("Applied migration")]
    assert sorted(str(getattr(r, "tenant", "")) for r in applied) == sorted(tenants)

{%- if cookiecutter.database == "postgresql+sqlite" %}


def test_tenant_commands_on_sqlite_say_they_need_postgresql(tmp_path_factory: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'service.db'}"

    for command in (
        ["tenant-create", "acme"],
        ["migrate-tenants"],
        ["tenants"],
        ["status", "--tenant", "acme"],
    ):
        result = cli(*command, DATABASE_URL=url)
        assert result.returncode == 1, command
        assert result.stderr.strip().startswith("error: schema-per-tenant needs PostgreSQL"), result.stderr
{%- endif %}


def lock_is_free(session: PostgresSession, tenant_id: str) -> bool:
    """Whether another session could take the tenant's migration lock now."""
    key = NAMED_LOCK_KEY_SQL.format("%s::text")
    [(free,)] = session.execute(f"SELECT pg_try_advisory_lock({key})", (f"tenant_{tenant_id}",))
    if free:
        session.execute(f"SELECT pg_advisory_unlock({key})", (f"tenant_{tenant_id}",))
    return bool(free)


def test_a_worker_keeps_a_tenants_lock_until_it_enters_the_next_one(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    first, second = created_then_behind(shared, new_tenant_id, source, "first", "second")
    worker = open_postgres_session(shared_target)
    try:
        enter_tenant_schema_to_migrate(worker, first)
        assert not lock_is_free(shared, first)
        assert apply_pending(worker, source).applied == ["0002_add_nickname"]
        # Kept past the migration: released by entering the next tenant.
        assert not lock_is_free(shared, first)
        enter_tenant_schema_to_migrate(worker, second)
        assert lock_is_free(shared, first) and not lock_is_free(shared, second)
        assert apply_pending(worker, source).applied == ["0002_add_nickname"]
        # A missing schema is refused, and the lock kept before is released all the same.
        with pytest.raises(UnknownTenantError, match="has no schema"):
            enter_tenant_schema_to_migrate(worker, new_tenant_id("missing"))
        assert lock_is_free(shared, second)
    finally:
        worker.close()
    assert history(shared, first) == history(shared, second) == [(FIRST, 1), ("0002_add_nickname", 2)]


def test_entering_reads_the_history_in_its_round_trip_only_where_it_can_be_relied_on(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    free, busy, without_history, after = created_then_behind(
        shared, new_tenant_id, source, "free", "busy", "nohistory", "after"
    )
    shared.execute(f'DROP TABLE "tenant_{without_history}".schema_migrations')
    worker = open_postgres_session(shared_target)
    try:
        # Lock taken: the history comes with it, and is not read again.
        _, rows = enter_tenant_schema_to_migrate(worker, free, then_read=SNAPSHOT_QUERY)
        assert rows is not None and [row[:2] for row in rows] == [(FIRST, 1)]
        assert apply_pending(worker, source, read_under_lock=snapshot_of(rows)).applied == [NICKNAME]
        # Lock held elsewhere: what was read may be stale by the time it is free.
        with lock_held_elsewhere(shared_target, busy):
            _, rows = enter_tenant_schema_to_migrate(worker, busy, then_read=SNAPSHOT_QUERY)
        assert rows is None
        assert apply_pending(worker, source).applied == [NICKNAME]
        # No history table: the failed read undid the search path the entering
        # statement set (one implicit transaction); it is set again, and the
        # lock (session-level) is held once, so entering the next releases it.
        _, rows = enter_tenant_schema_to_migrate(worker, without_history, then_read=SNAPSHOT_QUERY)
        assert rows is None
        assert worker.execute("SELECT current_schema()") == [(f"tenant_{without_history}",)]
        assert not lock_is_free(shared, without_history) and lock_is_free(shared, busy)
        # Entering it again (the same failure) still leaves the lock held once.
        _, rows = enter_tenant_schema_to_migrate(worker, without_history, then_read=SNAPSHOT_QUERY)
        assert rows is None and not lock_is_free(shared, without_history)
        enter_tenant_schema_to_migrate(worker, after, then_read=SNAPSHOT_QUERY)
        assert lock_is_free(shared, without_history) and not lock_is_free(shared, after)
    finally:
        worker.close()
    # The client watch the entering statement sets is undone with it, and set
    # again: a session whose first tenant has no history table keeps it too.
    first_worker = open_postgres_session(shared_target)
    try:
        enter_tenant_schema_to_migrate(first_worker, without_history, then_read=SNAPSHOT_QUERY)
        assert first_worker.execute("SHOW client_connection_check_interval") == [("1s",)]
    finally:
        first_worker.close()
    assert history(shared, free) == history(shared, busy) == [(FIRST, 1), (NICKNAME, 2)]
    assert history(shared, after) == [(FIRST, 1)]


def test_entering_and_the_history_read_reach_plain_postgresql_as_one_query(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    # Held at the history table, the worker's query is on show in
    # pg_stat_activity: on plain PostgreSQL the entering statement and the
    # read in one message; on Citus the read alone (pipelined, see pipelined()).
    [tenant] = created_then_behind(shared, new_tenant_id, source, "held")
    table = f'"tenant_{tenant}".schema_migrations'
    holder = psycopg.connect(**shared_target.connect_kwargs())
    worker = open_postgres_session(shared_target)
    answer: list[list[tuple[object, ...]] | None] = []
    try:
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")

        def enter() -> None:
            answer.append(enter_tenant_schema_to_migrate(worker, tenant, then_read=SNAPSHOT_QUERY)[1])

        entering = threading.Thread(target=enter)
        entering.start()
        waiting: list[tuple[str]] = []
        deadline = time.monotonic() + 60
        while not waiting and time.monotonic() < deadline:
            time.sleep(0.02)
            waiting = [
                (str(row[0]),)
                for row in shared.execute(
                    "SELECT a.query FROM pg_stat_activity AS a JOIN pg_locks AS l ON l.pid = a.pid"
                    " WHERE NOT l.granted AND l.relation = %s::regclass",
                    (table,),
                )
            ]
        [(on_citus,)] = shared.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')")
    finally:
        holder.rollback()
        holder.close()
    entering.join(timeout=60)
    worker.close()

    [(query,)] = waiting
    parts = [part.strip() for part in query.split(SEPARATOR)]
    if on_citus:
        assert parts == [SNAPSHOT_QUERY]
    else:
        assert len(parts) == 2 and parts[0].startswith("SELECT pg_backend_pid()")
        assert parts[1] == SNAPSHOT_QUERY
    # The read came after the lock was taken: its rows are trusted.
    assert len(answer) == 1, "the worker did not enter the schema (its error is in the output above)"
    [rows] = answer
    assert rows is not None and [row[:2] for row in rows] == [(FIRST, 1)]


def test_a_failing_entering_statement_reports_its_own_error(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    # Its value is computed after the lock is tried, so the statement fails
    # past its first side effect: the caller sees the statement's own error.
    [tenant] = created_then_behind(shared, new_tenant_id, source, "failing")
    worker = open_postgres_session(shared_target)
    try:
        with pytest.raises(psycopg.errors.DivisionByZero):
            worker.enter_schema_to_migrate(
                f"tenant_{tenant}", "1 / (length(nspname) - length(nspname))", SNAPSHOT_QUERY
            )
    finally:
        worker.close()


def test_migrate_all_waits_for_a_tenant_another_process_holds_then_fails_it_alone(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    tenants = created_then_behind(shared, new_tenant_id, source, "a", "b", "c")
    busy = tenants[1]
    with lock_held_elsewhere(shared_target, busy):
        report = run_all_tenant_migrations(shared_target, source, concurrency=2, lock_timeout=0.3)

    assert {r.tenant_id for r in report.migrated} == {tenants[0], tenants[2]}
    [failed] = report.failed
    assert failed.tenant_id == busy and "MIGRATION_LOCK_TIMEOUT" in (failed.error or "")
    assert history(shared, busy) == [(FIRST, 1)]
    assert [r.tenant_id for r in run_all_tenant_migrations(shared_target, source).migrated] == [busy]


def test_finished_tenants_reach_the_progress_while_another_still_waits_for_its_lock(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    """Results reach the progress as the tenants finish, not once the whole
    page is done: here only the progress callback that has seen the two
    others lets the held tenant go, long before its lock timeout."""
    tenants = created_then_behind(shared, new_tenant_id, source, "a", "b", "c")
    busy, others = tenants[1], {tenants[0], tenants[2]}
    seen: list[str] = []
    with lock_held_elsewhere(shared_target, busy) as holder:

        def progress(result: TenantResult) -> None:
            seen.append(result.tenant_id)
            if others <= set(seen):
                holder.close()  # its lock goes with its connection

        report = run_all_tenant_migrations(
            shared_target, source, concurrency=2, lock_timeout=120, on_result=progress
        )

    assert report.ok, report.failed
    assert set(seen[:2]) == others and seen[2:] == [busy]
    assert history(shared, busy) == [(FIRST, 1), (NICKNAME, 2)]


def test_an_unexpected_error_in_a_worker_reaches_the_caller_and_leaves_no_worker_behind(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug (not a database or service error, which fails the tenant alone)
    is raised to the caller instead of leaving the run waiting for a result;
    the workers stop and close their connections, so the tenants are free again."""
    tenants = created_then_behind(shared, new_tenant_id, source, "a", "b")

    def a_bug(*_: object) -> TenantResult:
        raise RuntimeError("a bug in the runner")

    monkeypatch.setattr(tenant_runner, "migrate_in_schema", a_bug)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            run_all_tenant_migrations(shared_target, source, concurrency=2)
        except BaseException as error:  # noqa: BLE001 - checked below
            raised.append(error)

    # In a thread of its own: a run that never returned would fail the test, not hang it.
    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    caller.join(timeout=120)

    assert not caller.is_alive(), "the run did not return"
    assert [str(error) for error in raised] == ["a bug in the runner"]
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("tenant-migrate")]
    monkeypatch.undo()
    again = run_all_tenant_migrations(shared_target, source, concurrency=2, lock_timeout=5)
    assert sorted(r.tenant_id for r in again.migrated) == sorted(tenants)


def test_a_tenant_whose_table_stays_locked_fails_with_its_blocker_and_the_others_migrate(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    tenants = created_then_behind(shared, new_tenant_id, source, "a", "b", "c")
    busy = tenants[1]
    # A long report on one tenant's users: its ALTER can never get its lock.
    reader = psycopg.connect(**shared_target.connect_kwargs())
    reader.execute(f'SELECT count(*) FROM "tenant_{busy}".users')
    reader_pid = reader.info.backend_pid
    try:
        report = run_all_tenant_migrations(
            shared_target, source, concurrency=2, lock_retry=LockRetryPolicy(max_timeout=0.2, window=1.5)
        )
    finally:
        reader.rollback()
        reader.close()

    assert not report.ok
    assert {r.tenant_id for r in report.migrated} == {tenants[0], tenants[2]}
    [failed] = report.failed
    assert failed.tenant_id == busy
    assert "0002_add_nickname could not get its locks" in (failed.error or "")
    assert f"pid {reader_pid} (idle in transaction" in (failed.error or "")
    assert history(shared, busy) == [(FIRST, 1)]
    assert registry(shared)[busy] == "failed"

    # The report is over: a rerun migrates the tenant that waited.
    assert [r.tenant_id for r in run_all_tenant_migrations(shared_target, source).migrated] == [busy]


TENANT_RUNNER = """
import sys
from pathlib import Path
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from {{ cookiecutter.package_name }}.tenants.one_tenant import run_tenant_migrations

with session_scope(load_settings(env_file=None).database) as session:
    result = run_tenant_migrations(session, sys.argv[1], MigrationSource(Path(sys.argv[2])), lock_timeout=120)
print(result.outcome, result.error or "")
"""


def test_eight_processes_on_a_concurrent_index_in_a_tenant_schema_all_succeed(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    tenant_id = new_tenant_id("indexed")
    create_tenant(shared, tenant_id, source)
    add_migration(
        source,
        "0002_index_user_names",
        "-- transactional: false\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n",
        "DROP INDEX users_name_idx;",
    )
    # An open writer holds the build at its start, so that all eight overlap.
    writer = psycopg.connect(**shared_target.connect_kwargs())
    writer.execute(f"UPDATE \"tenant_{tenant_id}\".users SET name = name WHERE email = 'nobody'")
    env = subprocess_env(DATABASE_URL=target_url(shared_target), LOG_LEVEL="WARNING")
    command = [sys.executable, "-c", TENANT_RUNNER, tenant_id, str(source.directory)]
    try:
        processes = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(8)
        ]
        # The build is under way and seven processes poll for the tenant's lock.
        deadline = time.monotonic() + 60
        while index_valid(shared, tenant_id) is None or lock_pollers(shared) < 7:
            assert time.monotonic() < deadline, "the build and the waiters never overlapped"
            time.sleep(0.05)
    finally:
        writer.rollback()
        writer.close()
    outputs = [process.communicate(timeout=180) for process in processes]

    assert [p.returncode for p in processes] == [0] * 8, [err[-2000:] for _, err in outputs]
    outcomes = sorted(out.strip().splitlines()[-1] for out, _ in outputs)
    assert outcomes == ["applied"] + ["up to date"] * 7
    assert index_valid(shared, tenant_id) is True
    assert history(shared, tenant_id) == [(FIRST, 1), ("0002_index_user_names", 2)]


def index_valid(session: PostgresSession, tenant_id: str) -> bool | None:
    rows = session.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = 'users_name_idx'",
        (f"tenant_{tenant_id}",),
    )
    return bool(rows[0][0]) if rows else None


def lock_pollers(session: PostgresSession) -> int:
    rows = session.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND query LIKE 'SELECT pg_%%advisory_lock(%%' AND pid <> pg_backend_pid()"
    )
    return int(rows[0][0])


@pytest.mark.parametrize("concurrency", ["0", "-1"])
def test_a_concurrency_below_one_is_refused_in_one_line(
    shared_target: PostgresTarget, concurrency: str
) -> None:
    result = cli("migrate-tenants", "--concurrency", concurrency, DATABASE_URL=target_url(shared_target))

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: tenant migration concurrency is {concurrency}: use 1 or more"), line
    assert line.endswith("; choose 1 or more: make migrate-tenants CONCURRENCY=<concurrency>"), line


def test_an_application_table_named_tenants_lives_beside_the_registry(
    shared: PostgresSession,
    shared_target: PostgresTarget,
    source: MigrationSource,
    new_tenant_id: NewTenantId,
) -> None:
    add_migration(
        source,
        "0002_create_tenants",
        "CREATE TABLE tenants (id BIGINT PRIMARY KEY, plan TEXT NOT NULL);",
        "DROP TABLE tenants;",
    )
    acme = new_tenant_id("acme")

    run_migrations(shared, source)
    create_tenant(shared, acme, source)
    shared.execute("INSERT INTO tenants (id, plan) VALUES (1, 'gold')")
    report = run_all_tenant_migrations(shared_target, source)

    assert report.failed == []
    assert list(registry(shared)) == [acme]
    assert has_table(shared, f"tenant_{acme}", "tenants")
    assert shared.execute("SELECT plan FROM tenants") == [("gold",)]


def test_a_registry_kept_under_its_old_name_is_renamed_with_its_rows(
    shared: PostgresSession, shared_target: PostgresTarget, new_tenant_id: NewTenantId
) -> None:
    acme = new_tenant_id("acme")
    create_tenant(shared, acme)
    shared.execute("ALTER TABLE _tenant_registry RENAME TO tenants")

    report = run_all_tenant_migrations(shared_target)

    assert [result.tenant_id for result in report.results] == [acme]
    assert shared.execute("SELECT to_regclass('tenants')") == [(None,)]
    assert list(registry(shared)) == [acme]


def test_the_summary_creates_no_registry_and_reads_one_under_its_old_name_without_renaming_it(
    shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    # The summary serves `migrate --dry-run` too, which changes nothing.
    shipped = MigrationSource.for_dialect("postgresql").migration_ids()
    assert (summarize(shared, shipped).total, shared.execute("SELECT to_regclass('_tenant_registry')")) == (
        0,
        [(None,)],
    )
    acme = new_tenant_id("acme")
    create_tenant(shared, acme)
    shared.execute("ALTER TABLE _tenant_registry RENAME TO tenants")

    summary = summarize(shared, shipped)

    assert (summary.total, summary.pending) == (1, [])
    assert shared.execute("SELECT to_regclass('_tenant_registry'), to_regclass('tenants') IS NOT NULL") == [
        (None, True)
    ]


def test_a_foreign_table_with_the_registry_name_is_refused_and_kept(
    shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    shared.execute("CREATE TABLE _tenant_registry (id BIGINT PRIMARY KEY, note TEXT)")
    shared.execute("INSERT INTO _tenant_registry VALUES (7, 'kept')")
    acme = new_tenant_id("acme")

    with pytest.raises(RegistryCollisionError) as raised:
        create_tenant(shared, acme)

    assert str(raised.value) == (
        "the table _tenant_registry in the shared schema is not this service's tenant registry "
        "(its columns are id, note); rename that table, then run the command again"
    )
    assert shared.execute("SELECT * FROM _tenant_registry") == [(7, "kept")]
    assert f"tenant_{acme}" not in schema_names(shared)


def test_citus_commands_on_a_plain_postgresql_say_they_need_citus() -> None:
    # On the Citus cluster, test_tenants_citus.py has these commands at work.
    acme = f"t{uuid.uuid4().hex[:10]}_acme"
    with shared_schema_on("postgresql") as target:
        url = target_url(target)
        try:
            created = cli("tenant-create", acme, DATABASE_URL=url)
            moved = cli("tenant-move", acme, "127.0.0.1:9701", DATABASE_URL=url)
            status = cli("tenants", DATABASE_URL=url)
        finally:
            with session_scope(target) as session:
                session.execute(f'DROP SCHEMA IF EXISTS "tenant_{acme}" CASCADE')

    assert created.returncode == 0, created.stderr
    assert moved.returncode == 1
    assert moved.stderr.strip().splitlines() == [
        f"error: tenant-move needs a Citus cluster (12 or later), but {target.describe()} has no "
        "Citus extension: point DATABASE_URL at the coordinator of a Citus cluster"
    ]
    assert status.returncode == 0
    assert "Tenants: 1\nUp to date: 1" in status.stdout
    assert "Nodes" not in status.stdout
