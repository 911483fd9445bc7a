"""Migration files: where they are, which exist, and what each contains.

Migrations ship inside the package (`migrations/<dialect>/`), found through
importlib.resources, so an installed wheel or a container finds them too.
A migration's id is its file name without extension; files apply in id order.
Listing ids reads only the directory: no file is parsed until it must run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..database.lock_retry import header_lock_timeout
from ..database.target import Dialect
from ..errors import MigrationError, code_error
from .yoyo_adapter import LoadedMigration, load_error_cause, load_migration

PACKAGE = __name__.split(".", 1)[0]
MIGRATION_SUFFIXES = (".sql", ".py")
ROLLBACK_SUFFIX = ".rollback.sql"
# The digits a migration's id starts with: its place in the order. ASCII only,
# so that int() reads exactly what sorting compares.
LEADING_NUMBER = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class MigrationSource:
    """A directory of yoyo migration files."""

    directory: Path

    @classmethod
    def for_dialect(cls, dialect: Dialect) -> MigrationSource:
        """The migrations shipped in this package for `dialect`."""
        directory = Path(str(resources.files(PACKAGE).joinpath("migrations", dialect)))
        if not directory.is_dir():
            raise MigrationError(
                f"migrations folder {directory} is missing from the installed package "
                f"{PACKAGE!r}; reinstall it, or check that the build includes migrations/{dialect}"
            )
        return cls(directory)

    def pinned(self) -> MigrationSource:
        """These migrations as their files are now, for a run over many
        schemas: every schema is compared with the same files, and none costs
        the run a directory listing or a file's stat again."""
        return PinnedMigrationSource.of(self)

    def migration_ids(self) -> list[str]:
        """Every migration id, in the order they apply.

        Refuses, before anything runs, a file that is only a number (it says
        nothing of what it does, and is easily missed when numbering the next
        one) and two files of one number (which applies first would then rest
        on their names, not on the numbers people read)."""
        ids: dict[str, str] = {}
        numbers: dict[int, str] = {}
        # Sorted, so that a message names the same files on every system.
        for entry in sorted(self.directory.iterdir()):
            name = entry.name
            if name.endswith(ROLLBACK_SUFFIX) or not name.endswith(MIGRATION_SUFFIXES):
                continue
            if name.startswith(("_", ".")):
                continue
            migration_id, suffix = name.rsplit(".", 1)
            if migration_id in ids:
                raise MigrationError(
                    f"two migrations have the id {migration_id!r}: {ids[migration_id]} and {name} "
                    f"in {self.directory}; rename one of them"
                )
            ids[migration_id] = name
            if not (match := LEADING_NUMBER.match(migration_id)):
                continue
            number = match.group()
            if not migration_id[len(number) :].strip("_-"):
                new_name = f"{number}_<what_it_does>"
                # A Python migration holds its own rollback steps.
                rollback = f", with its rollback file as {new_name}{ROLLBACK_SUFFIX}"
                raise MigrationError(
                    f"migration file {name} in {self.directory} has a number but no name; "
                    f"rename it {new_name}.{suffix}{rollback if suffix == 'sql' else ''}"
                )
            if (same := numbers.get(int(number))) is not None:
                raise MigrationError(
                    f"two migrations have the number {number}: {same} and {name} "
                    f"in {self.directory}; give one of them the next free number"
                )
            numbers[int(number)] = name
        return sorted(ids)

    def path(self, migration_id: str) -> Path:
        for suffix in MIGRATION_SUFFIXES:
            candidate = self.directory / f"{migration_id}{suffix}"
            if candidate.is_file():
                return candidate
        raise MigrationError(f"migration {migration_id!r} has no file in {self.directory}")

    def rollback_path(self, migration_id: str) -> Path | None:
        """The SQL rollback file, or None for a Python migration (it holds its own)."""
        forward = self.path(migration_id)
        return forward.with_name(f"{migration_id}{ROLLBACK_SUFFIX}") if forward.suffix == ".sql" else None

    def checksum(self, migration_id: str) -> str:
        """SHA-256 of the migration's content and of its rollback file, if any."""
        forward = self.path(migration_id)
        rollback = self.rollback_path(migration_id)
        if rollback is not None and not rollback.is_file():
            rollback = None
        return _checksum(str(forward), _stamp(forward), str(rollback or ""), _stamp(rollback))

    def lock_timeout(self, migration_id: str) -> float | None:
        """The `-- lock_timeout: 10s` of a SQL file's header, in seconds, if any."""
        path = self.path(migration_id)
        if path.suffix != ".sql":
            return None
        return _header_lock_timeout(str(path), _stamp(path))

    def load(self, migration_id: str) -> LoadedMigration:
        """The parsed migration; parsed once per content, however many schemas run it.

        A file that does not parse (a Python migration that does not import)
        is reported by its path, in one line."""
        path = self.path(migration_id)
        try:
            return _parsed_migration(
                migration_id, str(path), str(self.directory), self.checksum(migration_id)
            )
        except Exception as error:  # noqa: BLE001 - a Python migration's own code may raise anything
            cause = load_error_cause(error)
            raise MigrationError(
                f"migration {shown_path(path)} could not be read ({code_error(cause)})"
            ) from None


