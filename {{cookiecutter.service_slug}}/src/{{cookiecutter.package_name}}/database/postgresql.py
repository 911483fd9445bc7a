"""PostgreSQL through psycopg 3: sessions, the app's pool, the migration lock."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import Any, Literal, Self

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import PipelineStatus, TransactionStatus
from psycopg.sql import SQL, Composed
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import ConfigError, DatabaseUnavailableError, MigrationLockTimeoutError, first_line
from .blockers import BlockerWatcher
from .lock_retry import LockWaitWatch
from .postgresql_connect import Connection, open_connection
from .postgresql_deadline import answered_by
from .postgresql_entering import LOCK_KEY_SQL, WATCH_CLIENT_SQL, entering
from .postgresql_one_query import OneQuery, sends_one_query
from .postgresql_own_session import moved, require_own_session
from .postgresql_target import PostgresTarget
from .session import MissingTable, Row, UniqueViolation

# A waiting replica asks again after 50 ms, then less and less often (at most
# once a second), each pause jittered so that replicas do not ask in step.
FIRST_LOCK_POLL = 0.05
LONGEST_LOCK_POLL = 1.0


class PostgresSession:
    """A session on one autocommit psycopg connection.

    `conninfo` (how it was opened) lets the session open a second connection
    to see who blocks it while a migration waits for a lock."""

    def __init__(
        self, connection: Connection, conninfo: str | None = None, *, backend_pid: int | None = None
    ) -> None:
        self._connection = connection
        self._conninfo = conninfo
        # The server process a migration session was checked to own (None: not checked).
        self._backend_pid = backend_pid
        self._watcher: BlockerWatcher | None = None
        # A session that enters schema after schema to migrate them
        # (enter_schema_to_migrate) keeps each one's migration lock past its
        # migration, and releases it with the statement that enters the next.
        # The schema entered last, and whether this session holds its lock
        # outside a migration_lock block (taken on entering, or kept after a
        # migration): the next migration_lock there uses it.
        self._entered: str | None = None
        self._held = False
        # The statements of a pipelined() block sent as one query, while it
        # runs; whether such blocks are (None: not yet known).
        self._one_query: OneQuery | None = None
        self._sends_one_query: bool | None = None

    @property
    def dialect(self) -> Literal["postgresql"]:
        return "postgresql"

    @property
    def has_lock_timeout(self) -> bool:
        return True

    @property
    def builds_indexes_concurrently(self) -> bool:
        return True

    @property
    def inserted_at_column(self) -> str:
        return "TIMESTAMPTZ NOT NULL DEFAULT now()"

    @property
    def connection(self) -> Connection:
        return self._connection

    def execute(self, sql: str | SQL | Composed, params: Sequence[object] = ()) -> list[Row]:
        if self._one_query is not None:
            # Sent at the pipelined() block's end; no statement answers before
            # it, so there are no rows to return.
            self._one_query.add(sql, params)
            return []
        try:
            cursor = self._connection.execute(sql, params or None)
        except pg_errors.UniqueViolation as error:
            raise UniqueViolation(str(error)) from error
        except pg_errors.UndefinedTable as error:
            raise MissingTable(str(error)) from error
        return cursor.fetchall() if cursor.description else []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._connection.transaction():
            yield

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        # One round trip for a migration's statements instead of one per
        # statement: on plain PostgreSQL as one query (postgresql_one_query.py),
        # on Citus in psycopg's pipeline mode (Citus passes some DDL on to a
        # worker as the query's text, which must then hold that command only).
        if self.answers_later:
            yield  # inside such a block already: its end sends everything
            return
        try:
            if self._one_query_here():
                batch = self._one_query = OneQuery(self._connection)
                try:
                    yield
                finally:
                    self._one_query = None
                batch.send()
            else:
                with self._connection.pipeline():
                    yield
        except pg_errors.PipelineAborted as aborted:
            # What was sent after the failing statement, a ROLLBACK included,
            # reports only "pipeline aborted": the failure itself comes first.
            raise _first_failure(aborted) from None
        finally:
            if self._connection.info.transaction_status == TransactionStatus.INERROR:
                self._connection.execute("ROLLBACK")

    @property
    def answers_later(self) -> bool:
        """Whether statements executed now answer only at the end of a pipelined() block."""
        return self.collecting or self._connection.pgconn.pipeline_status != PipelineStatus.OFF

    @property
    def collecting(self) -> bool:
        """Whether execute() now only collects its statement, for a pipelined()
        block that goes as one query (on Citus statements go straight into
        psycopg's pipeline instead)."""
        return self._one_query is not None

    def _one_query_here(self) -> bool:
        if self._sends_one_query is None:
            self._sends_one_query = sends_one_query(self._connection)
        return self._sends_one_query

    @contextmanager
    def migration_lock(self, timeout: float) -> Iterator[None]:
        if self._held:
            # Taken on entering the schema, or kept since its last migration
            # (the search path has stayed on it: only entering moves it).
            self._held = False
        else:
            self._take_migration_lock(timeout)
        try:
            yield
        finally:
            if self._entered is not None:
                # Released with the statement that enters the next schema.
                self._held = True
            elif not self._connection.closed:
                self._connection.execute(f"SELECT pg_advisory_unlock({LOCK_KEY_SQL})")

    def _take_migration_lock(self, timeout: float) -> None:
        # Most of the time nobody holds it: one round trip, no timeout to set.
        # The same statement asks the server to notice a client that dies
        # mid-migration (PostgreSQL 14+), so that a killed process's statement
        # and its lock end within a second instead of running to completion.
        try:
            row = self._connection.execute(
                f"SELECT pg_try_advisory_lock({LOCK_KEY_SQL}), pg_backend_pid(){self._watch_client()}"
            ).fetchone()
            if row:
                self.check_backend(row[1])
            if not row or not row[0]:
                self._wait_for_lock(timeout)
        except psycopg.Error as error:
            raise DatabaseUnavailableError(
                f"lost the database while taking the migration lock: {first_line(error)}"
            ) from None

    def _watch_client(self) -> str:
        return f", {WATCH_CLIENT_SQL}" if self._watches_client else ""

    @property
    def _watches_client(self) -> bool:
        return self._connection.info.server_version >= 140000

    def enter_schema_to_migrate(
        self, schema: str, also_read: str = "NULL", then_read: str | None = None
    ) -> tuple[bool, object, list[Row] | None]:
        """Make `schema` the session's search path and try its migration
        lock, for the next migration_lock to use, releasing the lock this
        session kept from the schema it migrated before: one statement (a
        migration then costs one round trip fewer to enter and one fewer to
        leave). From the first call on, the session keeps each lock past its
        migration until it enters the next schema or closes.

        `also_read`, an SQL expression of the schema's `nspname` (a constant
        of the caller's code, never input), is read in the same statement,
        before anything is migrated. `then_read`, a query of the caller's
        code too, runs right after it in the same round trip, in the schema:
        its rows come back only if the lock was taken and the query saw
        everything committed after that (see _enter_then_read). It returns
        whether the schema exists (if not, the lock kept before is released
        all the same), the value of `also_read` (None without the schema) and
        the rows of `then_read` (or None)."""
        params = {"release": self._entered if self._held else None, "schema": schema}
        statement = entering(also_read, watch_client=self._watches_client)
        if then_read is None:
            entered, then_rows = self._connection.execute(statement, params).fetchall(), None
        else:
            entered, then_rows = self._enter_then_read(statement, params, then_read, also_read)
        [(pid, locked, read, each_statement_sees_commits, *_)] = entered
        self._entered, self._held = schema, bool(locked)
        self.check_backend(pid)
        # Under a stricter isolation the read's snapshot could predate the
        # lock (both share the round trip's implicit transaction).
        trusted = bool(locked) and each_statement_sees_commits
        return locked is not None, read, then_rows if trusted else None

    def _enter_then_read(
        self, statement: str, params: Mapping[str, object], then_read: str, also_read: str
    ) -> tuple[list[Row], list[Row] | None]:
        """The entering statement and `then_read` in one round trip: one
        query on plain PostgreSQL, pipelined on Citus (see pipelined()). The
        read starts after the lock was tried, with a snapshot of its own
        (read committed), so it sees whatever the lock's last holder
        committed. If the round trip fails (a schema without that table),
        the entering statement's `again` form puts the session in the state
        the entering statement was to leave (postgresql_entering.py) and the
        read's rows are None: the caller reads again its own way, and meets
        the failure there. If that form fails too, the entering statement
        itself is what fails: its first error is raised."""
        try:
            if self._one_query_here():
                query = OneQuery(self._connection)
                query.add(statement, params)
                query.add(then_read)
                entered, then_rows = query.answers()
                return entered, then_rows
            entered_cursor, then_cursor = self._connection.cursor(), self._connection.cursor()
            with self._connection.pipeline():
                entered_cursor.execute(statement, params)
                then_cursor.execute(then_read)
            return entered_cursor.fetchall(), then_cursor.fetchall()
        except psycopg.Error as failure:
            if self._connection.broken:
                raise
            again = entering(also_read, watch_client=self._watches_client, again=True)
            try:
                return self._connection.execute(again, params).fetchall(), None
            except psycopg.Error:
                # The entering statement itself fails: report its own error.
                raise failure from None

    def check_backend(self, pid: int) -> None:
        """Raise NotOwnSessionError if a statement of a migration session ran on
        another server process than the one the session was checked to own."""
        if self._backend_pid is not None and pid != self._backend_pid:
            raise moved("this connection", f"server process {self._backend_pid}, then {pid}", changed=True)

    def _wait_for_lock(self, timeout: float) -> None:
        """Poll until the lock is free. A waiter blocked inside pg_advisory_lock
        would hold a snapshot for the whole wait, and CREATE INDEX CONCURRENTLY
        (run by the lock's holder) waits for every older snapshot to end: the
        two would deadlock. Between polls a waiter holds nothing."""
        deadline = time.monotonic() + timeout
        pause = FIRST_LOCK_POLL
        while time.monotonic() < deadline:
            time.sleep(min(pause * random.uniform(0.5, 1.5), max(0.0, deadline - time.monotonic())))  # noqa: S311
            row = self._connection.execute(f"SELECT pg_try_advisory_lock({LOCK_KEY_SQL})").fetchone()
            if row and row[0]:
                return
            pause = min(pause * 1.5, LONGEST_LOCK_POLL)
        raise MigrationLockTimeoutError(
            f"another process held the migration lock for more than {timeout:g} s "
            "(MIGRATION_LOCK_TIMEOUT); it is released when that process ends"
            if timeout > 0
            else "another process holds the migration lock"
        )

    def watch_lock_waits(self, timeout: float) -> AbstractContextManager[LockWaitWatch]:
        if self._conninfo is None:
            return nullcontext(LockWaitWatch())
        if self._watcher is None:
            self._watcher = BlockerWatcher(self._conninfo, self._connection.info.backend_pid)
        return self._watcher.watch(timeout)

    @property
    def in_transaction(self) -> bool:
        return self._connection.info.transaction_status != TransactionStatus.IDLE

    def check_pool_fits(self, pool_min: int) -> None:
        """Refuse a pool the server can never fill, before the web server starts.

        The pool opens DB_POOL_MIN connections at start; beyond the server's free
        slots it would wait for DB_CONNECT_TIMEOUT and then stop the start from
        inside the web server, with a traceback instead of a reason."""
        [(limit, reserved, in_use)] = self.execute(
            "SELECT current_setting('max_connections')::int,"
            " current_setting('superuser_reserved_connections')::int,"
            " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        )
        # This session's own connection is counted in use, and closes before the pool opens.
        free = limit - reserved - in_use + 1
        if pool_min > free:
            raise ConfigError(
                f"DB_POOL_MIN={pool_min} needs more connections than the server has free ({free} of "
                f"max_connections {limit}, {reserved} reserved, {in_use - 1} in use by others); "
                "lower DB_POOL_MIN or raise the server's max_connections"
            )

    def explain(self, error: BaseException) -> str:
        return first_line(error)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
        self._connection.close()


def _first_failure(aborted: pg_errors.PipelineAborted) -> BaseException:
    """The error that aborted a pipeline: the nearest server error it was
    raised in the handling of (or the PipelineAborted itself)."""
    error = aborted.__context__
    while error is not None:
        if isinstance(error, psycopg.Error) and not isinstance(error, pg_errors.PipelineAborted):
            return error
        error = error.__context__
    return aborted


def open_postgres_session(target: PostgresTarget, *, wait: float = 0.0) -> PostgresSession:
    """A session of its own on the server: the migration lock and the search
    path it sets hold until it closes (refused through a transaction pooler)."""
    connection, conninfo = open_connection(target, wait=wait)
    try:
        pid = require_own_session(connection, target)
    except BaseException:
        connection.close()
        raise
    return PostgresSession(connection, conninfo, backend_pid=pid)


def session_for(target: PostgresTarget, *, wait: float) -> PostgresSession:
    return open_postgres_session(target, wait=wait)


def pool_for(target: PostgresTarget, *, min_size: int, max_size: int) -> PostgresSessionPool:
    return PostgresSessionPool(target, min_size=min_size, max_size=max_size)


class PostgresSessionPool:
    """The web app's pool; its connections are autocommit, like every session's."""

    # A server that accepts and never answers would hold each of the pool's
    # few workers for libpq's default of 130 s per attempt; the URL's own
    # connect_timeout wins.
    CONNECT_TIMEOUT = 10

    def __init__(self, target: PostgresTarget, *, min_size: int, max_size: int) -> None:
        self._target = target
        # Why the pool's last attempt to connect failed, None once one works:
        # the pool only logs it, and /ready must say why it has no connection.
        self._connect_error: str | None = None
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            kwargs={
                "connect_timeout": self.CONNECT_TIMEOUT,
                **target.connect_kwargs(),
                **target.driver_options(),
                "autocommit": True,
            },
            connection_class=self._noting_connection_class(),
            min_size=min_size,
            max_size=max_size,
            open=False,
            name="{{ cookiecutter.service_slug }}",
        )

    def open(self, *, wait: float) -> None:
        try:
            self._pool.open(wait=True, timeout=max(wait, 1.0))
        except PoolTimeout:
            raise DatabaseUnavailableError(
                f"cannot fill the connection pool for {self._target.describe()} within {max(wait, 1.0):g} s"
            ) from None

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def session(self, timeout: float | None = None) -> Iterator[PostgresSession]:
        if timeout is None:
            with self._pool.connection() as connection:
                yield PostgresSession(connection)
            return
        deadline = time.monotonic() + timeout
        with ExitStack() as stack:
            try:
                connection = stack.enter_context(self._pool.connection(timeout=timeout))
            except PoolTimeout:
                why = self._connect_error or "no connection came free and no new one has opened yet"
                raise DatabaseUnavailableError(
                    f"no database connection within {timeout:g} s: {why}"
                ) from None
            stack.enter_context(answered_by(connection, deadline, timeout, self._lost))
            yield PostgresSession(connection)

    def _noting_connection_class(self) -> type[Connection]:
        """psycopg's connection class, noting on this pool why its last attempt
        to connect failed (the pool retries in the background and only logs it)."""
        pool = self

        class NotingConnection(psycopg.Connection[Row]):
            @classmethod
            def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
                try:
                    connection = super().connect(conninfo, **kwargs)
                except psycopg.Error as error:
                    pool._connect_error = pool._why(error)
                    raise
                pool._connect_error = None
                return connection

        return NotingConnection

    def _lost(self, error: BaseException) -> str:
        return f"lost the connection to {self._target.describe()}: {self._why(error)}"

    def _why(self, error: BaseException) -> str:
        """The error's first line (libpq's says what failed), without the password."""
        reason = first_line(error)
        password = self._target.password
        return reason.replace(password, "***") if password else reason
