"""`migrate-make` and `seed-make`: new, numbered files from a starting template."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from ..database.target import Dialect, supported_dialects
from ..errors import ServiceError
from .sources import LEADING_NUMBER, MIGRATION_SUFFIXES, ROLLBACK_SUFFIX, MigrationSource

NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

MIGRATION_TEMPLATE: Final = """\
-- {name}: describe what this migration does and why.
-- It runs in one transaction with its bookkeeping row: all of it applies, or none.
-- Example ({dialect}):
-- {example}
"""

ROLLBACK_TEMPLATE: Final = """\
-- Undo {name}: return the schema exactly to what it was before it.
-- Put statements in the reverse order of the forward file.
-- Example ({dialect}):
-- {example}
"""

# The same statements work on both dialects (SQLite has DROP COLUMN since 3.35).
FORWARD_EXAMPLE: Final = "ALTER TABLE users ADD COLUMN avatar_url VARCHAR(500) NULL;"
ROLLBACK_EXAMPLE: Final = "ALTER TABLE users DROP COLUMN avatar_url;"

SEED_TEMPLATE: Final = '''\
"""Seed {name}: describe the data it creates. Seeds must be safe to run twice."""

from __future__ import annotations

from ..database.session import Session


def run(session: Session) -> None:
    """Insert this seed's rows unless they already exist."""
'''


class InvalidNameError(ServiceError):
    """A migration or seed name that would make a bad file name."""


class NameTakenError(ServiceError):
    """A migration name that an existing migration already has."""


def validate_name(name: str, kind: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidNameError(
            f"{kind} name {name!r} is not valid: use lowercase letters, digits and "
            "underscores, starting with a letter (for example add_user_avatar)"
        )
    return name


def next_number(directories: list[Path]) -> int:
    """One more than the highest number any file in `directories` starts with.

    Every file counts, whatever follows its number (`0004.sql`, `0004-x.sql`),
    so that a number is never handed out twice."""
    numbers = [
        int(match.group())
        for directory in directories
        if directory.is_dir()
        for entry in directory.iterdir()
        if (match := LEADING_NUMBER.match(entry.name))
    ]
    return max(numbers, default=0) + 1


def check_name_is_free(name: str, directories: list[Path]) -> None:
    """Refuse `name` when a migration in `directories` already has it, whatever its number.

    A second migration of one name is nearly always the command run twice, and
    two ids that differ only by number are easy to mix up in `status` or a rollback."""
    endings = {f"_{name}{suffix}" for suffix in (*MIGRATION_SUFFIXES, ROLLBACK_SUFFIX)}
    for directory in directories:
        if not directory.is_dir():
            continue
        holders = [
            entry.name
            for entry in directory.iterdir()
            if (match := LEADING_NUMBER.match(entry.name)) and entry.name[match.end() :] in endings
        ]
        if holders:
            # Name the forward file rather than its rollback file.
            holder = min(holders, key=lambda held: (held.endswith(ROLLBACK_SUFFIX), held))
            raise NameTakenError(
                f"migration name {name!r} is already used by {holder} in {directory}; "
                "choose another name, or edit that file if no database has applied it yet"
            )


def make_migration(name: str, sources: dict[Dialect, MigrationSource] | None = None) -> list[Path]:
    """Create `<NNNN>_<name>.sql` and its rollback file for every dialect of the service.

    The number follows the highest in any dialect, so the dialects stay in step.
    """
    validate_name(name, "migration")
    if sources is None:
        sources = {dialect: MigrationSource.for_dialect(dialect) for dialect in supported_dialects()}
    directories = [source.directory for source in sources.values()]
    check_name_is_free(name, directories)
    migration_id = f"{next_number(directories):04d}_{name}"
    created: list[Path] = []
    for dialect, source in sources.items():
        forward = source.directory / f"{migration_id}.sql"
        rollback = source.directory / f"{migration_id}.rollback.sql"
        forward.write_text(
            MIGRATION_TEMPLATE.format(name=migration_id, dialect=dialect, example=FORWARD_EXAMPLE)
        )
        rollback.write_text(
            ROLLBACK_TEMPLATE.format(name=migration_id, dialect=dialect, example=ROLLBACK_EXAMPLE)
        )
        created += [forward, rollback]
    return created


def make_seed(name: str, seeds_directory: Path) -> Path:
    validate_name(name, "seed")
    path = seeds_directory / f"{next_number([seeds_directory]):04d}_{name}.py"
    path.write_text(SEED_TEMPLATE.format(name=name))
    return path
