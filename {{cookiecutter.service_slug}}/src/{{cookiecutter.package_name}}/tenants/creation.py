"""Creating a tenant: register it, create its schema and migrate it, in one transaction."""

from __future__ import annotations

import logging
import time

import psycopg
from psycopg import sql

from ..database.lock_retry import LockRetryPolicy
from ..database.postgresql import PostgresSession
from ..database.session import Session
from ..migrator import history
from ..migrator.applying import NotTransactionalError, ms_since
from ..migrator.runner import DEFAULT_LOCK_RETRY, migrate_new_schema
from ..migrator.sources import MigrationSource
from . import citus, history_marks, registry
from .one_tenant import default_source
from .results import TenantResult
from .schemas import (
    TenantExistsError,
    enter_tenant_schema,
    postgres_only,
    tenant_schema,
    tenant_schema_identifier,
    validate_tenant_id,
)

log = logging.getLogger(__name__)


def create_tenant(
    session: Session,
    tenant_id: str,
    source: MigrationSource | None = None,
    *,
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
    distribute: bool = True,
) -> TenantResult:
    """Register the tenant, create its schema and migrate it, all in one
    transaction: on any failure neither the schema nor the registry row remains.
    Until it commits nobody else sees the schema, so its migrations take no
    migration lock; each of their lock waits is bounded by the longest
    timeout `lock_retry` gives any file (none if one of them waits unbounded).
    On a Citus cluster, with `distribute`, the schema is a distributed schema:
    it and its tables live on one worker node."""
    shared = postgres_only(session)
    validate_tenant_id(tenant_id)
    registry.ensure_registry(shared)
    started = time.perf_counter()
    on_citus = citus.detect(shared) is not None
    distributed = distribute and on_citus
    marks = history_marks.prepare(shared, on_citus=on_citus)
    with shared.transaction():
        shared_path = shared.execute("SELECT current_setting('search_path')")[0][0]
        # The registry row goes in first: a second creator of the same id waits
        # on it, then fails with "already exists" instead of racing.
        registry.register(shared, tenant_id)
        if distributed:
            citus.distribute_schemas_created_now(shared)
        _create_schema(shared, tenant_id)
        enter_tenant_schema(shared, tenant_id, local=True)
        # The bookkeeping table first: each migration's record goes into it.
        history.ensure_table(shared)
        if marks is not None:
            history_marks.watch(shared, marks, [tenant_schema(tenant_id)])
            history_marks.as_runner(shared, local=True)
        source = default_source(source)
        try:
            result = migrate_new_schema(shared, source, lock_retry=lock_retry)
        except NotTransactionalError as error:
            raise NotTransactionalError(
                f"{error} (creating a tenant is one transaction: create tenants before adding it)"
            ) from None
        if marks is not None:
            history_marks.mark_in_transaction(shared, marks, source.migration_ids())
        created = TenantResult(tenant_id, "applied", tuple(result.applied), None, ms_since(started))
        shared.execute("SELECT set_config('search_path', %s, true)", (shared_path,))
        registry.record_outcomes(shared, [created])
    log.info(
        "Created tenant %s (%sschema %s) in %d ms",
        tenant_id,
        "distributed " if distributed else "",
        tenant_schema(tenant_id),
        created.duration_ms,
    )
    return created


def _create_schema(session: PostgresSession, tenant_id: str) -> None:
    schema = tenant_schema(tenant_id)
    try:
        session.execute(sql.SQL("CREATE SCHEMA {}").format(tenant_schema_identifier(tenant_id)))
    except psycopg.errors.DuplicateSchema:
        raise TenantExistsError(
            f"schema {schema!r} already exists, but tenant {tenant_id!r} is not registered; "
            "drop or rename that schema first (nothing was changed)"
        ) from None
