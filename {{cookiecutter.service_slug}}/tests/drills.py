"""The failure drills' slow migration, its knob, and the runner a replica runs
(see test_drills.py).

A test-only migration, `0002_drill_slow`, creates a table, then sleeps for as long
as the `drill_knob` table says, then creates a second table: long enough to
catch a runner in the middle of it, and to make the others queue behind it.
The sleep holds the lock for a known time on any machine (each dialect's helper
module, helpers_<dialect>.py, writes the migration with a sleep of its own);
no drill sizes CPU work to make a step slow.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from {{ cookiecutter.package_name }}.database.session import Session, session_scope
from {{ cookiecutter.package_name }}.database.target import DatabaseTarget, Dialect
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from conftest import dialect_helpers, subprocess_env, target_url

FIRST, SLOW = "0001_create_users_table", "0002_drill_slow"

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
    dialect_helpers(dialect).write_drill_migration(source.directory, SLOW)
    return source


def inside_the_sleep(target: DatabaseTarget, source: MigrationSource) -> bool:
    """Whether a runner is inside the drill migration's sleep right now."""
    return dialect_helpers(target.dialect).inside_the_drill_sleep(target, source.directory, SLOW)


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


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    """Wait (a minute at most) until `condition` holds, while the runner `process` is alive."""
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, f"the runner ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"the runner never got to {what}"
        time.sleep(0.05)
