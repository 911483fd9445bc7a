"""Context for log lines: the tenant being migrated, set where the work happens.

A context variable, not a parameter: the runner's log lines get the tenant
without the runner knowing about tenants, and each worker thread of a
migrate-all sets its own. The logging setup adds it to every record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

current_tenant: ContextVar[str | None] = ContextVar("current_tenant", default=None)


@contextmanager
def tenant_context(tenant_id: str) -> Iterator[None]:
    token = current_tenant.set(tenant_id)
    try:
        yield
    finally:
        current_tenant.reset(token)
