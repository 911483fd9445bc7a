"""The tenant registry: one row per tenant, in the shared schema.

The registry says which tenants exist (and so which schemas `migrate-tenants`
visits) and keeps the outcome of each tenant's last migration run, for the
status summary. It lives next to the shared schema's own tables, on the
shared session's search path, and is created the first time it is needed.

Its name, `_tenant_registry`, is one an application's own migrations will not
take. Services generated before it was renamed kept the registry in `tenants`,
a name applications do want: that table is renamed once, on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ..database.postgresql import PostgresSession
from ..database.session import MissingTable, UniqueViolation, as_datetime
from ..errors import ConfigError
from .results import TenantResult
from .schemas import TenantExistsError, tenant_schema

TABLE: Final = "_tenant_registry"
LEGACY_TABLE: Final = "tenants"
PAGE_SIZE: Final = 500
COLUMNS: Final = (
    "id",
    "schema_name",
    "created_at",
    "last_run_at",
    "last_outcome",
    "last_error",
    "last_duration_ms",
)

log = logging.getLogger(__name__)

CREATE_TABLE: Final = f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        id TEXT PRIMARY KEY,
        schema_name TEXT NOT NULL UNIQUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        last_run_at TIMESTAMPTZ NULL,
        last_outcome TEXT NULL,
        last_error TEXT NULL,
        last_duration_ms INTEGER NULL
    )"""


@dataclass(frozen=True)
class FailedTenant:
    tenant_id: str
    error: str
    failed_at: datetime


class RegistryCollisionError(ConfigError):
    """A table with the registry's name exists, but it is not the registry."""


def ensure_registry(session: PostgresSession, *, create: bool = True) -> None:
    """Create the registry (unless `create` is off: a command that only reads
    finds no tenants without it), or check that the table of its name is the registry."""
    columns = _columns(session, TABLE)
    if columns is None and _columns(session, LEGACY_TABLE) == COLUMNS:
        # Only a table with exactly the registry's columns is taken for it.
        with suppress(UniqueViolation):
            session.execute(f"ALTER TABLE IF EXISTS {LEGACY_TABLE} RENAME TO {TABLE}")
            log.info("Renamed the tenant registry from %s to %s", LEGACY_TABLE, TABLE)
        columns = _columns(session, TABLE)
    if columns is None:
        if not create:
            return
        # Should another process create it at the same moment, it exists: fine.
        with suppress(UniqueViolation):
            session.execute(CREATE_TABLE)
        return
    _check_is_registry(columns)


def table_to_read(session: PostgresSession) -> str | None:
    """The registry's table as a command that changes nothing finds it: the
    registry, or the table of its earlier name with its columns (renamed by
    the next command that writes); None if there is neither."""
    columns = _columns(session, TABLE)
    if columns is None:
        return LEGACY_TABLE if _columns(session, LEGACY_TABLE) == COLUMNS else None
    _check_is_registry(columns)
    return TABLE


def _check_is_registry(columns: tuple[str, ...]) -> None:
    if columns != COLUMNS:
        raise RegistryCollisionError(
            f"the table {TABLE} in the shared schema is not this service's tenant registry "
            f"(its columns are {', '.join(columns) or 'none'}); rename that table, then run the "
            "command again"
        )


def _columns(session: PostgresSession, table: str) -> tuple[str, ...] | None:
    """The table's columns in order, as the shared session's search path finds it."""
    rows = session.execute(
        "SELECT a.attname FROM pg_attribute AS a WHERE a.attrelid = to_regclass(%s)"
        " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (table,),
    )
    if rows:
        return tuple(row[0] for row in rows)
    exists = session.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))[0][0]
    return () if exists else None


def register(session: PostgresSession, tenant_id: str) -> None:
    try:
        session.execute(
            f"INSERT INTO {TABLE} (id, schema_name) VALUES (%s, %s)",  # noqa: S608
            (tenant_id, tenant_schema(tenant_id)),
        )
    except UniqueViolation:
        raise TenantExistsError(f"tenant {tenant_id!r} already exists") from None


def is_registered(session: PostgresSession, tenant_id: str) -> bool:
    """Whether the tenant is registered; with no registry yet, nobody is."""
    try:
        return bool(session.execute(f"SELECT 1 FROM {TABLE} WHERE id = %s", (tenant_id,)))  # noqa: S608
    except MissingTable:
        return False


def count(session: PostgresSession) -> int:
    return int(session.execute(f"SELECT count(*) FROM {TABLE}")[0][0])  # noqa: S608


def pages(session: PostgresSession, size: int = PAGE_SIZE, table: str = TABLE) -> Iterator[list[str]]:
    """Every tenant id in order, a page at a time, so memory does not grow
    with the tenant count (keyset pagination: each page is one index scan)."""
    after = ""
    while True:
        rows = session.execute(
            f"SELECT id FROM {table} WHERE id > %s ORDER BY id LIMIT %s",  # noqa: S608
            (after, size),
        )
        if not rows:
            return
        page = [row[0] for row in rows]
        yield page
        after = page[-1]


def record_outcomes(session: PostgresSession, outcomes: Sequence[TenantResult]) -> None:
    """Store the last run's outcome of many tenants in one statement."""
    if not outcomes:
        return
    session.execute(
        f"""
        UPDATE {TABLE} AS t
        SET last_run_at = now(), last_outcome = o.outcome,
            last_error = o.error, last_duration_ms = o.duration_ms
        FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[])
            AS o(id, outcome, error, duration_ms)
        WHERE t.id = o.id
        """,  # noqa: S608
        (
            [o.tenant_id for o in outcomes],
            [o.outcome for o in outcomes],
            [o.error for o in outcomes],
            [o.duration_ms for o in outcomes],
        ),
    )


def last_failures(session: PostgresSession, table: str = TABLE) -> list[FailedTenant]:
    rows = session.execute(
        f"SELECT id, last_error, last_run_at FROM {table} "  # noqa: S608
        "WHERE last_outcome = 'failed' ORDER BY id"
    )
    return [FailedTenant(row[0], row[1] or "", as_datetime(row[2])) for row in rows]
