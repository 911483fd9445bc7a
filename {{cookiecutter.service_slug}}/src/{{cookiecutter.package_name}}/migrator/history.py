"""The bookkeeping table: which migrations are applied, in which batch, when.

yoyo has no batches and records a migration on a separate connection after
running it, so the runner keeps its own table. Each row is written in the same
transaction as the migration it records: both commit, or neither does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ..database.session import MissingTable, Row, Session, as_datetime

TABLE: Final = "schema_migrations"


@dataclass(frozen=True)
class AppliedMigration:
    name: str
    batch: int
    applied_at: datetime
    checksum: str
    duration_ms: int


def ensure_table(session: Session) -> None:
    # Bounded VARCHARs keep rows short enough to need no out-of-line (TOAST)
    # storage table: two relations fewer to create in every schema.
    session.execute(f"""
        CREATE TABLE IF NOT EXISTS {TABLE} (
            id VARCHAR(255) NOT NULL PRIMARY KEY,
            checksum VARCHAR(64) NOT NULL,
            batch INTEGER NOT NULL,
            applied_at {session.inserted_at_column},
            duration_ms INTEGER NOT NULL
        )""")


def applied_ids(session: Session) -> set[str]:
    """Ids of applied migrations; one cheap query, and no table means none."""
    try:
        return {row[0] for row in session.execute(f"SELECT id FROM {TABLE}")}  # noqa: S608
    except MissingTable:
        return set()


@dataclass(frozen=True)
class Snapshot:
    """What the runner needs to know before applying, read in one query."""

    checksums: Mapping[str, str]
    last_batch: int
    table_exists: bool

    @property
    def applied(self) -> frozenset[str]:
        return frozenset(self.checksums)


# What a Snapshot is made of; a caller may read it in a round trip of its own (snapshot_of).
SNAPSHOT_QUERY: Final = f"SELECT id, batch, checksum FROM {TABLE}"  # noqa: S608


def snapshot(session: Session) -> Snapshot:
    try:
        rows = session.execute(SNAPSHOT_QUERY)
    except MissingTable:
        return Snapshot({}, 0, table_exists=False)
    return snapshot_of(rows)


def snapshot_of(rows: Sequence[Row]) -> Snapshot:
    """The Snapshot of SNAPSHOT_QUERY's rows, from an existing table."""
    return Snapshot(
        {row[0]: row[2] for row in rows}, max((row[1] for row in rows), default=0), table_exists=True
    )


def applied_migrations(session: Session) -> list[AppliedMigration]:
    """Applied migrations in the order they were applied."""
    try:
        rows = session.execute(
            f"SELECT id, batch, applied_at, checksum, duration_ms FROM {TABLE} ORDER BY batch, id"  # noqa: S608
        )
    except MissingTable:
        return []
    return [
        AppliedMigration(
            name=row[0],
            batch=row[1],
            applied_at=as_datetime(row[2]),
            checksum=row[3],
            duration_ms=row[4],
        )
        for row in rows
    ]


def record(session: Session, name: str, *, checksum: str, batch: int, duration_ms: int) -> None:
    session.execute(
        f"INSERT INTO {TABLE} (id, checksum, batch, duration_ms) VALUES (%s, %s, %s, %s)",  # noqa: S608
        (name, checksum, batch, duration_ms),
    )


def record_timed_by_server(
    session: Session, name: str, *, checksum: str, batch: int, ms_before_begin: int
) -> None:
    """`record`, sent before the migration's statements have answered (one
    round trip for all): its duration is the time before its transaction
    began plus what the server has spent in that transaction since (now() is
    when the transaction began). For a dialect that pipelines statements."""
    session.execute(
        f"INSERT INTO {TABLE} (id, checksum, batch, duration_ms) VALUES "  # noqa: S608
        "(%s, %s, %s, %s + round(extract(epoch FROM clock_timestamp() - now()) * 1000)::int)",
        (name, checksum, batch, ms_before_begin),
    )


def set_checksum(session: Session, name: str, checksum: str) -> None:
    session.execute(f"UPDATE {TABLE} SET checksum = %s WHERE id = %s", (checksum, name))  # noqa: S608


def forget(session: Session, name: str) -> None:
    session.execute(f"DELETE FROM {TABLE} WHERE id = %s", (name,))  # noqa: S608
