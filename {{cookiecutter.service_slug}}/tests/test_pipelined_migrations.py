"""A SQL migration goes to PostgreSQL in one round trip (one query; psycopg's
pipeline mode on Citus): a failure is still its own statement's error with
nothing applied, the record still says how long it ran, its statements reach
the server as written, and a Python migration, which may hold several
statements in one string, still runs statement by statement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.database.postgresql import PostgresSession
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.session import Session, session_scope
from {{ cookiecutter.package_name }}.errors import MigrationError
from {{ cookiecutter.package_name }}.migrator import history
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from helpers_postgresql import postgres_schema_target, postgres_server


@pytest.fixture
def pg() -> Iterator[PostgresTarget]:
    with postgres_schema_target(postgres_server()) as target:
        yield target


@pytest.fixture
def source(tmp_path: Path) -> MigrationSource:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "0001_create_notes.sql").write_text("CREATE TABLE notes (id integer PRIMARY KEY);\n")
    (directory / "0001_create_notes.rollback.sql").write_text("DROP TABLE notes;\n")
    return MigrationSource(directory)


def add(source: MigrationSource, file_name: str, text: str) -> None:
    (source.directory / file_name).write_text(text)


def tables(session: Session) -> set[str]:
    rows = session.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {row[0] for row in rows}


def recorded(session: Session) -> list[tuple[str, int]]:
    rows = session.execute("SELECT id, duration_ms FROM schema_migrations ORDER BY id")
    return [(row[0], row[1]) for row in rows]


def test_a_failing_statement_is_named_by_its_own_error_and_nothing_of_the_file_is_applied(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    add(
        source,
        "0002_three_statements.sql",
        "CREATE TABLE first_one (id integer);\n"
        "INSERT INTO notes (id) VALUES (1), (1);\n"
        "CREATE TABLE third_one (id integer);\n",
    )
    add(source, "0002_three_statements.rollback.sql", "SELECT 1;\n")

    with session_scope(pg) as session:
        with pytest.raises(MigrationError) as failure:
            run_migrations(session, source)
        message = str(failure.value)
        assert "0002_three_statements.sql failed and was not applied" in message
        assert "duplicate key value violates unique constraint" in message
        assert "pipeline aborted" not in message
        # The session is usable: the failed transaction was rolled back.
        assert tables(session) == {"notes", "schema_migrations"}
        assert [name for name, _ in recorded(session)] == ["0001_create_notes"]

        add(
            source,
            "0002_three_statements.sql",
            "CREATE TABLE first_one (id integer);\nINSERT INTO notes (id) VALUES (1), (2);\n",
        )
        result = run_migrations(session, source)

        assert result.applied == ["0002_three_statements"]
        assert tables(session) == {"notes", "schema_migrations", "first_one"}


def test_statements_reach_the_server_as_written(pg: PostgresTarget, source: MigrationSource) -> None:
    # Joined into one query, a `--` comment must not swallow what follows it,
    # and a `%` is not a placeholder (no parameter is bound in a migration).
    add(
        source,
        "0002_as_written.sql",
        "CREATE TABLE written (note text DEFAULT '100% -- kept'); -- a trailing comment\n"
        "CREATE FUNCTION written_note() RETURNS text LANGUAGE sql AS $$ SELECT '%s; {}' $$;\n"
        "INSERT INTO written VALUES (written_note()) -- no semicolon at the end",
    )
    add(source, "0002_as_written.rollback.sql", "DROP TABLE written;\nDROP FUNCTION written_note();\n")

    with session_scope(pg) as session:
        result = run_migrations(session, source)
        rows = session.execute("SELECT note FROM written")
        default = session.execute(
            "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'written'::regclass"
        )

    assert result.applied == ["0001_create_notes", "0002_as_written"]
    assert rows == [("%s; {}",)]
    assert default == [("'100% -- kept'::text",)]


def test_the_record_says_how_long_the_statements_ran(pg: PostgresTarget, source: MigrationSource) -> None:
    # The statements are sent before any has run: the duration must still be theirs.
    add(source, "0002_slow.sql", "SELECT pg_sleep(0.3);\nCREATE TABLE slow_one (id integer);\n")
    add(source, "0002_slow.rollback.sql", "DROP TABLE slow_one;\n")

    with session_scope(pg) as session:
        run_migrations(session, source)
        durations = dict(recorded(session))

    assert durations["0002_slow"] >= 300


def test_a_migration_commits_once_so_the_server_logs_no_warning(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    # A second COMMIT would make the server warn "there is no transaction in
    # progress", in its log and to the client, for every migration applied.
    with session_scope(pg) as session:
        assert isinstance(session, PostgresSession)
        warnings: list[str] = []
        session.connection.add_notice_handler(lambda notice: warnings.append(str(notice.message_primary)))
        result = run_migrations(session, source)
        found = tables(session)

    assert result.applied == ["0001_create_notes"]
    assert found == {"notes", "schema_migrations"}
    assert warnings == []


def test_a_python_step_with_two_statements_in_one_string_still_applies(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    add(
        source,
        "0002_two_in_one.py",
        "from yoyo import step\n\n"
        'steps = [step("CREATE TABLE left_one (id integer); CREATE TABLE right_one (id integer)")]\n',
    )
    add(source, "0002_two_in_one.rollback.sql", "DROP TABLE left_one; DROP TABLE right_one;\n")

    with session_scope(pg) as session:
        result = run_migrations(session, source)
        found = tables(session)

    assert result.applied == ["0001_create_notes", "0002_two_in_one"]
    assert {"left_one", "right_one"} <= found


class CallerChangedItsMindError(Exception):
    """Raised by a test inside its own transaction, to roll it back."""


def test_migrations_run_in_the_callers_own_transaction_commit_or_roll_back_with_it(
    pg: PostgresTarget, source: MigrationSource
) -> None:
    # Not pipelined there: each migration sits in a savepoint of the caller's transaction.
    add(source, "0002_second.sql", "CREATE TABLE second_one (id integer);\n")
    add(source, "0002_second.rollback.sql", "DROP TABLE second_one;\n")
    with session_scope(pg) as session:
        with pytest.raises(CallerChangedItsMindError), session.transaction():
            # First the bookkeeping table: in a transaction, looking for a
            # missing one would abort it.
            history.ensure_table(session)
            assert run_migrations(session, source).applied == ["0001_create_notes", "0002_second"]
            raise CallerChangedItsMindError
        assert tables(session) == set()

        with session.transaction():
            history.ensure_table(session)
            run_migrations(session, source)
        assert tables(session) == {"notes", "second_one", "schema_migrations"}
        assert [name for name, _ in recorded(session)] == ["0001_create_notes", "0002_second"]
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        assert session.execute(held) == [(0,)]
