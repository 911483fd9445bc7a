"""INVALID indexes: what a failed CREATE INDEX CONCURRENTLY leaves behind.

A concurrent build commits its catalog entry before it builds, so when it
fails (duplicate keys for a unique index, a cancelled statement) the index
stays, marked INVALID: never used by queries, yet updated by every write, and
a later `CREATE INDEX CONCURRENTLY IF NOT EXISTS` of the same name skips it
silently. The runner therefore records a migration that ran outside a
transaction only if the schema holds no invalid index afterwards, and drops
the ones its own failed attempt left (see `leftovers`). SQLite builds an index
in its transaction: it has none of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..database.session import Session
from ..errors import first_line

# Invalid indexes of the current schema. An index some other session is still
# building concurrently is invalid until it is done: it is not a leftover.
INVALID_SQL: Final = """
    SELECT index.relname, tab.relname
    FROM pg_index i
    JOIN pg_class index ON index.oid = i.indexrelid
    JOIN pg_class tab ON tab.oid = i.indrelid
    WHERE NOT i.indisvalid
      AND index.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
      AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
      AND (NOT %s OR index.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user))
    ORDER BY index.relname
"""


@dataclass(frozen=True)
class InvalidIndex:
    schema: str
    name: str
    table: str

    @property
    def drop_statement(self) -> str:
        return f"DROP INDEX CONCURRENTLY IF EXISTS {_quoted(self.schema)}.{_quoted(self.name)};"

    def describe(self) -> str:
        return f"{self.name} on {self.table} (remove it with: {self.drop_statement})"


def find(session: Session, *, owned: bool = False) -> list[InvalidIndex]:
    """The invalid indexes of the session's current schema (none on SQLite);
    with `owned`, only those of the session's own role (a build by another
    role may still be running: without pg_read_all_stats its progress row is
    hidden from us)."""
    if not session.builds_indexes_concurrently:
        return []
    rows = session.execute("SELECT current_schema()")
    schema = str(rows[0][0])
    return [InvalidIndex(schema, str(row[0]), str(row[1])) for row in session.execute(INVALID_SQL, (owned,))]


def drop(session: Session, indexes: list[InvalidIndex]) -> tuple[list[InvalidIndex], list[str]]:
    """Drop each index concurrently (outside any transaction, blocking no
    reads or writes); the ones dropped, and why the others could not be."""
    dropped: list[InvalidIndex] = []
    problems: list[str] = []
    for index in indexes:
        try:
            session.execute(index.drop_statement)
        except Exception as error:  # noqa: BLE001 - reported to the operator with the statement to run
            problems.append(f"{index.describe()}: {first_line(error)}")
        else:
            dropped.append(index)
    return dropped, problems


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def describe(indexes: list[InvalidIndex]) -> str:
    return "; ".join(index.describe() for index in indexes)
