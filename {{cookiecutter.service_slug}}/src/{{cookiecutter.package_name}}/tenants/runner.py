"""Migrating tenant schemas: create one, migrate one, migrate all of them.

Every tenant schema holds the same tables as the shared schema (the same
migration files) and its own `schema_migrations`, so each tenant has its own
history and batches. The shared runner does the work inside a schema; this
module picks the schema, and for many tenants:

- skips the up-to-date ones with a few queries for all of them (tenant_status);
- migrates the others on a bounded number of threads, each with one
  connection of its own, reused from tenant to tenant;
- keeps going past a failing tenant and reports every failure at the end;
- streams tenant ids a page at a time and keeps only a small result per tenant.

Two processes never migrate the same schema at once: the runner's advisory
lock is keyed on the current schema, and it dies with its holder.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

import psycopg
from psycopg import sql

from ..database.lock_retry import LockRetryPolicy
from ..database.postgresql import PostgresSession, open_postgres_session
from ..database.postgresql_target import PostgresTarget
from ..database.session import Session
from ..errors import ConfigError, ServiceError, first_line
from ..log_context import log_context
from ..migrator import history
from ..migrator.applying import NotTransactionalError, ms_since
from ..migrator.drift import DriftPolicy, accept_change
from ..migrator.runner import (
    DEFAULT_LOCK_RETRY,
    DEFAULT_LOCK_TIMEOUT,
    MigrationStatus,
    RollbackResult,
    apply_pending,
    get_migration_status,
    rollback_migrations,
    run_migrations,
)
from ..migrator.sources import MigrationSource
from . import registry
from .pending import tenants_with_pending
from .results import TenantResult
from .schemas import (
    TenantExistsError,
    UnknownTenantError,
    enter_tenant_schema,
    postgres_only,
    tenant_schema,
    tenant_schema_identifier,
    tenant_search_path,
    validate_tenant_id,
)

# The API's own default; the service passes TENANT_MIGRATION_CONCURRENCY
# (config.py: two per core, at most 8; 4 was the fastest of 2, 4 and 8 on 2 cores).
DEFAULT_CONCURRENCY: Final = 4

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TenantRunReport:
    """Every tenant's result, in the order the runs finished."""

    results: list[TenantResult] = field(default_factory=list)

    @property
    def failed(self) -> list[TenantResult]:
        return [result for result in self.results if result.failed]

    @property
    def migrated(self) -> list[TenantResult]:
        return [result for result in self.results if result.outcome == "applied"]

    @property
    def up_to_date(self) -> int:
        return sum(1 for result in self.results if result.outcome == "up to date")

    @property
    def ok(self) -> bool:
        return not self.failed


def create_tenant(
    session: Session,
    tenant_id: str,
    source: MigrationSource | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
) -> TenantResult:
    """Register the tenant, create its schema and migrate it, all in one
    transaction: on any failure neither the schema nor the registry row remains."""
    shared = postgres_only(session)
    validate_tenant_id(tenant_id)
    registry.ensure_registry(shared)
    started = time.perf_counter()
    with shared.transaction():
        shared_path = shared.execute("SELECT current_setting('search_path')")[0][0]
        # The registry row goes in first: a second creator of the same id waits
        # on it, then fails with "already exists" instead of racing.
        registry.register(shared, tenant_id)
        _create_schema(shared, tenant_id)
        enter_tenant_schema(shared, tenant_id, local=True)
        # Created up front so that the runner's first look finds it: inside
        # a transaction, a query on a missing table would abort everything.
        history.ensure_table(shared)
        try:
            result = run_migrations(shared, _source(source), lock_timeout=lock_timeout, lock_retry=lock_retry)
        except NotTransactionalError as error:
            raise NotTransactionalError(
                f"{error} (creating a tenant is one transaction: create tenants before adding it)"
            ) from None
        created = TenantResult(tenant_id, "applied", tuple(result.applied), None, ms_since(started))
        shared.execute("SELECT set_config('search_path', %s, true)", (shared_path,))
        registry.record_outcomes(shared, [created])
    log.info(
        "Created tenant %s (schema %s) in %d ms", tenant_id, tenant_schema(tenant_id), created.duration_ms
    )
    return created


