"""Settings on a service generated for PostgreSQL alone: no SQLite to fall back to."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.errors import ConfigError


def test_the_default_database_is_the_local_server() -> None:
    settings = load_settings({}, env_file=None)

    assert settings.database == PostgresTarget(
        host="localhost", port=5432, user="postgres", password="", dbname="{{ cookiecutter.package_name }}"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "data/app.db",
            "DATABASE_URL 'data/app.db' is a file path, but this service was generated for postgresql only: "
            "use postgresql://user:password@host:5432/dbname",
        ),
        (
            "sqlite:///data/app.db",
            "DATABASE_URL has unsupported scheme 'sqlite' in 'sqlite:///data/app.db' (this service was "
            "generated for postgresql): use postgresql://user:password@host:5432/dbname",
        ),
    ],
)
def test_a_sqlite_database_is_refused_by_name(url: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"DATABASE_URL": url}, env_file=None)

    assert str(raised.value) == expected
