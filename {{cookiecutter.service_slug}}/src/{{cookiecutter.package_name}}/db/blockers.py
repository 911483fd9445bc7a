"""Who blocks a migration: seen from a second connection while it waits.

When `lock_timeout` cancels a statement, its wait is over and
`pg_blocking_pids` no longer names anyone. So while an attempt runs, a
watcher thread asks, from a connection of its own, which sessions block the
migration's backend. It starts asking only when the attempt has run for half
its timeout: a migration that takes its locks at once never opens that
connection, and one that waits is seen several times before it gives up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import psycopg

from .lock_retry import Blocker, LockWaitWatch

BLOCKERS_SQL: Final = """
    SELECT pid, coalesce(state, 'unknown'),
           coalesce(extract(epoch FROM now() - coalesce(xact_start, query_start)), 0)::float8,
           left(regexp_replace(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'),
                               '''[^'']*(''|$)', '''...''', 'g'), 100)
    FROM pg_stat_activity
    WHERE pid = ANY(pg_blocking_pids(%s))
    ORDER BY xact_start NULLS LAST
"""
# The query is shown to the operator with its string literals masked: another
# session's statement may carry personal data, or a password (ALTER ROLE).
# Never fewer than this between two looks, however short the attempt's timeout.
SHORTEST_INTERVAL: Final = 0.02


class BlockerWatcher:
    """Watches one backend (by pid); opens its own connection on first need."""

    def __init__(self, conninfo: str, pid: int) -> None:
        self._conninfo = conninfo
        self._pid = pid
        self._connection: psycopg.Connection[tuple[Any, ...]] | None = None
        self._guard = threading.Lock()

    @contextmanager
    def watch(self, timeout: float) -> Iterator[LockWaitWatch]:
        seen = LockWaitWatch()
        if timeout <= 0:
            yield seen
            return
        done = threading.Event()
        thread = threading.Thread(
            target=self._look, args=(seen, done, timeout), name="lock-wait-watch", daemon=True
        )
        thread.start()
        try:
            yield seen
        finally:
            done.set()
            thread.join()

    def _look(self, seen: LockWaitWatch, done: threading.Event, timeout: float) -> None:
        interval = max(SHORTEST_INTERVAL, timeout / 4)
        if done.wait(timeout / 2):
            return
        while not done.is_set():
            try:
                found = self._blockers()
            except psycopg.Error:
                return  # seeing blockers is a courtesy: never fail a migration for it
            if found:
                seen.blockers = found
            done.wait(interval)

    def _blockers(self) -> list[Blocker]:
        with self._guard:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self._conninfo, autocommit=True)
            rows = self._connection.execute(BLOCKERS_SQL, (self._pid,)).fetchall()
        return [Blocker(int(row[0]), str(row[1]), float(row[2]), str(row[3])) for row in rows]

    def close(self) -> None:
        with self._guard:
            if self._connection is not None:
                self._connection.close()
