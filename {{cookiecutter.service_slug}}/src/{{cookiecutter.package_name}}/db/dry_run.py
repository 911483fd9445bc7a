"""Dry run: the SQL that `migrate` would run, per migration, changing nothing.

It reads the bookkeeping table and parses the pending files (as yoyo would),
takes no lock and writes nothing, not even the bookkeeping table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import history
from .session import Session
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
            PlannedMigration(name, source.path(name), list(_statements(source.load(name).steps)))
            for name in pending
        ],
    )


def _statements(steps: Iterable[Any]) -> Iterator[str]:
    """The SQL of yoyo's steps: each step sits in a transaction wrapper, and a
    group holds steps of its own; a Python step is named, not run."""
    for wrapper in steps:
        step = getattr(wrapper, "step", wrapper)
        group = getattr(step, "steps", None)
        if group is not None:
            yield from _statements(group)
            continue
        apply = getattr(step, "_apply", None)
        if isinstance(apply, str):
            yield apply.strip().rstrip(";") + ";"
        elif apply is not None:
            yield f"-- Python step {getattr(apply, '__qualname__', repr(apply))}: runs code, not shown"
