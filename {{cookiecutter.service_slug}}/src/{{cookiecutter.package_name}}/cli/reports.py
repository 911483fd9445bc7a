"""What the core commands print: a dry run's plan, an accepted change, a
rollback, the status and the listing (extensions print them too)."""

from __future__ import annotations

from ..config import Settings
from ..migrator.drift import drift_message, drift_remedies
from ..migrator.plan import Plan
from ..migrator.runner import MigrationStatus, RollbackResult
from .remedies import advice


def print_plan(plan: Plan, settings: Settings) -> None:
    print(f"Dry run on {settings.migration_database.describe()}: nothing is changed.")
    if not plan.migrations:
        print("Nothing to migrate.")
        return
    for migration in plan.migrations:
        print(f"\n-- {migration.name} ({migration.path.name})")
        for statement in migration.statements:
            print(statement)
    print(f"\n{len(plan.migrations)} migration(s) would be applied as batch {plan.batch}.")


def accepted_line(name: str, checksum: str | None, where: str) -> str:
    if checksum is None:
        return f"Nothing to accept: {name} matches its file on {where}."
    return f"Accepted the current content of {name} on {where} (checksum {checksum[:12]})."


def print_rollback(result: RollbackResult) -> int:
    if not result.rolled_back:
        print("Nothing to roll back: no migration is applied.")
        return 0
    batches = ", ".join(str(batch) for batch in result.batches)
    print(f"Rolled back {len(result.rolled_back)} migration(s) of batch {batches}:")
    for name in result.rolled_back:
        print(f"  {name}")
    return 0


def print_status(state: MigrationStatus, settings: Settings, scope: str | None = None) -> int:
    """The status report; `scope` is a line naming a part of the database (a schema)."""
    print(f"Database: {settings.migration_database.describe()}")
    if scope:
        print(scope)
    changed = {drift.name: drift.reason for drift in state.drift}
    print(f"Completed: {len(state.completed)}")
    for done in state.completed:
        applied_at = done.applied_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        mark = f"  DRIFT: file {changed[done.name]} since applied" if done.name in changed else ""
        print(f"  {done.name}  batch {done.batch}  applied {applied_at}{mark}")
    print(f"Pending: {len(state.pending)}")
    for name in state.pending:
        print(f"  {name}")
    if state.drift:
        print(f"Drift: {drift_message(state.drift)}{advice(drift_remedies(state.drift))}")
    if state.invalid_indexes:
        print(f"Invalid indexes: {len(state.invalid_indexes)} (a failed CREATE INDEX CONCURRENTLY left them)")
        for index in state.invalid_indexes:
            print(f"  {index.describe()}")
    return 0


def print_listing(state: MigrationStatus) -> int:
    for done in state.completed:
        print(f"[x] {done.name} (batch {done.batch})")
    for name in state.pending:
        print(f"[ ] {name} (pending)")
    return 0
