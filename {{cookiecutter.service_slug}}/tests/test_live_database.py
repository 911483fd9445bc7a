"""Migrations on a live PostgreSQL: bounded lock waits, replicas and CONCURRENTLY,
no INVALID index left behind.

Each test holds what makes a migration wait (an open read transaction, the
migration lock) and releases it itself: nothing here depends on how fast the
machine is. Wall-time bounds appear only where the behaviour is about time
(how long an ordinary read may queue behind a migration), and are generous.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from {{ cookiecutter.package_name }}.database.blockers import on_tick
from {{ cookiecutter.package_name }}.database.lock_retry import LockRetriesExhaustedError, LockRetryPolicy
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.session import Session, session_scope
from {{ cookiecutter.package_name }}.errors import DatabaseUnavailableError, MigrationError
from {{ cookiecutter.package_name }}.migrator import invalid_indexes
from {{ cookiecutter.package_name }}.migrator.runner import get_migration_status, rollback_migrations, run_migrations
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from conftest import SOURCE_ROOT, cli, subprocess_env, target_url
from helpers_postgresql import postgres_schema_target, postgres_server

FIRST = "0001_create_users_table"
AVATAR = "0002_add_user_avatar"
# Short attempts, so that a test sees several retries in a few seconds.
QUICK = LockRetryPolicy(max_timeout=0.4, window=120)


@pytest.fixture
def pg() -> Iterator[PostgresTarget]:
    with postgres_schema_target(postgres_server()) as target:
        yield target


@pytest.fixture
def source(pg: PostgresTarget, tmp_path: Path) -> MigrationSource:
    """The shipped migrations (already applied, with a few users), plus room for more."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    for shipped in MigrationSource.for_dialect("postgresql").directory.iterdir():
        (directory / shipped.name).write_bytes(shipped.read_bytes())
    copy = MigrationSource(directory)
    with session_scope(pg) as session:
        run_migrations(session, copy)
        for number in range(50):
            session.execute(
                "INSERT INTO users (email, password_hash, name) VALUES (%s, 'x', %s)",
                (f"user{number}@example.com", f"User {number % 10}"),
            )
    return copy


def add_migration(source: MigrationSource, name: str, forward: str, rollback: str = "SELECT 1;") -> None:
    (source.directory / f"{name}.sql").write_text(forward)
    (source.directory / f"{name}.rollback.sql").write_text(rollback)


def add_avatar(source: MigrationSource) -> None:
    add_migration(
        source,
        AVATAR,
        "ALTER TABLE users ADD COLUMN avatar_url TEXT;",
        "ALTER TABLE users DROP COLUMN avatar_url;",
    )


def columns(session: Session) -> set[str]:
    rows = session.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'users'"
    )
    return {row[0] for row in rows}


def recorded(session: Session) -> list[str]:
    return [row[0] for row in session.execute("SELECT id FROM schema_migrations ORDER BY id")]


class LongReader:
    """A report that keeps `users` open: a transaction holding its read lock."""

    statement = "SELECT count(*) FROM users"

    def __init__(self, target: PostgresTarget, statement: str | None = None) -> None:
        self.connection = psycopg.connect(**target.connect_kwargs())
        self.connection.execute(statement or self.statement)
        self.pid = self.connection.info.backend_pid

    def end(self) -> None:
        self.connection.rollback()
        self.connection.close()


class LongWriter(LongReader):
    """An open transaction that has written to `users` (a row lock's table lock):
    CREATE INDEX CONCURRENTLY waits for it before building."""

    statement = "UPDATE users SET name = name WHERE email = 'nobody@example.com'"


