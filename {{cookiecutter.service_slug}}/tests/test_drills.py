"""Failure drills: what production does to a migration runner, done on purpose.

Each drill runs real processes against a real database{% if cookiecutter.database != "sqlite" %} (PostgreSQL{% if cookiecutter.database == "postgresql+sqlite" %} and SQLite{% endif %}){% else %} (SQLite){% endif %}.
A test-only migration, `0002_drill_slow`, creates a table, then sleeps for as long
as the `drill_knob` table says, then creates a second table: long enough to
catch a runner in the middle of it, and to make the others queue behind it.
The sleep holds the lock for a known time on any machine: `pg_sleep` inside
PostgreSQL, and `time.sleep` in a Python step on SQLite (which has no sleep);
no drill sizes CPU work to make a step slow.
The drills print the figures they measure (`pytest -rP tests/test_drills.py`
shows them); the README's reliability section lists the last ones.
"""

from __future__ import annotations

import hashlib
import json
{%- if cookiecutter.database != "postgresql" %}
import shutil
{%- endif %}
import signal
import subprocess
import sys
import time
from collections.abc import Callable
{%- if cookiecutter.database != "postgresql" %}
from pathlib import Path
{%- endif %}

import pytest

from {{ cookiecutter.package_name }}.database.session import MissingTable, Session, session_scope
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget, Dialect{% if cookiecutter.database != "postgresql" %}, SqliteTarget{% endif %}
from {{ cookiecutter.package_name }}.errors import MigrationError, MigrationLockTimeoutError
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from conftest import subprocess_env, target_url

FIRST, SLOW = "0001_create_users_table", "0002_drill_slow"
# Each drill's sleep carries a token of its own, so that a drill can find its
# runner inside the sleep even when other tests sleep on the same server.
SLEEP_SQL = "SELECT pg_sleep((SELECT seconds FROM drill_knob)) /* {token} */;"
# SQLite has no sleep: a Python migration's step sleeps, after leaving a mark
# beside the migration file that says it is inside the sleep.
SQLITE_DRILL = """
import time
from pathlib import Path

from yoyo import step


def sleep(connection):
    (seconds,) = connection.execute("SELECT seconds FROM drill_knob").fetchone()
    Path(__file__).with_suffix(".sleeping").touch()
    time.sleep(seconds)


steps = [
    step("CREATE TABLE drill_half (id INTEGER)", "DROP TABLE drill_half"),
    step(sleep),
    step("CREATE TABLE drill_done (id INTEGER)", "DROP TABLE drill_done"),
]
"""

# The runner a replica runs at startup, in a process of its own, on the drill's
# migrations; it prints what it applied and how long it took.
RUNNER = """
import json, sys, time
from pathlib import Path
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource

started = time.perf_counter()
with session_scope(load_settings(env_file=None).database) as session:
    result = run_migrations(session, MigrationSource(Path(sys.argv[1])), lock_timeout=120)
print(json.dumps({"applied": result.applied, "seconds": time.perf_counter() - started}))
"""


def add_drill_migration(source: MigrationSource, dialect: Dialect) -> MigrationSource:
    if dialect == "sqlite":
        (source.directory / f"{SLOW}.py").write_text(SQLITE_DRILL)
        return source
    sleep = SLEEP_SQL.format(token=sleep_token(source))
    (source.directory / f"{SLOW}.sql").write_text(
        f"CREATE TABLE drill_half (id INTEGER);\n{sleep}\nCREATE TABLE drill_done (id INTEGER);\n"
    )
    (source.directory / f"{SLOW}.rollback.sql").write_text("DROP TABLE drill_done;\nDROP TABLE drill_half;\n")
    return source


def sleep_token(source: MigrationSource) -> str:
    """Unique to the test (its folder's absolute path includes pytest's run)."""
    return "drill " + hashlib.sha256(str(source.directory).encode()).hexdigest()[:16]


def inside_the_sleep(target: DatabaseTarget, source: MigrationSource) -> bool:
    """Whether a runner is inside the drill migration's sleep right now."""
    if target.dialect == "sqlite":
        return (source.directory / f"{SLOW}.sleeping").exists()
    with session_scope(target) as probe:
        rows = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND strpos(query, %s) > 0 "
            "AND pid <> pg_backend_pid()",
            (sleep_token(source),),
        )
    return bool(rows[0][0])


@pytest.fixture
def drill_source(source_copy: MigrationSource, target: DatabaseTarget) -> MigrationSource:
    return add_drill_migration(source_copy, target.dialect)


def set_knob(target: DatabaseTarget, seconds: float) -> None:
    with session_scope(target) as session:
        session.execute("CREATE TABLE IF NOT EXISTS drill_knob (seconds REAL NOT NULL)")
        session.execute("DELETE FROM drill_knob")
        session.execute("INSERT INTO drill_knob (seconds) VALUES (%s)", (seconds,))


