"""One registered tenant: migrate it, roll it back, show or accept its state.

Each works in the tenant's schema through the shared session (the search
path is restored afterwards). A migration failure becomes the tenant's result
rather than an exception, so that a run over many tenants goes on past it.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress

import psycopg

from ..database.lock_retry import LockRetryPolicy
from ..database.postgresql import PostgresSession
from ..database.session import MissingTable, Session
from ..errors import Remedy, ServiceError, first_line
from ..log_context import log_context
from ..migrator.applying import ms_since
from ..migrator.drift import DriftPolicy, accept_change
from ..migrator.history import Snapshot
from ..migrator.runner import (
    DEFAULT_LOCK_RETRY,
    DEFAULT_LOCK_TIMEOUT,
    MigrationStatus,
    RollbackResult,
    apply_pending,
    get_migration_status,
    rollback_migrations,
)
from ..migrator.sources import MigrationSource
from . import history_marks, registry
from .results import TenantResult
from .schemas import UnknownTenantError, postgres_only, tenant_search_path, validate_tenant_id

log = logging.getLogger(__name__)


def run_tenant_migrations(
    session: Session,
    tenant_id: str,
    source: MigrationSource | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
    on_drift: DriftPolicy = "warn",
) -> TenantResult:
    """Migrate one registered tenant; a migration failure is returned, not raised.
    A tenant migrated or found up to date is marked so (history_marks), as
    tenant-create and migrate-all mark theirs: the next run over every
    tenant does not read its history."""
    shared = registered(session, tenant_id)
    source = default_source(source)
    # Looked up before entering the tenant's schema: the marks are the shared schema's.
    marks = history_marks.existing(shared)
    with log_context(tenant=tenant_id), tenant_search_path(shared, tenant_id):
        result = migrate_in_schema(shared, tenant_id, source, lock_timeout, lock_retry, on_drift)
        if marks is not None and not result.failed:
            # This command's records moved the mark's version (it is not the
            # runner of history_marks): the mark is made again from the
            # history and version as they are now, in one snapshot. A schema
            # without a bookkeeping table (no migration ever ran) has none to mark.
            with suppress(MissingTable), shared.transaction():
                history_marks.mark_in_transaction(shared, marks, source.migration_ids())
    registry.record_outcomes(shared, [result])
    return result


def rollback_tenant_migrations(
    session: Session,
    tenant_id: str,
    source: MigrationSource | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_retry: LockRetryPolicy = DEFAULT_LOCK_RETRY,
    all_batches: bool = False,
) -> RollbackResult:
    """Undo the tenant's last batch (or all of them); other tenants are untouched."""
    shared = registered(session, tenant_id)
    with log_context(tenant=tenant_id), tenant_search_path(shared, tenant_id):
        return rollback_migrations(
            shared,
            default_source(source),
            lock_timeout=lock_timeout,
            all_batches=all_batches,
            lock_retry=lock_retry,
        )


def get_tenant_migration_status(
    session: Session, tenant_id: str, source: MigrationSource | None = None
) -> MigrationStatus:
    shared = registered(session, tenant_id)
    with tenant_search_path(shared, tenant_id):
        return get_migration_status(shared, default_source(source))


def accept_tenant_change(
    session: Session, tenant_id: str, name: str, source: MigrationSource | None = None
) -> str | None:
    """`accept_change` in one tenant's schema."""
    shared = registered(session, tenant_id)
    with tenant_search_path(shared, tenant_id):
        return accept_change(shared, name, default_source(source))


def migrate_in_schema(
    session: PostgresSession,
    tenant_id: str,
    source: MigrationSource,
    lock_timeout: float,
    lock_retry: LockRetryPolicy,
    on_drift: DriftPolicy,
    log_level: int = logging.INFO,
    read_under_lock: Snapshot | None = None,
) -> TenantResult:
    """Apply what is pending in the schema the session is in: the tenant's
    result. `read_under_lock`: as apply_pending's."""
    started = time.perf_counter()
    try:
        result = apply_pending(
            session,
            source,
            lock_timeout=lock_timeout,
            log_level=log_level,
            on_drift=on_drift,
            lock_retry=lock_retry,
            read_under_lock=read_under_lock,
        )
    except (ServiceError, psycopg.Error) as error:
        return failed_result(tenant_id, error, started)
    if not result.applied:
        return TenantResult(tenant_id, "up to date", duration_ms=ms_since(started))
    return TenantResult(tenant_id, "applied", tuple(result.applied), None, ms_since(started))


def failed_result(tenant_id: str, error: BaseException, started: float) -> TenantResult:
    """The result of a tenant whose run failed with `error`, logged in one line."""
    reason = first_line(error)
    remedies = error.remedies if isinstance(error, ServiceError) else ()
    log.error("Tenant %s failed: %s", tenant_id, reason, extra={"tenant": tenant_id, "remedies": remedies})
    return TenantResult(tenant_id, "failed", error=reason, duration_ms=ms_since(started), remedies=remedies)


def registered(session: Session, tenant_id: str) -> PostgresSession:
    """The shared session, once the tenant is known to be registered."""
    shared = postgres_only(session)
    validate_tenant_id(tenant_id)
    registry.ensure_registry(shared, create=False)
    if not registry.is_registered(shared, tenant_id):
        raise UnknownTenantError(
            f"tenant {tenant_id!r} is not registered",
            Remedy("tenant-create", {"tenant": tenant_id}, "create it"),
        )
    return shared


def default_source(source: MigrationSource | None) -> MigrationSource:
    """The given migrations, else the shipped PostgreSQL ones."""
    return source or MigrationSource.for_dialect("postgresql")
