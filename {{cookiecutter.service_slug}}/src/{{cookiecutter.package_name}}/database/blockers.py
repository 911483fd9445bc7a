"""Who blocks a migration: seen from a second connection while it waits.

When `lock_timeout` cancels a statement, its wait is over and
`pg_blocking_pids` no longer names anyone. So while an attempt runs, a
watcher asks, from a connection of its own, which sessions block the
migration's backend. It starts asking only when the attempt has run for half
its timeout, then every quarter of it: a migration that takes its locks at
once never opens that connection, and one that waits is seen several times
before it gives up.

Migrating thousands of schemas starts an attempt every millisecond or so, and
nearly all of them end long before anyone would look. So the first look is
due on a coarse tick (at most SHORTEST_INTERVAL late, never later than three
quarters of the timeout): the attempts that start within one tick share one
wake of the watching thread, instead of one each, which the migrating threads
would pay for in the interpreter lock.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
        attempt = _Attempt(self, seen, max(SHORTEST_INTERVAL, timeout / 4))
        first_look = on_tick(time.monotonic() + timeout / 2, min(SHORTEST_INTERVAL, timeout / 4))
        _SCHEDULER.add(attempt, first_look)
        try:
            yield seen
        finally:
            attempt.over = True

    def blockers(self) -> list[Blocker]:
        with self._guard:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self._conninfo, autocommit=True)
            rows = self._connection.execute(BLOCKERS_SQL, (self._pid,)).fetchall()
        return [Blocker(int(row[0]), str(row[1]), float(row[2]), str(row[3])) for row in rows]

    def close(self) -> None:
        with self._guard:
            if self._connection is not None:
                self._connection.close()


def on_tick(moment: float, tick: float) -> float:
    """The first multiple of `tick` at or after `moment`: moments within one
    tick of each other become the same one."""
    return math.ceil(moment / tick) * tick


@dataclass(eq=False)
class _Attempt:
    """One attempt being watched; `over` once it ended (then it is dropped)."""

    watcher: BlockerWatcher
    seen: LockWaitWatch
    interval: float
    over: bool = False

    def look(self) -> bool:
        """Note the blockers; False when looking is pointless (the attempt is
        over, or the server would not answer)."""
        try:
            found = self.watcher.blockers()
        except psycopg.Error:
            return False  # seeing blockers is a courtesy: never fail a migration for it
        if found:
            self.seen.blockers = found
        return not self.over


class _Scheduler:
    """One thread for the whole process looks at every watched attempt when
    it is due. An attempt costs a heap push, not a thread: migrating a
    thousand schemas starts no thread per migration. An attempt that ends is
    only marked over, and dropped when its turn comes."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Attempt]] = []
        self._counter = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, attempt: _Attempt, at: float) -> None:
        with self._changed:
            earliest = self._due[0][0] if self._due else None
            heapq.heappush(self._due, (at, next(self._counter), attempt))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lock-wait-watch", daemon=True)
                self._thread.start()
            elif earliest is None or at < earliest:
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._changed.wait(self._due[0][0] - time.monotonic() if self._due else None)
                # Everything due by now, in one wake; the ended attempts are just dropped.
                now, due = time.monotonic(), []
                while self._due and self._due[0][0] <= now:
                    attempt = heapq.heappop(self._due)[2]
                    if not attempt.over:
                        due.append(attempt)
            for attempt in due:
                # One that ended while the others were looked at needs no look.
                if not attempt.over and attempt.look():
                    self._again(attempt)

    def _again(self, attempt: _Attempt) -> None:
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + attempt.interval, next(self._counter), attempt))


_SCHEDULER: Final = _Scheduler()