class Retries(logging.Handler):
    """Counts the runner's retry lines and keeps them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.seen = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        if "waited" in record.getMessage():
            with self.seen:
                self.lines.append(record.getMessage())
                self.seen.notify_all()

    def wait_for(self, count: int) -> None:
        with self.seen:
            assert self.seen.wait_for(lambda: len(self.lines) >= count, timeout=120), self.lines


@pytest.fixture
def retries() -> Iterator[Retries]:
    handler = Retries()
    logger = logging.getLogger("{{ cookiecutter.package_name }}")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


class ReadProbe:
    """Ordinary reads of `users`, one after another, each timed, until stopped."""

    def __init__(self, target: PostgresTarget) -> None:
        self._target = target
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with psycopg.connect(**self._target.connect_kwargs(), autocommit=True) as connection:
            while not self._stop.is_set():
                started = time.perf_counter()
                connection.execute("SELECT id FROM users WHERE email = %s", ("user7@example.com",)).fetchall()
                self.latencies.append(time.perf_counter() - started)
                time.sleep(0.01)

    def __enter__(self) -> ReadProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def migrate_in_thread(
    target: PostgresTarget, source: MigrationSource, policy: LockRetryPolicy
) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            with session_scope(target) as session:
                outcome.append(run_migrations(session, source, lock_retry=policy))
        except Exception as error:  # noqa: BLE001 - handed to the test, which asserts on it
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_queued_alter_never_stalls_ordinary_reads_and_names_its_blocker(
    pg: PostgresTarget, source: MigrationSource, retries: Retries
) -> None:
    add_avatar(source)
    reader = LongReader(pg)
    try:
        with ReadProbe(pg) as probe:
            migration, outcome = migrate_in_thread(pg, source, QUICK)
            # Let the migration queue and give up several times while reads go on.
            retries.wait_for(3)
            reader.end()
            migration.join(timeout=120)
    finally:
        if not reader.connection.closed:
            reader.end()

    assert not migration.is_alive()
    assert [type(result).__name__ for result in outcome] == ["MigrationResult"], outcome
    with session_scope(pg) as session:
        assert "avatar_url" in columns(session)
        assert recorded(session) == [FIRST, AVATAR]
    worst = max(probe.latencies)
    # Each attempt waits at most 0.4 s for its lock; reads queue behind it no longer.
    assert worst < QUICK.max_timeout + 1.5, worst
    assert any(f"pid {reader.pid} (idle in transaction" in line for line in retries.lines), retries.lines
    print(f"drill figure: worst read behind a queued ALTER with bounded waits: {worst * 1000:.0f} ms")


def test_without_bounded_waits_reads_queue_behind_the_alter_until_the_reader_ends(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    # The behaviour the retries exist to prevent, shown on the same drill.
    add_avatar(source)
    unbounded = LockRetryPolicy(max_timeout=0)
    holder = LongReader(pg)
    try:
        with ReadProbe(pg) as probe:
            migration, _ = migrate_in_thread(pg, source, unbounded)
            with session_scope(pg) as watcher:
                wait_until(lambda: waiting_for_a_lock(watcher) >= 2)  # the ALTER and a read behind it
            held_for = 1.0
            time.sleep(held_for)
            holder.end()
            migration.join(timeout=60)
    finally:
        if not holder.connection.closed:
            holder.end()
    worst = max(probe.latencies)
    assert worst >= held_for
    print(f"drill figure: worst read behind a queued ALTER without bounded waits: {worst * 1000:.0f} ms")


def waiting_for_a_lock(session: Session) -> int:
    """Sessions waiting for a lock on this test's users table. Only its own
    table: other suites running on the same server wait for locks of theirs."""
    rows = session.execute(
        "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND relation = to_regclass('users')"
    )
    return int(rows[0][0])


def wait_until(condition: object, seconds: float = 60) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def test_an_exhausted_schedule_stops_in_one_line_and_applies_nothing(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    add_avatar(source)
    reader = LongReader(pg)
    try:
        with session_scope(pg) as session:
            with pytest.raises(LockRetriesExhaustedError) as raised:
                run_migrations(session, source, lock_retry=LockRetryPolicy(max_timeout=0.2, window=1.5))
            assert recorded(session) == [FIRST]
            assert "avatar_url" not in columns(session)
            assert get_migration_status(session, source).pending == [AVATAR]
    finally:
        reader.end()

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"migration {AVATAR} could not get its locks: ")
    assert f"pid {reader.pid} (idle in transaction" in message
    assert "nothing was applied" in message


def test_the_command_line_reports_an_exhausted_schedule_in_one_line(
    pg: PostgresTarget, source: MigrationSource, tmp_path: Path
) -> None:
    # As a user would: the new file goes into (a copy of) the package's migrations.
    package = Path(shutil.copytree(SOURCE_ROOT, tmp_path / "src"))
    add_avatar(MigrationSource(package / "{{ cookiecutter.package_name }}" / "migrations" / "postgresql"))
    settings = {
        "PYTHONPATH": str(package),
        "DATABASE_URL": target_url(pg),
        "MIGRATION_DDL_LOCK_TIMEOUT": "0.2",
        "MIGRATION_DDL_RETRY_WINDOW": "1",
    }
    reader = LongReader(pg)
    try:
        migrated = cli("migrate", **settings, LOG_LEVEL="ERROR")
    finally:
        reader.end()
    status = cli("status", **settings)

    assert migrated.returncode == 1
    [line] = migrated.stderr.strip().splitlines()
    assert line.startswith(f"error: migration {AVATAR} could not get its locks"), line
    assert f"pid {reader.pid}" in line
    assert f"Pending: 1\n  {AVATAR}" in status.stdout


def test_a_files_own_lock_timeout_lets_it_wait_longer(pg: PostgresTarget, source: MigrationSource) -> None:
    add_migration(
        source,
        AVATAR,
        "-- lock_timeout: 30s\nALTER TABLE users ADD COLUMN avatar_url TEXT;",
        "ALTER TABLE users DROP COLUMN avatar_url;",
    )
    assert source.lock_timeout(AVATAR) == 30.0
    reader = LongReader(pg)
    try:
        migration, outcome = migrate_in_thread(pg, source, LockRetryPolicy(max_timeout=0.1, window=0))
        with session_scope(pg) as watcher:
            wait_until(lambda: waiting_for_a_lock(watcher) >= 1)
        time.sleep(0.5)  # far past the service's 0.1 s: only the file's 30 s lets it wait
    finally:
        reader.end()
    migration.join(timeout=60)
    assert [type(result).__name__ for result in outcome] == ["MigrationResult"], outcome


def test_a_migration_reaches_the_server_as_one_query_with_its_record_and_commit(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    # Held at its lock, the migration's query is on show in pg_stat_activity:
    # the transaction, the statement, the record and COMMIT in one message.
    add_migration(
        source,
        AVATAR,
        "-- lock_timeout: 30s\nALTER TABLE users ADD COLUMN avatar_url TEXT; -- shown to users",
        "ALTER TABLE users DROP COLUMN avatar_url;",
    )
    reader = LongReader(pg)
    try:
        migration, outcome = migrate_in_thread(pg, source, LockRetryPolicy(max_timeout=0.1, window=0))
        with session_scope(pg) as watcher:
            wait_until(lambda: waiting_for_a_lock(watcher) >= 1)
            rows = watcher.execute(
                "SELECT a.query FROM pg_stat_activity AS a JOIN pg_locks AS l ON l.pid = a.pid"
                " WHERE NOT l.granted AND l.relation = to_regclass('users')"
            )
    finally:
        reader.end()
    migration.join(timeout=60)

    assert [type(result).__name__ for result in outcome] == ["MigrationResult"], outcome
    [(query,)] = rows
    parts = [part.strip() for part in query.split("\n;\n")]
    assert parts[0] == "BEGIN"
    assert parts[1].startswith("SET LOCAL lock_timeout")
    assert parts[2].startswith("ALTER TABLE users ADD COLUMN avatar_url TEXT")
    assert parts[3].startswith("INSERT INTO schema_migrations") and f"'{AVATAR}'" in parts[3]
    assert parts[4:] == ["COMMIT"]
    with session_scope(pg) as session:
        assert "avatar_url" in columns(session)
        assert recorded(session) == [FIRST, AVATAR]


def test_a_bad_lock_timeout_header_names_the_file(pg: PostgresTarget, source: MigrationSource) -> None:
    add_migration(source, AVATAR, "-- lock_timeout: soon\nALTER TABLE users ADD COLUMN avatar_url TEXT;")
    with session_scope(pg) as session:
        with pytest.raises(MigrationError, match=f"{AVATAR}.sql has lock_timeout 'soon': use e.g. 500ms"):
            run_migrations(session, source)
        assert recorded(session) == [FIRST]


RUNNER = """
import json, sys
from pathlib import Path
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource

