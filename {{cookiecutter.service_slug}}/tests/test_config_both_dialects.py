"""Settings on a service with both dialects: production never falls back to SQLite unasked."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.sqlite_target import SqliteTarget
from {{ cookiecutter.package_name }}.errors import ConfigError


def test_production_never_falls_back_to_the_sqlite_file_unless_told() -> None:
    with pytest.raises(ConfigError, match=r"^APP_ENV=production but neither DATABASE_URL nor DB_HOST"):
        load_settings({"APP_ENV": "production"}, env_file=None)

    allowed = load_settings({"APP_ENV": "production", "ALLOW_SQLITE_IN_PRODUCTION": "true"}, env_file=None)
    explicit = load_settings({"APP_ENV": "production", "DATABASE_URL": "sqlite:///srv/app.db"}, env_file=None)

    assert allowed.database == SqliteTarget(path="data/{{ cookiecutter.service_slug }}.db")
    assert explicit.database == SqliteTarget(path="srv/app.db")
