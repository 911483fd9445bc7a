"""Dry run: the SQL that `migrate` would run, per migration, changing nothing.

It reads the bookkeeping table and parses the pending files (as yoyo would),
takes no lock and writes nothing, not even the bookkeeping table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..database.session import Session
from . import history
from .sources import MigrationSource


@dataclass(frozen=True)
class PlannedMigration:
    name: str
    path: Path
    statements: list[str]


@dataclass(frozen=True)
class Plan:
    batch: int
    migrations: list[PlannedMigration]


def plan_migrations(session: Session, source: MigrationSource | None = None) -> Plan:
    source = source or MigrationSource.for_dialect(session.dialect)
    state = history.snapshot(session)
    pending = [name for name in source.migration_ids() if name not in state.applied]
    return Plan(
        batch=state.last_batch + 1,
        migrations=[
            PlannedMigration(name, source.path(name), list(source.load(name).statements()))
            for name in pending
        ],
    )
