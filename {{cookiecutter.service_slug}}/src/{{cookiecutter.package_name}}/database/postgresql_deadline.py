"""A deadline for a pooled connection's statements (for /ready): the server
cancels what runs past it, and a server that does not answer at all has the
socket shut under the statement."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Final

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from ..errors import DatabaseUnavailableError
from .postgresql_connect import Connection

# The socket is cut this long after the server's own statement_timeout, so
# that a server that is only slow cancels the statement itself, and the
# connection stays usable.
CUT_GRACE: Final = 0.1


class SocketCutter:
    """Shuts a connection's socket when its timer fires, unless disarmed first."""

    def __init__(self, connection: Connection, after: float) -> None:
        self._connection = connection
        self._guard = threading.Lock()
        self._armed = True
        self.cut = False
        self._timer = threading.Timer(after, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def _cut(self) -> None:
        with self._guard:
            # Never once disarmed: the connection may be someone else's by then.
            if not self._armed or self._connection.closed:
                return
            self.cut = True
            # A duplicate of the descriptor: shutting it shuts the one socket
            # (waking the waiting statement), and closing it leaves libpq's.
            with (
                suppress(OSError, psycopg.Error),
                socket.socket(fileno=os.dup(self._connection.fileno())) as sock,
            ):
                sock.shutdown(socket.SHUT_RDWR)

    def disarm(self) -> None:
        with self._guard:
            self._armed = False
        self._timer.cancel()


@contextmanager
def answered_by(
    connection: Connection, deadline: float, timeout: float, lost: Callable[[BaseException], str]
) -> Iterator[None]:
    """The block's statements on `connection` end by `deadline`.

    The server cancels a statement still running then (statement_timeout).
    A server that does not answer at all (hung, or behind a network that
    drops its packets) cannot cancel anything, so then the socket is shut
    under the statement: it fails at once, and the pool discards the
    connection instead of the probe waiting for TCP to give up (hours).
    `lost(error)` says why a connection that closed under the block was lost."""
    remaining = max(0.001, deadline - time.monotonic())
    cutter = SocketCutter(connection, remaining + CUT_GRACE)
    try:
        with _statement_timeout(connection, remaining):
            yield
    except psycopg.OperationalError as error:
        if cutter.cut or isinstance(error, pg_errors.QueryCanceled):
            raise DatabaseUnavailableError(f"the database did not answer within {timeout:g} s") from None
        if connection.closed:
            raise DatabaseUnavailableError(lost(error)) from None
        raise
    finally:
        cutter.disarm()
        if cutter.cut:
            connection.close()  # its socket is shut: the pool must not hand it on


@contextmanager
def _statement_timeout(connection: Connection, seconds: float) -> Iterator[None]:
    try:
        connection.execute(f"SET statement_timeout = {max(1, round(seconds * 1000))}")
        yield
    finally:
        # The pool's next user gets the server's own statement_timeout back.
        if connection.info.transaction_status == TransactionStatus.IDLE:
            connection.execute("RESET statement_timeout")
        else:
            connection.close()  # left mid-transaction, or broken: the pool discards it
