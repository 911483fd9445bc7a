"""Failure drills: what production does to a migration runner, done on purpose.

Each drill runs real processes against a real database, of each dialect this
service has, with a slow test-only migration (see drills.py) that catches a
runner in the middle of it and makes the others queue behind it.
The drills print the figures they measure (`pytest -rP tests/test_drills.py`
shows them); the README's reliability section lists the last ones.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from {{ cookiecutter.package_name }}.database.session import MissingTable, Session, session_scope
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget
from {{ cookiecutter.package_name }}.errors import MigrationError, MigrationLockTimeoutError
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from drills import (
    FIRST,
    SLOW,
    add_drill_migration,
    history,
    inside_the_sleep,
    set_knob,
    start_runner,
    wait_for,
)


@pytest.fixture
def drill_source(source_copy: MigrationSource, target: DatabaseTarget) -> MigrationSource:
    return add_drill_migration(source_copy, target.dialect)


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


def test_drill_helpers_see_a_held_lock(target: DatabaseTarget) -> None:
    with session_scope(target) as holder, holder.migration_lock(timeout=5):
        assert migration_lock_is_held(target)
    assert not migration_lock_is_held(target)
