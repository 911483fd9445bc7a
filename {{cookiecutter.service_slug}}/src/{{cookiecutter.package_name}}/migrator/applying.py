"""Applying one migration: in its transaction under a bounded lock wait,
retried on lock timeouts, or statement by statement outside a transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from ..database.lock_retry import (
    LockRetriesExhaustedError,
    LockRetryPolicy,
    reset_lock_timeout,
    runs_concurrently,
    set_lock_timeout,
    with_lock_retries,
)
from ..database.session import Session
from ..errors import MigrationError
from . import history, invalid_indexes
from .sources import MigrationSource, shown_path
from .yoyo_adapter import LoadedMigration, MigrationBackend

log = logging.getLogger(__name__)


class NotTransactionalError(MigrationError):
    """A `transactional: false` migration met a transaction the caller had opened."""


@dataclass(frozen=True)
class Step:
    """One migration to apply or roll back, and where."""

    session: Session
    backend: MigrationBackend
    source: MigrationSource
    name: str
    batch: int
    lock_retry: LockRetryPolicy

    @property
    def context(self) -> dict[str, object]:
        return {"migration": self.name, "batch": self.batch}

    def policy(self) -> LockRetryPolicy:
        """The service's policy, with the file's own `-- lock_timeout:` if it has one."""
        return self.lock_retry.with_max_timeout(self.source.lock_timeout(self.name))

    def retrying(self, attempt: Callable[[float], None]) -> None:
        with_lock_retries(
            self.session, self.policy(), attempt, what=f"migration {self.name}", context=self.context
        )


def apply_step(step: Step, log_level: int, *, create_history: bool) -> None:
    session, backend, name, batch = step.session, step.backend, step.name, step.batch
    path = step.source.path(name)
    log.log(log_level, "Applying migration %s (batch %d)", name, batch, extra=step.context)
    started = time.perf_counter()
    migration = step.source.load(name)
    # Inside a transaction the caller opened (run_migrations called in the
    # caller's own transaction), a failed step must roll back to its
    # savepoint, so that the lock can still be released; yoyo nests each
    # migration in a savepoint there. (A schema created in that transaction
    # takes no lock: apply_in_new_schema.)
    in_callers_transaction = backend.in_transaction
    backend.use_savepoints(in_callers_transaction or migration.ignores_errors)
    checksum = step.source.checksum(name)
    if not migration.transactional and in_callers_transaction:
        raise not_transactional(path)

    # The statements, the record and COMMIT in one round trip, where no step
    # needs an answer before the next. A failing statement's error comes back
    # with the round trip's answers; the server skips the rest, COMMIT too.
    pipelined = (
        migration.one_statement_per_step and not migration.ignores_errors and not in_callers_transaction
    )

    def attempt(timeout: float) -> None:
        before_begin_ms = ms_since(started)
        with transaction_for(step, timeout, pipelined=pipelined) as unanswered:
            if create_history:
                history.ensure_table(session)
            migration.apply(backend, answered_later=unanswered)
            if unanswered:
                # No statement has answered yet: the server adds the time they took.
                history.record_timed_by_server(
                    session, name, checksum=checksum, batch=batch, ms_before_begin=before_begin_ms
                )
            else:
                history.record(session, name, checksum=checksum, batch=batch, duration_ms=ms_since(started))

    try:
        if not migration.transactional:
            _apply_without_transaction(
                step, migration, path, checksum, started, create_history=create_history
            )
        elif in_callers_transaction:
            # A retry would have to roll back the caller's whole transaction.
            attempt(step.policy().max_timeout)
        else:
            step.retrying(attempt)
    except backend.error as error:
        raise failed(step, path, error) from error
    log_applied(step, log_level, ms_since(started))


def not_transactional(path: Path) -> NotTransactionalError:
    return NotTransactionalError(
        f"migration {shown_path(path)} is marked `transactional: false`, so it cannot run "
        "inside the caller's single transaction; make it transactional"
    )


def apply_in_new_schema(step: Step, log_level: int) -> None:
    """Apply a migration in a schema created in the caller's transaction,
    which is still open (a new schema made with its tables in one go).
    Nobody else sees that schema before it commits, and a failure undoes the
    caller's whole transaction:
    so no savepoint around the migration or its steps (yoyo's default, a
    round trip before and after each), no lock timeout of its own (the caller
    set one for the transaction) and no retry. The statements and the record
    are what goes to the server."""
    session, backend, name = step.session, step.backend, step.name
    path = step.source.path(name)
    log.log(log_level, "Applying migration %s (batch %d)", name, step.batch, extra=step.context)
    started = time.perf_counter()
    migration = step.source.load(name)
    if not migration.transactional:
        raise not_transactional(path)
    # A step that ignores its errors still needs its savepoint to go on past one.
    backend.use_savepoints(migration.ignores_errors)
    checksum = step.source.checksum(name)
    try:
        migration.apply(backend)
        duration_ms = ms_since(started)
        history.record(session, name, checksum=checksum, batch=step.batch, duration_ms=duration_ms)
    except backend.error as error:
        raise failed(step, path, error) from error
    log_applied(step, log_level, duration_ms)


def failed(step: Step, path: Path, error: BaseException) -> MigrationError:
    return MigrationError(
        f"migration {shown_path(path)} failed and was not applied: {step.session.explain(error)}"
    )


def log_applied(step: Step, log_level: int, duration_ms: int) -> None:
    log.log(
        log_level,
        "Applied migration %s in %d ms",
        step.name,
        duration_ms,
        extra={**step.context, "duration_ms": duration_ms},
    )


@contextmanager
def transaction_for(step: Step, lock_timeout: float, *, pipelined: bool = False) -> Iterator[bool]:
    """The migration's transaction (a savepoint inside a caller's), under
    `lock_timeout` where the dialect has one: sent with the BEGIN, or SET LOCAL
    after it. `pipelined`: where the session can, statements go out without
    waiting for answers, and the answers (a failing statement's error among
    them) come back at the block's end, after its COMMIT. It yields whether
    they do (then no statement of the block has answered yet)."""
    session, backend = step.session, step.backend
    if not session.has_lock_timeout or backend.in_transaction:
        with backend.transaction():
            set_lock_timeout(session, lock_timeout, local=True)
            yield False
        return
    with (
        session.pipelined() if pipelined else nullcontext(),
        backend.ended_on_failure(),
        backend.begin_with_lock_timeout(lock_timeout),
        backend.transaction(),
    ):
        backend.lock_timeout_sent()
        # Only the dialect with lock timeouts gets here, and it pipelines.
        yield pipelined


def _apply_without_transaction(
    step: Step,
    migration: LoadedMigration,
    path: Path,
    checksum: str,
    started: float,
    *,
    create_history: bool,
) -> None:
    """`-- transactional: false` (e.g. CREATE INDEX CONCURRENTLY): each statement
    commits on its own, so each one is retried on its own, and the record is
    committed right after the last, only if no INVALID index is left."""
    session, backend = step.session, step.backend
    left_before = invalid_indexes.find(session)
    if left_before:
        raise MigrationError(
            f"migration {shown_path(path)} runs outside a transaction and was not started: the schema "
            f"holds invalid indexes from an earlier failed build: {invalid_indexes.describe(left_before)}"
        )
    if create_history:
        history.ensure_table(session)
    try:
        with statements_retried(step):
            migration.apply(backend)
    except backend.error as error:
        raise MigrationError(
            f"migration {shown_path(path)} failed and was not applied: "
            f"{session.explain(error)}{_cleaned_up(session)}"
        ) from error
    left_after = invalid_indexes.find(session)
    if left_after:
        raise MigrationError(
            f"migration {shown_path(path)} left an INVALID index and was not recorded{_cleaned_up(session)}"
        )
    with session.transaction():
        history.record(session, step.name, checksum=checksum, batch=step.batch, duration_ms=ms_since(started))


@contextmanager
def statements_retried(step: Step) -> Iterator[None]:
    """Outside a transaction each statement commits by itself: each one gets
    the lock-timeout schedule of its own (a statement that timed out changed
    nothing, so it simply runs again)."""
    session, backend = step.session, step.backend
    if not session.has_lock_timeout:
        yield
        return
    policy = step.policy()

    def run_statement(statement: str, execute: Callable[[], object]) -> object:
        if runs_concurrently(statement):
            # Its lock blocks no reads or writes; it waits for older
            # transactions, and a retry would throw the build away each time.
            set_lock_timeout(session, 0, local=False)
            return execute()
        result: list[object] = []

        def attempt(timeout: float) -> None:
            set_lock_timeout(session, timeout, local=False)
            result.append(execute())

        try:
            with_lock_retries(
                session,
                policy,
                attempt,
                what=f"migration {step.name}",
                context=step.context,
                outcome="its earlier statements were undone with its rollback steps",
            )
        except LockRetriesExhaustedError as exhausted:
            # A driver error, so that yoyo undoes the statements that committed.
            raise backend.error(str(exhausted)) from None
        return result[0]

    try:
        with backend.statements_through(run_statement):
            yield
    finally:
        reset_lock_timeout(session)


def _cleaned_up(session: Session) -> str:
    """Drop the invalid indexes a failed attempt left; say which, or what to run.

    The schema held none before the attempt (it would not have started), the
    migration lock keeps other runners out of it, and indexes another
    session is still building, or another role owns, are not counted: what is
    left is ours."""
    left = invalid_indexes.find(session, owned=True)
    if not left:
        return ""
    dropped, problems = invalid_indexes.drop(session, left)
    text = ""
    if dropped:
        names = ", ".join(index.name for index in dropped)
        text += f"; the INVALID index it left was dropped ({names}), so it can simply run again"
    if problems:
        text += f"; INVALID index left in place, remove it before running again: {'; '.join(problems)}"
    return text


def ms_since(started: float) -> int:
    """Milliseconds since a time.perf_counter() reading."""
    return round((time.perf_counter() - started) * 1000)
