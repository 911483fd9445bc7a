"""Settings on a service with SQLite: its development file and its URLs."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.sqlite_target import SqliteTarget


def test_the_default_database_is_the_development_file() -> None:
    settings = load_settings({}, env_file=None)

    assert settings.database == SqliteTarget(path="data/{{ cookiecutter.service_slug }}.db")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///data/app.db", "data/app.db"),
        ("sqlite:////var/lib/app.db", "/var/lib/app.db"),
        ("./data/app.db", "./data/app.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_urls_and_plain_paths(url: str, path: str) -> None:
    assert load_settings({"DATABASE_URL": url}, env_file=None).database == SqliteTarget(path=path)
