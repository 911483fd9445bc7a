"""A SQLite database: a file, or `:memory:`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from ..errors import ConfigError
from .target import DatabaseTarget, FlagReader, redact_url

URL_EXAMPLE: Final = "sqlite:///path/to/file.db (or a plain path)"
PREFIX: Final = "sqlite:///"
MEMORY: Final = ":memory:"


@dataclass(frozen=True)
class SqliteTarget:
    """A SQLite database file, or `:memory:`."""

    path: str

    dialect: ClassVar[str] = "sqlite"

    @property
    def is_memory(self) -> bool:
        return self.path == MEMORY

    def describe(self) -> str:
        return f"{PREFIX}{self.path}"

    def refuse_in_production(self, variable: str = "DATABASE_URL") -> None:
        """A file has no password to get wrong; whether production may run on
        SQLite at all is config.py's decision."""

    def configured(self, read_flag: FlagReader) -> SqliteTarget:
        """SQLite has no settings of its own."""
        return self

    def migrates_through(self, other: DatabaseTarget) -> bool:
        """Only the same file, however its path is spelled (`./x.db` and
        `x.db`, or a link to it): a file has no second connection to point at."""
        if not isinstance(other, SqliteTarget):
            return False
        if self.is_memory or other.is_memory:
            return self.path == other.path
        return os.path.realpath(self.path) == os.path.realpath(other.path)


def parse_url(url: str, variable: str = "DATABASE_URL") -> SqliteTarget | None:
    """A sqlite:/// URL, or a plain path such as ./data/service.db (as the
    original design allowed); None for any other scheme."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        return SqliteTarget(path=url)
    if scheme.lower() != "sqlite":
        return None
    path = url[len(PREFIX) :] if url.startswith(PREFIX) else ""
    if not path:
        raise ConfigError(
            f"{variable} {redact_url(url)!r} has no SQLite path: "
            "use sqlite:///relative/path.db, sqlite:////absolute/path.db or sqlite:///:memory:"
        )
    return SqliteTarget(path=path)


def default_sqlite_path(slug: str) -> str:
    """The development database: a file under ./data, created on first use."""
    return str(Path("data") / f"{slug}.db")