with session_scope(load_settings(env_file=None).database) as session:
    result = run_migrations(session, MigrationSource(Path(sys.argv[1])), lock_timeout=120)
print(json.dumps(result.applied))
"""
CONCURRENT_INDEX = "-- transactional: false\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n"


def index_state(session: Session, name: str) -> tuple[bool, bool] | None:
    """(valid, ready) of an index of the current schema, or None."""
    rows = session.execute(
        "SELECT i.indisvalid, i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
        (name,),
    )
    return (bool(rows[0][0]), bool(rows[0][1])) if rows else None


def test_eight_replicas_at_once_on_a_concurrent_index_all_succeed(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    add_migration(source, "0002_index_user_names", CONCURRENT_INDEX, "DROP INDEX users_name_idx;")
    # The first replica to take the migration lock builds the index while the
    # others wait for it; the build itself waits for an open writer first.
    holder = LongWriter(pg)
    env = subprocess_env(DATABASE_URL=target_url(pg), LOG_LEVEL="WARNING")
    command = [sys.executable, "-c", RUNNER, str(source.directory)]
    runners = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    try:
        with session_scope(pg) as watcher:
            # The build is under way (waiting for the writer to end) ...
            wait_until(lambda: index_state(watcher, "users_name_idx") is not None)
            # ... when seven more replicas start and queue for the migration lock.
            runners += [
                subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(7)
            ]
            wait_until(lambda: polling_for_the_lock(watcher) >= 7)
    finally:
        holder.end()
    outputs = [runner.communicate(timeout=180) for runner in runners]

    assert [runner.returncode for runner in runners] == [0] * 8, [err[-2000:] for _, err in outputs]
    applied = sorted(json.loads(out.strip().splitlines()[-1]) for out, _ in outputs)
    assert applied == [[]] * 7 + [["0002_index_user_names"]]
    with session_scope(pg) as session:
        assert index_state(session, "users_name_idx") == (True, True)
        assert recorded(session) == [FIRST, "0002_index_user_names"]


def polling_for_the_lock(session: Session) -> int:
    """Sessions whose last statement asked for an advisory lock: the waiters."""
    rows = session.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND query LIKE 'SELECT pg_%%advisory_lock(%%' AND pid <> pg_backend_pid()"
    )
    return int(rows[0][0])


def test_a_failed_concurrent_build_leaves_no_invalid_index_and_reruns_once_fixed(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    add_migration(
        source,
        "0002_unique_user_names",
        "-- transactional: false\nCREATE UNIQUE INDEX CONCURRENTLY users_name_uq ON users (name);\n",
        "DROP INDEX users_name_uq;",
    )
    with session_scope(pg) as session:
        with pytest.raises(MigrationError) as raised:
            run_migrations(session, source)
        message = str(raised.value)
        assert message.startswith("migration ")
        assert (
            "0002_unique_user_names.sql failed and was not applied: could not create unique index" in message
        )
        assert "the INVALID index it left was dropped (users_name_uq)" in message
        assert index_state(session, "users_name_uq") is None
        assert invalid_indexes.find(session) == []
        assert recorded(session) == [FIRST]

        # Fix the data, run again: it applies.
        session.execute("UPDATE users SET name = email")
        assert run_migrations(session, source).applied == ["0002_unique_user_names"]
        assert index_state(session, "users_name_uq") == (True, True)


def make_invalid_index(target: PostgresTarget) -> None:
    """An invalid index left by a build that ran outside the runner."""
    with (
        psycopg.connect(**target.connect_kwargs(), autocommit=True) as connection,
        pytest.raises(psycopg.errors.UniqueViolation),
    ):
        connection.execute("CREATE UNIQUE INDEX CONCURRENTLY users_name_manual ON users (name)")


def test_status_lists_invalid_indexes_and_a_concurrent_migration_will_not_start_beside_one(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    make_invalid_index(pg)
    add_migration(source, "0002_index_user_names", CONCURRENT_INDEX, "DROP INDEX users_name_idx;")
    with session_scope(pg) as session:
        [left] = get_migration_status(session, source).invalid_indexes
        assert left.name == "users_name_manual"
        assert left.drop_statement.endswith('."users_name_manual";')
        with pytest.raises(MigrationError, match="was not started: the schema holds invalid indexes"):
            run_migrations(session, source)
        assert recorded(session) == [FIRST]
        assert index_state(session, "users_name_idx") is None
        # Nothing of the runner's own was dropped: the operator decides.
        assert index_state(session, "users_name_manual") == (False, False)

    status = cli("status", DATABASE_URL=target_url(pg))
    assert "Invalid indexes: 1" in status.stdout
    assert "users_name_manual on users (remove it with: DROP INDEX CONCURRENTLY IF EXISTS" in status.stdout


def polling(session: Session, pid: int) -> bool:
    rows = session.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,))
    return bool(rows) and str(rows[0][0]).startswith("SELECT pg_try_advisory_lock(")


def test_a_waiter_that_loses_its_connection_says_so_in_one_line(pg: PostgresTarget) -> None:
    with session_scope(pg) as holder, holder.migration_lock(timeout=5), session_scope(pg) as waiter:
        pid = waiter.execute("SELECT pg_backend_pid()")[0][0]
        failure: list[BaseException] = []

        def wait() -> None:
            try:
                run_migrations(waiter, lock_timeout=60)
            except BaseException as error:  # noqa: BLE001 - handed to the test
                failure.append(error)

        thread = threading.Thread(target=wait)
        thread.start()
        # The waiter polls between sleeps: it is never inside a statement for long.
        wait_until(lambda: polling(holder, pid))
        holder.execute("SELECT pg_terminate_backend(%s)", (pid,))
        thread.join(timeout=60)

    [error] = failure
    assert isinstance(error, DatabaseUnavailableError), repr(error)
    assert str(error).startswith("lost the database while taking the migration lock: ")
    assert "\n" not in str(error)


def test_outside_a_transaction_each_statement_is_bounded_and_an_exhausted_one_undoes_the_file(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    with session_scope(pg) as session:
        session.execute("CREATE TABLE notes (id BIGINT PRIMARY KEY)")
    add_migration(
        source,
        "0002_index_and_note_body",
        "-- transactional: false\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);\n"
        "ALTER TABLE notes ADD COLUMN IF NOT EXISTS body TEXT;\n",
        "ALTER TABLE notes DROP COLUMN IF EXISTS body;\nDROP INDEX CONCURRENTLY IF EXISTS users_name_idx;\n",
    )
    reader = LongReader(pg, "SELECT count(*) FROM notes")
    try:
        with session_scope(pg) as session:
            with pytest.raises(MigrationError) as raised:
                run_migrations(session, source, lock_retry=LockRetryPolicy(max_timeout=0.2, window=1.5))
            # The index, built before the ALTER timed out, was undone with the rollback step.
            assert index_state(session, "users_name_idx") is None
            assert recorded(session) == [FIRST]
    finally:
        reader.end()
    message = str(raised.value)
    assert "0002_index_and_note_body.sql failed and was not applied: " in message
    assert "could not get its locks" in message
    assert "its earlier statements were undone with its rollback steps" in message
    assert f"pid {reader.pid}" in message

    with session_scope(pg) as session:
        assert run_migrations(session, source).applied == ["0002_index_and_note_body"]
        # Rolling it back is bounded the same way: a reader of notes makes it give up.
        reader = LongReader(pg, "SELECT count(*) FROM notes")
        try:
            with pytest.raises(MigrationError, match=r"^rollback of .* could not get its locks"):
                rollback_migrations(session, source, lock_retry=LockRetryPolicy(max_timeout=0.2, window=1))
        finally:
            reader.end()
        assert rollback_migrations(session, source).rolled_back == ["0002_index_and_note_body"]
        assert index_state(session, "users_name_idx") is None
        assert recorded(session) == [FIRST]


def test_ctrl_c_during_a_migration_is_one_line_and_leaves_it_pending(
    pg: PostgresTarget, source: MigrationSource, tmp_path: Path
) -> None:
    package = Path(shutil.copytree(SOURCE_ROOT, tmp_path / "src"))
    migrations = MigrationSource(package / "{{ cookiecutter.package_name }}" / "migrations" / "postgresql")
    add_migration(
        migrations,
        "0002_slow_avatar",
        "ALTER TABLE users ADD COLUMN avatar_url TEXT;\nSELECT pg_sleep(60) /* interrupt me */;\n",
        "ALTER TABLE users DROP COLUMN avatar_url;",
    )
    # A suite started in the background by a shell without job control
    # inherits SIGINT ignored, and so would the runner: while it starts, this
    # process handles SIGINT, so that the runner gets the default, as from a terminal.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        runner = subprocess.Popen(
            [sys.executable, "-m", "{{ cookiecutter.package_name }}", "migrate"],
            env=subprocess_env(PYTHONPATH=str(package), DATABASE_URL=target_url(pg), LOG_LEVEL="WARNING"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    with session_scope(pg) as watcher:
        wait_until(lambda: sleeping(watcher))
    runner.send_signal(signal.SIGINT)
    _, stderr = runner.communicate(timeout=60)

    assert runner.returncode == 130
    assert stderr.strip().splitlines() == [
        "error: interrupted; a migration in progress was rolled back with its transaction "
        "(one marked transactional: false keeps the statements it finished); run the command again"
    ]
    with session_scope(pg) as session:
        assert recorded(session) == [FIRST]
        assert "avatar_url" not in columns(session)


def sleeping(session: Session) -> bool:
    rows = session.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE state = 'active' AND strpos(query, %s) > 0 AND pid <> pg_backend_pid()",
        ("interrupt me",),
    )
    return int(rows[0][0]) > 0


def test_first_looks_due_within_one_tick_fall_on_one_moment_and_none_comes_early() -> None:
    # Attempts of a migrate-all start a millisecond or so apart: their first
    # looks fall due together, so the watcher wakes once per tick, not once each.
    tick = 0.02
    moments = [100.0 + 0.001 * number for number in range(20)]
    due = [on_tick(moment, tick) for moment in moments]
    assert len(set(due)) <= 2
    assert all(moment <= at < moment + tick + 1e-9 for moment, at in zip(moments, due, strict=True))
