"""Bad input that only a service with both dialects can meet (see bad_input_table.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.database.target import Dialect
from bad_input_table import Row, cases, run_row

ROWS = [
    # 1. Production never falls back to the local SQLite file on its own.
    Row(
        "production-without-a-database-url",
        ("migrate",),
        names="DATABASE_URL",
        env={"APP_ENV": "production", "DATABASE_URL": "", "DB_PASSWORD": ""},
        dialects=("sqlite",),
        needs=("postgresql", "sqlite"),
    ),
]


@pytest.mark.parametrize(("row", "dialect"), cases(ROWS))
def test_bad_input_with_both_dialects(row: Row, dialect: Dialect, tmp_path: Path) -> None:
    run_row(row, dialect, tmp_path)
