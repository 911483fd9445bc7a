"""Bad input, one row per case, on every dialect this service has.

Each row is run by `bad_input_table.run_row`: exit code, exactly one line on
stderr naming what was wrong, the database and the files unchanged, and the
password `S3c/r#t?@:%x` nowhere in stdout, stderr or the logs. Rows for one
dialect, and cases that need a server of their own (a wrong password, a
read-only file, Ctrl-C), are in test_bad_input_<dialect>.py; rows for an
option's own commands are in test_bad_input_<option>.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.database.target import Dialect
from bad_input_table import Row, cases, run_row

FIRST = "0001_create_users_table"
BROKEN_PYTHON = "from yoyo import step\n\nsteps = [step('CREATE TABLE broken (id INTEGER)'\n"


def number(variable: str, value: str, command: str = "migrate") -> Row:
    return Row(f"{variable}={value}", (command,), names=variable, env={variable: value})


ROWS = [
    # 1. A mistyped URL is never a file path, and shows no password.
    Row(
        "url-without-colon-in-production",
        ("status",),
        names="DATABASE_URL",
        env={"APP_ENV": "production", "DATABASE_URL": "{dialect}//app:{password}@db.prod:5432/auth"},
    ),
    Row("url-without-colon", ("migrate",), names="DATABASE_URL", env={"DATABASE_URL": "{dialect}//app@db/x"}),
    Row(
        "url-unknown-scheme",
        ("status",),
        names="DATABASE_URL",
        env={"DATABASE_URL": "mysql://app:{encoded}@db/x"},
    ),
    # 8. Every number finite and in range, checked before anything runs.
    number("DB_CONNECT_TIMEOUT", "nan"),
    number("DB_CONNECT_TIMEOUT", "inf"),
    number("DB_CONNECT_TIMEOUT", "1e400"),
    number("DB_CONNECT_TIMEOUT", "-1"),
    number("DB_POOL_MIN", "--5"),
    number("DB_POOL_MAX", "0"),
    number("MIGRATION_LOCK_TIMEOUT", "inf"),
    number("MIGRATION_LOCK_TIMEOUT", "3000000"),
    number("MIGRATION_DDL_LOCK_TIMEOUT", "-2"),
    number("MIGRATION_DDL_RETRY_WINDOW", "nan"),
    number("PORT", "99999", command="serve"),
    number("PORT", "http", command="serve"),
    Row("unknown-log-level", ("migrate",), names="LOG_LEVEL", env={"LOG_LEVEL": "loud"}),
    # 11. An in-memory database cannot serve.
    Row("serve-in-memory", ("serve",), names="DATABASE_URL", env={"DATABASE_URL": "sqlite:///:memory:"}),
    # 12. Python files that do not import: a migration, under migrate and the dry run; a seed.
    *(
        Row(
            f"python-migration-syntax-error-{'-'.join(command)}",
            command,
            names="0002_broken.py",
            files={"migrations/{dialect}/0002_broken.py": BROKEN_PYTHON},
        )
        for command in (("migrate",), ("migrate", "--dry-run"))
    ),
    Row(
        "seed-syntax-error",
        ("seed",),
        names="seed 0002_broken",
        files={"seeds/0002_broken.py": "def run(session)\n"},
    ),
    # 10. A batch rollback is all or nothing.
    Row(
        "batch-rollback-fails-midway",
        ("rollback",),
        names="0002_create_teams.sql",
        files={
            "migrations/{dialect}/0002_create_teams.sql": "CREATE TABLE teams (id INTEGER);",
            "migrations/{dialect}/0002_create_teams.rollback.sql": "DROP TABLE no_such_table;",
            "migrations/{dialect}/0003_create_roles.sql": "CREATE TABLE roles (id INTEGER);",
            "migrations/{dialect}/0003_create_roles.rollback.sql": "DROP TABLE roles;",
        },
        before=(("migrate",),),
    ),
    # 13. Migration files: no name, one number twice, one name twice.
    Row(
        "migration-file-without-a-name",
        ("migrate",),
        names="0002.sql",
        files={"migrations/{dialect}/0002.sql": "CREATE TABLE teams (id INTEGER);"},
    ),
    Row(
        "two-migrations-with-one-number",
        ("migrate",),
        names="0002_create_roles.sql and 0002_create_teams.sql",
        files={
            "migrations/{dialect}/0002_create_teams.sql": "CREATE TABLE teams (id INTEGER);",
            "migrations/{dialect}/0002_create_teams.rollback.sql": "DROP TABLE teams;",
            "migrations/{dialect}/0002_create_roles.sql": "CREATE TABLE roles (id INTEGER);",
            "migrations/{dialect}/0002_create_roles.rollback.sql": "DROP TABLE roles;",
        },
    ),
    Row(
        "make-migration-name-used-twice",
        ("make-migration", "add_email"),
        names="add_email",
        before=(("make-migration", "add_email"),),
    ),
    Row("make-migration-bad-name", ("make-migration", "Add Email!"), names="Add Email!"),
    # 13. Drift: production refuses to migrate or roll back over an edited or deleted file.
    *(
        Row(
            f"production-{command}-over-a-{change}-file",
            (command,),
            names=FIRST,
            env={"APP_ENV": "production", "ALLOW_SQLITE_IN_PRODUCTION": "true"},
            before=(("migrate",),),
            later_files={"migrations/{dialect}/" + FIRST + ".sql": content},
        )
        for command in ("migrate", "rollback")
        for change, content in (("deleted", None), ("edited", "CREATE TABLE users (id INTEGER);"))
    ),
]


@pytest.mark.parametrize(("row", "dialect"), cases(ROWS))
def test_bad_input(row: Row, dialect: Dialect, tmp_path: Path) -> None:
    run_row(row, dialect, tmp_path)
