"""Tenants on a Citus cluster (CITUS_TEST_URL): each tenant schema a
distributed schema, its node reported, a tenant moved with all its data, and
what Citus refuses failing like any migration. The rest of the tenant suite
runs on the cluster too (helpers_tenants.SERVERS); these tests are Citus's own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.postgresql import PostgresSession
from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from {{ cookiecutter.package_name }}.tenants.creation import create_tenant
from {{ cookiecutter.package_name }}.tenants.one_tenant import run_tenant_migrations
from {{ cookiecutter.package_name }}.tenants.startup import log_citus
from conftest import cli, target_url
from helpers_citus import shared_schema_on

pytest_plugins = ["helpers_tenants"]

FIRST = "0001_create_users_table"
NewTenantId = Callable[[str], str]


@pytest.fixture(params=["citus"])
def shared_target(request: pytest.FixtureRequest) -> Iterator[PostgresTarget]:
    """A fresh shared schema on the Citus cluster's coordinator (only there)."""
    with shared_schema_on(request.param) as target:
        yield target


def node_of(session: PostgresSession, tenant_id: str) -> str | None:
    """Where Citus keeps the tenant's tables, read from Citus's own view."""
    rows = session.execute(
        "SELECT DISTINCT nodename || ':' || nodeport FROM citus_shards WHERE table_name::text LIKE %s",
        (f"tenant_{tenant_id}.%",),
    )
    assert len(rows) <= 1, f"a tenant's tables on more than one node: {rows}"
    return str(rows[0][0]) if rows else None


def workers(session: PostgresSession) -> list[str]:
    rows = session.execute(
        "SELECT nodename || ':' || nodeport FROM pg_dist_node WHERE shouldhaveshards AND isactive ORDER BY 1"
    )
    return [str(row[0]) for row in rows]


def is_distributed(session: PostgresSession, tenant_id: str) -> bool:
    rows = session.execute(
        "SELECT count(*) FROM pg_dist_schema WHERE schemaid = to_regnamespace(%s)", (f"tenant_{tenant_id}",)
    )
    return bool(rows[0][0])


def users_fingerprint(session: PostgresSession, tenant_id: str) -> tuple[int, str]:
    """How many users the tenant has, and a checksum of every row."""
    rows = session.execute(
        "SELECT count(*), md5(coalesce(string_agg(u::text, '|' ORDER BY u.id), '')) "
        f'FROM "tenant_{tenant_id}".users AS u'
    )
    return int(rows[0][0]), str(rows[0][1])


def history(session: PostgresSession, tenant_id: str) -> list[tuple[str, int, str]]:
    rows = session.execute(
        f'SELECT id, batch, checksum FROM "tenant_{tenant_id}".schema_migrations ORDER BY id'
    )
    return [(str(row[0]), int(row[1]), str(row[2])) for row in rows]


