"""The command line on PostgreSQL: production credentials, a database that is down."""

from __future__ import annotations

from conftest import cli


def test_production_refuses_default_postgres_credentials_without_printing_them() -> None:
    result = cli(
        "serve",
        APP_ENV="production",
        DATABASE_URL="postgresql://postgres:postgres@127.0.0.1:5432/app",
    )

    assert result.returncode == 1
    assert "refusing to start in production with a default or empty PostgreSQL password" in result.stderr
    assert ":postgres@" not in result.stderr


def test_serve_exits_non_zero_with_the_reason_when_the_database_is_down() -> None:
    result = cli(
        "serve",
        DATABASE_URL="postgresql://svc:s3cret-pw@127.0.0.1:1/app",
        DB_CONNECT_TIMEOUT="1",
    )

    assert result.returncode == 1
    assert "error: cannot connect to postgresql://svc@127.0.0.1:1/app within 1 s" in result.stderr
    assert "s3cret-pw" not in result.stderr
