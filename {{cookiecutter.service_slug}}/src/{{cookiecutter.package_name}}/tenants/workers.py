"""The threads that migrate many tenants at once, on a bounded number of connections."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg

from ..database.postgresql import PostgresSession
from ..errors import ServiceError
from ..log_context import log_context
from .one_tenant import failed_result
from .results import TenantResult
from .schemas import enter_tenant_schema


class Workers:
    """A thread pool whose threads share `concurrency` connections, each opened
    (with `open_session`) on first use and reused for tenant after tenant;
    `migrate` does the work in the tenant's schema."""

    def __init__(
        self,
        concurrency: int,
        open_session: Callable[[], PostgresSession],
        migrate: Callable[[PostgresSession, str], TenantResult],
    ) -> None:
        self._open_session = open_session
        self._migrate = migrate
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

    def _run(self, tenant_id: str) -> TenantResult:
        started = time.perf_counter()
        session = self._idle.get()
        with log_context(tenant=tenant_id):
            try:
                if session is None or session.connection.broken:
                    session = self._open_session()
                    self._opened.append(session)
                enter_tenant_schema(session, tenant_id)
                return self._migrate(session, tenant_id)
            except (ServiceError, psycopg.Error) as error:
                return failed_result(tenant_id, error, started)
            finally:
                self._idle.put(session)
