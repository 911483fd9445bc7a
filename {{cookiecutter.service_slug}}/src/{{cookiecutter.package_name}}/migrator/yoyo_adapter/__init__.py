"""yoyo behind one door: the only code that imports yoyo or touches its internals.

yoyo parses migration files and runs their steps; the runner drives it through
`LoadedMigration` and `MigrationBackend`. Every attribute of yoyo this adapter
relies on, private or not, is listed in YOYO_CONTRACT and checked by the
baked suite (tests/test_yoyo_adapter.py), so a yoyo release that renames one
fails that test by name instead of quietly turning a feature off.

Each dialect's backend lives in a module of its own (`<dialect>.py`),
which the generated project keeps only for its dialects.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, cast
from weakref import WeakKeyDictionary

from yoyo.backends.base import DatabaseBackend
from yoyo.migrations import (
    Migration,
    MigrationStep,
    StepGroup,
    Transactionless,
    TransactionWrapper,
    parse_metadata_from_sql_comments,
)

from ...database.session import Session

# Runs one statement of a migration: (its SQL, a function that executes it).
StatementRunner = Callable[[str, Callable[[], object]], object]

# What this module reaches in yoyo: (object, attribute). A class attribute, or
# an instance attribute set by __init__ (checked on an instance).
YOYO_CONTRACT: tuple[tuple[str, str], ...] = (
    ("DatabaseBackend", "transaction"),
    ("DatabaseBackend", "begin"),
    ("DatabaseBackend", "commit"),
    ("DatabaseBackend", "cursor"),
    ("DatabaseBackend", "connect"),
    ("DatabaseBackend", "savepoint"),
    ("DatabaseBackend", "savepoint_release"),
    ("DatabaseBackend", "savepoint_rollback"),
    ("DatabaseBackend instance", "DatabaseError"),
    ("DatabaseBackend instance", "_in_transaction"),
    ("Migration", "load"),
    ("Migration", "process_steps"),
    ("Migration instance", "steps"),
    ("Migration instance", "use_transactions"),
    ("TransactionWrapper instance", "step"),
    ("TransactionWrapper instance", "ignore_errors"),
    ("Transactionless instance", "step"),
    ("Transactionless instance", "ignore_errors"),
    ("StepGroup instance", "steps"),
    ("MigrationStep instance", "_apply"),
)


class DialectBackends(Protocol):
    """What each dialect module offers."""

    def adopt(self, session: Any) -> DatabaseBackend: ...


class MigrationBackend:
    """A yoyo backend running on a session's own connection, so that a
    migration and its bookkeeping row commit in one transaction."""

    def __init__(self, backend: DatabaseBackend) -> None:
        self._backend = backend

    @property
    def error(self) -> type[Exception]:
        """The driver's error class: what a failing statement raises."""
        return cast(type[Exception], self._backend.DatabaseError)

    @property
    def in_transaction(self) -> bool:
        return bool(self._backend._in_transaction)

    def use_savepoints(self, on: bool) -> None:
        """yoyo puts a savepoint around every step and every migration: two
        round trips per statement. Only a step that ignores its errors, or a
        migration inside a caller's transaction, needs them."""
        self._backend.savepoints = on

    def transaction(self) -> AbstractContextManager[Any]:
        """yoyo's transaction (a savepoint inside one already open)."""
        return cast(AbstractContextManager[Any], self._backend.transaction())

    @contextmanager
    def begin_with_lock_timeout(self, seconds: float) -> Iterator[None]:
        """The next transaction's BEGIN carries `SET LOCAL lock_timeout`."""
        self._backend.begin_lock_timeout = seconds
        try:
            yield
        finally:
            self._backend.begin_lock_timeout = None

    def lock_timeout_sent(self) -> None:
        """The transaction has begun: later BEGINs are plain again."""
        self._backend.begin_lock_timeout = None

    @contextmanager
    def ended_on_failure(self) -> Iterator[None]:
        """A failure that surfaces at COMMIT (a pipelined transaction's) leaves
        yoyo believing its transaction is still open; the session has rolled
        it back, so yoyo is told it ended."""
        try:
            yield
        except BaseException:
            self._backend._in_transaction = False
            raise

    def execute_each(self, statements: Iterable[str]) -> None:
        """The statements, one after another, on one cursor."""
        cursor = self._backend.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()

    @contextmanager
    def statements_through(self, runner: StatementRunner) -> Iterator[None]:
        """Each statement yoyo executes in the block goes through `runner`."""
        self._backend.statement_runner = runner
        try:
            yield
        finally:
            self._backend.statement_runner = None


