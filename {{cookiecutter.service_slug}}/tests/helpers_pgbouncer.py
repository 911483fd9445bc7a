"""A PgBouncer of the test's own, in transaction mode, in front of the test server.

Each use starts Debian's `pgbouncer` on a free port with a config file it
writes, in front of a fresh database of its own (PgBouncer does not pass on
the `options` that give the other tests a schema of their own), and stops it
afterwards. Without pgbouncer installed these tests are skipped with the
reason, unless REQUIRE_PGBOUNCER=1, where that fails the run (as in CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from helpers_postgresql import missing, postgres_server

STARTUP_WAIT = 30.0


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or next(
        (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(path, os.X_OK)), None
    )
    if found is None:
        missing(
            "pgbouncer is not installed: the pooler tests need it (apt-get install pgbouncer)",
            "REQUIRE_PGBOUNCER",
        )
    return found


@contextmanager
def fresh_database() -> Iterator[PostgresTarget]:
    """A new database on the test server, dropped afterwards (with whatever
    server connections a pooler still holds to it)."""
    server = postgres_server()
    name = f"test_pooler_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(**server.connect_kwargs(), autocommit=True)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield replace(server, dbname=name, params={})
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def pgbouncer(
    server: PostgresTarget, *, server_connections: int, round_robin: bool = False
) -> Iterator[PostgresTarget]:
    """PgBouncer in transaction mode in front of `server`'s database, with at
    most `server_connections` to it; yields the target that goes through it.
    `round_robin` hands each transaction the server connection idle longest,
    so that one client's consecutive transactions change connection."""
    binary = pgbouncer_binary()
    # Readable by the unprivileged user PgBouncer switches to when started by root.
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    folder.chmod(0o755)
    port = free_port()
    address = f"host={server.host or '127.0.0.1'} port={server.port} dbname={server.dbname}"
    login = f" user={server.user}" + (f" password={server.password}" if server.password else "")
    config = folder / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"{server.dbname} = {address}{login}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = any\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {server_connections}\n"
        f"server_round_robin = {int(round_robin)}\n"
        "max_client_conn = 500\n"
        "server_login_retry = 1\n"
    )
    config.chmod(0o644)
    command = [binary, str(config)]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]
    log = folder / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    pooled = replace(server, host="127.0.0.1", port=port, params={})
    try:
        wait_until_accepting(pooled, process, log)
        yield pooled
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def wait_until_accepting(pooled: PostgresTarget, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_WAIT
    while True:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited with {process.returncode}: {log.read_text().strip()}")
        try:
            with psycopg.connect(**pooled.connect_kwargs(), connect_timeout=2) as connection:
                connection.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def open_server_connections(pooled: PostgresTarget, count: int) -> None:
    """Make the pooler open `count` server connections: as many clients inside
    a transaction at once, which then commit and leave them idle in the pool."""
    clients = [psycopg.connect(**pooled.connect_kwargs(), prepare_threshold=None) for _ in range(count)]
    try:
        for client in clients:
            client.execute("SELECT 1")  # holds a server connection until its commit
        for client in clients:
            client.commit()
    finally:
        for client in clients:
            client.close()
