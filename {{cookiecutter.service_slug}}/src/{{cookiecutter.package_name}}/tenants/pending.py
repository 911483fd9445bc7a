"""Which tenants have something to migrate, in a few queries for all of them.

Finding that nothing is pending must not cost a connection, a yoyo backend or
a round trip per tenant. With marks (history_marks.py), one query over the
catalog and the marks finds the tenants whose mark does not count; those
marked by an earlier release (for the first of the shipped migrations only)
are pending without being read. Without marks, one query finds the tenant
schemas with no bookkeeping table yet. Then one UNION
ALL query per 50 of the remaining tenants counts, in each schema's
`schema_migrations`, how many of the shipped migrations are applied, and
marks those that hold them all. Only the tenants that come back have work to do.
The summary (`tenants-status`, a dry run) trusts the same marks, reads the
rest, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from psycopg import sql

from ..database.postgresql import PostgresSession
from ..migrator.history import TABLE as HISTORY_TABLE
from . import history_marks, registry
from .history_marks import Marks
from .registry import FailedTenant
from .schemas import tenant_schema


def tenants_with_pending(
    session: PostgresSession,
    tenant_ids: Sequence[str],
    migration_ids: Sequence[str],
    marks: Marks | None = None,
    *,
    writes: bool = True,
) -> set[str]:
    """The tenants among `tenant_ids` that lack any of `migration_ids`. With
    `marks`, a tenant whose mark counts is not read; the others are watched
    (if they are not yet) and marked once they are read and found complete.

    Without `writes` (a summary), nothing is watched or marked, and a mark
    made for an earlier release's migrations does not spare a read: a
    runner's own records leave the version as it was, and it marks what it
    migrated only after the tenant's page (a run stopped in between never
    does), so such a mark may say less than the history holds. The runner
    can take it as pending because its worker reads the history under the
    lock anyway; a summary cannot."""
    if not tenant_ids or not migration_ids:
        return set()
    if marks is None:
        rows = session.execute(
            "SELECT t FROM unnest(%s::text[], %s::text[]) AS x(t, s) "
            "WHERE to_regclass(format('%%I.%%I', s, %s::text)) IS NULL",
            (list(tenant_ids), [tenant_schema(t) for t in tenant_ids], HISTORY_TABLE),
        )
        pending = {row[0] for row in rows}
        return pending | _read(session, [t for t in tenant_ids if t not in pending], migration_ids)
    made_for = history_marks.digest(migration_ids)
    earlier = _earlier_digests(tuple(migration_ids)) if writes else []
    unsure = history_marks.unmarked(session, marks, tenant_ids, made_for, earlier)
    if writes:
        unwatched = [tenant_schema(u.tenant_id) for u in unsure if u.has_history and not u.watched]
        history_marks.watch_if_free(session, marks, unwatched)
    # Marked by an earlier release: behind by the migrations added since.
    behind = {u.tenant_id for u in unsure if u.marked_earlier}
    readable = [u.tenant_id for u in unsure if u.has_history and not u.marked_earlier]
    without_history = {u.tenant_id for u in unsure if not u.has_history}
    marking = (marks, made_for) if writes else None
    return without_history | behind | _read(session, readable, migration_ids, marking)


@lru_cache(maxsize=1)
def _earlier_digests(migration_ids: tuple[str, ...]) -> list[str]:
    """history_marks.earlier_digests, once per run rather than once per page."""
    return history_marks.earlier_digests(migration_ids)


def _read(
    session: PostgresSession,
    tenant_ids: Sequence[str],
    migration_ids: Sequence[str],
    marking: tuple[Marks, str] | None = None,
) -> set[str]:
    """Those of `tenant_ids` whose history lacks any of `migration_ids`, in
    one statement per READ_CHUNK of them; with `marking`, each statement
    marks the others in its own snapshot."""
    pending: set[str] = set()
    for start in range(0, len(tenant_ids), READ_CHUNK):
        pending |= _read_chunk(session, tenant_ids[start : start + READ_CHUNK], migration_ids, marking)
    return pending


def _read_chunk(
    session: PostgresSession,
    tenant_ids: Sequence[str],
    migration_ids: Sequence[str],
    marking: tuple[Marks, str] | None,
) -> set[str]:
    """_read's one statement: a UNION ALL branch per tenant."""
    params: list[object] = [list(migration_ids), len(migration_ids)]
    parts: list[sql.Composable] = [EXPECTED, *_branches(tenant_ids), FOUND_END]
    if marking is not None:
        marks, made_for = marking
        parts.append(MARK.format(marks=marks.table))
        params.append(made_for)
    parts.append(INCOMPLETE)
    found = session.execute(sql.Composed(parts), params)
    return {tenant_ids[row[0]] for row in found}


