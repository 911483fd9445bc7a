"""A block of statements sent to PostgreSQL as one simple query.

psycopg's pipeline mode saves the waits between statements but still sends
each statement as a message of its own, as it is executed: a migration of
seven statements, with its BEGIN, lock timeout, record and COMMIT, went out
in eleven writes to the socket, each waking the server. Collected and joined
into one simple query they go in one write and come back in one answer; the
server runs them in order and stops at the first that fails (the explicit
BEGIN then leaves the transaction aborted, for the caller to roll back).

Parameters are bound on the client by psycopg's own quoting (the simple
query protocol takes none): the only values bound here are the runner's
record of a migration (its name, checksum, batch and duration) and the
names of the schemas a worker leaves and enters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg
from psycopg.sql import SQL, Composed

from .postgresql_connect import Connection
from .session import Row

# Between two statements: a newline first, so that a statement ending in a
# `--` comment does not comment out the separator.
SEPARATOR = "\n;\n"


def sends_one_query(connection: Connection) -> bool:
    """Whether a block of statements may go as one query here: not on Citus,
    which passes some DDL on to a worker as the query's text, so that text
    must hold that one command (there they go in psycopg's pipeline mode)."""
    citus = connection.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')")
    return not citus.fetchall()[0][0]


class OneQuery:
    """Statements collected on a connection, sent together by `send`."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._statements: list[str] = []

    def add(
        self, statement: str | SQL | Composed, params: Sequence[object] | Mapping[str, object] = ()
    ) -> None:
        if params:
            self._statements.append(psycopg.ClientCursor(self._connection).mogrify(statement, params))
        elif isinstance(statement, str):
            self._statements.append(statement)
        else:
            self._statements.append(statement.as_string(self._connection))

    def send(self) -> None:
        """Run the statements as one query (no parameters: psycopg sends it
        with the simple query protocol, as written); a failure raises."""
        if self._statements:
            self._sent()

    def answers(self) -> list[list[Row]]:
        """`send`, and each statement's rows, in order ([] for one that returns none)."""
        cursor = self._sent()
        answers: list[list[Row]] = []
        while True:
            answers.append(cursor.fetchall() if cursor.description else [])
            if not cursor.nextset():
                return answers

    def _sent(self) -> psycopg.Cursor[Row]:
        return self._connection.execute(SEPARATOR.join(self._statements))
