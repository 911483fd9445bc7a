"""Bad input and bad conditions on PostgreSQL: one clear line naming what was
wrong, exit 1, nothing lost, never a password. The migration guide's
troubleshooting table lists the same errors; the others are in test_cli,
test_config and test_migrations."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.database.target import Dialect
from bad_input_table import Row, cases, run_row
from conftest import cli
from helpers_postgresql import postgres_server

SSL_OR_GSS_REQUEST = (80877103, 80877104)


@contextmanager
def server_refusing_the_password() -> Iterator[int]:
    """A listener that speaks PostgreSQL's protocol up to asking for a password,
    then refuses it as a server does (SQLSTATE 28P01). The machine's real server
    trusts local connections, so a wrong password cannot be provoked on it."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                refuse(client)

    def refuse(client: socket.socket) -> None:
        while True:
            length, code = struct.unpack("!ii", client.recv(8, socket.MSG_WAITALL))
            if code in SSL_OR_GSS_REQUEST:
                client.sendall(b"N")  # no TLS, no GSS: go on in clear
                continue
            client.recv(length - 8, socket.MSG_WAITALL)  # the startup parameters
            break
        client.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        client.recv(1, socket.MSG_WAITALL)
        (length,) = struct.unpack("!i", client.recv(4, socket.MSG_WAITALL))
        client.recv(length - 4, socket.MSG_WAITALL)  # the password, read and forgotten
        fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "svc"\0\0'
        client.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()


def test_a_wrong_password_fails_at_once_without_showing_it() -> None:
    with server_refusing_the_password() as port:
        started = time.monotonic()
        result = cli(
            "migrate",
            DATABASE_URL=f"postgresql://svc:Wr0ng-s3cret@127.0.0.1:{port}/app",
            DB_CONNECT_TIMEOUT="60",
        )
        elapsed = time.monotonic() - started

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot connect to postgresql://svc@127.0.0.1:{port}/app: ")
    assert line.endswith('FATAL:  password authentication failed for user "svc"')
    assert "Wr0ng-s3cret" not in result.stdout + result.stderr
    assert elapsed < 30  # not retried for DB_CONNECT_TIMEOUT: a wrong password will not fix itself


def test_a_missing_database_is_named_in_one_line() -> None:
    server = postgres_server()
    url = f"postgresql://{server.user}@{server.host}:{server.port}/no_database_has_this_name"

    result = cli("status", DATABASE_URL=url, DB_CONNECT_TIMEOUT="60")

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot connect to {url}: ")
    assert line.endswith('database "no_database_has_this_name" does not exist')


# A PostgreSQL server given as parts rather than a URL (the password rides in DB_PASSWORD).
DB_PARTS = {
    "DATABASE_URL": "",
    "DB_HOST": "{host}",
    "DB_PORT": "{port}",
    "DB_USER": "postgres",
    "DB_NAME": "{dbname}",
}

ROWS = [
    # 2. A raw / # ? @ : % in the password: the URL does not parse; say how to encode it.
    Row(
        "password-not-percent-encoded",
        ("status",),
        names="DATABASE_URL",
        env={"DATABASE_URL": "postgresql://postgres:{password}@127.0.0.1:5432/postgres"},
        dialects=("postgresql",),
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
    # 12. DB_POOL_MIN beyond what the server can hold: refused before the server starts.
    Row(
        "pool-min-beyond-max-connections",
        ("serve",),
        names="DB_POOL_MIN",
        env={"DB_POOL_MIN": "10000", "DB_POOL_MAX": "10000", "PORT": "1"},
        dialects=("postgresql",),
    ),
    # The direct URL for migrations is checked like DATABASE_URL, and named.
    Row(
        "migration-url-not-percent-encoded",
        ("migrate",),
        names="MIGRATION_DATABASE_URL",
        env={"MIGRATION_DATABASE_URL": "postgresql://postgres:{password}@127.0.0.1:5432/postgres"},
        dialects=("postgresql",),
    ),
    Row(
        "migration-url-another-dialect",
        ("migrate",),
        names="MIGRATION_DATABASE_URL",
        env={"MIGRATION_DATABASE_URL": "sqlite:///data/other.db"},
        dialects=("postgresql",),
        needs=("sqlite",),
    ),
    Row(
        "prepared-statements-not-a-boolean",
        ("status",),
        names="DB_PREPARED_STATEMENTS",
        env={"DB_PREPARED_STATEMENTS": "sometimes"},
        dialects=("postgresql",),
    ),
    # 13. A blank password in production.
    Row(
        "production-blank-password",
        ("status",),
        names="password",
        env={"APP_ENV": "production", "DATABASE_URL": "postgresql://postgres:%20@{server}/{dbname}"},
        dialects=("postgresql",),
    ),
    # 14. A default password in the migrations' own URL only.
    Row(
        "production-default-migration-password",
        ("status",),
        names="in MIGRATION_DATABASE_URL (set MIGRATION_DATABASE_URL's password",
        env={
            "APP_ENV": "production",
            "MIGRATION_DATABASE_URL": "postgresql://postgres:postgres@{server}/{dbname}",
        },
        dialects=("postgresql",),
    ),
]


@pytest.mark.parametrize(("row", "dialect"), cases(ROWS))
def test_bad_input_on_postgresql(row: Row, dialect: Dialect, tmp_path: Path) -> None:
    run_row(row, dialect, tmp_path)