class LoadedMigration:
    """A parsed migration file."""

    def __init__(self, migration: Migration) -> None:
        self._migration = migration
        # A Python step's string may hold several statements: never plain.
        self._plain = _plain_statements(migration) if self.one_statement_per_step else None

    @property
    def transactional(self) -> bool:
        """False for a file whose header says `-- transactional: false`."""
        return bool(self._migration.use_transactions)

    @property
    def ignores_errors(self) -> bool:
        """Whether any step carries yoyo's `ignore_errors` (it then needs savepoints)."""
        return _ignores_errors(self._migration.steps)

    @property
    def one_statement_per_step(self) -> bool:
        """A SQL file, which yoyo splits into one statement per step. (A Python
        file's step may hold several statements in one string, which only
        the simple query protocol takes, or need each answer as it comes.)"""
        return str(self._migration.path).endswith(".sql")

    def apply(self, backend: MigrationBackend, *, answered_later: bool = False) -> None:
        """Run the migration's steps. `answered_later`: in a transaction the
        caller opened with its statements pipelined (no statement answers
        before the block ends, so yoyo would show no rows either): a file of
        plain statements then goes out on one cursor, without yoyo's
        wrappers around each step (a cursor, a transaction manager and two
        log calls per statement: about a quarter of migrate-all's client CPU).
        The caller pipelines only where yoyo would add nothing: no savepoints
        (no `ignore_errors`, no caller's transaction) and no statement runner."""
        if answered_later and self.plain_statements is not None:
            backend.execute_each(self.plain_statements)
            return
        self._migration.process_steps(backend._backend, "apply")

    @property
    def plain_statements(self) -> tuple[str, ...] | None:
        """Its statements, if it is transactional and each step is one
        statement that does not ignore its errors (a SQL file's); else None."""
        return self._plain

    def rollback(self, backend: MigrationBackend) -> None:
        self._migration.process_steps(backend._backend, "rollback")

    def statements(self) -> Iterator[str]:
        """The SQL the migration applies, in order; a Python step is named, not run."""
        return _statements(self._migration.steps)


def load_migration(migration_id: str, path: str, directory: str) -> LoadedMigration:
    """Parse one migration file (sqlparse runs here). A Python migration that
    fails to import raises yoyo's BadMigration(path, error)."""
    migration = Migration(migration_id, path, directory)
    migration.load()
    return LoadedMigration(migration)


def load_error_cause(error: BaseException) -> BaseException:
    """The error inside yoyo's BadMigration(path, error), else the error itself."""
    args = error.args
    return args[1] if len(args) == 2 and isinstance(args[1], BaseException) else error


def header_transactional(sql_text: str) -> bool:
    """False when a SQL file's header says `-- transactional: false`, read as yoyo reads it."""
    directives, _, _ = parse_metadata_from_sql_comments(sql_text)
    return str(directives.get("transactional", "true")).strip().lower() != "false"


_BACKENDS: WeakKeyDictionary[Session, MigrationBackend] = WeakKeyDictionary()


def backend_for(session: Session) -> MigrationBackend:
    """The session's migration backend, made once per session."""
    backend = _BACKENDS.get(session)
    if backend is None:
        dialect = cast(DialectBackends, importlib.import_module(f".{session.dialect}", __name__))
        backend = _BACKENDS[session] = MigrationBackend(dialect.adopt(session))
    # Inside a transaction the caller opened (creating a schema), yoyo must
    # nest the migration in a savepoint so that everything commits together.
    backend._backend._in_transaction = session.in_transaction
    return backend


def _plain_statements(migration: Migration) -> tuple[str, ...] | None:
    """The SQL of a transactional migration whose every step is one statement
    with no `ignore_errors` (a SQL file's), in order; None for any other."""
    if not migration.use_transactions:
        return None
    statements = []
    for wrapper in migration.steps:
        if not isinstance(wrapper, TransactionWrapper) or wrapper.ignore_errors is not None:
            return None
        step = wrapper.step
        # A StepGroup is a MigrationStep too, of several steps.
        if isinstance(step, StepGroup) or not isinstance(step, MigrationStep):
            return None
        if not isinstance(step._apply, str):  # a Python function
            return None
        if step._apply:  # an empty step does nothing (yoyo skips it too)
            statements.append(step._apply)
    return tuple(statements)


def _ignores_errors(steps: Iterable[Any]) -> bool:
    for step in steps:
        if isinstance(step, TransactionWrapper | Transactionless):
            if step.ignore_errors is not None:
                return True
            if isinstance(step.step, StepGroup) and _ignores_errors(step.step.steps):
                return True
        elif isinstance(step, StepGroup) and _ignores_errors(step.steps):
            return True
    return False


def _statements(steps: Iterable[Any]) -> Iterator[str]:
    for wrapper in steps:
        step = wrapper.step if isinstance(wrapper, TransactionWrapper | Transactionless) else wrapper
        if isinstance(step, StepGroup):
            yield from _statements(step.steps)
        elif isinstance(step, MigrationStep):
            apply = step._apply
            if isinstance(apply, str):
                yield apply.strip().rstrip(";") + ";"
            elif apply is not None:
                yield f"-- Python step {getattr(apply, '__qualname__', repr(apply))}: runs code, not shown"
        else:
            raise TypeError(f"yoyo step of an unknown kind: {type(step).__name__}")


def contract_breaks(samples: dict[str, object]) -> list[str]:
    """The attributes of YOYO_CONTRACT that yoyo no longer has. `samples` gives
    an instance for each "<Class> instance" entry."""
    classes: dict[str, object] = {
        "DatabaseBackend": DatabaseBackend,
        "Migration": Migration,
        "TransactionWrapper": TransactionWrapper,
        "Transactionless": Transactionless,
        "StepGroup": StepGroup,
        "MigrationStep": MigrationStep,
    }
    missing = []
    for owner, attribute in YOYO_CONTRACT:
        subject = samples[owner] if owner.endswith(" instance") else classes[owner]
        if not hasattr(subject, attribute):
            missing.append(f"{owner}.{attribute}")
    return missing
