"""The statement a worker enters a schema to migrate with, and the one that
puts things right when the read sent after it failed.

A worker migrates schema after schema on one session. Entering the next one
is one statement: set the search path to it, try its migration lock, release
the lock kept from the schema before, and read a value of the caller's (the
mark's version). The history read follows it in the same round trip: in the
same query on plain PostgreSQL, pipelined on Citus (see
PostgresSession.enter_schema_to_migrate).

The two share one implicit transaction: when the read fails (a schema
without a history table), the search path and the client watch are undone
with it, but advisory locks are session-level and stay as the entering
statement left them; sent as one query, the first statement's answer is lost
with the query's. The statement `entering(again=True)` builds then brings
the session to the state the entering statement was to leave: it takes the
lock only if the session does not already hold it (pg_locks says so), and
releases the earlier schema's only if it is still held. pg_locks does not
say how many times a lock is held, so entering the schema entered before
neither takes its lock again nor releases it, in either form.
"""

from __future__ import annotations

# One advisory lock per database and schema: replicas migrating the same schema
# queue up, while migrations of different schemas never block each other. A
# session-level advisory lock is released by the server when the session ends,
# so a killed process cannot leave it behind (unlike a lock row).
# The key of the schema a SQL text expression names; LOCK_KEY_SQL, of the
# current schema (entering names it before it is current).
NAMED_LOCK_KEY_SQL = "hashtextextended('migrations:' || {}, 0)"
LOCK_KEY_SQL = NAMED_LOCK_KEY_SQL.format("coalesce(current_schema(), '')")
WATCH_CLIENT_SQL = "set_config('client_connection_check_interval', '1s', false)"

# Whether this session holds the advisory lock of a bigint key, which
# pg_locks shows split in two 32-bit halves (objsubid 1 marks a bigint key).
_HELD_SQL = (
    "EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND objsubid = 1 AND classid::bigint = ({key} >> 32) & 4294967295"
    " AND objid::bigint = {key} & 4294967295)"
)


def entering(also_read: str, *, watch_client: bool, again: bool = False) -> str:
    """The entering statement, whose named parameters are `release` (the
    schema entered before, or None) and `schema` (the one to enter). It
    returns one row: the backend pid; whether the lock was taken (NULL
    without the schema); the value of `also_read`, an SQL expression of the
    schema's `nspname` (a constant of the caller's code, never input);
    whether each statement sees what committed before it (read committed).
    `again`: idempotent, for the statement after a failed read."""
    release_key = NAMED_LOCK_KEY_SQL.format("%(release)s::text")
    entered_key = NAMED_LOCK_KEY_SQL.format("nspname::text")
    # `release` is set only while the session holds that schema's lock.
    release_if = "%(release)s::text IS NOT NULL AND %(release)s::text <> %(schema)s::text"
    held = "nspname::text = %(release)s::text"
    if again:
        release_if += f" AND {_HELD_SQL.format(key=release_key)}"
        held = _HELD_SQL.format(key=entered_key)
    # CASE: the lock is tried only if not held (OR would not fix the order).
    lock = f"CASE WHEN {held} THEN true ELSE pg_try_advisory_lock({entered_key}) END"
    # The LEFT JOIN returns a row, so the release runs, even if the schema is
    # missing. quote_ident makes the value an identifier on the server; the
    # schema name itself travels as a parameter, never as SQL.
    return (
        "SELECT pg_backend_pid(), entered.locked, entered.read,"  # noqa: S608
        " current_setting('transaction_isolation') = 'read committed',"
        f" CASE WHEN {release_if} THEN pg_advisory_unlock({release_key}) END"
        f"{', ' + WATCH_CLIENT_SQL if watch_client else ''} FROM (SELECT 1) AS one"
        " LEFT JOIN LATERAL (SELECT set_config('search_path', quote_ident(nspname), false),"
        f" {lock} AS locked, {also_read} AS read FROM pg_namespace WHERE nspname = %(schema)s)"
        " AS entered ON true"
    )
