"""Tenant ids: validated before use, and schema names always quoted."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.database.postgresql import PostgresSession
from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.tenants.schemas import (
    InvalidTenantIdError,
    tenant_schema,
    tenant_schema_identifier,
)
from conftest import make_target


@pytest.mark.parametrize("tenant_id", ["acme", "acme_eu", "a", "t1", "a" * 48])
def test_valid_tenant_ids_name_a_prefixed_schema(tenant_id: str) -> None:
    assert tenant_schema(tenant_id) == f"tenant_{tenant_id}"


@pytest.mark.parametrize(
    "tenant_id",
    [
        "acme; DROP SCHEMA public CASCADE",
        "Acme",
        "acme-eu",
        "1acme",
        "",
        "a" * 49,
        'acme"',
        "acme eu",
        "../acme",
    ],
)
def test_invalid_tenant_ids_are_refused_with_a_clear_error(tenant_id: str) -> None:
    with pytest.raises(InvalidTenantIdError, match=r"tenant id .* is not valid"):
        tenant_schema(tenant_id)


def test_schema_identifier_is_quoted_by_the_driver(tmp_path: Path) -> None:
    with make_target("postgresql", tmp_path) as target, session_scope(target) as session:
        assert isinstance(session, PostgresSession)
        rendered = tenant_schema_identifier("acme").as_string(session.connection)

    assert rendered == '"tenant_acme"'