# Histories read per statement. The server's cost per branch of the UNION ALL
# grows with the number of branches: 500 in one statement took 1.6 ms per
# tenant on a fresh connection, 10 to 50 took 0.33 to 0.43 ms (2,000 tenants,
# PostgreSQL 15); a round trip per 50 costs little next to that.
READ_CHUNK: Final = 50


EXPECTED: Final = sql.SQL("WITH expected AS (SELECT %s::text[] AS ids, %s::int AS n), found AS (")
BRANCH_HEAD: Final = sql.SQL("SELECT ")
BRANCH_SCHEMA: Final = sql.SQL(" AS position, ")
BRANCH_TABLE: Final = sql.SQL("::text AS schema_name, ")
BRANCH_BODY: Final = sql.SQL("::regclass AS history, (SELECT count(*) FROM ")
BRANCH_TAIL: Final = sql.SQL(" WHERE id = ANY(expected.ids)) = expected.n AS complete FROM expected")
UNION_ALL: Final = sql.SQL(" UNION ALL ")
FOUND_END: Final = sql.SQL(")")
# The mark takes the version read in the statement's own snapshot (`seen`):
# should a change to the history commit meanwhile, its trigger has moved the
# version on, so the mark does not count (and the guard skips writing it).
# A mark whose row another transaction holds (a migration in progress there,
# whose trigger fired) is skipped, not waited for: the look never waits on a
# migration, and two looks at once never deadlock.
MARK: Final = sql.SQL(
    ", free AS (SELECT schema_name FROM {marks}"
    "  WHERE schema_name IN (SELECT schema_name FROM found WHERE complete) FOR UPDATE SKIP LOCKED)"
    ", marked AS (UPDATE {marks} AS m"
    " SET checked_for = %s, checked_version = seen.version, checked_table = found.history"
    " FROM found JOIN free ON free.schema_name = found.schema_name"
    " JOIN {marks} AS seen ON seen.schema_name = found.schema_name"
    " WHERE m.schema_name = seen.schema_name AND m.version = seen.version)"
)
INCOMPLETE: Final = sql.SQL(" SELECT position FROM found WHERE NOT complete")


def _branches(tenant_ids: Sequence[str]) -> list[sql.Composable]:
    """One SELECT per tenant, naming it by its position in `tenant_ids`; built
    from pieces rather than formatted from a template, as a page holds hundreds."""
    parts: list[sql.Composable] = []
    for position, tenant_id in enumerate(tenant_ids):
        if position:
            parts.append(UNION_ALL)
        table = sql.Identifier(tenant_schema(tenant_id), HISTORY_TABLE)
        parts += [BRANCH_HEAD, sql.Literal(position), BRANCH_SCHEMA, sql.Literal(tenant_schema(tenant_id))]
        parts += [BRANCH_TABLE, sql.Literal(table.as_string())]
        parts += [BRANCH_BODY, table, BRANCH_TAIL]
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
    """How many tenants are up to date, which have pending migrations, which
    failed last. It writes nothing (it serves `migrate --dry-run` too): a
    tenant whose mark counts for `migration_ids` is up to date unread (as in
    the no-op check), every other tenant's history is read, nobody is watched
    or marked, and the registry is neither created nor renamed."""
    table = registry.table_to_read(session)
    if table is None:
        return TenantsSummary(total=0)
    marks = history_marks.existing(session)
    total = 0
    pending: list[str] = []
    for page in registry.pages(session, table=table):
        total += len(page)
        behind = tenants_with_pending(session, page, migration_ids, marks, writes=False)
        pending.extend(t for t in page if t in behind)
    return TenantsSummary(total=total, pending=pending, failed=registry.last_failures(session, table))
