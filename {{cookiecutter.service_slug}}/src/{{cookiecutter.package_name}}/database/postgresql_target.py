"""A PostgreSQL server and database: from a URL, or from the DB_* variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import ConfigError
from .target import DatabaseTarget, FlagReader, redact_url

URL_EXAMPLE: Final = "postgresql://user:password@host:5432/dbname"
SCHEMES: Final = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
DEFAULT_PORT: Final = 5432
PERCENT_ENCODE: Final = (
    "A password holding / # ? @ : or % must be percent-encoded (/ is %2F, # is %23, ? is %3F, "
    "@ is %40, : is %3A, % is %25)"
)
# Credentials that must never reach production: the PostgreSQL image defaults
# and the placeholders of .env.example.
WEAK_PASSWORDS: Final = frozenset({"", "postgres", "password", "changeme", "change-me", "secret"})


@dataclass(frozen=True)
class PostgresTarget:
    """A PostgreSQL server and database; `params` pass through to libpq."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str
    params: Mapping[str, str] = field(default_factory=dict)
    # Off behind a transaction-mode pooler (PgBouncer before 1.21): psycopg
    # prepares a statement on the server after 5 runs, and the next
    # transaction may run on a server connection that never saw it.
    prepared_statements: bool = True

    dialect: ClassVar[str] = "postgresql"

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

    def driver_options(self) -> dict[str, Any]:
        """psycopg's own connection options (connect_kwargs are libpq's)."""
        return {} if self.prepared_statements else {"prepare_threshold": None}

    def configured(self, read_flag: FlagReader) -> PostgresTarget:
        return replace(self, prepared_statements=read_flag("DB_PREPARED_STATEMENTS", True))

    def migrates_through(self, other: DatabaseTarget) -> bool:
        """Any PostgreSQL address: the direct one differs from the pooler's
        the app uses, on purpose; the runner itself notices a pooler."""
        return other.dialect == self.dialect

    def describe(self) -> str:
        if not self.host:
            return f"postgresql://{self.user}@/{self.dbname} (local socket, port {self.port})"
        host = f"[{self.host}]" if ":" in self.host else self.host  # IPv6, as in a URL
        return f"postgresql://{self.user}@{host}:{self.port}/{self.dbname}"

    def refuse_in_production(self, variable: str = "DATABASE_URL") -> None:
        if self.password.strip().lower() in WEAK_PASSWORDS:
            # DB_PASSWORD fills in DATABASE_URL's parts only.
            where = "DATABASE_URL or DB_PASSWORD" if variable == "DATABASE_URL" else f"{variable}'s password"
            raise ConfigError(
                f"refusing to start in production with a default or empty PostgreSQL password "
                f"for user {self.user!r} in {variable} (set {where} to a real secret)"
            )


def parse_url(url: str, variable: str = "DATABASE_URL") -> PostgresTarget | None:
    """A postgresql:// URL; None for any other scheme (or a plain path)."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        return None
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # The parser's own message may quote a piece of the password: never shown.
        raise ConfigError(
            f"{variable} {shown!r} is malformed: its host or port does not parse. {PERCENT_ENCODE}"
        ) from None
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise ConfigError(
            f"{variable} {shown!r} is malformed: expected {URL_EXAMPLE} "
            f"(or postgresql:///dbname for the local socket). {PERCENT_ENCODE}"
        )
    return PostgresTarget(
        # No host (postgresql:///db) is libpq's local socket, as psql has it.
        host=parts.hostname or "",
        port=port or DEFAULT_PORT,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=dbname,
        params=dict(parse_qsl(parts.query)),
    )


def target_from_parts(env: Mapping[str, str], default_dbname: str) -> PostgresTarget:
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
        port=_port(env.get("DB_PORT") or str(DEFAULT_PORT), "DB_PORT"),
        user=env.get("DB_USER") or "postgres",
        password=env.get("DB_PASSWORD", ""),
        dbname=env.get("DB_NAME") or default_dbname,
        params=params,
    )


def _port(value: str, variable: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"{variable} has value {value!r}: not a valid port number")
    return int(value)
