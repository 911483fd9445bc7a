"""Tenants behind PgBouncer in transaction mode, the worst case: one server
connection shared by every request, requests alternating between tenants,
some failing mid-transaction. Each must see its own tenant's rows only."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg import sql

from {{ cookiecutter.package_name }}.database.session import open_session_pool, session_scope
from {{ cookiecutter.package_name }}.errors import DuplicateEmailError
from {{ cookiecutter.package_name }}.tenants.creation import create_tenant
from {{ cookiecutter.package_name }}.tenants.schemas import tenant_session
from {{ cookiecutter.package_name }}.users import UserRepository
from conftest import settings_for
from helpers_pgbouncer import fresh_database, pgbouncer
from helpers_postgresql import url

TENANTS = ("north", "south", "east", "west")
USERS_PER_TENANT = 3
THREADS = 8
REQUESTS_PER_THREAD = 60
# Every FAIL_EVERY-th request inserts an email its tenant already has: the
# error rolls its transaction back in the middle, on the shared connection.
FAIL_EVERY = 7


def email(tenant: str, number: int) -> str:
    return f"user{number}@{tenant}.example"


def test_no_request_ever_sees_another_tenants_rows_through_the_pooler() -> None:
    with fresh_database() as database, pgbouncer(database, server_connections=1) as pooled:
        settings = settings_for(pooled, MIGRATION_DATABASE_URL=url(database), DB_PREPARED_STATEMENTS="false")
        with session_scope(settings.migration_database) as direct:
            for tenant in TENANTS:
                create_tenant(direct, tenant)
        pool = open_session_pool(settings.database, min_size=THREADS, max_size=THREADS)
        pool.open(wait=10)
        for tenant in TENANTS:
            with tenant_session(pool, tenant) as session:
                users = UserRepository(session)
                for number in range(USERS_PER_TENANT):
                    users.create(email=email(tenant, number), password="pw-123456", name="U")

        outcomes: Counter[str] = Counter()
        leaks: list[str] = []
        lock = threading.Lock()

        def one_request(thread: int, number: int) -> None:
            tenant = TENANTS[(thread + number) % len(TENANTS)]
            fail = number % FAIL_EVERY == thread % FAIL_EVERY
            rows: list[tuple[object, ...]] = []
            try:
                with tenant_session(pool, tenant) as session:
                    rows = session.execute("SELECT email FROM users ORDER BY email")
                    if fail:
                        UserRepository(session).create(email=email(tenant, 0), password="pw-123456", name="U")
            except DuplicateEmailError:
                outcome = "failed as meant"
            else:
                outcome = "failed to fail" if fail else "served"
            seen = [row[0] for row in rows]
            with lock:
                outcomes[outcome] += 1
                if seen != [email(tenant, n) for n in range(USERS_PER_TENANT)]:
                    leaks.append(f"{tenant} saw {seen}")

        def one_client(thread: int) -> None:
            for number in range(REQUESTS_PER_THREAD):
                one_request(thread, number)

        try:
            with ThreadPoolExecutor(THREADS) as clients:
                list(clients.map(one_client, range(THREADS)))
        finally:
            pool.close()

        requests = THREADS * REQUESTS_PER_THREAD
        print(f"through PgBouncer: {requests} requests, {len(TENANTS)} tenants, {len(leaks)} leaks")
        assert leaks == []
        assert outcomes["failed to fail"] == 0
        assert outcomes["served"] + outcomes["failed as meant"] == requests
        assert outcomes["failed as meant"] > 0
        with psycopg.connect(**database.connect_kwargs()) as direct_connection:
            for tenant in TENANTS:
                query = sql.SQL("SELECT count(*) FROM {}.users").format(sql.Identifier(f"tenant_{tenant}"))
                row = direct_connection.execute(query).fetchone()
                assert row is not None
                assert row[0] == USERS_PER_TENANT, tenant
