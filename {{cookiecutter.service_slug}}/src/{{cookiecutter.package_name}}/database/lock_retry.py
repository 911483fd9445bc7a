"""Bounded lock waits for migrations, retried on a growing schedule.

A statement that waits for a lock (an ALTER TABLE queued behind a long read)
makes every later query on that table queue behind it: on a live database a
migration must never wait long. So each attempt runs under a short
`lock_timeout`; when it expires (SQLSTATE 55P03) the attempt is rolled back,
the runner sleeps, and tries again with a longer timeout, as GitLab's
`with_lock_retries` does. Nothing ordinary then waits longer than the current
attempt's timeout behind a migration. When the schedule runs out, the
migration stops with one line that names who was in its way.

This module holds the schedule and the loop; the dialect's session says who
blocks (`watch_lock_waits`). SQLite has no lock timeouts: its attempts run once.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Final, TypeVar

from ..errors import MigrationError
from .session import Session

# The first attempts wait very little: a lock that is free a moment later is
# taken at once; most waits then end while nothing ordinary has noticed.
FIRST_TIMEOUTS: Final = (0.1, 0.2, 0.4, 0.8, 1.6)
# Sleeps between attempts grow too, so that a long transaction has time to end.
SLEEPS: Final = (0.5, 1.0, 2.0, 4.0, 8.0)
LONGEST_SLEEP: Final = 10.0
DEFAULT_MAX_TIMEOUT: Final = 2.0
DEFAULT_WINDOW: Final = 180.0
# A day of retries at most: a longer window is a deploy that never ends.
LONGEST_WINDOW: Final = 86400.0
LOCK_NOT_AVAILABLE: Final = "55P03"

_Result = TypeVar("_Result")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One try: wait at most `timeout` s for each lock, then sleep `sleep` s."""

    timeout: float
    sleep: float


@dataclass(frozen=True)
class LockRetryPolicy:
    """How long one attempt may wait for a lock, and for how long to retry.

    `max_timeout` 0 turns bounded waits off (statements wait as long as it
    takes); `window` 0 makes one attempt, with the longest timeout."""

    max_timeout: float = DEFAULT_MAX_TIMEOUT
    window: float = DEFAULT_WINDOW

    @property
    def enabled(self) -> bool:
        return self.max_timeout > 0

    def with_max_timeout(self, seconds: float | None) -> LockRetryPolicy:
        """The policy for a file whose header sets its own `lock_timeout`."""
        return self if seconds is None else replace(self, max_timeout=seconds)

    def schedule(self) -> list[Attempt]:
        """The attempts, in order: timeouts and sleeps that grow until the
        next attempt would end past the window."""
        return list(_schedule(self.max_timeout, self.window))


@lru_cache(maxsize=64)
def _schedule(max_timeout: float, window: float) -> tuple[Attempt, ...]:
    """Computed once per policy (a thousand schemas migrated share one)."""
    if max_timeout <= 0:
        return (Attempt(0.0, 0.0),)
    window = min(window, LONGEST_WINDOW)
    attempts: list[Attempt] = []
    planned = 0.0
    index = 0
    while True:
        timeout = min(max_timeout, _at(FIRST_TIMEOUTS, index, max_timeout))
        sleep = _at(SLEEPS, index, LONGEST_SLEEP)
        if attempts and planned + timeout > window:
            break
        attempts.append(Attempt(timeout, sleep))
        planned += timeout + sleep
        index += 1
    if len(attempts) == 1:
        return (Attempt(max_timeout, 0.0),)
    return tuple(attempts)


def most_patient(policies: list[LockRetryPolicy]) -> LockRetryPolicy:
    """The policy of one transaction that takes the locks of several files:
    it may wait as long as the most patient of them would (a file whose waits
    are unbounded makes it unbounded)."""
    return next(
        (each for each in policies if not each.enabled), max(policies, key=lambda each: each.max_timeout)
    )


def _at(values: tuple[float, ...], index: int, after: float) -> float:
    return values[index] if index < len(values) else after


@dataclass(frozen=True)
class Blocker:
    """A session that held a lock a migration waited for."""

    pid: int
    state: str
    age_seconds: float
    query: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.state} for {self.age_seconds:.0f} s: {self.query!r})"


@dataclass
class LockWaitWatch:
    """What a session saw while an attempt ran: the sessions blocking it."""

    blockers: list[Blocker] = field(default_factory=list)

    def describe(self) -> str:
        if not self.blockers:
            return "a session that was gone before it could be seen"
        return ", ".join(blocker.describe() for blocker in self.blockers[:3])


