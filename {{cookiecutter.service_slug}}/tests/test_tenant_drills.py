"""A crash in the middle of a tenant's migration, and the dry run, on every
test server (a plain PostgreSQL and a Citus cluster).

The slow step sleeps inside the database (pg_sleep, for as long as the
tenant's `drill_knob` says), so the runner is caught in the middle of a
migration on any machine; the sleep carries a token of its own, so that the
test finds its runner among others on the same server.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

from {{ cookiecutter.package_name }}.database.postgresql_target import PostgresTarget
from {{ cookiecutter.package_name }}.database.session import Session, session_scope
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from {{ cookiecutter.package_name }}.tenants.creation import create_tenant
from {{ cookiecutter.package_name }}.tenants.one_tenant import rollback_tenant_migrations, run_tenant_migrations
from conftest import cli, subprocess_env, target_url
from drills import wait_for

pytest_plugins = ["helpers_tenants"]

FIRST, SLOW = "0001_create_users_table", "0002_drill_slow"
NewTenantId = Callable[[str], str]

# One tenant's migrations, as `make migrate-tenant` runs them, on the drill's folder.
MIGRATE_ONE = """
import sys
from pathlib import Path
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.session import Session, session_scope
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from {{ cookiecutter.package_name }}.tenants.one_tenant import run_tenant_migrations

with session_scope(load_settings(env_file=None).database) as session:
    result = run_tenant_migrations(session, sys.argv[1], MigrationSource(Path(sys.argv[2])), lock_timeout=120)
print(result.outcome, ",".join(result.applied), result.error or "")
"""


def history(session: Session, tenant_id: str) -> list[tuple[str, int]]:
    rows = session.execute(f'SELECT id, batch FROM "tenant_{tenant_id}".schema_migrations ORDER BY id')
    return [(row[0], row[1]) for row in rows]


def tables(session: Session, tenant_id: str) -> set[str]:
    rows = session.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (f"tenant_{tenant_id}",))
    return {str(row[0]) for row in rows}


def sleeping(target: PostgresTarget, token: str) -> bool:
    with session_scope(target) as probe:
        rows = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND strpos(query, %s) > 0 "
            "AND pid <> pg_backend_pid()",
            (token,),
        )
    return bool(rows[0][0])


def test_sigkill_mid_tenant_migration_then_the_next_run_applies_it_once(
    shared_target: PostgresTarget, new_tenant_id: NewTenantId, source: MigrationSource
) -> None:
    tenant_id = new_tenant_id("crash")
    token = f"drill {uuid.uuid4().hex}"
    with session_scope(shared_target) as shared:
        create_tenant(shared, tenant_id, source)
        shared.execute(f'CREATE TABLE "tenant_{tenant_id}".drill_knob (seconds REAL NOT NULL)')
        shared.execute(f'INSERT INTO "tenant_{tenant_id}".drill_knob VALUES (60)')
    (source.directory / f"{SLOW}.sql").write_text(
        "CREATE TABLE drill_half (id INTEGER);\n"
        f"SELECT pg_sleep((SELECT seconds FROM drill_knob)) /* {token} */;\n"
        "CREATE TABLE drill_done (id INTEGER);\n"
    )
    (source.directory / f"{SLOW}.rollback.sql").write_text("DROP TABLE drill_done;\nDROP TABLE drill_half;\n")
    victim = subprocess.Popen(
        [sys.executable, "-c", MIGRATE_ONE, tenant_id, str(source.directory)],
        env=subprocess_env(DATABASE_URL=target_url(shared_target), LOG_LEVEL="WARNING"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    wait_for(lambda: sleeping(shared_target, token), victim, "the slow step")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)

    with session_scope(shared_target) as shared:
        shared.execute(f'UPDATE "tenant_{tenant_id}".drill_knob SET seconds = 0')
        # The migration and its record agree: neither is there.
        assert history(shared, tenant_id) == [(FIRST, 1)]
        assert "drill_half" not in tables(shared, tenant_id)

        restarted = time.perf_counter()
        result = run_tenant_migrations(shared, tenant_id, source, lock_timeout=60)
        restart_seconds = time.perf_counter() - restarted

        assert (result.outcome, result.applied) == ("applied", (SLOW,)), result.error
        assert history(shared, tenant_id) == [(FIRST, 1), (SLOW, 2)]
        assert {"drill_half", "drill_done"} <= tables(shared, tenant_id)
    # The dead runner's transaction and lock are gone within seconds, not after its sleep.
    assert restart_seconds < 30


def test_a_dry_run_names_the_tenants_it_would_migrate_and_changes_nothing(
    shared_target: PostgresTarget, new_tenant_id: NewTenantId
) -> None:
    behind, current = new_tenant_id("behind"), new_tenant_id("current")
    with session_scope(shared_target) as shared:
        create_tenant(shared, behind)
        create_tenant(shared, current)
        rollback_tenant_migrations(shared, behind)
        before = (history(shared, behind), history(shared, current), tables(shared, behind))

    result = cli("migrate", "--dry-run", DATABASE_URL=target_url(shared_target))

    assert result.returncode == 0, result.stderr
    assert behind in result.stdout
    assert current not in result.stdout
    with session_scope(shared_target) as shared:
        assert (history(shared, behind), history(shared, current), tables(shared, behind)) == before
