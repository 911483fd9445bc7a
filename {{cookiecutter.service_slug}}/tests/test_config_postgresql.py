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


def test_migrations_use_the_app_url_unless_migration_database_url_is_set() -> None:
    pooled = "postgresql://app:pw@pgbouncer:6432/app"
    direct = "postgresql://app:pw@db-primary:5432/app"

    by_default = load_settings({"DATABASE_URL": pooled}, env_file=None)
    apart = load_settings({"DATABASE_URL": pooled, "MIGRATION_DATABASE_URL": direct}, env_file=None)

    assert by_default.migration_database == by_default.database
    assert apart.database.describe() == "postgresql://app@pgbouncer:6432/app"
    assert apart.migration_database.describe() == "postgresql://app@db-primary:5432/app"


def test_db_prepared_statements_false_turns_off_psycopgs_server_side_statements() -> None:
    url = "postgresql://app:pw@pgbouncer:6432/app"

    default = load_settings({"DATABASE_URL": url}, env_file=None)
    off = load_settings({"DATABASE_URL": url, "DB_PREPARED_STATEMENTS": "false"}, env_file=None)

    assert isinstance(default.database, PostgresTarget)
    assert isinstance(off.database, PostgresTarget)
    assert isinstance(off.migration_database, PostgresTarget)
    assert default.database.driver_options() == {}
    assert off.database.driver_options() == {"prepare_threshold": None}
    assert off.migration_database.driver_options() == {"prepare_threshold": None}
