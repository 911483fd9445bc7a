"""Drift: an applied migration whose file has changed, or gone, since it ran.

The runner stores a checksum of each migration's files when it applies it
(yoyo identifies a migration by its file name only, so an edit would go
unnoticed). A changed file means the database no longer matches what the code
says it ran: `migrate` refuses in production and warns elsewhere, `status`
marks it, and `accept-migration` records the new content as intended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..database.session import Session
from ..errors import MigrationError, Remedy
from . import history
from .sources import MigrationSource

# "ignore": the caller has checked already (the CLI reports drift itself).
DriftPolicy = Literal["refuse", "warn", "ignore"]


class DriftError(MigrationError):
    """Applied migrations changed since they ran, and the policy is to refuse."""


@dataclass(frozen=True)
class Drift:
    name: str
    reason: Literal["changed", "missing"]

    def describe(self) -> str:
        if self.reason == "missing":
            return f"{self.name} (its file is gone)"
        return f"{self.name} (its file changed since it was applied)"


def drift_between(checksums: Mapping[str, str], source: MigrationSource) -> list[Drift]:
    """Compare stored checksums with the files; in migration order."""
    present = set(source.migration_ids())
    found: list[Drift] = []
    for name in sorted(checksums):
        if name not in present:
            found.append(Drift(name, "missing"))
        elif source.checksum(name) != checksums[name]:
            found.append(Drift(name, "changed"))
    return found


def find_drift(session: Session, source: MigrationSource | None = None) -> list[Drift]:
    source = source or MigrationSource.for_dialect(session.dialect)
    return drift_between(history.snapshot(session).checksums, source)


def drift_message(drift: Sequence[Drift]) -> str:
    """One line: what differs, and the way out that works for each kind
    (drift_remedies names the command for the changed files)."""
    names = ", ".join(d.describe() for d in drift)
    advice: list[str] = []
    if any(d.reason == "missing" for d in drift):
        # Nothing to accept for a file that is gone: only restoring it helps.
        advice.append("restore each missing file")
    if any(d.reason == "changed" for d in drift):
        advice.append("restore each changed file, or record its new content as intended")
    return f"{len(drift)} applied migration(s) differ from their files: {names}; {'; '.join(advice)}"


def drift_remedies(drift: Sequence[Drift]) -> tuple[Remedy, ...]:
    """The command that records a changed file's new content (the first one's);
    none for a missing file, which only restoring helps."""
    changed = [d.name for d in drift if d.reason == "changed"]
    if not changed:
        return ()
    return (Remedy("accept-migration", {"name": changed[0]}, "record it"),)


def accept_change(session: Session, name: str, source: MigrationSource | None = None) -> str | None:
    """Store the current checksum of an applied migration whose file changed.

    Returns the new checksum, or None when there was nothing to accept."""
    source = source or MigrationSource.for_dialect(session.dialect)
    stored = history.snapshot(session).checksums
    if name not in stored:
        raise MigrationError(f"migration {name!r} is not applied here; there is nothing to accept")
    if name not in set(source.migration_ids()):
        raise MigrationError(
            f"migration {name!r} is applied but its file is gone from {source.directory}; restore it"
        )
    current = source.checksum(name)
    if current == stored[name]:
        return None
    history.set_checksum(session, name, current)
    return current
