"""Settings on a service with PostgreSQL: URLs, the DB_* variables, production credentials."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.errors import ConfigError


def test_postgres_url_with_tls_parameters() -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://app:pw%40x@db.internal:6543/app?sslmode=verify-full&sslrootcert=/ca.pem"
        },
        env_file=None,
    )

    assert settings.database == PostgresTarget(
        host="db.internal",
        port=6543,
        user="app",
        password="pw@x",
        dbname="app",
        params={"sslmode": "verify-full", "sslrootcert": "/ca.pem"},
    )
    assert "pw@x" not in repr(settings)


def test_db_variables_build_the_target_when_database_url_is_unset() -> None:
    settings = load_settings(
        {
            "DB_HOST": "db",
            "DB_PORT": "5433",
            "DB_USER": "svc",
            "DB_PASSWORD": "pw",
            "DB_NAME": "svc",
            "DB_SSLMODE": "require",
        },
        env_file=None,
    )

    assert settings.database == PostgresTarget(
        host="db", port=5433, user="svc", password="pw", dbname="svc", params={"sslmode": "require"}
    )


@pytest.mark.parametrize("password", ["", " ", "postgres", " Postgres ", "changeme"])
def test_production_refuses_default_or_empty_credentials(password: str) -> None:
    with pytest.raises(ConfigError, match="refusing to start in production") as raised:
        load_settings(
            {"APP_ENV": "production", "DB_HOST": "db", "DB_USER": "svc", "DB_PASSWORD": password},
            env_file=None,
        )

    assert "user 'svc'" in str(raised.value)
    assert f"'{password}'" not in str(raised.value)


def test_production_accepts_a_real_secret() -> None:
    settings = load_settings(
        {"APP_ENV": "production", "DATABASE_URL": "postgresql://svc:Zq8-long-random@db/svc"}, env_file=None
    )

    assert settings.is_production
    assert settings.log_format == "json"