def start_runner(target: DatabaseTarget, source: MigrationSource) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(source.directory)],
        env=subprocess_env(DATABASE_URL=target_url(target), LOG_LEVEL="WARNING"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def history(session: Session) -> list[tuple[str, int]]:
    rows = session.execute("SELECT id, batch FROM schema_migrations ORDER BY id")
    return [(row[0], row[1]) for row in rows]


def tables(session: Session, *names: str) -> dict[str, bool]:
    found = {}
    for name in names:
        try:
            session.execute(f"SELECT count(*) FROM {name}")
            found[name] = True
        except MissingTable:
            found[name] = False
    return found


def migration_lock_is_held(target: DatabaseTarget) -> bool:
    """Whether some process holds the drill database's migration lock right now."""
    with session_scope(target) as probe:
        try:
            with probe.migration_lock(timeout=0):
                return False
        except MigrationLockTimeoutError:
            return True


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, f"the runner ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"the runner never got to {what}"
        time.sleep(0.05)


def test_drill_eight_processes_start_at_once_and_one_applies(
    target: DatabaseTarget, drill_source: MigrationSource
) -> None:
    set_knob(target, 1.0)
    started = time.perf_counter()

    runners = [start_runner(target, drill_source) for _ in range(8)]
    outputs = [runner.communicate(timeout=180) for runner in runners]
    wall = time.perf_counter() - started

    assert [runner.returncode for runner in runners] == [0] * 8, [err for _, err in outputs]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    applied = [report["applied"] for report in reports if report["applied"]]
    assert applied == [[FIRST, SLOW]]
    # The seven others waited for the lock holder, then found nothing to do.
    waited = sorted(report["seconds"] for report in reports if not report["applied"])
    assert len(waited) == 7
    assert waited[-1] >= 0.5
    with session_scope(target) as session:
        assert history(session) == [(FIRST, 1), (SLOW, 1)]
    print(f"drill figure: 8 processes at once, wall time {wall:.2f} s")


def test_drill_sigkill_mid_migration_then_the_next_start_applies_it_once(
    target: DatabaseTarget, drill_source: MigrationSource
) -> None:
    set_knob(target, 60.0)
    victim = start_runner(target, drill_source)

    def first_migration_committed() -> bool:
        with session_scope(target) as session:
            started = tables(session, "schema_migrations")["schema_migrations"]
            return started and history(session) == [(FIRST, 1)]

    wait_for(first_migration_committed, victim, f"committing {FIRST}")
    wait_for(lambda: migration_lock_is_held(target), victim, "the lock")
    # Inside the sleep of the next migration, after drill_half was created.
    wait_for(lambda: inside_the_sleep(target, drill_source), victim, "the slow step")

    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    set_knob(target, 0.0)

    # Drill 3 at this crash point: the migration and its record agree (neither).
    with session_scope(target) as session:
        assert history(session) == [(FIRST, 1)]
        assert tables(session, "drill_half", "drill_done") == {"drill_half": False, "drill_done": False}

        restarted = time.perf_counter()
        result = run_migrations(session, drill_source, lock_timeout=60)
        restart_seconds = time.perf_counter() - restarted

        assert result.applied == [SLOW]
        assert history(session) == [(FIRST, 1), (SLOW, 2)]
        assert tables(session, "drill_half", "drill_done") == {"drill_half": True, "drill_done": True}
    # "Within a few seconds": the dead runner's lock and statement are gone at once.
    assert restart_seconds < 10
    print(f"drill figure: restart after SIGKILL applied the migration in {restart_seconds:.2f} s")


def test_drill_a_migration_and_its_record_commit_together(
    target: DatabaseTarget, drill_source: MigrationSource
) -> None:
    set_knob(target, 0.0)
    # The record is the last statement of the migration's transaction: make the
    # migration's last statement fail and neither its tables nor its row remain.
    for drill_file in drill_source.directory.glob(f"{SLOW}.*"):
        drill_file.unlink()
    (drill_source.directory / f"{SLOW}.sql").write_text(
        "CREATE TABLE drill_half (id INTEGER);\n"
        "CREATE TABLE drill_done (id INTEGER);\n"
        "SELECT * FROM no_such_table;\n"
    )
    with session_scope(target) as session:
        with pytest.raises(MigrationError, match="no_such_table"):
            run_migrations(session, drill_source)

        assert history(session) == [(FIRST, 1)]
        assert tables(session, "drill_half", "drill_done") == {"drill_half": False, "drill_done": False}
{%- if cookiecutter.database != "postgresql" %}


def test_drill_two_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    target = SqliteTarget(path=str(tmp_path / "shared.db"))
    shutil.copytree(MigrationSource.for_dialect("sqlite").directory, tmp_path / "migrations")
    source = add_drill_migration(MigrationSource(tmp_path / "migrations"), "sqlite")
    set_knob(target, 1.5)

    runners = [start_runner(target, source) for _ in range(2)]
    outputs = [runner.communicate(timeout=120) for runner in runners]

    assert [runner.returncode for runner in runners] == [0, 0], [err for _, err in outputs]
    applied = sorted(json.loads(out.strip().splitlines()[-1])["applied"] for out, _ in outputs)
    assert applied == [[], [FIRST, SLOW]]
    with session_scope(target) as session:
        assert history(session) == [(FIRST, 1), (SLOW, 1)]
{%- endif %}


def test_drill_helpers_see_a_held_lock(target: DatabaseTarget) -> None:
    with session_scope(target) as holder, holder.migration_lock(timeout=5):
        assert migration_lock_is_held(target)
    assert not migration_lock_is_held(target)
