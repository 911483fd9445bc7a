"""Migrating every tenant schema, and accepting a changed file in all of them.

Every tenant schema holds the same tables as the shared schema (the same
migration files) and its own `schema_migrations`, so each tenant has its own
history and batches. For many tenants, this module:

- skips the up-to-date ones with a few queries for all of them (pending.py),
  without reading the history of those marked up to date, or marked by an
  earlier release (history_marks.py), unless nearly all of them turn out
  pending (Lookout);
- migrates the others on a bounded number of threads, each with one
  connection of its own, reused from tenant to tenant (workers.py);
- keeps going past a failing tenant and reports every failure at the end;
- streams tenant ids a page at a time and keeps only a small result per tenant.

One tenant at a time is one_tenant.py's work; creating one is creation.py's.
Two processes never migrate the same schema at once: the runner's advisory
lock is keyed on the current schema, and it dies with its holder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, as_completed
from contextlib import contextmanager
from fractions import Fraction
from typing import Final

from ..database.lock_retry import LockRetryPolicy
from ..database.postgresql import PostgresSession, open_postgres_session
from ..database.postgresql_target import PostgresTarget
from ..database.session import Row
from ..errors import ConfigError, Remedy
from ..migrator import history
from ..migrator.drift import DriftPolicy, accept_change
from ..migrator.runner import DEFAULT_LOCK_RETRY, DEFAULT_LOCK_TIMEOUT
from ..migrator.sources import MigrationSource
from . import history_marks, registry
from .history_marks import Marks
from .one_tenant import default_source, migrate_in_schema
from .pending import tenants_with_pending
from .results import TenantResult, TenantRunReport
from .schemas import enter_tenant_schema, tenant_schema
from .workers import Workers

# Records the results of tenants the workers ran, on the shared session.
Recorder = Callable[[PostgresSession, Sequence[TenantResult]], None]

# The API's own default; the service passes TENANT_MIGRATION_CONCURRENCY
# (config.py: two per core, at most 8; 4 was the fastest of 2, 4 and 8 on 2 cores).
DEFAULT_CONCURRENCY: Final = 4


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
    _check_concurrency(concurrency)
    source = default_source(source).pinned()
    migration_ids = source.migration_ids()
    report = TenantRunReport()

    def finished(result: TenantResult) -> None:
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    # The mark version each tenant had on entering it (tenants without a
    # mark have none), kept from its worker's run until its result is recorded.
    entered: dict[str, int] = {}

    # Every tenant is migrated the same way; the workers only choose the tenant.
    def migrate(
        session: PostgresSession, tenant_id: str, version: object, history_rows: Sequence[Row] | None
    ) -> TenantResult:
        # Read in the round trip that entered the schema and took its lock.
        read = None if history_rows is None else history.snapshot_of(history_rows)
        # One line per migration per tenant would bury the progress report.
        result = migrate_in_schema(
            session, tenant_id, source, lock_timeout, lock_retry, on_drift, logging.DEBUG, read
        )
        if not result.failed and isinstance(version, int):
            # Migrated, or handed out unread (marked by an earlier release,
            # or while the lookout rested) and found complete: marked with
            # the page's results, the next look does not read it.
            entered[tenant_id] = version
        return result

    def record(shared: PostgresSession, results: Sequence[TenantResult]) -> None:
        registry.record_outcomes(shared, results)
        if marks is not None:
            versions = {
                tenant_schema(r.tenant_id): entered.pop(r.tenant_id)
                for r in results
                if r.tenant_id in entered
            }
            history_marks.mark_migrated(shared, marks, migration_ids, versions)

    # The workers start once `marks` is known (below): their entering
    # statement reads each tenant's mark version.
    with _shared_session(target) as shared:
        registry.ensure_registry(shared)
        marks = history_marks.prepare(shared)
        entering = "NULL" if marks is None else history_marks.version_on_entering(marks)

        def open_worker_session() -> PostgresSession:
            session = open_postgres_session(target)
            if marks is not None:
                history_marks.as_runner(session, local=False)
            return session

        with Workers(concurrency, open_worker_session, migrate, entering, history.SNAPSHOT_QUERY) as workers:
            if on_start is not None:
                on_start(registry.count(shared))
            _migrate_page_by_page(shared, workers, migration_ids, marks, finished, record, concurrency)
    return report


def _check_concurrency(concurrency: int) -> None:
    if concurrency < 1:
        # Zero or fewer workers would wait forever for runs that never start.
        raise ConfigError(
            f"tenant migration concurrency is {concurrency}: use 1 or more "
            "(--concurrency for one run, TENANT_MIGRATION_CONCURRENCY for every run)",
            Remedy("migrate-tenants", {"concurrency": None}, "choose 1 or more"),
        )


def _migrate_page_by_page(
    shared: PostgresSession,
    workers: Workers,
    migration_ids: Sequence[str],
    marks: Marks | None,
    finished: Callable[[TenantResult], None],
    record: Recorder,
    concurrency: int,
) -> None:
    """Each page of tenants: the up-to-date ones finish at once, the others go
    to the workers. The look at the next page starts before this one's tenants
    are handed out, and the next page is read once most of this one is done."""

    def with_pending(session: PostgresSession, tenant_ids: Sequence[str]) -> set[str]:
        return tenants_with_pending(session, tenant_ids, migration_ids, marks)

    lookout = Lookout()
    in_flight: set[Future[TenantResult]] = set()
    looking: tuple[Sequence[str], Callable[[], set[str]]] | None = None
    for page in registry.pages(shared):
        if lookout.worth_looking():
            found = lookout.noting(page, workers.find(page, with_pending))
        else:
            found = lookout.all_of(page)
        previous, looking = looking, (page, found)
        if previous is not None:
            in_flight = _hand_out(
                shared, workers, *previous, in_flight, finished, record, concurrency, lookout
            )
    if looking is not None:
        in_flight = _hand_out(shared, workers, *looking, in_flight, finished, record, concurrency, lookout)
    _collect(shared, in_flight, finished, record, lookout, keep=0)


class Lookout:
    """Whether the next page is worth a look for pending migrations.

    Looking costs each tenant a share of one query; a worker given a tenant
    with nothing pending finds that out anyway (it reads the history under
    the tenant's lock) for a few round trips more. So while nearly every
    tenant of the last page looked at is pending (a release that adds a
    migration), pages go straight to the workers, and looking starts again
    as soon as more than a few of the tenants they were given that way turn
    out up to date. A run that finds nothing pending (the no-op check)
    therefore always looks. Used by the thread that hands pages out only."""

    # Share of a page that must be pending to stop looking; more than the
    # rest of it up to date among the workers' results starts looking again.
    MOSTLY_PENDING: Final = Fraction(9, 10)
    # Results of tenants given without a look to count before judging from them.
    SAMPLE: Final = 50

    def __init__(self) -> None:
        self._skipping = False
        self._unlooked: set[str] = set()
        self._given = 0
        self._up_to_date = 0

    def worth_looking(self) -> bool:
        if self._skipping and self._given >= self.SAMPLE:
            self._skipping = self._up_to_date <= (1 - self.MOSTLY_PENDING) * self._given
            self._given = self._up_to_date = 0
        return not self._skipping

    def all_of(self, page: Sequence[str]) -> Callable[[], set[str]]:
        """A page handed out without a look: every tenant counts as pending."""
        self._unlooked.update(page)
        return lambda: set(page)

    def noting(self, page: Sequence[str], found: Callable[[], set[str]]) -> Callable[[], set[str]]:
        """`found`, noting what share of the page it found pending."""

        def noted() -> set[str]:
            pending = found()
            self._skipping = len(pending) >= self.MOSTLY_PENDING * len(page)
            return pending

        return noted

    def migrated(self, result: TenantResult) -> None:
        """A worker's result; only those of tenants given without a look count."""
        if result.tenant_id in self._unlooked:
            self._unlooked.discard(result.tenant_id)
            self._given += 1
            self._up_to_date += result.outcome == "up to date"


def _hand_out(
    shared: PostgresSession,
    workers: Workers,
    page: Sequence[str],
    found: Callable[[], set[str]],
    in_flight: set[Future[TenantResult]],
    finished: Callable[[TenantResult], None],
    record: Recorder,
    concurrency: int,
    lookout: Lookout,
) -> set[Future[TenantResult]]:
    """The page's tenants with pending migrations to the workers; the others are up to date."""
    pending = found()
    for tenant_id in page:
        if tenant_id in pending:
            in_flight.add(workers.submit(tenant_id))
        else:
            finished(TenantResult(tenant_id, "up to date"))
    return _collect(shared, in_flight, finished, record, lookout, keep=concurrency)


def _collect(
    shared: PostgresSession,
    in_flight: set[Future[TenantResult]],
    finished: Callable[[TenantResult], None],
    record: Recorder,
    lookout: Lookout,
    *,
    keep: int,
) -> set[Future[TenantResult]]:
    """Wait until at most `keep` runs are in flight; record the finished ones
    (in the registry, and their marks), a statement for all of them."""
    attempted: list[TenantResult] = []
    if len(in_flight) > keep:
        # as_completed watches every run once; wait() in a loop would look
        # at all of a page's hundreds of runs again after each one finished.
        for future in as_completed(in_flight):
            in_flight.remove(future)
            attempted.append(future.result())
            lookout.migrated(attempted[-1])
            finished(attempted[-1])
            if len(in_flight) <= keep:
                break
    record(shared, attempted)
    return in_flight


def accept_change_in_all_tenants(
    target: PostgresTarget, name: str, source: MigrationSource | None = None
) -> list[str]:
    """Accept a changed migration file in every tenant that applied it; the
    tenants whose stored checksum changed."""
    source = default_source(source)
    accepted: list[str] = []
    with _shared_session(target) as shared, _shared_session(target) as tenant:
        registry.ensure_registry(shared)
        for page in registry.pages(shared):
            for tenant_id in page:
                enter_tenant_schema(tenant, tenant_id)
                if name in history.snapshot(tenant).checksums and accept_change(tenant, name, source):
                    accepted.append(tenant_id)
    return accepted


@contextmanager
def _shared_session(target: PostgresTarget) -> Iterator[PostgresSession]:
    # open_postgres_session, not session_scope: every connection this module
    # opens (the workers' too) goes through one function (a test counts them).
    session = open_postgres_session(target)
    try:
        yield session
    finally:
        session.close()
