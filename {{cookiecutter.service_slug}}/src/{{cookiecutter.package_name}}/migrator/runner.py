"""The migration runner: migrate, roll back the last batch, report status.

Built on yoyo's Python API (yoyo parses the files and runs their steps), with
three things yoyo does not give us:

- batches: everything one `run_migrations` applied is one batch, and
  `rollback_migrations` undoes exactly the last one;
- a lock that dies with its holder (see `Session.migration_lock`) instead of
  yoyo's lock row, which a killed process leaves behind;
- bookkeeping in the migration's own transaction, and a no-op check that reads
  one table and one directory, parsing no SQL file unless it must run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
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
from .drift import Drift, DriftError, DriftPolicy, drift_between, drift_message
from .sources import MigrationSource, shown_path
from .yoyo_adapter import LoadedMigration, MigrationBackend, backend_for

DEFAULT_LOCK_TIMEOUT = 300.0
DEFAULT_LOCK_RETRY = LockRetryPolicy()

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MigrationResult:
    applied: list[str]
    batch: int | None


@dataclass(frozen=True)
class RollbackResult:
    rolled_back: list[str]
    batches: list[int]


@dataclass(frozen=True)
class CompletedMigration:
    name: str
    batch: int
    applied_at: datetime


@dataclass(frozen=True)
class MigrationStatus:
    pending: list[str]
    completed: list[CompletedMigration]
    drift: list[Drift] = field(default_factory=list)
    # Left by a failed CREATE INDEX CONCURRENTLY (PostgreSQL); see invalid_indexes.py.
    invalid_indexes: list[invalid_indexes.InvalidIndex] = field(default_factory=list)

    @property
    def is_up_to_date(self) -> bool:
        return not self.pending


def pending_migrations(session: Session, source: MigrationSource | None = None) -> list[str]:
    """The fast no-op check: ids not yet applied, in order; parses no file."""
    source = source or MigrationSource.for_dialect(session.dialect)
    applied = history.applied_ids(session)
    return [name for name in source.migration_ids() if name not in applied]


def get_migration_status(session: Session, source: MigrationSource | None = None) -> MigrationStatus:
    source = source or MigrationSource.for_dialect(session.dialect)
    applied = history.applied_migrations(session)
    done = {migration.name for migration in applied}
    return MigrationStatus(
        pending=[name for name in source.migration_ids() if name not in done],
        completed=[CompletedMigration(m.name, m.batch, m.applied_at) for m in applied],
        drift=drift_between({m.name: m.checksum for m in applied}, source),
        invalid_indexes=invalid_indexes.find(session),
    )


def run_migrations(
    session: Session,
    source: MigrationSource | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    log_level: int = logging.INFO,
    on_drift: DriftPolicy = "warn",
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
) -> MigrationResult:
    """Apply every pending migration as one new batch; each in its own transaction.

    `log_level` is that of the per-migration log lines: migrating many tenants
    logs them at DEBUG and reports progress instead. `on_drift` says what to do
    when an applied migration's file has changed: refuse (production) or warn.
    `lock_retry` bounds each statement's wait for a table lock (lock_retry.py)."""
    source = source or MigrationSource.for_dialect(session.dialect)
    if not pending_migrations(session, source):
        return MigrationResult(applied=[], batch=None)
    return apply_pending(
        session,
        source,
        lock_timeout=lock_timeout,
        log_level=log_level,
        on_drift=on_drift,
        lock_retry=lock_retry,
    )


def apply_pending(
    session: Session,
    source: MigrationSource,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    log_level: int = logging.INFO,
    on_drift: DriftPolicy = "warn",
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
) -> MigrationResult:
    """Take the lock, then apply whatever is pending: `run_migrations` without
    its lock-free first look, for a caller that has just seen pending work."""
    with session.migration_lock(lock_timeout):
        # Another process may have migrated while we waited for the lock.
        state = history.snapshot(session)
        pending = [name for name in source.migration_ids() if name not in state.applied]
        if not pending:
            return MigrationResult(applied=[], batch=None)
        drift = drift_between(state.checksums, source)
        if drift and on_drift == "refuse":
            raise DriftError(f"refusing to migrate: {drift_message(drift)}")
        if drift and on_drift == "warn":
            log.warning("%s", drift_message(drift))
        batch = state.last_batch + 1
        # Every pending file is read before the first is applied: a file that
        # does not parse stops the batch before it changes anything.
        for name in pending:
            source.load(name)
        backend = backend_for(session)
        # A first run creates the bookkeeping table in the first migration's
        # own transaction: one commit fewer per fresh schema.
        create_history = not state.table_exists
        for name in pending:
            step = _Step(session, backend, source, name, batch, lock_retry)
            _apply(step, log_level, create_history=create_history)
            create_history = False
        return MigrationResult(applied=pending, batch=batch)


