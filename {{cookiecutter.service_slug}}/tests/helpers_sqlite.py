"""What the tests need of SQLite: a fresh database file per test, URLs.

conftest.make_target and conftest.target_url find this module by the dialect's
name (helpers_<dialect>.py), as the service finds its dialect's module.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from {{ cookiecutter.package_name }}.database.session import Session
from {{ cookiecutter.package_name }}.database.sqlite_target import SqliteTarget
from schema_snapshot import Column, Snapshot

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


def production_url(target: SqliteTarget) -> str:
    """The URL production accepts: a file has no password to get wrong."""
    return url(target)


def write_drill_migration(directory: Path, name: str) -> None:
    """The drill's slow migration: `time.sleep` in a Python step holds the lock for a known time."""
    (directory / f"{name}.py").write_text(DRILL_MIGRATION)


def inside_the_drill_sleep(target: SqliteTarget, directory: Path, name: str) -> bool:
    """Whether a runner is inside the sleep of the drill migration in `directory` right now."""
    return (directory / f"{name}.sleeping").exists()


def schema_snapshot(session: Session) -> Snapshot:
    """The tables, columns and indexes of the database, from its catalog."""
    tables: dict[str, list[Column]] = {}
    for (table,) in session.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ):
        tables[table] = [
            Column(name, str(data_type).lower(), not notnull)
            for _, name, data_type, notnull, _, _ in session.execute(f"PRAGMA table_info('{table}')")
        ]
    indexes = {
        name: table
        for name, table in session.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
    }
    return Snapshot(tables, indexes)


def bad_input_values(target: SqliteTarget, encoded_password: str) -> dict[str, str]:
    """What a bad-input row's text may use of this database (see bad_input_table.Row)."""
    return {"url": url(target), "file": target.path}


def database_state(target: SqliteTarget) -> object:
    """Every table's definition and every migration record, read without writing."""
    path = Path(target.path)
    if not path.exists():
        # Opening a missing file creates an empty database: the same state.
        return [], []
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = connection.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
            history = (
                connection.execute("SELECT id, checksum, batch FROM schema_migrations ORDER BY id").fetchall()
                if any(name == "schema_migrations" for _, name, _ in tables)
                else []
            )
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        # Not a database at all (a row's own junk file): its bytes are its state.
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return tables, history


def held(hold: str, target: SqliteTarget) -> AbstractContextManager[None]:
    """A condition a bad-input row holds while its command runs."""
    if hold == "sqlite-write":
        return _write_transaction(Path(target.path))
    raise AssertionError(f"SQLite has no hold {hold!r}")


@contextmanager
def _write_transaction(path: Path) -> Iterator[None]:
    """Another process's open write transaction, as a `sqlite3` shell would hold it."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()
