"""SQLite through the standard library: sessions and the migration lock."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ..errors import DatabaseUnavailableError, MigrationError, MigrationLockTimeoutError, first_line
from .lock_retry import LockWaitWatch
from .session import MissingTable, Row, UniqueViolation
from .sqlite_target import SqliteTarget

BUSY_TIMEOUT_SECONDS = 5.0
LOCK_POLL_SECONDS = 0.05


class SqliteSession:
    """A session on one sqlite3 connection in autocommit mode."""

    def __init__(self, connection: sqlite3.Connection, target: SqliteTarget) -> None:
        self._connection = connection
        self._target = target

    @property
    def dialect(self) -> Literal["sqlite"]:
        return "sqlite"

    @property
    def has_lock_timeout(self) -> bool:
        """A writer waits for the file's lock up to the busy timeout, which cannot
        be changed per statement; there is nothing to bound and retry."""
        return False

    @property
    def builds_indexes_concurrently(self) -> bool:
        return False

    @property
    def inserted_at_column(self) -> str:
        return "TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        try:
            cursor = self._connection.execute(sql.replace("%s", "?"), [_adapt(p) for p in params])
        except sqlite3.IntegrityError as error:
            if "UNIQUE constraint failed" in str(error):
                raise UniqueViolation(str(error)) from error
            raise
        except sqlite3.OperationalError as error:
            if str(error).startswith("no such table"):
                raise MissingTable(str(error)) from error
            raise
        return cursor.fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so two writers queue on the
        # busy timeout instead of failing midway with "database is locked".
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    @contextmanager
    def migration_lock(self, timeout: float) -> Iterator[None]:
        if self._target.is_memory:
            # An in-memory database belongs to this connection alone.
            yield
            return
        # flock() is released by the kernel when the process dies, so a killed
        # migration never leaves a lock behind (a lock row in the database would).
        database = Path(self._target.path)
        if database.exists() and not os.access(database, os.W_OK):
            raise MigrationError(
                f"cannot migrate {self._target.describe()}: the file is read-only "
                "(check its permissions and the volume it is on); nothing was changed"
            )
        lock_path = Path(f"{self._target.path}.migrate-lock")
        try:
            lock_file = lock_path.open("a")
        except OSError as error:
            raise MigrationError(
                f"cannot create the migration lock file {lock_path}: {error.strerror}; "
                "the database's folder must be writable"
            ) from None
        with lock_file:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise MigrationLockTimeoutError(
                            f"another process held the migration lock {lock_path} for more "
                            f"than {timeout:g} s (MIGRATION_LOCK_TIMEOUT); it is released "
                            "when that process ends"
                        ) from None
                    time.sleep(LOCK_POLL_SECONDS)
            try:
                # WAL lets readers go on while a writer (a migration) works. The
                # mode is stored in the file, so setting it here, where the file
                # is first written, spares every other connection the pragma.
                try:
                    self._connection.execute("PRAGMA journal_mode = WAL")
                except sqlite3.Error as error:
                    raise MigrationError(f"cannot migrate {self._target.describe()}: {error}") from None
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._connection

    @property
    def in_transaction(self) -> bool:
        return self._connection.in_transaction

    def pipelined(self) -> AbstractContextManager[None]:
        """An embedded database has no round trips to save: every answer is in."""
        return nullcontext()

    def watch_lock_waits(self, timeout: float) -> AbstractContextManager[LockWaitWatch]:
        """SQLite has no lock timeouts to retry: a writer waits `busy_timeout`."""
        return nullcontext(LockWaitWatch())

    def check_pool_fits(self, pool_min: int) -> None:
        """A SQLite file has no connection limit, and the app opens no pool."""

    def explain(self, error: BaseException) -> str:
        reason = first_line(error)
        if reason == "database is locked":
            # Another connection kept its write transaction open longer than
            # the busy timeout; sqlite3's message does not say which file.
            return (
                f"{self._target.describe()} is locked: another process kept a write transaction "
                f"open for more than {BUSY_TIMEOUT_SECONDS:g} s; try again once it has finished"
            )
        return reason

    def close(self) -> None:
        self._connection.close()


def session_for(target: SqliteTarget, *, wait: float) -> SqliteSession:
    """Opening a file does not wait for a server: `wait` does not apply."""
    return open_sqlite_session(target)


def pool_for(target: SqliteTarget, *, min_size: int, max_size: int) -> SqliteSessionPool:
    """No pool to size: a SQLite connection costs well under a millisecond."""
    return SqliteSessionPool(target)


class SqliteSessionPool:
    """No pool: opening a SQLite connection costs well under a millisecond."""

    def __init__(self, target: SqliteTarget) -> None:
        self._target = target

    def open(self, *, wait: float) -> None:
        """Nothing to wait for: the file is opened per session."""

    def close(self) -> None:
        """Nothing is held between sessions."""

    @contextmanager
    def session(self, timeout: float | None = None) -> Iterator[SqliteSession]:
        """`timeout` goes unused: a file has no pool to wait for and no server
        to hang, and once migrated it is in WAL mode, where reads do not wait
        for writers."""
        session = open_sqlite_session(self._target)
        try:
            yield session
        finally:
            session.close()


def open_sqlite_session(target: SqliteTarget) -> SqliteSession:
    try:
        if not target.is_memory:
            Path(target.path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            target.path,
            isolation_level=None,  # autocommit; transactions are explicit
            timeout=BUSY_TIMEOUT_SECONDS,
            check_same_thread=False,
        )
        connection.execute("PRAGMA foreign_keys = ON")
        # Reads the file's header: a file that is not a database is refused
        # here, by name, rather than by the first query of whatever runs next.
        connection.execute("PRAGMA schema_version")
    except (sqlite3.Error, OSError) as error:
        raise DatabaseUnavailableError(f"cannot open {target.describe()}: {error}") from None
    return SqliteSession(connection, target)


def _adapt(value: object) -> object:
    """Python values in the form the SQLite schema stores them."""
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value
