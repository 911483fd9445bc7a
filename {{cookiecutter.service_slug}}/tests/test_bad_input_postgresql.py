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
