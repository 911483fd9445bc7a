"""Bad input to the tenant commands, one row per case (see bad_input_table.py):
exit code, one line naming what was wrong, nothing changed, no password."""

from __future__ import annotations

from pathlib import Path

import pytest

from bad_input_table import Row, run_row

ROWS = [
    # 4. A concurrency below 1 would spin forever.
    Row("concurrency-minus-one", ("migrate-tenants", "--concurrency", "-1"), names="--concurrency"),
    Row("concurrency-zero", ("migrate-tenants", "--concurrency", "0"), names="--concurrency"),
    Row(
        "concurrency-setting-zero",
        ("migrate-tenants",),
        names="TENANT_MIGRATION_CONCURRENCY",
        env={"TENANT_MIGRATION_CONCURRENCY": "0"},
    ),
    # 5. An application table that took the registry's name.
    *(
        Row(
            f"foreign-table-named-like-the-registry-{'-'.join(command)}",
            command,
            names="_tenant_registry",
            sql=(
                "CREATE TABLE _tenant_registry (id BIGINT PRIMARY KEY, note TEXT)",
                "INSERT INTO _tenant_registry VALUES (7, 'kept')",
            ),
        )
        for command in (("tenant-create", "{tenant}"), ("migrate-tenants",), ("tenants",))
    ),
    # Tenant ids that cannot name a schema safely, and tenants that do not exist.
    *(
        Row(f"tenant-id-{name}", ("tenant-create", tenant_id), names=f"tenant id {tenant_id!r}")
        for name, tenant_id in (
            ("with-sql", "acme; DROP SCHEMA public CASCADE"),
            ("with-quote", 'acme"; DROP'),
            ("upper-case", "Acme"),
            ("too-long", "a" * 49),
        )
    ),
    Row(
        "tenant-not-registered",
        ("migrate-tenant", "{tenant}"),
        names="tenant '{tenant}' is not registered; create it: make tenant-create TENANT={tenant}",
    ),
    Row(
        "tenant-exists",
        ("tenant-create", "{tenant}"),
        names="tenant '{tenant}' already exists",
        before=(("tenant-create", "{tenant}"),),
    ),
    # Tenants need PostgreSQL.
    # tenant-move: Citus only (test_tenants_citus.py has it at work), and a mode it knows.
    Row(
        "tenant-move-without-citus",
        ("tenant-move", "{tenant}", "127.0.0.1:9701"),
        names="tenant-move needs a Citus cluster",
        before=(("tenant-create", "{tenant}"),),
    ),
    Row(
        "tenant-move-unknown-mode",
        ("tenant-move", "{tenant}", "127.0.0.1:9701", "--mode", "fast"),
        names="MODE",
    ),
    Row(
        "tenant-command-on-sqlite",
        ("tenant-create", "acme"),
        names="DATABASE_URL",
        env={"DATABASE_URL": "sqlite:///data/tenants.db"},
    ),
]


@pytest.mark.parametrize("row", [pytest.param(row, id=row.id) for row in ROWS])
def test_bad_tenant_input(row: Row, tmp_path: Path) -> None:
    run_row(row, "postgresql", tmp_path)
