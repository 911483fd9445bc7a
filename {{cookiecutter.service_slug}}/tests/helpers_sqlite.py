"""What the tests need of SQLite: a fresh database file per test, URLs.

conftest.make_target and conftest.target_url find this module by the dialect's
name (helpers_<dialect>.py), as the service finds its dialect's module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from {{ cookiecutter.package_name }}.database.target import SqliteTarget

# The failure drills' slow step (see drills.py). SQLite has no sleep: a Python
# migration's step sleeps, after leaving a mark beside the migration file that
# says it is inside the sleep.
DRILL_MIGRATION = """
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


@contextmanager
def fresh_target(tmp_path: Path) -> Iterator[SqliteTarget]:
    """A fresh, empty database file in the test's folder."""
    yield SqliteTarget(path=str(tmp_path / "test.db"))


def url(target: SqliteTarget) -> str:
    """A DATABASE_URL for `target`, to hand to a subprocess."""
    return f"sqlite:///{target.path}"


def write_drill_migration(directory: Path, name: str) -> None:
    """The drill's slow migration: `time.sleep` in a Python step holds the lock for a known time."""
    (directory / f"{name}.py").write_text(DRILL_MIGRATION)


def inside_the_drill_sleep(target: SqliteTarget, directory: Path, name: str) -> bool:
    """Whether a runner is inside the sleep of the drill migration in `directory` right now."""
    return (directory / f"{name}.sleeping").exists()
