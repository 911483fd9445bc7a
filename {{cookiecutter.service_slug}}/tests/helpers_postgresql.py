"""What the tests need of PostgreSQL: the test server, a fresh schema per test, URLs.

PostgreSQL tests use TEST_DATABASE_URL (a server where they may create
schemas); each test gets a schema of its own, dropped afterwards. Without the
variable they are skipped with the reason, unless REQUIRE_POSTGRES=1, where a
missing server fails the run.

conftest.make_target and conftest.target_url find this module by the dialect's
name (helpers_<dialect>.py), as the service finds its dialect's module.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlencode

import pytest

from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.session import Session, open_session, session_scope
from {{ cookiecutter.package_name }}.database.target import parse_database_url
from {{ cookiecutter.package_name }}.errors import ServiceError
from schema_snapshot import Column, Snapshot

# The failure drills' slow step (see drills.py): the sleep carries a token of its
# own, so that a drill can find its runner inside the sleep even when other tests
# sleep on the same server.
SLEEP_SQL = "SELECT pg_sleep((SELECT seconds FROM drill_knob)) /* {token} */;"


def missing(reason: str, required_by: str) -> NoReturn:
    """Skip for `reason`, or fail when `required_by` is 1 (as in CI)."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{required_by}=1 but {reason}")
    pytest.skip(reason)


def postgres_server() -> PostgresTarget:
    """The server named by TEST_DATABASE_URL, or a skip (a failure when required)."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        missing("TEST_DATABASE_URL is unset: PostgreSQL tests need a server", "REQUIRE_POSTGRES")
    target = parse_database_url(url)
    assert isinstance(target, PostgresTarget), "TEST_DATABASE_URL must be a postgresql:// URL"
    return target


@contextmanager
def postgres_schema_target(
    server: PostgresTarget, *, required_by: str = "REQUIRE_POSTGRES", what: str = "PostgreSQL"
) -> Iterator[PostgresTarget]:
    """A fresh, empty schema on `server`, as the only schema on the search path.
    An unreachable server is a skip, or a failure when `required_by` is 1."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    try:
        admin = open_session(server)
    except ServiceError as error:
        missing(f"{what} is unreachable: {error}", required_by)
    try:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        yield replace(server, params={**server.params, "options": f"-c search_path={schema}"})
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@contextmanager
def fresh_target(tmp_path: Path) -> Iterator[PostgresTarget]:
    """A fresh, empty schema on the test server, dropped afterwards."""
    with postgres_schema_target(postgres_server()) as target:
        yield target


def url(target: PostgresTarget) -> str:
    """A DATABASE_URL for `target`, to hand to a subprocess."""
    query = urlencode(dict(target.params))
    return f"postgresql://{target.user}:{target.password}@{target.host}:{target.port}/{target.dbname}?{query}"


def production_url(target: PostgresTarget) -> str:
    """url(target) with a password production accepts (the test server trusts every local login)."""
    return url(target).replace(f"{target.user}:@", f"{target.user}:Zq8-long-random@", 1)


def write_drill_migration(directory: Path, name: str) -> None:
    """The drill's slow migration: `pg_sleep` inside PostgreSQL holds the lock for a known time."""
    sleep = SLEEP_SQL.format(token=_sleep_token(directory))
    (directory / f"{name}.sql").write_text(
        f"CREATE TABLE drill_half (id INTEGER);\n{sleep}\nCREATE TABLE drill_done (id INTEGER);\n"
    )
    (directory / f"{name}.rollback.sql").write_text("DROP TABLE drill_done;\nDROP TABLE drill_half;\n")


def inside_the_drill_sleep(target: PostgresTarget, directory: Path, name: str) -> bool:
    """Whether a runner is inside the sleep of the drill migration in `directory` right now."""
    with session_scope(target) as probe:
        rows = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND strpos(query, %s) > 0 "
            "AND pid <> pg_backend_pid()",
            (_sleep_token(directory),),
        )
    return bool(rows[0][0])


def _sleep_token(directory: Path) -> str:
    """Unique to the test (its folder's absolute path includes pytest's run)."""
    return "drill " + hashlib.sha256(str(directory).encode()).hexdigest()[:16]


def schema_snapshot(session: Session) -> Snapshot:
    """The tables, columns and indexes of the session's schema, from the catalog."""
    tables: dict[str, list[Column]] = {}
    for table, name, data_type, nullable in session.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ):
        tables.setdefault(table, []).append(Column(name, data_type, nullable == "YES"))
    indexes = {
        name: table
        for name, table in session.execute(
            "SELECT indexname, tablename FROM pg_indexes WHERE schemaname = current_schema()"
        )
    }
    return Snapshot(tables, indexes)


def bad_input_values(target: PostgresTarget, encoded_password: str) -> dict[str, str]:
    """What a bad-input row's text may use of this database (see bad_input_table.Row):
    its URL carries the password, percent-encoded."""
    server = f"{target.host}:{target.port}"
    query = urlencode(dict(target.params))
    return {
        "url": f"postgresql://{target.user}:{encoded_password}@{server}/{target.dbname}?{query}",
        "server": server,
        "host": target.host,
        "port": str(target.port),
        "dbname": target.dbname,
    }


def database_state(target: PostgresTarget) -> object:
    """Every relation of the schema with its columns, and every migration record."""
    with session_scope(target) as session:
        columns = session.execute(
            "SELECT c.relname, c.relkind, a.attname FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
            " WHERE n.nspname = current_schema() ORDER BY 1, 3"
        )
        history = (
            session.execute("SELECT id, checksum, batch FROM schema_migrations ORDER BY id")
            if any(row[0] == "schema_migrations" for row in columns)
            else []
        )
    return columns, history


def held(hold: str, target: PostgresTarget) -> AbstractContextManager[None]:
    """A condition a bad-input row holds while its command runs: none here yet."""
    raise AssertionError(f"PostgreSQL has no hold {hold!r}")
