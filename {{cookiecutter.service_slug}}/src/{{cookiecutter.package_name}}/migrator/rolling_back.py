"""Rolling back a batch: in one transaction when it can be, newest first."""

from __future__ import annotations

import logging
import time

from ..database.lock_retry import most_patient, with_lock_retries
from ..errors import MigrationError
from . import history
from .applying import Step, ms_since, statements_retried, transaction_for
from .sources import MigrationSource, shown_path
from .yoyo_adapter import LoadedMigration

log = logging.getLogger(__name__)


def roll_back_batch(steps: list[Step]) -> None:
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


def _roll_back_together(steps: list[Step], migrations: list[LoadedMigration]) -> None:
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
        with transaction_for(first, timeout):
            for step, migration in zip(steps, migrations, strict=True):
                current = step
                migration.rollback(backend)
                history.forget(session, step.name)

    # One transaction takes every file's locks.
    policy = most_patient([step.policy() for step in steps])
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


def _roll_back(step: Step) -> None:
    session, backend, name, batch = step.session, step.backend, step.name, step.batch
    path = step.source.path(name)
    log.info("Rolling back migration %s (batch %d)", name, batch, extra=step.context)
    started = time.perf_counter()
    migration = step.source.load(name)
    backend.use_savepoints(migration.ignores_errors)

    def attempt(timeout: float) -> None:
        with transaction_for(step, timeout):
            migration.rollback(backend)
            history.forget(session, name)

    try:
        if migration.transactional:
            step.retrying(attempt)
        else:
            with statements_retried(step):
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


def check_rollback_files(source: MigrationSource, names: list[str]) -> None:
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
