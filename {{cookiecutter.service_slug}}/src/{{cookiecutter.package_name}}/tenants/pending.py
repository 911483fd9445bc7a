"""Which tenants have something to migrate, in a few queries for all of them.

Finding that nothing is pending must not cost a connection, a yoyo backend or
a round trip per tenant: one catalog query finds the tenant schemas with no
bookkeeping table yet, and one UNION ALL query per page of tenants counts, in
each schema's `schema_migrations`, how many of the shipped migrations are
applied. Only the tenants that come back have work to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from psycopg import sql

from ..database.postgresql import PostgresSession
from ..migrator.history import TABLE as HISTORY_TABLE
from . import registry
from .registry import FailedTenant
from .schemas import tenant_schema


def tenants_with_pending(
    session: PostgresSession, tenant_ids: Sequence[str], migration_ids: Sequence[str]
) -> set[str]:
    """The tenants among `tenant_ids` that lack any of `migration_ids`."""
    if not tenant_ids or not migration_ids:
        return set()
    rows = session.execute(
        "SELECT t FROM unnest(%s::text[], %s::text[]) AS x(t, s) "
        "WHERE to_regclass(format('%%I.%%I', s, %s::text)) IS NULL",
        (list(tenant_ids), [tenant_schema(t) for t in tenant_ids], HISTORY_TABLE),
    )
    pending = {row[0] for row in rows}
    tracked = [t for t in tenant_ids if t not in pending]
    if tracked:
        query = sql.Composed([EXPECTED, *_branches(tracked)])
        found = session.execute(query, (list(migration_ids), len(migration_ids)))
        pending.update(tracked[row[0]] for row in found)
    return pending


EXPECTED: Final = sql.SQL("WITH expected AS (SELECT %s::text[] AS ids, %s::int AS n) ")
BRANCH_HEAD: Final = sql.SQL("SELECT ")
BRANCH_BODY: Final = sql.SQL(" FROM expected WHERE (SELECT count(*) FROM ")
BRANCH_TAIL: Final = sql.SQL(" WHERE id = ANY(expected.ids)) < expected.n")
UNION_ALL: Final = sql.SQL(" UNION ALL ")


def _branches(tenant_ids: Sequence[str]) -> list[sql.Composable]:
    """One SELECT per tenant, naming it by its position in `tenant_ids`; built
    from pieces rather than formatted from a template, as a page holds hundreds."""
    parts: list[sql.Composable] = []
    for position, tenant_id in enumerate(tenant_ids):
        if position:
            parts.append(UNION_ALL)
        table = sql.Identifier(tenant_schema(tenant_id), HISTORY_TABLE)
        parts += [BRANCH_HEAD, sql.Literal(position), BRANCH_BODY, table, BRANCH_TAIL]
    return parts


@dataclass(frozen=True)
class TenantsSummary:
    total: int
    pending: list[str] = field(default_factory=list)
    failed: list[FailedTenant] = field(default_factory=list)

    @property
    def up_to_date(self) -> int:
        return self.total - len(self.pending)


def summarize(session: PostgresSession, migration_ids: Sequence[str]) -> TenantsSummary:
    """How many tenants are up to date, which have pending migrations, which failed last."""
    registry.ensure_registry(session)
    total = 0
    pending: list[str] = []
    for page in registry.pages(session):
        total += len(page)
        behind = tenants_with_pending(session, page, migration_ids)
        pending.extend(t for t in page if t in behind)
    return TenantsSummary(total=total, pending=pending, failed=registry.last_failures(session))
