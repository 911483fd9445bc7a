"""What one tenant's migration run did: what the runner returns and the registry keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TenantOutcome = Literal["applied", "up to date", "failed"]


@dataclass(frozen=True)
class TenantResult:
    tenant_id: str
    outcome: TenantOutcome
    applied: tuple[str, ...] = ()
    error: str | None = None
    duration_ms: int = 0

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"
