"""Where the database is: parsed from DATABASE_URL or the DB_* variables.

A target is plain data (no driver is imported here), and it describes itself
without its password, so it can appear in logs and error messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
{%- if cookiecutter.database != "postgresql" %}
from pathlib import Path
{%- endif %}
from typing import Any, ClassVar, Final, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import ConfigError

Dialect = Literal["postgresql", "sqlite"]

# The dialects this service was generated for; the others are refused by name.
{%- if cookiecutter.database == "postgresql+sqlite" %}
SUPPORTED_DIALECTS: Final[tuple[Dialect, ...]] = ("postgresql", "sqlite")
{%- else %}
SUPPORTED_DIALECTS: Final[tuple[Dialect, ...]] = ("{{ cookiecutter.database }}",)
{%- endif %}

PERCENT_ENCODE: Final = (
    "A password holding / # ? @ : or % must be percent-encoded (/ is %2F, # is %23, ? is %3F, "
    "@ is %40, : is %3A, % is %25)"
)
POSTGRESQL_SCHEMES: Final = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
MEMORY: Final = ":memory:"


@dataclass(frozen=True)
class PostgresTarget:
    """A PostgreSQL server and database; `params` pass through to libpq."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str
    params: Mapping[str, str] = field(default_factory=dict)

    dialect: ClassVar[Literal["postgresql"]] = "postgresql"

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.dbname,
            **self.params,
        }
        if self.password:
            kwargs["password"] = self.password
        return kwargs

    def describe(self) -> str:
        if not self.host:
            return f"postgresql://{self.user}@/{self.dbname} (local socket, port {self.port})"
        host = f"[{self.host}]" if ":" in self.host else self.host  # IPv6, as in a URL
        return f"postgresql://{self.user}@{host}:{self.port}/{self.dbname}"


@dataclass(frozen=True)
class SqliteTarget:
    """A SQLite database file, or `:memory:`."""

    path: str

    dialect: ClassVar[Literal["sqlite"]] = "sqlite"

    @property
    def is_memory(self) -> bool:
        return self.path == MEMORY

    def describe(self) -> str:
        return f"sqlite:///{self.path}"


DatabaseTarget = PostgresTarget | SqliteTarget


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, even when it does not parse:
    everything between the user's `:` and the last `@` is hidden."""
    credentials, at, host_part = url.rpartition("@")
    if not at:
        return url
    start = credentials.find("//")
    colon = credentials.find(":", start + 2 if start >= 0 else 0)
    if colon < 0:
        return url
    return f"{credentials[: colon + 1]}***@{host_part}"


# A DATABASE_URL with one of these was meant as a URL, never as a file path.
LOOKS_LIKE_URL: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|//|@")


def parse_database_url(url: str) -> DatabaseTarget:
    """Parse DATABASE_URL: a postgresql:// URL, a sqlite:/// URL, or a SQLite path."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        if LOOKS_LIKE_URL.search(url):
            raise ConfigError(
                f"DATABASE_URL {redact_url(url)!r} looks like a URL but is not one (is '://' missing?): "
                f"use {' or '.join(_scheme_examples())}"
            )
        # A plain path such as ./data/service.db, as the original design allowed.
        return _require(SqliteTarget(path=url))
    scheme = scheme.lower()
    if scheme in POSTGRESQL_SCHEMES:
        return _require(_parse_postgres_url(url))
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(
                f"DATABASE_URL {redact_url(url)!r} has no SQLite path: "
                "use sqlite:///relative/path.db, sqlite:////absolute/path.db or sqlite:///:memory:"
            )
        return _require(SqliteTarget(path=path))
    raise ConfigError(
        f"DATABASE_URL has unsupported scheme {scheme!r} in {redact_url(url)!r}: "
        f"use {' or '.join(_scheme_examples())}"
    )
{%- if cookiecutter.database != "sqlite" %}


def postgres_target_from_parts(env: Mapping[str, str], default_dbname: str) -> PostgresTarget:
    """Build a target from DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME, DB_SSL*."""
    params = {
        key: value
        for key, value in (
            ("sslmode", env.get("DB_SSLMODE", "")),
            ("sslrootcert", env.get("DB_SSLROOTCERT", "")),
        )
        if value
    }
    return PostgresTarget(
        host=env.get("DB_HOST") or "localhost",
        port=_port(env.get("DB_PORT") or "5432", "DB_PORT"),
        user=env.get("DB_USER") or "postgres",
        password=env.get("DB_PASSWORD", ""),
        dbname=env.get("DB_NAME") or default_dbname,
        params=params,
    )
{%- endif %}


def _parse_postgres_url(url: str) -> PostgresTarget:
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # The parser's own message may quote a piece of the password: never shown.
        raise ConfigError(
            f"DATABASE_URL {shown!r} is malformed: its host or port does not parse. {PERCENT_ENCODE}"
        ) from None
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise ConfigError(
            f"DATABASE_URL {shown!r} is malformed: expected postgresql://user:password@host:5432/dbname "
            f"(or postgresql:///dbname for the local socket). {PERCENT_ENCODE}"
        )
    return PostgresTarget(
        # No host (postgresql:///db) is libpq's local socket, as psql has it.
        host=parts.hostname or "",
        port=port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=dbname,
        params=dict(parse_qsl(parts.query)),
    )


def _port(value: str, variable: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"{variable} has value {value!r}: not a valid port number")
    return int(value)


def _require(target: DatabaseTarget) -> DatabaseTarget:
    if target.dialect not in SUPPORTED_DIALECTS:
        raise ConfigError(
            f"DATABASE_URL points to {target.dialect}, but this service was generated "
            f"for {' and '.join(SUPPORTED_DIALECTS)} only"
        )
    return target


def _scheme_examples() -> list[str]:
    examples = {
        "postgresql": "postgresql://user:password@host:5432/dbname",
        "sqlite": "sqlite:///path/to/file.db (or a plain path)",
    }
    return [examples[dialect] for dialect in SUPPORTED_DIALECTS]
{%- if cookiecutter.database != "postgresql" %}


def default_sqlite_path(slug: str) -> str:
    """The development database: a file under ./data, created on first use."""
    return str(Path("data") / f"{slug}.db")
{%- endif %}