@dataclass(frozen=True)
class PinnedFile:
    """What a pinned source read of one migration file when it was made."""

    path: Path
    checksum: str
    lock_timeout: float | None
    stamp: tuple[int, int]


@dataclass(frozen=True, eq=False)
class PinnedMigrationSource(MigrationSource):
    """A source whose files were listed, stamped and summed once, when it was
    made (`MigrationSource.pinned`). A file is parsed when first needed, once
    for all schemas; one edited since it was pinned is refused then, so that
    no schema runs SQL its record's checksum does not describe. An id it
    does not hold is looked up in the directory, as the source would."""

    files: dict[str, PinnedFile] = field(default_factory=dict, repr=False)
    loaded: dict[str, LoadedMigration] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, source: MigrationSource) -> PinnedMigrationSource:
        files = {}
        for name in source.migration_ids():
            path = source.path(name)
            files[name] = PinnedFile(path, source.checksum(name), source.lock_timeout(name), _stamp(path))
        return cls(source.directory, files)

    def pinned(self) -> MigrationSource:
        return self

    def migration_ids(self) -> list[str]:
        return list(self.files)

    def path(self, migration_id: str) -> Path:
        pinned = self.files.get(migration_id)
        return pinned.path if pinned else super().path(migration_id)

    def checksum(self, migration_id: str) -> str:
        pinned = self.files.get(migration_id)
        return pinned.checksum if pinned else super().checksum(migration_id)

    def lock_timeout(self, migration_id: str) -> float | None:
        pinned = self.files.get(migration_id)
        return pinned.lock_timeout if pinned else super().lock_timeout(migration_id)

    def load(self, migration_id: str) -> LoadedMigration:
        if (done := self.loaded.get(migration_id)) is not None:
            return done
        pinned = self.files.get(migration_id)
        if pinned and _stamp(pinned.path) != pinned.stamp:
            raise MigrationError(
                f"migration {shown_path(pinned.path)} changed while this run was migrating; "
                "run it again (the schemas it has not reached yet still need it)"
            )
        self.loaded[migration_id] = loaded = super().load(migration_id)
        return loaded


def _stamp(path: Path | None) -> tuple[int, int]:
    """What tells an edited file from the one last read: its mtime and size."""
    if path is None:
        return (0, 0)
    stat = path.stat()
    return (stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4096)
def _checksum(forward: str, _: tuple[int, int], rollback: str, __: tuple[int, int]) -> str:
    """Computed once per file version (the stamps are part of the cache key):
    drift checks across many schemas then cost no file reads."""
    digest = hashlib.sha256(Path(forward).read_bytes())
    if rollback:
        digest.update(b"\0rollback\0")
        digest.update(Path(rollback).read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=4096)
def _header_lock_timeout(path: str, _: tuple[int, int]) -> float | None:
    """Read once per file version, like the checksum."""
    return header_lock_timeout(Path(path).read_text(encoding="utf-8"), Path(path).name)


@lru_cache(maxsize=512)
def _parsed_migration(migration_id: str, path: str, directory: str, checksum: str) -> LoadedMigration:
    """Parse a migration file. The checksum is part of the cache key, so an
    edited file is parsed again; the parsed steps hold no per-connection
    state, so migrating many schemas shares them."""
    return load_migration(migration_id, path, directory)


def shown_path(path: Path) -> str:
    """The path relative to the working directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
