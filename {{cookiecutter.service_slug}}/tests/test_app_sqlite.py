"""Startup on SQLite: a file that cannot be opened stops it at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.errors import DatabaseUnavailableError
from {{ cookiecutter.package_name }}.startup import prepare_database


def test_startup_fails_fast_when_the_sqlite_file_cannot_be_opened(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings = load_settings({"DATABASE_URL": f"sqlite:///{blocker}/service.db"}, env_file=None)

    with pytest.raises(DatabaseUnavailableError, match="cannot open"):
        prepare_database(settings)
