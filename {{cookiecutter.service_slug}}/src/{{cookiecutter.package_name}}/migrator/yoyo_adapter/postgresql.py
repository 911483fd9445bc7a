"""yoyo's psycopg backend, running on a connection a PostgreSQL session already holds."""

from __future__ import annotations

from typing import Any

import psycopg
from yoyo.backends.base import DatabaseBackend
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri

from ...database.postgresql import PostgresSession
from ...database.postgresql_connect import Connection
from . import StatementRunner

# yoyo opens a connection of its own per backend and probes the server each
# time, and appends the driver's error class to a module-level list for every
# backend it creates (which would grow with the number of schemas migrated).
# With the driver set on the class and our connection adopted, it does
# neither; the class is made once, here.
URI = parse_uri("postgresql+psycopg://")


class AdoptedConnectionBackend(PostgresqlPsycopgBackend):  # type: ignore[misc]
    _driver = psycopg
    # Off unless the runner turns them on (MigrationBackend.use_savepoints).
    savepoints = True
    # Runs each statement of a migration (statement, execute-it); None: as is.
    statement_runner: StatementRunner | None = None
    # The lock_timeout of the transaction yoyo opens next, sent with its
    # BEGIN: one round trip fewer per migration.
    begin_lock_timeout: float | None = None

    def __init__(self, session: PostgresSession) -> None:
        self._session = session
        self._adopted = session.connection
        super().__init__(URI, "_yoyo_migration")

    def connect(self, dburi: Any) -> Connection:
        return self._adopted

    def begin(self) -> None:
        if self.begin_lock_timeout is None:
            super().begin()
            return
        self._in_transaction = True
        set_timeout = f"SET LOCAL lock_timeout = '{round(self.begin_lock_timeout * 1000)}ms'"
        if self._pipelined:
            # Sent at the block's end, with the statements, in one round trip.
            self.execute("BEGIN")
            self.execute(set_timeout)
        else:
            self.execute(f"BEGIN; {set_timeout}")

    def commit(self) -> None:
        if not self._pipelined:
            super().commit()
            return
        # yoyo sends COMMIT, then calls the driver's commit(), which sees
        # nothing is answered yet and sends a second one: the server would log
        # "there is no transaction in progress" for every migration. The
        # pipeline's end collects the one COMMIT's answer.
        self.execute("COMMIT")
        self._in_transaction = False

    @property
    def _pipelined(self) -> bool:
        """Whether the session is in a pipelined() block (nothing answers before its end)."""
        return self._session.answers_later

    def cursor(self) -> Any:
        if self._session.collecting and self.statement_runner is None:
            # The session sends what the cursor executes at the block's end.
            return _SessionCursor(self._session)
        # A migration that runs outside a transaction retries each
        # statement on its own (see applying._apply_without_transaction).
        cursor = super().cursor()
        runner = self.statement_runner
        return cursor if runner is None else _RunnerCursor(cursor, runner)

    def savepoint(self, id: str) -> None:
        if self.savepoints:
            super().savepoint(id)

    def savepoint_release(self, id: str) -> None:
        if self.savepoints:
            super().savepoint_release(id)

    def savepoint_rollback(self, id: str) -> None:
        if self.savepoints:
            super().savepoint_rollback(id)


def adopt(session: PostgresSession) -> DatabaseBackend:
    return AdoptedConnectionBackend(session)


class _SessionCursor:
    """A cursor for yoyo while the session collects a pipelined() block's
    statements: each one is added to those it sends as one query at the end."""

    # No statement has answered yet: no rows for yoyo to show.
    description = None

    def __init__(self, session: PostgresSession) -> None:
        self._session = session

    def execute(self, statement: Any, params: Any = None) -> None:
        self._session.execute(statement, params or ())

    def close(self) -> None:
        pass


class _RunnerCursor:
    """A driver cursor whose `execute` goes through a statement runner."""

    def __init__(self, cursor: Any, runner: StatementRunner) -> None:
        self._cursor = cursor
        self._runner = runner

    def execute(self, statement: Any, params: Any = None) -> Any:
        return self._runner(str(statement), lambda: self._cursor.execute(statement, params))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)
