"""Settings of schema-per-tenant: their defaults, and errors that name the variable."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.errors import ConfigError


def test_tenant_defaults_without_any_variable() -> None:
    settings = load_settings({}, env_file=None)

    assert settings.auto_migrate_tenants is True
    assert 1 <= settings.tenant_migration_concurrency <= 8


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"AUTO_MIGRATE_TENANTS": "sometimes"}, "AUTO_MIGRATE_TENANTS has value 'sometimes'"),
        ({"TENANT_MIGRATION_CONCURRENCY": "0"}, "TENANT_MIGRATION_CONCURRENCY has value '0'"),
    ],
)
def test_bad_tenant_values_name_the_variable(variables: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(variables, env_file=None)

    assert message in str(raised.value)
    assert "tiger" not in str(raised.value)
