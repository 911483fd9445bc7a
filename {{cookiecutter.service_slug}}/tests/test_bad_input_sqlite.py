"""Bad input and bad conditions on SQLite: one clear line naming what was wrong,
exit 1, nothing lost, never a password. The migration guide's troubleshooting
table lists the same errors; the others are in test_cli, test_config and
test_migrations."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.database.target import Dialect
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from bad_input_table import Row, cases, run_row
from conftest import cli


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The file cannot be written, even by root (who ignores permission bits)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield
        path.chmod(0o644)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode != 0:
        reason = "cannot make a file read-only for root here (no chattr +i)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run this check, but {reason}")
        pytest.skip(reason)
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_a_read_only_sqlite_file_is_refused_and_kept(tmp_path: Path) -> None:
    database = tmp_path / "service.db"
    url = f"sqlite:///{database}"
    assert cli("migrate", DATABASE_URL=url).returncode == 0
    assert cli("rollback", DATABASE_URL=url).returncode == 0
    before = database.read_bytes()

    with read_only(database):
        result = cli("migrate", DATABASE_URL=url)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: cannot migrate {url}: the file is read-only "
        "(check its permissions and the volume it is on); nothing was changed"
    ]
    assert database.read_bytes() == before


def test_a_file_that_is_not_a_database_is_named_in_one_line(tmp_path: Path) -> None:
    database = tmp_path / "notes.db"
    database.write_text("meeting notes, not a database\n" * 20)
    before = database.read_bytes()

    for command in ("status", "migrate"):
        result = cli(command, DATABASE_URL=f"sqlite:///{database}")

        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"error: cannot open sqlite:///{database}: file is not a database"
        ]
    assert database.read_bytes() == before


def test_serving_an_in_memory_database_is_refused_in_one_line() -> None:
    result = cli("serve", DATABASE_URL="sqlite:///:memory:")

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: DATABASE_URL sqlite:///:memory: cannot serve: "), line


def test_a_migration_url_naming_another_sqlite_file_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    # A SQLite file has no pooler in front of it: migrations must run on the
    # app's own file, never on a second one the app would not read.
    database, other = tmp_path / "service.db", tmp_path / "other.db"

    result = cli("migrate", DATABASE_URL=f"sqlite:///{database}", MIGRATION_DATABASE_URL=f"sqlite:///{other}")

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: MIGRATION_DATABASE_URL names sqlite:///{other} "), line
    assert "a SQLite file has no other" in line, line
    assert list(tmp_path.iterdir()) == []

    # The app's own file, named again however spelled, is the same database: accepted.
    same = cli(
        "migrate",
        DATABASE_URL=f"sqlite:///{database}",
        MIGRATION_DATABASE_URL=f"sqlite:///{tmp_path}/./service.db",
    )
    assert same.returncode == 0, same.stderr
    assert not other.exists()
    with closing(sqlite3.connect(database)) as connection:
        applied = [row[0] for row in connection.execute("SELECT id FROM schema_migrations ORDER BY id")]
    assert applied == MigrationSource.for_dialect("sqlite").migration_ids()


ROWS = [
    # 9. SQLite driver errors: named by file, in one line.
    Row(
        "sqlite-file-not-a-database",
        ("migrate",),
        names="cannot open sqlite:///{file}: file is not a database",
        later_files={"{file}": "meeting notes, not a database\n" * 20},
        dialects=("sqlite",),
    ),
    Row(
        "sqlite-file-locked-by-another-writer",
        ("rollback",),
        names="sqlite:///{file} is locked",
        before=(("migrate",),),
        hold="sqlite-write",
        dialects=("sqlite",),
    ),
]


@pytest.mark.parametrize(("row", "dialect"), cases(ROWS))
def test_bad_input_on_sqlite(row: Row, dialect: Dialect, tmp_path: Path) -> None:
    run_row(row, dialect, tmp_path)
