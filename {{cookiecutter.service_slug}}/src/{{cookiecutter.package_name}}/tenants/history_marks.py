"""Knowing that a tenant is up to date without reading its history.

Reading a tenant's `schema_migrations` costs a query plan and, on a new
connection, the table's catalog entries: about a tenth of a millisecond per
tenant, over a second at 10,000 tenants. So the shared schema keeps one mark
per tenant schema, `_tenant_history_marks`: the migrations its history was
last found to hold all of, the bookkeeping table it was found in, and the
history's version then. A statement trigger on each tenant's bookkeeping
table adds one to that version on every INSERT, UPDATE, DELETE or TRUNCATE,
in the changing transaction, whoever makes the change (yoyo, psql, a
script), but for the runner itself (see below). A mark counts only while
all of these hold:

- its version is the history's current one (nothing changed since);
- it was made for the same migrations as the ones shipped now;
- the bookkeeping table is the one it was made in (a table dropped and made
  again, say restored from a dump, is another table with another oid);
- the trigger is on that table, enabled always (so that a session in
  replica mode fires it too), calling this module's function.

A mark that counts in every way but was made for the first of the shipped
migrations only (by an earlier release, before the ones added since) makes
the tenant pending without a read: the runner's worker reads its history
under the migration lock anyway, and marks it for the shipped migrations,
migrated or found up to date. Otherwise the tenant's history is read, as
before, and marked afresh.

The runner's own records skip the trigger (its sessions set
`tenant_history.runner`, which the trigger's WHEN clause reads): it marks
what it applied itself. That also keeps its connections from compiling the
trigger's PL/pgSQL function once per tenant table (PL/pgSQL compiles a
trigger function per trigger), whose plans every later catalog change in
that connection would have to go through: at 10,000 tenants that made
migrate-all eight times slower. A worker reads the tenant's version in the
statement that enters its schema and takes its lock, before it reads the
history; the runner marks the tenants migrated (or found up to date) in
bulk afterwards, each only if its version is still that one: nothing but a
runner, which holds the tenant's lock, has changed the history since it
was read. (A mark written in each migration's own transaction had to count
the history again for that: it cost more than the record.) Tenant creation
marks in its own transaction, counting. So does migrate-tenant, once its one
tenant's run is over (its records, not a runner's, moved the version).

Disabling the trigger around a change and enabling it again after,
replacing its function, or setting `tenant_history.runner` by hand hides a
change from the marks, on purpose only. `TRUNCATE _tenant_history_marks`
makes the next run read every history.

Citus refuses triggers on distributed tables, so on a Citus cluster nothing
is marked and every history is read.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Final

import psycopg
from psycopg import sql

from ..database.postgresql import PostgresSession
from ..database.session import Session, UniqueViolation
from ..migrator.history import TABLE as HISTORY_TABLE
from . import citus
from .schemas import tenant_schema

MARKS_TABLE: Final = "_tenant_history_marks"
FUNCTION: Final = "_tenant_history_changed"
TRIGGER: Final = "_tenant_history_changed"
# Schemas given the trigger per transaction: each holds a lock on its table
# until the transaction ends, and the server's lock table is finite.
WATCH_CHUNK: Final = 100
# How long the look waits for a tenant's bookkeeping table to put its trigger on.
WATCH_LOCK_TIMEOUT: Final = 1.0
# Set in the runner's sessions: its own writes to the history do not move the version.
RUNNER_SETTING: Final = "tenant_history.runner"
# pg_trigger.tgtype of AFTER ... FOR EACH STATEMENT on INSERT (4), DELETE (8),
# UPDATE (16) and TRUNCATE (32): a trigger of that name but of another kind
# does not count.
TRIGGER_TYPE: Final = 4 | 8 | 16 | 32

# current_schema() is a `name`, like TG_TABLE_SCHEMA (see prepare).
CURRENT_SCHEMA: Final = sql.SQL('current_schema()::text COLLATE "default"')

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Marks:
    """The marks of one shared schema, where the registry is."""

    schema: str

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, MARKS_TABLE)

    @property
    def function(self) -> sql.Identifier:
        return sql.Identifier(self.schema, FUNCTION)

    def function_signature(self) -> str:
        """The function as to_regprocedure names it."""
        return f"{self.function.as_string()}()"


@dataclass(frozen=True)
class Unmarked:
    """A tenant whose mark does not count for the shipped migrations: why, as
    far as the catalog and the marks say."""

    tenant_id: str
    has_history: bool
    watched: bool
    # Its mark counts for the first of them only (an earlier release's
    # migrations): it is presumed to lack the others, unread. Whoever
    # migrates it reads its history under the lock anyway.
    marked_earlier: bool = False


def prepare(shared: PostgresSession, *, on_citus: bool | None = None) -> Marks | None:
    """The marks of the shared session's schema, their table and function
    created if need be; None on Citus, where nothing is marked (`on_citus`:
    whether the caller already found Citus there)."""
    if on_citus is None:
        on_citus = citus.detect(shared) is not None
    if on_citus:
        return None
    marks, table_exists, function_exists = _look_up(shared)
    # Another process creating them at the same moment is fine.
    if not table_exists:
        with suppress(UniqueViolation):
            shared.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " schema_name TEXT PRIMARY KEY,"
                    " version BIGINT NOT NULL DEFAULT 0,"
                    " checked_for TEXT NULL,"
                    " checked_version BIGINT NULL,"
                    " checked_table OID NULL)"
                ).format(marks.table)
            )
    if not function_exists:
        # TG_TABLE_SCHEMA is a `name`: compared in its own collation ("C"),
        # the marks' primary key could not be used, and each change would
        # scan every mark.
        body = sql.SQL(
            "BEGIN UPDATE {} SET version = version + 1 WHERE schema_name = {}; RETURN NULL; END"
        ).format(marks.table, sql.SQL('TG_TABLE_SCHEMA::text COLLATE "default"'))
        with suppress(UniqueViolation):
            shared.execute(
                sql.SQL("CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {}").format(
                    marks.function, sql.Literal(body.as_string())
                )
            )
    return marks


def existing(shared: PostgresSession) -> Marks | None:
    """The marks of the shared session's schema if a run has made them (None
    otherwise, and on Citus), creating nothing: for a command that only reads."""
    if citus.detect(shared) is not None:
        return None
    marks, table_exists, function_exists = _look_up(shared)
    return marks if table_exists and function_exists else None


def _look_up(shared: PostgresSession) -> tuple[Marks, bool, bool]:
    """The shared schema's marks, and whether their table and function exist."""
    schema, table_exists, function_exists = shared.execute(
        "SELECT current_schema(), to_regclass(format('%%I.%%I', current_schema(), %s::text)) IS NOT NULL,"
        " to_regprocedure(format('%%I.%%I()', current_schema(), %s::text)) IS NOT NULL",
        (MARKS_TABLE, FUNCTION),
    )[0]
    return Marks(str(schema)), bool(table_exists), bool(function_exists)


