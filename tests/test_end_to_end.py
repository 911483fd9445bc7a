"""A baked project used as a new user would: fresh install, migrate, roll back, run.

Nothing of this suite's environment is lent to the baked project: its own
Makefile installs Poetry when needed, then `poetry install` builds its .venv
from scratch, as on a fresh clone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg

from tests.baking import bake, user_environment
from tests.databases import citus_coordinator, fresh_database, fresh_schema


def run_make(project: Path, *targets: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *targets],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def make(project: Path, *targets: str, env: dict[str, str]) -> str:
    """Run make targets that must succeed; their standard output."""
    result = run_make(project, *targets, env=env)
    assert result.returncode == 0, f"make {' '.join(targets)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(url: str, process: subprocess.Popen[str], seconds: float) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service exited before answering /ready"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                body: dict[str, object] = json.load(response)
                return body
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.25)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def test_new_user_installs_migrates_rolls_back_and_runs(tmp_path: Path) -> None:
    project = bake(tmp_path, {})
    env = user_environment()

    migrated = make(project, "migrate", env=env)
    status = make(project, "migrate-status", env=env)
    rolled_back = make(project, "migrate-rollback", env=env)
    after_rollback = make(project, "migrate-status", env=env)

    assert (project / ".venv" / "bin" / "python").exists()
    assert "Applied 1 migration(s) in batch 1:" in migrated
    assert "0001_create_users_table  batch 1  applied" in status
    assert "Rolled back 1 migration(s) of batch 1:" in rolled_back
    assert "Pending: 1\n  0001_create_users_table" in after_rollback

    port = free_port()
    server = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=project,
        env={**env, "PORT": str(port), "AUTO_MIGRATE": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        ready = wait_until_ready(f"http://127.0.0.1:{port}/ready", server, seconds=120)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output, _ = server.communicate(timeout=30)

    assert ready == {"status": "ready"}
    assert "Database connected" in output
    assert "Database migrations completed (count: 1)" in output


def test_a_schema_per_tenant_service_creates_migrates_and_rolls_back_tenants(tmp_path: Path) -> None:
    project = bake(tmp_path, {"database": "postgresql", "tenancy": "schema-per-tenant"})
    on_one_server(project)
    # The same installed service, pointed at a Citus cluster's coordinator.
    on_a_citus_cluster(project, citus_coordinator())


def on_one_server(project: Path) -> None:
    with fresh_database("e2e") as url:
        env = {**user_environment(), "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}

        migrated = make(project, "migrate", env=env)
        created = [make(project, "tenant-create", f"TENANT={tenant}", env=env) for tenant in ("acme", "beta")]
        rolled_back = make(project, "migrate-rollback", "TENANT=beta", env=env)
        summary = make(project, "tenants-status", env=env)
        all_tenants = make(project, "migrate-tenants", "CONCURRENCY=2", env=env)
        beta_status = make(project, "migrate-status", "TENANT=beta", env=env)
        refused = run_make(project, "tenant-create", "TENANT=acme; DROP SCHEMA public CASCADE", env=env)
        with psycopg.connect(url) as connection:
            schemas = connection.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname ~ '^(public$|tenant_)' ORDER BY 1"
            ).fetchall()

    assert "Applied 1 migration(s) in batch 1:" in migrated
    assert "Tenants: 0 in all" in migrated
    assert all("applied 1 migration(s)" in output for output in created)
    assert "Rolled back 1 migration(s) of batch 1:" in rolled_back
    assert "Up to date: 1\nPending migrations: 1\n  beta" in summary
    assert "Tenants: 2 in all, 1 migrated, 1 already up to date, 0 failed." in all_tenants
    assert "Tenant: beta\nCompleted: 1" in beta_status
    assert refused.returncode != 0
    assert "is not valid" in refused.stderr
    assert schemas == [("public",), ("tenant_acme",), ("tenant_beta",)]


def on_a_citus_cluster(project: Path, coordinator: str) -> None:
    """Tenants spread over the cluster's workers: created distributed, each one's
    node reported, one moved to another worker, then every tenant migrated."""
    acme = f"e2e{uuid.uuid4().hex[:10]}_acme"
    with fresh_schema(coordinator, "e2e") as url:
        env = {**user_environment(), "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
        try:
            make(project, "migrate", env=env)
            created = make(project, "tenant-create", f"TENANT={acme}", env=env)
            before = make(project, "tenants-status", env=env)
            origin = _node_in(before, acme)
            destination = next(node for node in _workers(coordinator) if node != origin)
            moved = make(project, "tenant-move", f"TENANT={acme}", f"NODE={destination}", env=env)
            after = make(project, "tenants-status", env=env)
            migrated = make(project, "migrate-tenants", env=env)
        finally:
            with psycopg.connect(coordinator, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA IF EXISTS "tenant_{acme}" CASCADE')

    assert "applied 1 migration(s)" in created
    assert origin in _workers(coordinator)
    assert f"Moved tenant {acme} from {origin} to {destination} (block_writes)." in moved
    assert _node_in(after, acme) == destination
    assert "Tenants: 1 in all, 0 migrated, 1 already up to date, 0 failed." in migrated


def _node_in(status: str, tenant_id: str) -> str:
    """The node tenants-status shows for the tenant (`  <id>  <host:port>  <state>`)."""
    [line] = [line.split() for line in status.splitlines() if line.split()[:1] == [tenant_id]]
    return line[1]


def _workers(coordinator: str) -> list[str]:
    with psycopg.connect(coordinator) as connection:
        rows = connection.execute(
            "SELECT nodename || ':' || nodeport FROM pg_dist_node "
            "WHERE shouldhaveshards AND isactive ORDER BY 1"
        ).fetchall()
    return [str(row[0]) for row in rows]
