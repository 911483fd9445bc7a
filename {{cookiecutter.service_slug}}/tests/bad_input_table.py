"""The machinery of the table-driven bad-input suite: one `Row` per bad input.

Each row is run as an operator would meet it: the service's command line in a
child process, on a fresh database of one dialect, against a copy of the
package (so a row may add or break migration and seed files). Every row must
end with the exit code it names, exactly one line on stderr that names what
was wrong, the database and the files as they were before the command, and a
password made of every character a URL treats specially appearing nowhere: not
in stdout, not in stderr, not in the logs (the command logs at DEBUG, as JSON,
so every log record is checked too and cannot be mistaken for the error line).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.database.target import (
    DatabaseTarget,
    Dialect,
    PostgresTarget,
    SqliteTarget,
)
from conftest import SOURCE_ROOT, cli, make_target

# Every character with a meaning in a URL: a password made of them must be
# percent-encoded to work, and must never be shown, encoded or not.
PASSWORD = "S3c/r#t?@:%x"
ENCODED_PASSWORD = quote(PASSWORD, safe="")
PACKAGE = "{{ cookiecutter.package_name }}"


@dataclass(frozen=True)
class Row:
    """One bad input. Text in `env`, `args`, `names`, `files` and `sql` may use
    {url} (the fresh database's URL, carrying the password where the dialect
    has one), {password}, {encoded} (the password percent-encoded),
    {server} (PostgreSQL's host:port, also as {host} and {port}), {dbname}, {file} (the SQLite file) and
    {dialect} and {tenant} (a tenant id of this run alone; its schema is
    dropped afterwards)."""

    id: str
    args: tuple[str, ...]
    # What the one line on stderr must contain: the variable, file, migration
    # or tenant that was wrong.
    names: str
    env: Mapping[str, str] = field(default_factory=dict)
    dialects: tuple[Dialect, ...] = ("postgresql", "sqlite")
    # Dialects the service must have been generated with for the row to apply.
    needs: tuple[Dialect, ...] = ()
    # Files written into the package copy before `before` runs (a path
    # relative to the package; None removes the file).
    files: Mapping[str, str | None] = field(default_factory=dict)
    # Commands that must succeed before the row's command (e.g. migrate first).
    before: tuple[tuple[str, ...], ...] = ()
    # Files changed after `before`, just ahead of the row's command.
    later_files: Mapping[str, str | None] = field(default_factory=dict)
    # Statements run on the fresh database before anything else.
    sql: tuple[str, ...] = ()
    # A condition held while the command runs: "sqlite-write" keeps a write
    # transaction open on the SQLite file.
    hold: str | None = None
    exit_code: int = 1


@dataclass(frozen=True)
class Place:
    """Where a row runs: a fresh database and the values its text may use."""

    target: DatabaseTarget
    values: dict[str, str]

    def fill(self, text: str) -> str:
        return text.format(**self.values)


def run_row(row: Row, dialect: Dialect, tmp_path: Path) -> None:
    """Run `row` on a fresh `dialect` database and assert everything it promises."""
    package = Path(
        shutil.copytree(SOURCE_ROOT, tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    )
    with make_target(dialect, tmp_path) as target:
        place = _place(target)
        try:
            _run(row, place, package)
        finally:
            if isinstance(target, PostgresTarget):
                with session_scope(target) as session:
                    session.execute(f'DROP SCHEMA IF EXISTS "tenant_{place.values["tenant"]}" CASCADE')


def _run(row: Row, place: Place, package: Path) -> None:
    target, dialect = place.target, place.target.dialect
    env = {"PYTHONPATH": str(package), "DATABASE_URL": place.values["url"], "DB_PASSWORD": PASSWORD}
    for statement in row.sql:
        with session_scope(target) as session:
            session.execute(place.fill(statement))
    _write(package, row.files, place)
    for command in row.before:
        done = cli(*(place.fill(arg) for arg in command), **env)
        assert done.returncode == 0, f"{row.id}: {command} should succeed first: {done.stderr}"
    _write(package, row.later_files, place)
    env.update(LOG_LEVEL="DEBUG", LOG_FORMAT="json")
    env.update({name: place.fill(value) for name, value in row.env.items()})
    database_before, files_before = _database_state(target, place.values["tenant"]), _files(package)

    with _held(row.hold, target):
        result = cli(*(place.fill(arg) for arg in row.args), **env)

    shown = f"{row.id} on {dialect}: exit {result.returncode}\nout: {result.stdout}\nerr: {result.stderr}"
    assert result.returncode == row.exit_code, shown
    lines = [line for line in result.stderr.splitlines() if not _is_log_record(line)]
    assert len(lines) == 1, shown
    assert place.fill(row.names) in lines[0], shown
    for secret in (PASSWORD, ENCODED_PASSWORD):
        assert secret not in result.stdout + result.stderr, shown
    assert _database_state(target, place.values["tenant"]) == database_before, (
        f"{row.id} on {dialect} changed the database"
    )
    assert _files(package) == files_before, f"{row.id} on {dialect} changed the package's files"


def _place(target: DatabaseTarget) -> Place:
    if isinstance(target, SqliteTarget):
        values = {"url": f"sqlite:///{target.path}", "file": target.path, "dbname": ""}
        values.update(server="", host="", port="")
    else:
        assert isinstance(target, PostgresTarget)
        server = f"{target.host}:{target.port}"
        query = urlencode(dict(target.params))
        url = f"postgresql://{target.user}:{ENCODED_PASSWORD}@{server}/{target.dbname}?{query}"
        values = {"url": url, "file": "", "server": server, "dbname": target.dbname}
        values.update(host=target.host, port=str(target.port))
    tenant = f"t{uuid.uuid4().hex[:12]}"
    values.update(password=PASSWORD, encoded=ENCODED_PASSWORD, dialect=target.dialect, tenant=tenant)
    return Place(target, values)


def _write(package: Path, files: Mapping[str, str | None], place: Place) -> None:
    for relative, content in files.items():
        path = package / PACKAGE / place.fill(relative)
        if content is None:
            path.unlink()
        else:
            path.write_text(content)


def _is_log_record(line: str) -> bool:
    """A JSON log record (LOG_FORMAT=json), as opposed to what the command printed."""
    if not line.startswith("{"):
        return False
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "level" in record


def _database_state(target: DatabaseTarget, tenant: str) -> Any:
    """What the database holds: its tables, their columns, every migration record and tenant."""
    if isinstance(target, SqliteTarget):
        path = Path(target.path)
        if not path.exists():
            # Opening a missing file creates an empty database: the same state.
            return [], []
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                tables = connection.execute(
                    "SELECT type, name, sql FROM sqlite_master ORDER BY name"
                ).fetchall()
                history = (
                    connection.execute(
                        "SELECT id, checksum, batch FROM schema_migrations ORDER BY id"
                    ).fetchall()
                    if any(name == "schema_migrations" for _, name, _ in tables)
                    else []
                )
            finally:
                connection.close()
        except sqlite3.DatabaseError:
            # Not a database at all (a row's own junk file): its bytes are its state.
            return hashlib.sha256(path.read_bytes()).hexdigest()
        return tables, history
    with session_scope(target) as session:
        columns = session.execute(
            "SELECT c.relname, c.relkind, a.attname FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
            " WHERE n.nspname = current_schema() ORDER BY 1, 3"
        )
        # Only this run's tenant: suites running at the same time make their own.
        schemas = session.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = %s", (f"tenant_{tenant}",)
        )
        relations = {row[0] for row in columns}
        history = (
            session.execute("SELECT id, checksum, batch FROM schema_migrations ORDER BY id")
            if "schema_migrations" in relations
            else []
        )
        registry = (
            session.execute("SELECT * FROM _tenant_registry ORDER BY 1")
            if "_tenant_registry" in relations
            else []
        )
    return columns, schemas, history, registry


def _files(package: Path) -> dict[str, str]:
    return {
        str(path.relative_to(package)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _held(hold: str | None, target: DatabaseTarget) -> AbstractContextManager[None]:
    if hold is None:
        return nullcontext()
    if hold == "sqlite-write":
        assert isinstance(target, SqliteTarget)
        return _sqlite_write_transaction(Path(target.path))
    raise AssertionError(f"unknown hold {hold!r}")


@contextmanager
def _sqlite_write_transaction(path: Path) -> Iterator[None]:
    """Another process's open write transaction, as a `sqlite3` shell would hold it."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()