def digest(migration_ids: Sequence[str]) -> str:
    """What a mark says it was made for: these migrations, in this order."""
    return hashlib.sha256("\n".join(migration_ids).encode()).hexdigest()


def earlier_digests(migration_ids: Sequence[str]) -> list[str]:
    """The digests of every shorter run of `migration_ids` from the first
    (none included): what a mark made by an earlier release says, when a
    release adds migrations after the last. Hashed as one stream, so a long
    history costs its length once, not once per migration."""
    if not migration_ids:
        return []
    running = hashlib.sha256()
    digests = [running.hexdigest()]
    for position, migration_id in enumerate(migration_ids[:-1]):
        running.update((("\n" if position else "") + migration_id).encode())
        digests.append(running.copy().hexdigest())
    return digests


def watch(session: PostgresSession, marks: Marks, schemas: Sequence[str]) -> None:
    """Put the trigger on each schema's bookkeeping table and give it a mark
    that does not count yet; in the caller's transaction, if it has one."""
    statements: list[sql.Composable] = []
    for schema in schemas:
        table = sql.Identifier(schema, HISTORY_TABLE)
        trigger = sql.Identifier(TRIGGER)
        statements += [
            sql.SQL(
                "CREATE OR REPLACE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {} "
                "FOR EACH STATEMENT WHEN (current_setting({}, true) IS DISTINCT FROM 'on') "
                "EXECUTE FUNCTION {}()"
            ).format(trigger, table, sql.Literal(RUNNER_SETTING), marks.function),
            sql.SQL("ALTER TABLE {} ENABLE ALWAYS TRIGGER {}").format(table, trigger),
        ]
    # A mark left from before (a schema made again) is overtaken, not trusted.
    statements.append(
        sql.SQL(
            "INSERT INTO {table} (schema_name) SELECT unnest({schemas}::text[]) ON CONFLICT (schema_name) "
            "DO UPDATE SET version = {table}.version + 1, checked_for = NULL"
        ).format(table=marks.table, schemas=sql.Literal(list(schemas)))
    )
    # No parameters: the whole batch goes in one round trip.
    session.execute(sql.SQL("; ").join(statements))