def run_tenant_migrations(
    session: Session,
    tenant_id: str,
    source: MigrationSource | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
    on_drift: DriftPolicy = "warn",
) -> TenantResult:
    """Migrate one registered tenant; a migration failure is returned, not raised."""
    shared = _registered(session, tenant_id)
    with log_context(tenant=tenant_id), tenant_search_path(shared, tenant_id):
        result = _migrate_in_schema(shared, tenant_id, _source(source), lock_timeout, lock_retry, on_drift)
    registry.record_outcomes(shared, [result])
    return result


def rollback_tenant_migrations(
    session: Session,
    tenant_id: str,
    source: MigrationSource | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
    all_batches: bool = False,
) -> RollbackResult:
    """Undo the tenant's last batch (or all of them); other tenants are untouched."""
    shared = _registered(session, tenant_id)
    with log_context(tenant=tenant_id), tenant_search_path(shared, tenant_id):
        return rollback_migrations(
            shared, _source(source), lock_timeout=lock_timeout, all_batches=all_batches, lock_retry=lock_retry
        )


def get_tenant_migration_status(
    session: Session, tenant_id: str, source: MigrationSource | None = None
) -> MigrationStatus:
    shared = _registered(session, tenant_id)
    with tenant_search_path(shared, tenant_id):
        return get_migration_status(shared, _source(source))


def accept_tenant_change(
    session: Session, tenant_id: str, name: str, source: MigrationSource | None = None
) -> str | None:
    """`accept_change` in one tenant's schema."""
    shared = _registered(session, tenant_id)
    with tenant_search_path(shared, tenant_id):
        return accept_change(shared, name, _source(source))


def accept_change_in_all_tenants(
    target: PostgresTarget, name: str, source: MigrationSource | None = None
) -> list[str]:
    """Accept a changed migration file in every tenant that applied it; the
    tenants whose stored checksum changed."""
    source = _source(source)
    accepted: list[str] = []
    with _shared_session(target) as shared, _shared_session(target) as tenant:
        registry.ensure_registry(shared)
        for page in registry.pages(shared):
            for tenant_id in page:
                enter_tenant_schema(tenant, tenant_id)
                if name in history.snapshot(tenant).checksums and accept_change(tenant, name, source):
                    accepted.append(tenant_id)
    return accepted


def run_all_tenant_migrations(
    target: PostgresTarget,
    source: MigrationSource | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
    on_drift: DriftPolicy = "warn",
    on_result: Callable[[TenantResult], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> TenantRunReport:
    """Migrate every registered tenant on `concurrency` connections.

    `on_start` receives the tenant count, `on_result` each tenant's result as
    it finishes (for progress). A failing tenant does not stop the others.
    """
    if concurrency < 1:
        # Zero or fewer workers would wait forever for runs that never start.
        raise ConfigError(
            f"tenant migration concurrency is {concurrency}: use 1 or more "
            "(--concurrency, CONCURRENCY= for make migrate-tenants, TENANT_MIGRATION_CONCURRENCY)"
        )
    source = _source(source)
    migration_ids = source.migration_ids()
    report = TenantRunReport()

    def finished(result: TenantResult) -> None:
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    # Every tenant is migrated the same way; the workers only choose the tenant.
    def migrate(session: PostgresSession, tenant_id: str) -> TenantResult:
        # One line per migration per tenant would bury the progress report.
        return _migrate_in_schema(
            session, tenant_id, source, lock_timeout, lock_retry, on_drift, logging.DEBUG
        )

    with _shared_session(target) as shared, _Workers(target, concurrency, migrate) as workers:
        registry.ensure_registry(shared)
        if on_start is not None:
            on_start(registry.count(shared))
        in_flight: set[Future[TenantResult]] = set()
        for page in registry.pages(shared):
            pending = tenants_with_pending(shared, page, migration_ids)
            for tenant_id in page:
                if tenant_id in pending:
                    in_flight.add(workers.submit(tenant_id))
                else:
                    finished(TenantResult(tenant_id, "up to date"))
            # Bounded: read the next page only once most of this one is done.
            in_flight = _collect(shared, in_flight, finished, keep=concurrency)
        _collect(shared, in_flight, finished, keep=0)
    return report


def _collect(
    shared: PostgresSession,
    in_flight: set[Future[TenantResult]],
    finished: Callable[[TenantResult], None],
    *,
    keep: int,
) -> set[Future[TenantResult]]:
    """Wait until at most `keep` runs are in flight; record the finished ones
    in the registry, one statement for all of them."""
    attempted: list[TenantResult] = []
    while len(in_flight) > keep:
        done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            attempted.append(future.result())
            finished(attempted[-1])
    registry.record_outcomes(shared, attempted)
    return in_flight


class _Workers:
    """A thread pool whose threads share `concurrency` connections, each opened
    on first use and reused for tenant after tenant; `migrate` does the work
    in the tenant's schema."""

    def __init__(
        self,
        target: PostgresTarget,
        concurrency: int,
        migrate: Callable[[PostgresSession, str], TenantResult],
    ) -> None:
        self._target = target
        self._migrate = migrate
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="tenant-migrate")
        self._idle: queue.SimpleQueue[PostgresSession | None] = queue.SimpleQueue()
        self._opened: list[PostgresSession] = []
        for _ in range(concurrency):
            self._idle.put(None)

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *_: object) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        for session in self._opened:
            session.close()

    def submit(self, tenant_id: str) -> Future[TenantResult]:
        return self._executor.submit(self._run, tenant_id)

    def _run(self, tenant_id: str) -> TenantResult:
        started = time.perf_counter()
        session = self._idle.get()
        with log_context(tenant=tenant_id):
            try:
                if session is None or session.connection.broken:
                    session = open_postgres_session(self._target)
                    self._opened.append(session)
                enter_tenant_schema(session, tenant_id)
                return self._migrate(session, tenant_id)
            except (ServiceError, psycopg.Error) as error:
                return _failed(tenant_id, error, started)
            finally:
                self._idle.put(session)


