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

from psycopg import sql

from ..database.postgresql import PostgresSession
from ..migrator.history import TABLE as HISTORY_TABLE
from . import registry
from .registry import FailedTenant
from .schemas import tenant_schema, tenant_schema_identifier


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
        branches = sql.SQL(" UNION ALL ").join(
            sql.SQL(
                "SELECT {tenant} FROM expected WHERE "
                "(SELECT count(*) FROM {schema}.{table} WHERE id = ANY(expected.ids)) < expected.n"
            ).format(
                tenant=sql.Literal(t),
                schema=tenant_schema_identifier(t),
                table=sql.Identifier(HISTORY_TABLE),
            )
            for t in tracked
        )
        query = sql.SQL("WITH expected AS (SELECT %s::text[] AS ids, %s::int AS n) {}").format(branches)
        pending.update(row[0] for row in session.execute(query, (list(migration_ids), len(migration_ids))))
    return pending


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