def as_runner(session: Session, *, local: bool) -> None:
    """Let the session's writes to the history skip the trigger: the runner
    marks what it applied itself. `local`: for the current transaction only."""
    session.execute("SELECT set_config(%s, 'on', %s)", (RUNNER_SETTING, local))


def watch_if_free(session: PostgresSession, marks: Marks, schemas: Sequence[str]) -> None:
    """`watch`, WATCH_CHUNK schemas per transaction, each waiting at most
    WATCH_LOCK_TIMEOUT for each table; if another transaction holds one
    longer, that chunk stays unwatched (its histories are read) until a later run."""
    for start in range(0, len(schemas), WATCH_CHUNK):
        chunk = schemas[start : start + WATCH_CHUNK]
        try:
            with session.transaction():
                timeout = f"{int(WATCH_LOCK_TIMEOUT * 1000)}ms"
                session.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))
                watch(session, marks, chunk)
        except psycopg.errors.LockNotAvailable:
            log.debug("Left %d tenant schemas unwatched: their bookkeeping tables were busy", len(chunk))


def unmarked(
    session: PostgresSession,
    marks: Marks,
    tenant_ids: Sequence[str],
    made_for: str,
    made_earlier: Sequence[str] = (),
) -> list[Unmarked]:
    """The tenants among `tenant_ids` whose mark does not count for
    `made_for`, from the catalog and the marks alone: no tenant's table is
    read. A mark that counts for one of `made_earlier` instead says so
    (`marked_earlier`). Each tenant's rows are found through their indexes:
    a join here would scan all the tenants' triggers and marks for each page.
    A tenant with no mark at all is not watched: its trigger and mark are put
    back before it is read."""
    rows = session.execute(
        sql.SQL(
            "SELECT id, history IS NOT NULL, coalesce(watched, false) AND marked IS NOT NULL,"
            " coalesce(watched, false) AND marked = 'earlier' FROM ("
            " SELECT r.id, h.history,"
            "  (SELECT t.tgenabled = 'A' AND t.tgtype = %s AND t.tgqual IS NOT NULL"
            "    AND t.tgfoid = to_regprocedure(%s)"
            "   FROM pg_trigger AS t WHERE t.tgrelid = h.history AND t.tgname = %s) AS watched,"
            # NULL: no mark at all; 'stale': one that counts for nothing.
            "  (SELECT coalesce(CASE WHEN m.checked_version = m.version AND m.checked_table = h.history"
            "    THEN CASE WHEN m.checked_for = %s THEN 'now'"
            "     WHEN m.checked_for = ANY(%s::text[]) THEN 'earlier' END"
            "    END, 'stale')"
            "   FROM {} AS m WHERE m.schema_name = r.schema_name) AS marked"
            " FROM unnest(%s::text[], %s::text[]) AS r(id, schema_name)"
            " CROSS JOIN LATERAL"
            "  (SELECT to_regclass(format('%%I.%%I', r.schema_name, %s::text))::oid AS history) AS h"
            ") AS found WHERE NOT (coalesce(watched, false) AND coalesce(marked = 'now', false))"
        ).format(marks.table),
        (
            TRIGGER_TYPE,
            marks.function_signature(),
            TRIGGER,
            made_for,
            list(made_earlier),
            list(tenant_ids),
            [tenant_schema(t) for t in tenant_ids],
            HISTORY_TABLE,
        ),
    )
    return [Unmarked(row[0], bool(row[1]), bool(row[2]), bool(row[3])) for row in rows]