def _migrate_in_schema(
    session: PostgresSession,
    tenant_id: str,
    source: MigrationSource,
    lock_timeout: float,
    lock_retry: LockRetryPolicy,
    on_drift: DriftPolicy,
    log_level: int = logging.INFO,
) -> TenantResult:
    started = time.perf_counter()
    try:
        result = apply_pending(
            session,
            source,
            lock_timeout=lock_timeout,
            log_level=log_level,
            on_drift=on_drift,
            lock_retry=lock_retry,
        )
    except (ServiceError, psycopg.Error) as error:
        return _failed(tenant_id, error, started)
    if not result.applied:
        return TenantResult(tenant_id, "up to date", duration_ms=ms_since(started))
    return TenantResult(tenant_id, "applied", tuple(result.applied), None, ms_since(started))


def _failed(tenant_id: str, error: BaseException, started: float) -> TenantResult:
    reason = first_line(error)
    log.error("Tenant %s failed: %s", tenant_id, reason, extra={"tenant": tenant_id})
    return TenantResult(tenant_id, "failed", error=reason, duration_ms=ms_since(started))


def _create_schema(session: PostgresSession, tenant_id: str) -> None:
    schema = tenant_schema(tenant_id)
    try:
        session.execute(sql.SQL("CREATE SCHEMA {}").format(tenant_schema_identifier(tenant_id)))
    except psycopg.errors.DuplicateSchema:
        raise TenantExistsError(
            f"schema {schema!r} already exists, but tenant {tenant_id!r} is not registered; "
            "drop or rename that schema first (nothing was changed)"
        ) from None


def _registered(session: Session, tenant_id: str) -> PostgresSession:
    shared = postgres_only(session)
    validate_tenant_id(tenant_id)
    registry.ensure_registry(shared, create=False)
    if not registry.is_registered(shared, tenant_id):
        raise UnknownTenantError(
            f"tenant {tenant_id!r} is not registered (create it with: make tenant-create TENANT={tenant_id})"
        )
    return shared


@contextmanager
def _shared_session(target: PostgresTarget) -> Iterator[PostgresSession]:
    # open_postgres_session, not session_scope: every connection this module
    # opens goes through one function (a test counts them).
    session = open_postgres_session(target)
    try:
        yield session
    finally:
        session.close()


def _source(source: MigrationSource | None) -> MigrationSource:
    return source or MigrationSource.for_dialect("postgresql")
