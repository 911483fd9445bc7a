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
from dataclasses import dataclass, field
from datetime import datetime

from ..database.lock_retry import LockRetryPolicy, most_patient, set_lock_timeout
from ..database.session import Session
from . import history, invalid_indexes
from .applying import Step, apply_in_new_schema, apply_step
from .drift import Drift, DriftError, DriftPolicy, drift_between, drift_message, drift_remedies
from .rolling_back import check_rollback_files, roll_back_batch
from .sources import MigrationSource
from .yoyo_adapter import backend_for

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
    # Left by a failed CREATE INDEX CONCURRENTLY; see invalid_indexes.py.
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

    `log_level` is that of the per-migration log lines: migrating many schemas
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
    read_under_lock: history.Snapshot | None = None,
) -> MigrationResult:
    """Take the lock, then apply whatever is pending: `run_migrations` without
    its lock-free first look, for a caller that has just seen pending work.
    `read_under_lock`: the history, read by a caller that already holds the
    session's lock for this schema (and keeps it until this call uses it)
    after taking it; it is not read again."""
    with session.migration_lock(lock_timeout):
        # Another process may have migrated while we waited for the lock.
        state = history.snapshot(session) if read_under_lock is None else read_under_lock
        pending = [name for name in source.migration_ids() if name not in state.applied]
        if not pending:
            return MigrationResult(applied=[], batch=None)
        drift = drift_between(state.checksums, source)
        if drift and on_drift == "refuse":
            raise DriftError(f"refusing to migrate: {drift_message(drift)}", *drift_remedies(drift))
        if drift and on_drift == "warn":
            log.warning("%s", drift_message(drift), extra={"remedies": drift_remedies(drift)})
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
            step = Step(session, backend, source, name, batch, lock_retry)
            apply_step(step, log_level, create_history=create_history)
            create_history = False
        return MigrationResult(applied=pending, batch=batch)


def migrate_new_schema(
    session: Session,
    source: MigrationSource,
    *,
    log_level: int = logging.INFO,
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
) -> MigrationResult:
    """Apply every migration, as batch 1, in a schema the caller created in
    the transaction it still has open (a new schema made with its tables in
    one go), with its bookkeeping table made and the search path set to it.

    Nobody else can see that schema before the caller commits: no migration
    lock is taken, no history read, and each migration costs its statements
    and its record, without savepoints (apply_in_new_schema). A failure fails
    the caller's transaction, which the caller rolls back whole. Each lock
    wait of the migrations is bounded by the longest timeout `lock_retry`
    gives any of the files, or not at all if one of them waits unbounded (a
    migration in it may still touch a table of another schema)."""
    names = source.migration_ids()
    # Every file is read before the first is applied, as run_migrations does.
    for name in names:
        source.load(name)
    if not names:
        return MigrationResult(applied=[], batch=None)
    backend = backend_for(session)
    steps = [Step(session, backend, source, name, 1, lock_retry) for name in names]
    # One transaction takes every file's locks.
    set_lock_timeout(session, most_patient([step.policy() for step in steps]).max_timeout, local=True)
    for step in steps:
        apply_in_new_schema(step, log_level)
    return MigrationResult(applied=names, batch=1)


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
            check_rollback_files(source, names)
            backend = backend_for(session)
            steps = [Step(session, backend, source, name, batch, lock_retry) for name in names]
            roll_back_batch(steps)
            rolled_back.extend(names)
            batches.append(batch)
            if not all_batches:
                break
    return RollbackResult(rolled_back=rolled_back, batches=batches)
