"""Opening a psycopg connection: transient failures waited out, the others
reported at once in one line, and never with the password."""

from __future__ import annotations

import time
from typing import Final

import psycopg
from psycopg.conninfo import make_conninfo

from ..errors import ConfigError, DatabaseUnavailableError
from .postgresql_target import PostgresTarget
from .session import Row

Connection = psycopg.Connection[Row]

# SQLSTATEs worth waiting out at startup: the server is still starting or
# shutting down. Anything else the server answers (a wrong password, a missing
# database) will not fix itself, so it fails at once.
TRANSIENT_SQLSTATES: Final = frozenset({"57P03", "57P01", "53300"})
TRANSIENT_PHRASES: Final = (
    "Connection refused",
    "Connection timed out",
    "timeout expired",
    "No such file or directory",  # the server's socket is not there yet
    "Network is unreachable",
    "No route to host",
    "could not translate host name",  # DNS may lag behind a starting container
    "server closed the connection unexpectedly",
    "Connection reset by peer",
    "is starting up",
    "is shutting down",
    "in recovery mode",
    "too many clients",
)
RETRY_PAUSE: Final = 0.5


def open_connection(target: PostgresTarget, *, wait: float) -> tuple[Connection, str]:
    """An autocommit connection, retrying transient failures for `wait`
    seconds, and the conninfo that opened it."""
    deadline = time.monotonic() + wait
    while True:
        remaining = deadline - time.monotonic()
        try:
            # The URL's own connect_timeout wins; otherwise each try is bounded.
            kwargs = {"connect_timeout": max(2, min(10, int(remaining))), **target.connect_kwargs()}
            conninfo = make_conninfo("", **kwargs)
            connection: Connection = psycopg.connect(conninfo, autocommit=True, **target.driver_options())
        except psycopg.ProgrammingError as error:
            # libpq refused the options themselves (an unknown one, a bad value).
            raise ConfigError(
                f"cannot connect to {target.describe()}: {reason(error, target)} "
                "(DATABASE_URL's query options and DB_SSL* pass to libpq as they are)"
            ) from None
        except psycopg.OperationalError as error:
            transient = _is_transient(error)
            if not transient or time.monotonic() + RETRY_PAUSE > deadline:
                raise DatabaseUnavailableError(
                    f"cannot connect to {target.describe()}"
                    f"{f' within {wait:g} s' if transient and wait else ''}: "
                    f"{reason(error, target)}"
                ) from None
            time.sleep(RETRY_PAUSE)
        else:
            return connection, conninfo


def reason(error: psycopg.Error, target: PostgresTarget) -> str:
    """libpq's last message line, with the password scrubbed should it appear."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    text = lines[-1] if lines else type(error).__name__
    return text.replace(target.password, "***") if target.password else text


def _is_transient(error: psycopg.OperationalError) -> bool:
    """Worth waiting out: no answer from the server yet, or it is starting up.

    libpq reports a failed connection attempt without a SQLSTATE, so the
    failures that can fix themselves are told apart by libpq's words (refused,
    unreachable, timed out, the server starting up); anything else (a wrong
    password, a missing database, TLS the server does not offer, a bad option
    value) fails at once instead of after the whole wait.
    """
    if error.sqlstate is not None:
        return error.sqlstate in TRANSIENT_SQLSTATES
    text = str(error)
    return any(phrase in text for phrase in TRANSIENT_PHRASES)