def rollback_migrations(
    session: Session,
    source: MigrationSource | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    all_batches: bool = False,
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
) -> RollbackResult:
    """Undo the last batch (or every batch), newest migration first."""
    source = source or MigrationSource.for_dialect(session.dialect)
    rolled_back: list[str] = []
    batches: list[int] = []
    with session.migration_lock(lock_timeout):
        while True:
            applied = history.applied_migrations(session)
            if not applied:
                break
            batch = applied[-1].batch
            names = sorted((m.name for m in applied if m.batch == batch), reverse=True)
            _check_rollback_files(source, names)
            backend = backend_for(session)
            steps = [_Step(session, backend, source, name, batch, lock_retry) for name in names]
            _roll_back_batch(steps)
            rolled_back.extend(names)
            batches.append(batch)
            if not all_batches:
                break
    return RollbackResult(rolled_back=rolled_back, batches=batches)


@dataclass(frozen=True)
class _Step:
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


def _apply(step: _Step, log_level: int, *, create_history: bool) -> None:
    session, backend, name, batch = step.session, step.backend, step.name, step.batch
    path = step.source.path(name)
    log.log(log_level, "Applying migration %s (batch %d)", name, batch, extra=step.context)
    started = time.perf_counter()
    migration = step.source.load(name)
    # Inside a caller's transaction (a tenant being created) a failed step must
    # roll back to its savepoint, so that the lock can still be released.
    in_callers_transaction = backend.in_transaction
    backend.use_savepoints(in_callers_transaction or migration.ignores_errors)
    checksum = step.source.checksum(name)
    # yoyo's own flag: set when the caller already opened a transaction (a
    # tenant being created), where yoyo nests each migration in a savepoint.
    if not migration.transactional and in_callers_transaction:
        raise MigrationError(
            f"migration {shown_path(path)} is marked `transactional: false`, so it cannot run "
            "inside the single transaction that creates a tenant; create the tenant before "
            "adding it, or make it transactional"
        )

    def attempt(timeout: float) -> None:
        with _transaction(step, timeout):
            if create_history:
                history.ensure_table(session)
            migration.apply(backend)
            history.record(session, name, checksum=checksum, batch=batch, duration_ms=ms_since(started))

    try:
        if not migration.transactional:
            _apply_without_transaction(
                step, migration, path, checksum, started, create_history=create_history
            )
        elif in_callers_transaction:
            # A brand-new tenant schema: nobody else holds its tables, and a
            # retry would have to roll back the caller's whole transaction.
            attempt(step.policy().max_timeout)
        else:
            step.retrying(attempt)
    except backend.error as error:
        raise MigrationError(
            f"migration {shown_path(path)} failed and was not applied: {session.explain(error)}"
        ) from error
    duration_ms = ms_since(started)
    log.log(
        log_level,
        "Applied migration %s in %d ms",
        name,
        duration_ms,
        extra={"migration": name, "batch": batch, "duration_ms": duration_ms},
    )


@contextmanager
def _transaction(step: _Step, lock_timeout: float) -> Iterator[None]:
    """The migration's transaction (a savepoint inside a caller's), under
    `lock_timeout` on PostgreSQL: sent with the BEGIN, or SET LOCAL after it."""
    session, backend = step.session, step.backend
    if session.dialect != "postgresql" or backend.in_transaction:
        with backend.transaction():
            set_lock_timeout(session, lock_timeout, local=True)
            yield
        return
    with backend.begin_with_lock_timeout(lock_timeout), backend.transaction():
        backend.lock_timeout_sent()
        yield


