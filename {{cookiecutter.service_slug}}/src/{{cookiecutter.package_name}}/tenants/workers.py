"""The threads that migrate many tenants at once, on a bounded number of connections."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import psycopg

from ..database.postgresql import PostgresSession
from ..database.session import Row
from ..errors import ServiceError
from ..log_context import log_context
from .one_tenant import failed_result
from .results import TenantResult
from .schemas import enter_tenant_schema_to_migrate

# Fewer tenants than this are looked at on one connection: another connection
# would cost more to open than it saves.
SMALLEST_SHARE = 100
# Finds some of the given tenants (those with pending migrations) on a session.
Finder = Callable[[PostgresSession, Sequence[str]], set[str]]


# Migrates one tenant on a session in its schema, given what was read on
# entering it: the `entering` value, and the `then_read` rows (None where
# they cannot be relied on).
Migrate = Callable[[PostgresSession, str, object, Sequence[Row] | None], TenantResult]


class Workers:
    """A thread pool whose threads share `concurrency` connections, each opened
    (with `open_session`) on first use and reused for tenant after tenant;
    `migrate` does the work in the tenant's schema. A connection keeps the
    migration lock of the tenant it migrated last until it enters the next
    one (one statement does both) or closes. `entering`: an SQL expression of
    the schema's `nspname` read in that statement, before the tenant is
    migrated; `then_read`: a query run in the schema right after it, in the
    same round trip; `migrate` gets both (enter_tenant_schema_to_migrate)."""

    def __init__(
        self,
        concurrency: int,
        open_session: Callable[[], PostgresSession],
        migrate: Migrate,
        entering: str = "NULL",
        then_read: str | None = None,
    ) -> None:
        self._concurrency = concurrency
        self._open_session = open_session
        self._migrate = migrate
        self._entering = entering
        self._then_read = then_read
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="tenant-migrate")
        self._idle: queue.SimpleQueue[PostgresSession | None] = queue.SimpleQueue()
        self._opened: list[PostgresSession] = []
        for _ in range(concurrency):
            self._idle.put(None)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *_: object) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        for session in self._opened:
            session.close()

    def submit(self, tenant_id: str) -> Future[TenantResult]:
        return self._executor.submit(self._run, tenant_id)

    def find(self, tenant_ids: Sequence[str], find: Finder) -> Callable[[], set[str]]:
        """Start `find(session, some_ids)` over `tenant_ids`, a share on each
        connection at once; the function returned waits for all they found.
        Most of what a look at many tenant schemas costs is a new connection
        reading each schema's catalog entries for the first time, so the
        shares spread that over the server's cores."""
        share = max(SMALLEST_SHARE, -(-len(tenant_ids) // self._concurrency))  # rounded up
        shares = [tenant_ids[start : start + share] for start in range(0, len(tenant_ids), share)]
        futures = [self._executor.submit(self._find_in, find, ids) for ids in shares]

        def found() -> set[str]:
            return set().union(*(future.result() for future in futures))

        return found

    def _find_in(self, find: Finder, tenant_ids: Sequence[str]) -> set[str]:
        with self._session() as session:
            return find(session, tenant_ids)

    def _run(self, tenant_id: str) -> TenantResult:
        started = time.perf_counter()
        with log_context(tenant=tenant_id):
            try:
                with self._session() as session:
                    read, rows = enter_tenant_schema_to_migrate(
                        session, tenant_id, self._entering, self._then_read
                    )
                    return self._migrate(session, tenant_id, read, rows)
            except (ServiceError, psycopg.Error) as error:
                return failed_result(tenant_id, error, started)

    @contextmanager
    def _session(self) -> Iterator[PostgresSession]:
        """An idle connection (opened on first use, or again if it broke),
        back to the idle ones afterwards."""
        session = self._idle.get()
        try:
            if session is None or session.connection.broken:
                session = self._open_session()
                self._opened.append(session)
            yield session
        finally:
            self._idle.put(session)