class LockRetriesExhaustedError(MigrationError):
    """A migration could not get its locks within the retry window; nothing was applied."""


def is_lock_timeout(error: BaseException) -> bool:
    """A `lock_timeout` (or NOWAIT) error, SQLSTATE 55P03, from any driver layer."""
    return getattr(error, "sqlstate", None) == LOCK_NOT_AVAILABLE


def set_lock_timeout(session: Session, seconds: float, *, local: bool) -> None:
    """`SET [LOCAL] lock_timeout`: for the current transaction with `local`."""
    if session.has_lock_timeout:
        session.execute("SELECT set_config('lock_timeout', %s, %s)", (f"{round(seconds * 1000)}ms", local))


def reset_lock_timeout(session: Session) -> None:
    """Back to the session's own setting, after a migration that ran outside a transaction."""
    if session.has_lock_timeout:
        session.execute("RESET lock_timeout")


def with_lock_retries(
    session: Session,
    policy: LockRetryPolicy,
    attempt: Callable[[float], _Result],
    *,
    what: str,
    context: Mapping[str, object],
    outcome: str = "nothing was applied",
) -> _Result:
    """Run `attempt(timeout)` until it gets its locks or the schedule runs out.

    `attempt` must leave nothing behind when it fails (one transaction, or one
    autocommit statement): it is simply run again."""
    if not session.has_lock_timeout or not policy.enabled:
        return attempt(0.0)
    schedule = policy.schedule()
    started = time.monotonic()
    for number, step in enumerate(schedule, 1):
        with session.watch_lock_waits(step.timeout) as watch:
            try:
                return attempt(step.timeout)
            except Exception as error:
                if not is_lock_timeout(error):
                    raise
        if number == len(schedule):
            raise LockRetriesExhaustedError(
                f"{what} could not get its locks: {number} attempt(s) over "
                f"{time.monotonic() - started:.0f} s each waited up to {policy.max_timeout:g} s "
                f"(lock_timeout), blocked by {watch.describe()}; {outcome}. End that "
                "session, or retry later; a file that must wait longer can say so in its header "
                "(-- lock_timeout: 10s), or raise MIGRATION_DDL_RETRY_WINDOW"
            ) from None
        pause = step.sleep * random.uniform(0.75, 1.25)  # noqa: S311 - jitter, not secrecy
        log.warning(
            "%s waited %g s for a lock (attempt %d of %d), blocked by %s; retrying in %.1f s",
            what,
            step.timeout,
            number,
            len(schedule),
            watch.describe(),
            pause,
            extra={**context, "attempt": number, "blockers": [b.pid for b in watch.blockers]},
        )
        time.sleep(pause)
    raise AssertionError("unreachable: the schedule always has an attempt")


# Statements whose lock blocks no reads or writes (SHARE UPDATE EXCLUSIVE, or
# none): CREATE/DROP INDEX CONCURRENTLY, REINDEX ... CONCURRENTLY and
# REFRESH MATERIALIZED VIEW CONCURRENTLY. Comments are removed first, so that
# the word in a comment changes nothing.
CONCURRENT_STATEMENT: Final = re.compile(
    r"^\s*(?:CREATE\s+(?:UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX\s+(?:\([^)]*\)\s*)?\w+"
    r"|REFRESH\s+MATERIALIZED\s+VIEW)\s+CONCURRENTLY\b",
    re.IGNORECASE,
)
SQL_COMMENT: Final = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def runs_concurrently(statement: str) -> bool:
    """Whether a statement is one of the CONCURRENTLY forms, which wait for
    older transactions instead of blocking traffic: no lock_timeout for them."""
    return bool(CONCURRENT_STATEMENT.match(SQL_COMMENT.sub(" ", statement)))


HEADER_LINE: Final = re.compile(r"^\s*--\s*lock_timeout\s*:\s*(\S+)\s*$")
DURATION: Final = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|min)?$")
UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "min": 60.0, None: 1.0}


def header_lock_timeout(text: str, where: str) -> float | None:
    """The `-- lock_timeout: 10s` of a SQL file's leading comments, in seconds."""
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.lstrip().startswith("--"):
            return None
        match = HEADER_LINE.match(line)
        if match:
            return parse_duration(match.group(1), where)
    return None


def parse_duration(raw: str, where: str) -> float:
    """`500ms`, `2s`, `2` (seconds) or `1min`; a clear error names `where` otherwise."""
    match = DURATION.match(raw.strip().lower())
    if not match:
        raise MigrationError(f"{where} has lock_timeout {raw!r}: use e.g. 500ms, 2s or 1min")
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]
