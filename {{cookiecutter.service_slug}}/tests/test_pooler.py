"""Behind PgBouncer in transaction mode: the app's traffic goes through the
pooler, migrations take a direct connection (MIGRATION_DATABASE_URL), and a
runner pointed at the pooler stops before it changes anything."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.session import open_session_pool
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.startup import prepare_database
from {{ cookiecutter.package_name }}.users import UserRepository
from conftest import cli, settings_for
from helpers_pgbouncer import fresh_database, open_server_connections, pgbouncer
from helpers_postgresql import url

# Requests per thread: well past psycopg's 5 runs of one query before it
# prepares the query on the server, which a transaction pooler cannot follow.
REQUESTS = 40
THREADS = 8


def tables_of(database: PostgresTarget) -> list[str]:
    """What the database holds, asked directly (not through the pooler)."""
    with psycopg.connect(**database.connect_kwargs()) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    return sorted(row[0] for row in rows)


def test_migrate_through_a_transaction_pooler_stops_before_changing_anything() -> None:
    with fresh_database() as database, pgbouncer(database, server_connections=2, round_robin=True) as pooled:
        open_server_connections(pooled, 2)

        result = cli("migrate", DATABASE_URL=url(pooled))

        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: migrations cannot run through postgresql://"), line
        assert "transaction-mode pooler" in line
        assert "set MIGRATION_DATABASE_URL to a direct connection" in line
        assert "Traceback" not in result.stderr
        assert tables_of(database) == []


def test_the_startup_runner_through_the_pooler_stops_too() -> None:
    with fresh_database() as database, pgbouncer(database, server_connections=2, round_robin=True) as pooled:
        open_server_connections(pooled, 2)
        settings = settings_for(pooled, DB_PREPARED_STATEMENTS="false")

        with pytest.raises(ConfigError, match="set MIGRATION_DATABASE_URL to a direct connection"):
            prepare_database(settings)

        assert tables_of(database) == []


def test_migrations_take_the_direct_url_while_the_app_goes_through_the_pooler() -> None:
    with fresh_database() as database, pgbouncer(database, server_connections=1) as pooled:
        variables = {"MIGRATION_DATABASE_URL": url(database), "DB_PREPARED_STATEMENTS": "false"}
        settings = settings_for(pooled, **variables)

        migrated = cli("migrate", DATABASE_URL=url(pooled), **variables)
        applied = prepare_database(settings)

        assert migrated.returncode == 0, migrated.stderr
        assert applied == []  # the CLI applied them all, through the direct URL
        assert "schema_migrations" in tables_of(database)
        assert settings.database.describe() == pooled.describe()
        assert settings.migration_database.describe() == database.describe()

        pool = open_session_pool(settings.database, min_size=THREADS, max_size=THREADS)
        pool.open(wait=10)
        failures: list[str] = []
        lock = threading.Lock()

        def one_client(number: int) -> None:
            email = f"user{number}@example.com"
            with pool.session() as session:
                UserRepository(session).create(email=email, password="pw-123456", name=f"User {number}")
            for _ in range(REQUESTS):
                with pool.session() as session:
                    found = UserRepository(session).get_by_email(email)
                if found is None or found.email != email:
                    with lock:
                        failures.append(f"{email}: {found}")

        try:
            with ThreadPoolExecutor(THREADS) as clients:
                list(clients.map(one_client, range(THREADS)))
        finally:
            pool.close()

        assert failures == []
        with psycopg.connect(**database.connect_kwargs()) as direct:
            row = direct.execute("SELECT count(*) FROM users").fetchone()
        assert row is not None
        assert row[0] == THREADS
