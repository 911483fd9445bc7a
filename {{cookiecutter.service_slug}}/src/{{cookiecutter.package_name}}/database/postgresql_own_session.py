"""Is a migration connection a server session of its own?

Behind a transaction-mode pooler (PgBouncer's `pool_mode = transaction`),
consecutive transactions of one client may run on different server sessions,
and session state does not follow them: the migration lock would be held by a
session the runner no longer talks to, and a search path it sets could land
on a connection that another client then uses. So before a migration session
takes the lock or sets a path, it checks once, with no side effect on anyone:
a setting made in one transaction is still there, on the same server process,
in the next. A direct connection always passes; a transaction pooler fails as
soon as it hands the second transaction to another server session, or resets
the one it reuses.
"""

from __future__ import annotations

import uuid
from typing import Final

import psycopg

from ..errors import ConfigError, DatabaseUnavailableError
from .postgresql_connect import Connection, reason
from .postgresql_target import PostgresTarget

# A custom setting (its dotted name needs no declaration), on this session only.
PROBE: Final = "migrations.session_probe"
# What a check that fails after the lock or a search path was set must admit.
LEFT_BEHIND: Final = "the migration lock or a search path may stay on that session until the pooler closes it"


class NotOwnSessionError(ConfigError):
    """The migration connection goes through a transaction-mode pooler."""


def require_own_session(connection: Connection, target: PostgresTarget) -> int:
    """The server process of the connection's session; NotOwnSessionError
    unless two transactions share that one session."""
    token = uuid.uuid4().hex
    try:
        first = connection.execute(
            "SELECT pg_backend_pid(), set_config(%s, %s, false)", (PROBE, token)
        ).fetchone()
        second = connection.execute("SELECT pg_backend_pid(), current_setting(%s, true)", (PROBE,)).fetchone()
    except psycopg.Error as error:
        # A pooler that is up in front of a server that is not.
        raise DatabaseUnavailableError(f"cannot use {target.describe()}: {reason(error, target)}") from None
    if first is None or second is None:
        raise DatabaseUnavailableError(f"cannot use {target.describe()}: it answered no row to SELECT")
    if tuple(second) != tuple(first):
        how = (
            f"server process {first[0]}, then {second[0]}"
            if second[0] != first[0]
            else "the server session was reset in between"
        )
        raise moved(target.describe(), how, changed=False)
    return int(first[0])


def moved(described: str, how: str, *, changed: bool) -> NotOwnSessionError:
    """The one line for a migration connection found on another server session."""
    return NotOwnSessionError(
        f"migrations cannot run through {described}: transactions of one connection ran on "
        f"different server sessions ({how}), as behind a transaction-mode pooler such as "
        "PgBouncer, where the migration lock would not hold; set MIGRATION_DATABASE_URL to a "
        f"direct connection to the server ({LEFT_BEHIND if changed else 'nothing was changed'})"
    )
