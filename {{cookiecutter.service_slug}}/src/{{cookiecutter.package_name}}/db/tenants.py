"""Schema-per-tenant: tenant ids and the PostgreSQL schema each one owns.

A tenant id is validated before it goes anywhere near SQL, and its schema name
is only ever passed to the server as a quoted identifier (psycopg.sql), never
pasted into a statement. Migrating tenants builds on these two functions.
"""

from __future__ import annotations

import re
from typing import Final

from psycopg import sql

from ..errors import ServiceError

# Lowercase letters, digits and underscores, starting with a letter: the schema
# name `tenant_<id>` then needs no quoting to read, and stays within
# PostgreSQL's 63-byte identifier limit.
TENANT_ID_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
SCHEMA_PREFIX: Final = "tenant_"


class InvalidTenantIdError(ServiceError):
    """A tenant id that could not safely name a schema."""


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
