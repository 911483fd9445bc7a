"""One open database connection, with the same interface on every dialect.

The migration runner, the seeds and the users repository speak to a `Session`
only, so they run unchanged on every dialect. SQL is written with
`%s` placeholders; the SQLite session translates them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..errors import ConfigError
from .target import DatabaseTarget, Dialect

if TYPE_CHECKING:
    from .lock_retry import LockWaitWatch

Row = tuple[Any, ...]


class UniqueViolation(Exception):  # noqa: N818 - named after the SQL condition
    """An INSERT or UPDATE broke a unique index; raised by every dialect alike."""


class MissingTable(Exception):  # noqa: N818 - named after the SQL condition
    """A query named a table that does not exist (yet)."""


class Session(Protocol):
    """What every dialect's session offers."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def has_lock_timeout(self) -> bool:
        """Whether a statement's wait for a lock can be bounded (`lock_timeout`),
        and so given up and retried."""
        ...

    @property
    def builds_indexes_concurrently(self) -> bool:
        """Whether an index can be built without blocking writes: such a build
        that fails leaves an INVALID index behind."""
        ...

    @property
    def inserted_at_column(self) -> str:
        """The type and default of a column holding when its row was inserted (UTC)."""
        ...

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Run one statement; return its rows (empty when it returns none, and
        inside a pipelined() block whose statements answer only at its end)."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Commit the block's statements together, or none of them."""
        ...

    def pipelined(self) -> AbstractContextManager[None]:
        """Send the block's statements to the server without waiting for each
        answer, where the driver can. The answers come back at the block's
        end, where a failing statement raises; a transaction a failure left
        open is rolled back."""
        ...

    def migration_lock(self, timeout: float) -> AbstractContextManager[None]:
        """Hold the lock that serializes migrations; it dies with this process."""
        ...

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this session's connection."""
        ...

    def watch_lock_waits(self, timeout: float) -> AbstractContextManager[LockWaitWatch]:
        """Note who blocks this session while the block runs (an attempt that
        may wait up to `timeout` s for a lock), for the retry's log line."""
        ...

    def check_pool_fits(self, pool_min: int) -> None:
        """Refuse, in one line, a pool of `pool_min` connections the server could never open."""
        ...

    def explain(self, error: BaseException) -> str:
        """A driver error in one line, naming the database where the driver does not."""
        ...

    def close(self) -> None: ...


def open_session(target: DatabaseTarget, *, wait: float = 0.0) -> Session:
    """Connect to `target`, retrying for up to `wait` seconds while it is not up."""
    return _dialect_of(target).session_for(target, wait=wait)


class SessionPool(Protocol):
    """Where the web app gets a session per request."""

    def open(self, *, wait: float) -> None: ...

    def close(self) -> None: ...

    def session(self, timeout: float | None = None) -> AbstractContextManager[Session]:
        """A session for the block. With `timeout` (seconds, for /ready), waiting
        for it and for its statements ends after about that long, with a
        DatabaseUnavailableError saying why; a dialect that never waits ignores it."""
        ...


def open_session_pool(target: DatabaseTarget, *, min_size: int, max_size: int) -> SessionPool:
    """A pool of connections, or, where a connection is cheap, a fresh one per session."""
    return _dialect_of(target).pool_for(target, min_size=min_size, max_size=max_size)


class DialectModule(Protocol):
    """What each dialect's module (database/<dialect>.py) offers."""

    def session_for(self, target: Any, *, wait: float) -> Session: ...

    def pool_for(self, target: Any, *, min_size: int, max_size: int) -> SessionPool: ...


def _dialect_of(target: DatabaseTarget) -> DialectModule:
    """The target's dialect module, found by name. This module imports none of
    them, so that each can import this one without a cycle, and a generated
    project keeps only the modules of its own dialects."""
    name = f"{__package__}.{target.dialect}"
    try:
        return cast(DialectModule, importlib.import_module(name))
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        raise ConfigError(
            f"this service was not generated for {target.dialect} ({target.describe()})"
        ) from None


@contextmanager
def session_scope(target: DatabaseTarget, *, wait: float = 0.0) -> Iterator[Session]:
    """A session closed when the block ends."""
    session = open_session(target, wait=wait)
    try:
        yield session
    finally:
        session.close()


def as_datetime(value: object) -> datetime:
    """A timezone-aware UTC datetime from a driver value (SQLite stores ISO text)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise TypeError(f"expected a timestamp, got {type(value).__name__}")
