"""Startup and readiness on PostgreSQL: a server that is unreachable, missing,
down, hung or locked is named within its wait, never with the password."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import suppress
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.app import create_app, readiness
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.postgresql import PostgresSessionPool
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.session import open_session, session_scope
from {{ cookiecutter.package_name }}.errors import DatabaseUnavailableError
from {{ cookiecutter.package_name }}.migrator.runner import run_migrations
from {{ cookiecutter.package_name }}.startup import prepare_database
from conftest import settings_for
from helpers_postgresql import postgres_schema_target, postgres_server


def test_startup_gives_up_on_an_unreachable_server_after_its_wait_without_the_password() -> None:
    settings = load_settings(
        {"DATABASE_URL": "postgresql://svc:s3cret-pw@127.0.0.1:1/app", "DB_CONNECT_TIMEOUT": "1"},
        env_file=None,
    )
    started = time.monotonic()

    with pytest.raises(DatabaseUnavailableError, match="within 1 s") as raised:
        prepare_database(settings)

    assert time.monotonic() - started < 10
    assert "s3cret-pw" not in str(raised.value)
    assert "postgresql://svc@127.0.0.1:1/app" in str(raised.value)


def test_a_missing_database_fails_at_once_instead_of_waiting() -> None:
    missing = replace(postgres_server(), dbname="no_database_has_this_name")
    started = time.monotonic()

    with pytest.raises(DatabaseUnavailableError, match="does not exist"):
        open_session(missing, wait=60)

    # Far below the 60 s wait: the server's refusal is not retried.
    assert time.monotonic() - started < 30


class FlakyServer:
    """A TCP proxy to the test server that a test can hang or take down, to
    play a database that stops answering without touching the real server."""

    def __init__(self, server: PostgresTarget) -> None:
        self._upstream = (server.host, server.port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # so that the accept loop notices down()
        self.port: int = self._listener.getsockname()[1]
        self._answering = threading.Event()
        self._answering.set()
        self._down = threading.Event()
        self._guard = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._pumps: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def __enter__(self) -> FlakyServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.down()
        for pump in self._pumps:
            pump.join(timeout=10)
        for sock in self._sockets:
            sock.close()

    def hang(self) -> None:
        """Keep accepting connections and reading what arrives, but answer nothing."""
        self._answering.clear()

    def down(self) -> None:
        """Drop every connection and refuse new ones, as a stopped server does."""
        self._down.set()
        self._acceptor.join(timeout=10)  # it closes the listening socket
        with self._guard:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._answering.set()  # the held pumps see the server is down and end

    def _accept(self) -> None:
        with self._listener:
            while not self._down.is_set():
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                upstream = socket.create_connection(self._upstream)
                with self._guard:
                    self._sockets += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    self._pumps.append(threading.Thread(target=self._pump, args=(source, sink), daemon=True))
                    self._pumps[-1].start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                self._answering.wait()  # hung: what arrived is held, nothing goes on
                if self._down.is_set():
                    break
                sink.sendall(data)
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def timed_get(client: TestClient, path: str) -> tuple[float, dict[str, object], int]:
    started = time.monotonic()
    response = client.get(path)
    return time.monotonic() - started, response.json(), response.status_code


# READY_TIMEOUT is 0.5 s in these tests; each answer must come well before
# the pool's default wait of 30 s, with room for a slow machine.
READY_BOUND = 0.5 + 3


def test_ready_says_why_within_ready_timeout_once_the_database_is_down() -> None:
    with postgres_schema_target(postgres_server()) as direct, FlakyServer(direct) as flaky:
        with session_scope(direct) as session:
            run_migrations(session)
        # trust authentication ignores the password: it is there to be kept out of every answer.
        through = replace(direct, host="127.0.0.1", port=flaky.port, password="s3cret-pw")
        settings = settings_for(through, READY_TIMEOUT="0.5", DB_POOL_MIN="1", DB_POOL_MAX="1")
        with TestClient(create_app(settings)) as client:
            assert client.get("/ready").json() == {"status": "ready"}
            flaky.down()
            answers = [timed_get(client, "/ready") for _ in range(3)]

    assert [status for _, _, status in answers] == [503, 503, 503]
    assert all(elapsed < READY_BOUND for elapsed, _, _ in answers)
    reasons = [str(body["reason"]) for _, body, _ in answers]
    # The pooled connection died with the server; then the pool cannot open another.
    assert reasons[0].startswith(f"lost the connection to {through.describe()}: ")
    assert reasons[2].startswith("no database connection within 0.5 s: ")
    assert f"port {flaky.port} failed: Connection refused" in reasons[2]
    assert not [reason for reason in reasons if "s3cret-pw" in reason]


def test_ready_gives_up_within_ready_timeout_on_a_server_that_never_answers() -> None:
    with postgres_schema_target(postgres_server()) as direct, FlakyServer(direct) as flaky:
        with session_scope(direct) as session:
            run_migrations(session)
        through = replace(direct, host="127.0.0.1", port=flaky.port)
        settings = settings_for(through, READY_TIMEOUT="0.5", DB_POOL_MIN="1", DB_POOL_MAX="1")
        with TestClient(create_app(settings)) as client:
            assert client.get("/ready").json() == {"status": "ready"}
            flaky.hang()
            on_the_pooled_connection = timed_get(client, "/ready")
            while_reconnecting = timed_get(client, "/ready")
            flaky.down()  # ends the pool's hung attempt to reconnect, so that it closes at once

    elapsed, body, status = on_the_pooled_connection
    assert status == 503
    assert body == {"status": "unavailable", "reason": "the database did not answer within 0.5 s"}
    assert elapsed < READY_BOUND
    elapsed, body, status = while_reconnecting
    assert status == 503
    assert body["reason"] == (
        "no database connection within 0.5 s: no connection came free and no new one has opened yet"
    )
    assert elapsed < READY_BOUND


def test_ready_gives_up_on_a_table_held_by_a_lock_within_ready_timeout() -> None:
    with postgres_schema_target(postgres_server()) as target:
        with session_scope(target) as session:
            run_migrations(session)
        pool = PostgresSessionPool(target, min_size=1, max_size=1)
        pool.open(wait=10)
        try:
            with session_scope(target) as holder, holder.transaction():
                holder.execute("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
                started = time.monotonic()
                blocked = readiness(pool, timeout=0.5)
                elapsed = time.monotonic() - started
            released = readiness(pool, timeout=0.5)
        finally:
            pool.close()

    assert blocked.status_code == 503
    assert json.loads(bytes(blocked.body)) == {
        "status": "unavailable",
        "reason": "the database did not answer within 0.5 s",
    }
    assert elapsed < READY_BOUND
    assert released.status_code == 200


def test_a_bounded_session_bounds_its_statements_and_hands_the_connection_back_as_it_was() -> None:
    with postgres_schema_target(postgres_server()) as target:
        pool = PostgresSessionPool(target, min_size=1, max_size=1)
        pool.open(wait=10)
        try:
            with pool.session() as pooled:
                before = pooled.execute("SELECT pg_backend_pid(), current_setting('statement_timeout')")
            with pool.session(timeout=30) as pooled:
                inside = pooled.execute(
                    "SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'"
                )
            with pool.session() as pooled:
                after = pooled.execute("SELECT pg_backend_pid(), current_setting('statement_timeout')")
        finally:
            pool.close()

    # The server cancels a statement that runs past the session's budget (in ms) ...
    assert 0 < inside[0][0] <= 30_000
    # ... and the pool's next user gets the same connection with the server's default.
    assert after == before