def test_a_new_tenant_is_a_distributed_schema_and_its_node_is_reported(
    shared_target: PostgresTarget, shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    url = target_url(shared_target)
    acme = new_tenant_id("acme")

    created = cli("tenant-create", acme, DATABASE_URL=url)
    status = cli("tenants", DATABASE_URL=url)

    assert created.returncode == 0, created.stderr
    assert is_distributed(shared, acme)
    node = node_of(shared, acme)
    assert node in workers(shared)
    assert status.returncode == 0, status.stderr
    assert "Nodes (Citus " in status.stdout
    assert f"  {acme}  {node}  up to date" in status.stdout.splitlines()


def test_distribution_turned_off_keeps_new_tenants_on_the_coordinator(
    shared_target: PostgresTarget, shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    url = target_url(shared_target)
    local = new_tenant_id("local")

    created = cli("tenant-create", local, DATABASE_URL=url, DISTRIBUTE_TENANT_SCHEMAS="false")
    status = cli("tenants", DATABASE_URL=url)
    moved = cli("tenant-move", local, workers(shared)[0], DATABASE_URL=url)

    assert created.returncode == 0, created.stderr
    assert not is_distributed(shared, local)
    assert f"  {local}  coordinator  up to date" in status.stdout.splitlines()
    assert moved.returncode == 1
    assert moved.stderr.strip().splitlines() == [
        f"error: tenant {local!r} is not a distributed schema, so Citus cannot move it "
        "(it was created before Citus, or with DISTRIBUTE_TENANT_SCHEMAS=false)"
    ]


def test_a_moved_tenant_keeps_every_row_and_its_history_and_still_migrates(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
) -> None:
    url = target_url(shared_target)
    acme = new_tenant_id("acme")
    create_tenant(shared, acme, source)
    shared.execute(
        f'INSERT INTO "tenant_{acme}".users (email, password_hash, name) '
        "SELECT 'user' || n || '@example.com', 'hash-' || n, 'User ' || n FROM generate_series(1, 500) AS n"
    )
    before = users_fingerprint(shared, acme), history(shared, acme)
    origin = node_of(shared, acme)
    destination = next(worker for worker in workers(shared) if worker != origin)

    moved = cli("tenant-move", acme, destination, DATABASE_URL=url)
    again = cli("tenant-move", acme, destination, DATABASE_URL=url)

    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.strip() == f"Moved tenant {acme} from {origin} to {destination} (block_writes)."
    assert again.stdout.strip() == f"Tenant {acme} is on {destination} already: nothing moved."
    assert node_of(shared, acme) == destination
    assert (users_fingerprint(shared, acme), history(shared, acme)) == before
    assert before[0][0] == 500
    (source.directory / "0002_add_nickname.sql").write_text("ALTER TABLE users ADD COLUMN nickname TEXT;")
    (source.directory / "0002_add_nickname.rollback.sql").write_text(
        "ALTER TABLE users DROP COLUMN nickname;"
    )
    result = run_tenant_migrations(shared, acme, source)
    assert (result.outcome, result.applied) == ("applied", ("0002_add_nickname",)), result.error
    assert users_fingerprint(shared, acme)[0] == 500


@pytest.mark.parametrize(
    ("name", "statement"),
    [
        (
            "0002_plan_reference",
            "ALTER TABLE users ADD COLUMN plan_id INTEGER REFERENCES {shared}.plans (id);",
        ),
        (
            "0002_names_from_other_tenant",
            'UPDATE users SET name = o.name FROM "tenant_{other}".users AS o WHERE o.email = users.email;',
        ),
    ],
    ids=["foreign-key-to-a-shared-table", "query-across-tenants"],
)
def test_what_citus_refuses_fails_like_any_migration(
    shared_target: PostgresTarget,
    shared: PostgresSession,
    new_tenant_id: NewTenantId,
    source: MigrationSource,
    name: str,
    statement: str,
) -> None:
    acme, other = new_tenant_id("acme"), new_tenant_id("other")
    create_tenant(shared, acme, source)
    create_tenant(shared, other, source)
    shared_schema = shared.execute("SELECT current_schema()")[0][0]
    shared.execute("CREATE TABLE plans (id INTEGER PRIMARY KEY)")
    (source.directory / f"{name}.sql").write_text(statement.format(shared=shared_schema, other=other))
    (source.directory / f"{name}.rollback.sql").write_text("SELECT 1;")
    before = history(shared, acme)

    result = run_tenant_migrations(shared, acme, source)

    assert result.outcome == "failed"
    assert result.error is not None
    assert f"{name}.sql" in result.error
    assert len(result.error.splitlines()) == 1
    assert history(shared, acme) == before
    columns = shared.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'users'",
        (f"tenant_{acme}",),
    )
    assert "plan_id" not in {row[0] for row in columns}


def test_startup_says_once_that_tenant_schemas_are_distributed(
    shared_target: PostgresTarget, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings({"DATABASE_URL": target_url(shared_target)}, env_file=None)

    with caplog.at_level(logging.INFO):
        log_citus(settings, shared_target)

    [message] = [record.getMessage() for record in caplog.records if "Citus" in record.getMessage()]
    assert message.startswith("Citus 1")
    assert message.endswith(" detected: tenant schemas are distributed")


def test_a_move_citus_refuses_leaves_the_tenant_where_it_was(
    shared_target: PostgresTarget, shared: PostgresSession, new_tenant_id: NewTenantId
) -> None:
    # auto (Citus's default mode) copies through logical replication only for
    # tables with a primary key or a replica identity: this one has neither.
    url = target_url(shared_target)
    acme = new_tenant_id("acme")
    create_tenant(shared, acme)
    shared.execute(f'CREATE TABLE "tenant_{acme}".notes (body TEXT)')
    origin = node_of(shared, acme)
    destination = next(worker for worker in workers(shared) if worker != origin)

    refused = cli("tenant-move", acme, destination, "--mode", "auto", DATABASE_URL=url)

    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: tenant {acme!r} was not moved from {origin}: "), line
    assert node_of(shared, acme) == origin
