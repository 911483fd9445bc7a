"""What a tenant's migration run did (what the runner returns and the registry
keeps), and the report of a run over every tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import Remedy

TenantOutcome = Literal["applied", "up to date", "failed"]


@dataclass(frozen=True)
class TenantResult:
    tenant_id: str
    outcome: TenantOutcome
    applied: tuple[str, ...] = ()
    error: str | None = None
    duration_ms: int = 0
    # What fixes a failure (the registry keeps its error only).
    remedies: tuple[Remedy, ...] = ()

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


@dataclass(frozen=True)
class TenantRunReport:
    """Every tenant's result, in the order the runs finished."""

    results: list[TenantResult] = field(default_factory=list)

    @property
    def failed(self) -> list[TenantResult]:
        return [result for result in self.results if result.failed]

    @property
    def migrated(self) -> list[TenantResult]:
        return [result for result in self.results if result.outcome == "applied"]

    @property
    def up_to_date(self) -> int:
        return sum(1 for result in self.results if result.outcome == "up to date")

    @property
    def ok(self) -> bool:
        return not self.failed
