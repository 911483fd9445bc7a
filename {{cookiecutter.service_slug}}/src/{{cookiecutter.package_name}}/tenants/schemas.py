"""Schema-per-tenant: tenant ids, the schema each one owns, and entering it.

A tenant id is validated before it goes anywhere near SQL, and its schema name
is only ever passed to the server as a quoted identifier (psycopg.sql), never
pasted into a statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from psycopg import sql

from ..database.postgresql import PostgresSession
from ..database.session import Row, Session, SessionPool
from ..errors import ConfigError, ServiceError

# Lowercase letters, digits and underscores, starting with a letter: the schema
# name `tenant_<id>` then needs no quoting to read, and stays within
# PostgreSQL's 63-byte identifier limit.
TENANT_ID_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
SCHEMA_PREFIX: Final = "tenant_"


class InvalidTenantIdError(ServiceError):
    """A tenant id that could not safely name a schema."""


class UnknownTenantError(ServiceError):
    """A tenant that is not in the registry, or whose schema is gone."""


class TenantExistsError(ServiceError):
    """A tenant (or its schema) that already exists."""


def validate_tenant_id(tenant_id: str) -> str:
    if not TENANT_ID_PATTERN.fullmatch(tenant_id):
        raise InvalidTenantIdError(
            f"tenant id {tenant_id!r} is not valid: use 1 to 48 lowercase letters, digits "
            "and underscores, starting with a letter (for example acme or acme_eu)"
        )
    return tenant_id


def tenant_schema(tenant_id: str) -> str:
    """The schema name of a (validated) tenant."""
    return SCHEMA_PREFIX + validate_tenant_id(tenant_id)


def tenant_schema_identifier(tenant_id: str) -> sql.Identifier:
    """The schema name as a quoted identifier, for statements built with psycopg.sql."""
    return sql.Identifier(tenant_schema(tenant_id))


def postgres_only(session: Session) -> PostgresSession:
    """The session itself, or a clear error where the database is SQLite."""
    if not isinstance(session, PostgresSession):
        raise ConfigError(
            "schema-per-tenant needs PostgreSQL: DATABASE_URL points to a "
            f"{session.dialect} database, where tenant commands cannot run"
        )
    return session


def enter_tenant_schema(session: PostgresSession, tenant_id: str, *, local: bool = False) -> None:
    """Make the tenant's schema the only one on the search path: for the
    session (a migration runner's own connection), or with `local` for the
    current transaction only."""
    schema = tenant_schema(tenant_id)
    # One round trip: the path is set only if the schema exists (a SET would
    # accept a missing one). quote_ident makes the value an identifier on the
    # server; the schema name itself travels as a parameter, never as SQL.
    rows = session.execute(
        "SELECT set_config('search_path', quote_ident(nspname), %s), pg_backend_pid() "
        "FROM pg_namespace WHERE nspname = %s",
        (local, schema),
    )
    if not rows:
        raise UnknownTenantError(f"tenant {tenant_id!r} has no schema {schema!r} in this database")
    session.check_backend(rows[0][1])


def enter_tenant_schema_to_migrate(
    session: PostgresSession, tenant_id: str, also_read: str = "NULL", then_read: str | None = None
) -> tuple[object, list[Row] | None]:
    """enter_tenant_schema for a session that migrates tenant after tenant
    (a worker's): it also tries the tenant's migration lock, and releases the
    one of the tenant migrated before, in the same statement, which reads
    `also_read` of the schema too; `then_read` (a query of the caller's
    code) runs in the schema in the same round trip
    (PostgresSession.enter_schema_to_migrate). It returns the value of
    `also_read` and the rows of `then_read`, or None where they cannot be
    relied on (the lock was not free, or the query failed)."""
    schema = tenant_schema(tenant_id)
    found, read, rows = session.enter_schema_to_migrate(schema, also_read, then_read)
    if not found:
        raise UnknownTenantError(f"tenant {tenant_id!r} has no schema {schema!r} in this database")
    return read, rows


@contextmanager
def tenant_session(pool: SessionPool, tenant_id: str) -> Iterator[PostgresSession]:
    """A pooled session scoped to one tenant, for a request's work.

    The block is one transaction, and the schema is set with SET LOCAL, which
    ends with the transaction (committed or rolled back): the connection goes
    back to the pool with the shared search path, so no tenant's schema ever
    reaches the pool's next user.
    """
    with pool.session() as pooled:
        session = postgres_only(pooled)
        with session.transaction():
            enter_tenant_schema(session, tenant_id, local=True)
            yield session


@contextmanager
def tenant_search_path(session: PostgresSession, tenant_id: str) -> Iterator[None]:
    """Work in the tenant's schema for the block, then restore the search path."""
    previous = session.execute("SELECT current_setting('search_path')")[0][0]
    try:
        enter_tenant_schema(session, tenant_id)
        yield
    finally:
        if not session.connection.closed:
            session.execute("SELECT set_config('search_path', %s, false)", (previous,))
