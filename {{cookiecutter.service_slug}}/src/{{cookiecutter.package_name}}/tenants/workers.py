"""The threads that migrate many tenants at once, on a bounded number of connections.

Each thread owns one connection and takes task after task from one queue;
the thread that hands tenants out is woken when enough of them are done, or
now and then for progress, not once per tenant. (A thread pool with a future
per tenant, collected as each finished, took about 30 lock waits per tenant
between five threads on 2 cores, against 6 for threads looping on a queue:
the wake-ups cost the server's backends their CPU too.)
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Final

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
# The longest the results of finished tenants wait to be handed back (for
# progress) while more are in flight.
RESULTS_EVERY: Final = 0.5
# Finds some of the given tenants (those with pending migrations) on a session.
Finder = Callable[[PostgresSession, Sequence[str]], set[str]]


# Migrates one tenant on a session in its schema, given what was read on
# entering it: the `entering` value, and the `then_read` rows (None where
# they cannot be relied on).
Migrate = Callable[[PostgresSession, str, object, Sequence[Row] | None], TenantResult]


class _Connection:
    """A thread's own connection: opened on first use, and again if it broke."""

    def __init__(self, open_session: Callable[[], PostgresSession], opened: list[PostgresSession]) -> None:
        self._open_session = open_session
        self._opened = opened
        self._session: PostgresSession | None = None

    def session(self) -> PostgresSession:
        if self._session is None or self._session.connection.broken:
            self._session = self._open_session()
            self._opened.append(self._session)
        return self._session


# What a thread runs: a tenant's migration or a share of a look, on its connection.
_Task = Callable[[_Connection], None]


class Workers:
    """`concurrency` threads, each with a connection of its own (opened with
    `open_session` on its first task) reused for tenant after tenant;
    `migrate` does the work in the tenant's schema. A connection keeps the
    migration lock of the tenant it migrated last until it enters the next
    one (one statement does both) or closes. `entering`: an SQL expression of
    the schema's `nspname` read in that statement, before the tenant is
    migrated; `then_read`: a query run in the schema right after it, in the
    same round trip; `migrate` gets both (enter_tenant_schema_to_migrate).

    One thread hands tenants out (`submit`) and takes their results back
    (`results`)."""

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
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._opened: list[PostgresSession] = []
        # Guards what follows; notified when `_in_flight` falls to `_wake_at`.
        self._done = threading.Condition()
        self._finished: list[TenantResult] = []
        self._in_flight = 0
        self._wake_at = -1
        # An error no tenant's result could hold (a bug): raised to the caller.
        self._error: BaseException | None = None

    def __enter__(self) -> Workers:
        for number in range(self._concurrency):
            thread = threading.Thread(target=self._work, name=f"tenant-migrate-{number}")
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        # Tasks not started yet are dropped (an error or an interrupt left
        # them); the ones running finish, as a migration must.
        while True:
            try:
                self._tasks.get_nowait()
            except queue.Empty:
                break
        for _thread in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()
        for session in self._opened:
            session.close()

    def submit(self, tenant_id: str) -> None:
        """Migrate the tenant on the next free connection; its result comes back through `results`."""
        with self._done:
            self._in_flight += 1
        self._tasks.put(partial(self._run, tenant_id))

    def results(self, keep: int) -> Iterator[list[TenantResult]]:
        """The results of tenants finished since the last call, a batch at
        least every RESULTS_EVERY seconds while more are in flight, until at
        most `keep` are; an error that no result could hold is raised."""
        while True:
            with self._done:
                self._wake_at = keep
                self._done.wait_for(lambda: self._in_flight <= keep or self._error is not None, RESULTS_EVERY)
                self._wake_at = -1
                if self._error is not None:
                    raise self._error
                batch, self._finished = self._finished, []
                over = self._in_flight <= keep
            yield batch
            if over:
                return

    def find(self, tenant_ids: Sequence[str], find: Finder) -> Callable[[], set[str]]:
        """Start `find(session, some_ids)` over `tenant_ids`, a share on each
        connection at once; the function returned waits for all they found.
        Most of what a look at many tenant schemas costs is a new connection
        reading each schema's catalog entries for the first time, so the
        shares spread that over the server's cores."""
        share = max(SMALLEST_SHARE, -(-len(tenant_ids) // self._concurrency))  # rounded up
        futures: list[Future[set[str]]] = []
        for start in range(0, len(tenant_ids), share):
            futures.append(Future())
            self._tasks.put(partial(_find_in, find, tenant_ids[start : start + share], futures[-1]))

        def found() -> set[str]:
            return set().union(*(future.result() for future in futures))

        return found

    def _work(self) -> None:
        connection = _Connection(self._open_session, self._opened)
        while (task := self._tasks.get()) is not None:
            try:
                task(connection)
            except BaseException as error:  # noqa: BLE001 - handed to the thread that waits
                with self._done:
                    self._error = error
                    self._done.notify()

    def _run(self, tenant_id: str, connection: _Connection) -> None:
        started = time.perf_counter()
        with log_context(tenant=tenant_id):
            try:
                session = connection.session()
                entered = enter_tenant_schema_to_migrate(session, tenant_id, self._entering, self._then_read)
                result = self._migrate(session, tenant_id, *entered)
            except (ServiceError, psycopg.Error) as error:
                result = failed_result(tenant_id, error, started)
        with self._done:
            self._finished.append(result)
            self._in_flight -= 1
            if self._in_flight <= self._wake_at:
                self._done.notify()


def _find_in(
    find: Finder, tenant_ids: Sequence[str], future: Future[set[str]], connection: _Connection
) -> None:
    try:
        future.set_result(find(connection.session(), tenant_ids))
    except BaseException as error:  # noqa: BLE001 - raised where the look is waited for
        future.set_exception(error)
