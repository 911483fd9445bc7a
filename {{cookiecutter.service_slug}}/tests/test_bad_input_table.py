"""Bad input, one row per case, on every dialect this service has.

Each row is run by `bad_input_table.run_row`: exit code, exactly one line on
stderr naming what was wrong, the database and the files unchanged, and the
password `S3c/r#t?@:%x` nowhere in stdout, stderr or the logs. Cases that need
a server of their own (a wrong password, a read-only file, Ctrl-C) are in
test_bad_input_<dialect>.py; rows for an option's own commands are in
test_bad_input_<option>.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.database.target import SUPPORTED_DIALECTS, Dialect
from bad_input_table import Row, run_row

FIRST = "0001_create_users_table"
BROKEN_PYTHON = "from yoyo import step\n\nsteps = [step('CREATE TABLE broken (id INTEGER)'\n"


# A PostgreSQL server given as parts rather than a URL (the password rides in DB_PASSWORD).
DB_PARTS = {
    "DATABASE_URL": "",
    "DB_HOST": "{host}",
    "DB_PORT": "{port}",
    "DB_USER": "postgres",
    "DB_NAME": "{dbname}",
}


def number(variable: str, value: str, command: str = "migrate") -> Row:
    return Row(f"{variable}={value}", (command,), names=variable, env={variable: value})


ROWS = [
    # 1. A mistyped PostgreSQL URL is never a SQLite path, and shows no password.
    Row(
        "url-without-colon-in-production",
        ("status",),
        names="DATABASE_URL",
        env={"APP_ENV": "production", "DATABASE_URL": "postgresql//app:{password}@db.prod:5432/auth"},
    ),
    Row("url-without-colon", ("migrate",), names="DATABASE_URL", env={"DATABASE_URL": "postgres//app@db/x"}),
    Row(
        "url-unknown-scheme",
        ("status",),
        names="DATABASE_URL",
        env={"DATABASE_URL": "mysql://app:{encoded}@db/x"},
    ),
    # 2. A raw / # ? @ : % in the password: the URL does not parse; say how to encode it.
    Row(
        "password-not-percent-encoded",
        ("status",),
        names="DATABASE_URL",
        env={"DATABASE_URL": "postgresql://postgres:{password}@127.0.0.1:5432/postgres"},
    ),
    # 3. and 6. URL options: libpq's own pass through; unknown or invalid ones fail at once.
    Row(
        "url-unknown-option",
        ("status",),
        names="foo",
        env={"DATABASE_URL": "{url}&foo=bar"},
        dialects=("postgresql",),
    ),
    Row(
        "url-invalid-sslmode",
        ("status",),
        names="sslmode",
        env={"DATABASE_URL": "{url}&sslmode=bogus", "DB_CONNECT_TIMEOUT": "60"},
        dialects=("postgresql",),
    ),
    Row(
        "url-missing-database",
        ("migrate",),
        names="no_database_has_this_name",
        env={"DATABASE_URL": "postgresql://postgres:{encoded}@{server}/no_database_has_this_name"},
        dialects=("postgresql",),
    ),
    # 6. The same through DB_* parts instead of a URL.
    *(
        Row(
            f"{variable}={value}",
            ("status",),
            names=variable if variable != "DB_SSLMODE" else "sslmode",
            env={**DB_PARTS, variable: value},
            dialects=("postgresql",),
        )
        for variable, value in (("DB_SSLMODE", "bogus"), ("DB_PORT", "http"), ("DB_PORT", "70000"))
    ),
    # 1. Production never falls back to the local SQLite file on its own.
    Row(
        "production-without-a-database-url",
        ("migrate",),
        names="DATABASE_URL",
        env={"APP_ENV": "production", "DATABASE_URL": "", "DB_PASSWORD": ""},
        dialects=("sqlite",),
        needs=("postgresql", "sqlite"),
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
    # 12. DB_POOL_MIN beyond what the server can hold: refused before the server starts.
    Row(
        "pool-min-beyond-max-connections",
        ("serve",),
        names="DB_POOL_MIN",
        env={"DB_POOL_MIN": "10000", "DB_POOL_MAX": "10000", "PORT": "1"},
        dialects=("postgresql",),
    ),
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
    # 13. A blank password in production.
    Row(
        "production-blank-password",
        ("status",),
        names="password",
        env={"APP_ENV": "production", "DATABASE_URL": "postgresql://postgres:%20@{server}/{dbname}"},
        dialects=("postgresql",),
    ),
]


def cases() -> list[object]:
    return [
        pytest.param(row, dialect, id=f"{row.id}[{dialect}]")
        for row in ROWS
        for dialect in row.dialects
        if dialect in SUPPORTED_DIALECTS and set(row.needs) <= set(SUPPORTED_DIALECTS)
    ]


@pytest.mark.parametrize(("row", "dialect"), cases())
def test_bad_input(row: Row, dialect: Dialect, tmp_path: Path) -> None:
    run_row(row, dialect, tmp_path)