def _apply_without_transaction(
    step: _Step,
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
        with _each_statement_retried(step):
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
def _each_statement_retried(step: _Step) -> Iterator[None]:
    """Outside a transaction each statement commits by itself: each one gets
    the lock-timeout schedule of its own (a statement that timed out changed
    nothing, so it simply runs again)."""
    session, backend = step.session, step.backend
    if session.dialect != "postgresql":
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


def _roll_back_batch(steps: list[_Step]) -> None:
    """Undo one batch, newest first: all of it or none of it.

    When every migration in it is transactional, the whole batch is undone in
    one transaction, so a rollback step that fails leaves the batch applied as
    it was. A `transactional: false` migration commits statement by statement,
    so such a batch is undone one migration at a time, and the error says which
    were undone before the one that failed."""
    migrations = [step.source.load(step.name) for step in steps]
    if len(steps) > 1 and all(migration.transactional for migration in migrations):
        _roll_back_together(steps, migrations)
        return
    done: list[str] = []
    for step in steps:
        try:
            _roll_back(step)
        except MigrationError as error:
            if not done:
                raise
            raise MigrationError(
                f"{error}; {', '.join(done)} of batch {step.batch} had already been rolled back "
                "(a migration with `transactional: false` commits on its own), so the batch is now "
                "partly applied: fix the failing rollback and run rollback again"
            ) from error
        done.append(step.name)


def _roll_back_together(steps: list[_Step], migrations: list[LoadedMigration]) -> None:
    """Every migration of the batch and its record, in one transaction."""
    first = steps[0]
    session, backend, batch = first.session, first.backend, first.batch
    names = [step.name for step in steps]
    log.info("Rolling back batch %d in one transaction: %s", batch, ", ".join(names), extra={"batch": batch})
    started = time.perf_counter()
    backend.use_savepoints(any(migration.ignores_errors for migration in migrations))
    current = first

    def attempt(timeout: float) -> None:
        nonlocal current
        with _transaction(first, timeout):
            for step, migration in zip(steps, migrations, strict=True):
                current = step
                migration.rollback(backend)
                history.forget(session, step.name)

    # The longest `-- lock_timeout:` of the batch's files bounds every attempt.
    longest = max((step.source.lock_timeout(step.name) or 0.0 for step in steps), default=0.0)
    policy = first.lock_retry.with_max_timeout(longest or None)
    try:
        with_lock_retries(
            session,
            policy,
            attempt,
            what=f"rollback of batch {batch}",
            context={"batch": batch},
            outcome="nothing was rolled back",
        )
    except backend.error as error:
        raise MigrationError(
            f"rollback of {shown_path(current.source.path(current.name))} failed, so batch {batch} was "
            f"left as it was (nothing rolled back): {session.explain(error)}"
        ) from error
    duration_ms = ms_since(started)
    log.info(
        "Rolled back batch %d (%d migrations) in %d ms",
        batch,
        len(steps),
        duration_ms,
        extra={"batch": batch, "duration_ms": duration_ms},
    )


def _roll_back(step: _Step) -> None:
    session, backend, name, batch = step.session, step.backend, step.name, step.batch
    path = step.source.path(name)
    log.info("Rolling back migration %s (batch %d)", name, batch, extra=step.context)
    started = time.perf_counter()
    migration = step.source.load(name)
    backend.use_savepoints(migration.ignores_errors)

    def attempt(timeout: float) -> None:
        with _transaction(step, timeout):
            migration.rollback(backend)
            history.forget(session, name)

    try:
        if migration.transactional:
            step.retrying(attempt)
        else:
            with _each_statement_retried(step):
                migration.rollback(backend)
            with session.transaction():
                history.forget(session, name)
    except backend.error as error:
        raise MigrationError(
            f"rollback of {shown_path(path)} failed and changed nothing: {session.explain(error)}"
        ) from error
    duration_ms = ms_since(started)
    log.info(
        "Rolled back migration %s in %d ms",
        name,
        duration_ms,
        extra={"migration": name, "batch": batch, "duration_ms": duration_ms},
    )


def _check_rollback_files(source: MigrationSource, names: list[str]) -> None:
    """Refuse before touching anything: yoyo would treat a missing file as a no-op."""
    for name in names:
        try:
            rollback = source.rollback_path(name)
        except MigrationError:
            raise MigrationError(
                f"cannot roll back {name}: its migration file is missing from {source.directory}; "
                "nothing was rolled back"
            ) from None
        if rollback is not None and not rollback.is_file():
            raise MigrationError(
                f"cannot roll back {name}: rollback file {shown_path(rollback)} is missing; "
                "nothing was rolled back"
            )


def ms_since(started: float) -> int:
    """Milliseconds since a time.perf_counter() reading."""
    return round((time.perf_counter() - started) * 1000)
