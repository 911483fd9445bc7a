"""The answers the template supports, and the ones its pre-generation hook refuses."""

from __future__ import annotations

import pytest

DATABASES = ("postgresql+sqlite", "postgresql", "sqlite")
TENANCIES = ("single", "schema-per-tenant")


def _combination(database: str, tenancy: str) -> pytest.ParameterSet:
    return pytest.param(
        {"database": database, "tenancy": tenancy},
        id=f"database:{database}-tenancy:{tenancy}",
    )


# Schema-per-tenant needs PostgreSQL schemas, which SQLite does not have.
UNSUPPORTED_COMBINATIONS = [_combination("sqlite", "schema-per-tenant")]

SUPPORTED_COMBINATIONS = [
    _combination(database, tenancy)
    for database in DATABASES
    for tenancy in TENANCIES
    if (database, tenancy) != ("sqlite", "schema-per-tenant")
]
