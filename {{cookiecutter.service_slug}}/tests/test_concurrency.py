"""Many runners at once: exactly one applies, the others wait and find nothing to do."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from {{ cookiecutter.package_name }}.database.session import open_session, session_scope
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget
from {{ cookiecutter.package_name }}.errors import MigrationLockTimeoutError
from {{ cookiecutter.package_name }}.migrator.runner import MigrationResult, pending_migrations, run_migrations
from conftest import subprocess_env, target_url

RUNNERS = 4


def test_runners_started_at_once_apply_each_migration_exactly_once(target: DatabaseTarget) -> None:
    start = threading.Barrier(RUNNERS)

    def runner() -> MigrationResult:
        with session_scope(target) as session:
            start.wait()
            return run_migrations(session, lock_timeout=30)

    with ThreadPoolExecutor(RUNNERS) as pool:
        results = list(pool.map(lambda _: runner(), range(RUNNERS)))

    applied = [name for result in results for name in result.applied]
    assert applied == ["0001_create_users_table"]
    assert sum(1 for result in results if result.applied) == 1
    with session_scope(target) as session:
        assert session.execute("SELECT id, batch FROM schema_migrations") == [("0001_create_users_table", 1)]


def test_runner_waits_for_the_lock_holder_and_gives_up_after_its_timeout(target: DatabaseTarget) -> None:
    holder = open_session(target)
    try:
        with holder.migration_lock(timeout=5), session_scope(target) as waiting:
            with pytest.raises(MigrationLockTimeoutError, match="MIGRATION_LOCK_TIMEOUT"):
                run_migrations(waiting, lock_timeout=0.3)
            assert len(pending_migrations(waiting)) == 1
    finally:
        holder.close()


def test_a_tiny_lock_timeout_gives_up_instead_of_waiting_forever(target: DatabaseTarget) -> None:
    # 0.1 ms once became lock_timeout=0ms, which means no limit.
    with (
        session_scope(target) as holder,
        holder.migration_lock(timeout=5),
        session_scope(target) as waiting,
        pytest.raises(MigrationLockTimeoutError),
    ):
        run_migrations(waiting, lock_timeout=0.0001)


LOCK_HOLDER = """
import sys, time
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.session import open_session

session = open_session(load_settings(env_file=None).database)
with session.migration_lock(timeout=5):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_lock_dies_with_a_killed_holder_and_the_next_runner_proceeds(target: DatabaseTarget) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER],
        env=subprocess_env(DATABASE_URL=target_url(target)),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with session_scope(target) as session:
            with pytest.raises(MigrationLockTimeoutError):
                run_migrations(session, lock_timeout=0.2)
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
            result = run_migrations(session, lock_timeout=10)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()

    assert result.applied == ["0001_create_users_table"]