def mark_in_transaction(session: Session, marks: Marks, migration_ids: Sequence[str]) -> None:
    """Mark the schema the session is in if its history holds every one of
    `migration_ids`: in the transaction of a new tenant's migrations just
    recorded there (records that, made by the runner, did not move the
    version). Like the look's marking, it takes the version read in its own
    snapshot (`seen`), so a change by hand committed meanwhile leaves the
    mark not counting; and a mark whose row a change in progress holds is
    left as it is (the next look reads that history), not waited for."""
    session.execute(
        sql.SQL(
            "UPDATE {marks} AS m SET checked_for = %s, checked_version = seen.version,"
            " checked_table = seen.history"
            " FROM (SELECT version, to_regclass(%s)::oid AS history FROM {marks}"
            "  WHERE schema_name = {here}) AS seen"
            " WHERE m.schema_name = {here} AND m.version = seen.version"
            " AND m.schema_name IN (SELECT schema_name FROM {marks} WHERE schema_name = {here}"
            "  FOR UPDATE SKIP LOCKED)"
            " AND (SELECT count(*) FROM {history} WHERE id = ANY(%s)) = %s"
        )
        .format(marks=marks.table, history=sql.Identifier(HISTORY_TABLE), here=CURRENT_SCHEMA)
        .as_string(),
        (digest(migration_ids), HISTORY_TABLE, list(migration_ids), len(migration_ids)),
    )


def version_on_entering(marks: Marks) -> str:
    """The mark's version of the schema a worker enters, as an SQL expression
    of its `nspname` for the entering statement (Workers' `entering`): read
    before the worker reads the history. NULL for a schema without a mark."""
    return (
        sql.SQL('(SELECT version FROM {} WHERE schema_name = nspname::text COLLATE "default")')
        .format(marks.table)
        .as_string()
    )


def mark_migrated(
    session: PostgresSession, marks: Marks, migration_ids: Sequence[str], versions: Mapping[str, int]
) -> None:
    """Mark the schemas of `versions` (schema: its version on entering),
    which the runner's workers migrated or found up to date, for
    `migration_ids`, in one statement. A worker read each history after its
    version and made the history whole under the tenant's lock, so a version
    still the same says nothing else changed it since: any other change
    moves it (a runner's own, which does not, needs the lock and adds
    records only). A mark whose row a change in progress holds is skipped,
    not waited for (the next look reads that history).

    The marks still at their version are locked first, once, then updated:
    with the lock in a subquery of the UPDATE, the planner could run it again
    for every mark of the page (at 10,000 tenants it did: 150 ms a page of
    500, 15 times the whole statement's cost at 3,000)."""
    if not versions:
        return
    schemas = list(versions)
    session.execute(
        sql.SQL(
            "WITH unchanged AS MATERIALIZED (SELECT m.schema_name FROM {marks} AS m"
            " JOIN unnest(%s::text[], %s::bigint[]) AS entered(schema_name, version)"
            " ON m.schema_name = entered.schema_name AND m.version = entered.version"
            " FOR UPDATE OF m SKIP LOCKED)"
            " UPDATE {marks} AS m SET checked_for = %s, checked_version = m.version,"
            " checked_table = to_regclass(format('%%I.%%I', m.schema_name, %s::text))"
            " FROM unchanged WHERE m.schema_name = unchanged.schema_name"
        ).format(marks=marks.table),
        (schemas, [versions[schema] for schema in schemas], digest(migration_ids), HISTORY_TABLE),
    )
