"""Settings from the environment and `.env`, read when asked, never at import.

`load_settings(environ=...)` takes any mapping, so tests pass a dict instead of
patching globals. Variables set in the real environment win over `.env`.
Errors name the variable and its value, except for secrets.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeVar

from dotenv import dotenv_values

from .database.lock_retry import DEFAULT_MAX_TIMEOUT, DEFAULT_WINDOW, LockRetryPolicy
{%- if cookiecutter.database != "sqlite" %}
from .database.postgresql_target import target_from_parts
{%- endif %}
{%- if cookiecutter.database != "postgresql" %}
from .database.sqlite_target import SqliteTarget, default_sqlite_path
{%- endif %}
from .database.target import DatabaseTarget, FlagReader, parse_database_url
from .errors import ConfigError

_Choice = TypeVar("_Choice", bound=str)

AppEnv = Literal["development", "test", "production"]
LogFormat = Literal["text", "json"]
APP_ENVS: Final[tuple[AppEnv, ...]] = ("development", "test", "production")
LOG_FORMATS: Final[tuple[LogFormat, ...]] = ("text", "json")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
# Tenant migrations mostly wait on the server (DDL, commits), so a few more
# threads than cores keep it busy; more mostly add lock contention.
DEFAULT_TENANT_CONCURRENCY: Final = min(8, 2 * (os.cpu_count() or 1))
{%- endif %}

SERVICE_SLUG: Final = "{{ cookiecutter.service_slug }}"
DEFAULT_DB_NAME: Final = "{{ cookiecutter.package_name }}"
{%- if cookiecutter.database == "postgresql+sqlite" %}
DB_PART_VARIABLES: Final = ("DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME")
{%- endif %}

# Every number is checked finite and in range when settings load, before
# anything runs: a value that parses but breaks a wait or a bind later (nan,
# 1e400, a port of 99999) is refused by name.
WHOLE_NUMBER: Final = re.compile(r"-?[0-9]+")
MAX_COUNT: Final = 10_000
MAX_PORT: Final = 65_535
MAX_SECONDS: Final = 86_400.0
# /ready must answer before a load balancer's probe gives up (often 1 to 5 s).
# 0 would leave the database no time at all (and a
# statement_timeout of 0 means none), so the bound starts at 0.1 s.
DEFAULT_READY_TIMEOUT: Final = 2.0
MIN_READY_TIMEOUT: Final = 0.1


@dataclass(frozen=True)
class Settings:
    app_env: AppEnv
    auto_migrate: bool
    # The app's own connections (behind a transaction pooler, the pooler's
    # address), and where migrations run: a session of their own, direct to
    # the server (MIGRATION_DATABASE_URL; the app's URL when unset).
    database: DatabaseTarget
    migration_database: DatabaseTarget
    pool_min: int
    pool_max: int
    connect_timeout: float
    ready_timeout: float
    migration_lock_timeout: float
    lock_retry: LockRetryPolicy
    log_level: str
    log_format: LogFormat
    host: str
    port: int
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
    auto_migrate_tenants: bool
    tenant_migration_concurrency: int
    distribute_tenant_schemas: bool
{%- endif %}

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def on_drift(self) -> Literal["refuse", "warn"]:
        """An applied migration whose file changed stops a production migrate."""
        return "refuse" if self.is_production else "warn"


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: str | Path | None = ".env",
) -> Settings:
    """Read settings; `environ` defaults to the process environment."""
    env = read_environment(os.environ if environ is None else environ, env_file)
    app_env = _choice(env, "APP_ENV", APP_ENVS, "development")
    database = _database(env, production=app_env == "production").configured(_flag_reader(env))
    settings = Settings(
        app_env=app_env,
        auto_migrate=_bool(env, "AUTO_MIGRATE", default=True),
        database=database,
        migration_database=_migration_database(env, database),
        pool_min=_int(env, "DB_POOL_MIN", 2, minimum=0),
        pool_max=_int(env, "DB_POOL_MAX", 10, minimum=1),
        connect_timeout=_float(env, "DB_CONNECT_TIMEOUT", 30.0),
        ready_timeout=_float(env, "READY_TIMEOUT", DEFAULT_READY_TIMEOUT, minimum=MIN_READY_TIMEOUT),
        migration_lock_timeout=_float(env, "MIGRATION_LOCK_TIMEOUT", 300.0),
        lock_retry=LockRetryPolicy(
            max_timeout=_float(env, "MIGRATION_DDL_LOCK_TIMEOUT", DEFAULT_MAX_TIMEOUT),
            window=_float(env, "MIGRATION_DDL_RETRY_WINDOW", DEFAULT_WINDOW),
        ),
        log_level=_choice(env, "LOG_LEVEL", LOG_LEVELS, "INFO", upper=True),
        log_format=_choice(env, "LOG_FORMAT", LOG_FORMATS, "json" if app_env == "production" else "text"),
        host=env.get("HOST") or "127.0.0.1",
        port=_int(env, "PORT", 8000, minimum=1, maximum=MAX_PORT),
{%- if cookiecutter.tenancy == "schema-per-tenant" %}
        auto_migrate_tenants=_bool(env, "AUTO_MIGRATE_TENANTS", default=True),
        distribute_tenant_schemas=_bool(env, "DISTRIBUTE_TENANT_SCHEMAS", default=True),
        tenant_migration_concurrency=_int(
            env, "TENANT_MIGRATION_CONCURRENCY", DEFAULT_TENANT_CONCURRENCY, minimum=1
        ),
{%- endif %}
    )
    if settings.pool_min > settings.pool_max:
        raise ConfigError(
            f"DB_POOL_MIN ({settings.pool_min}) is greater than DB_POOL_MAX ({settings.pool_max})"
        )
    if settings.is_production:
        settings.database.refuse_in_production()
        settings.migration_database.refuse_in_production("MIGRATION_DATABASE_URL")
    return settings


def read_environment(environ: Mapping[str, str], env_file: str | Path | None) -> dict[str, str]:
    """`.env` values overlaid by the environment; empty `.env` entries are dropped."""
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(environ)
    return values


def _database(env: Mapping[str, str], *, production: bool) -> DatabaseTarget:
    url = env.get("DATABASE_URL", "").strip()
    if url:
        return parse_database_url(url)
{%- if cookiecutter.database == "postgresql+sqlite" %}
    # Without DATABASE_URL, the DB_* variables choose PostgreSQL; with none of
    # them either, development runs on an embedded SQLite file. Production
    # never falls back to that file unless the operator says so: a forgotten
    # DATABASE_URL would otherwise serve from an empty local database.
    if any(env.get(name) for name in DB_PART_VARIABLES):
        return target_from_parts(env, DEFAULT_DB_NAME)
    if production and not _bool(env, "ALLOW_SQLITE_IN_PRODUCTION", default=False):
        raise ConfigError(
            "APP_ENV=production but neither DATABASE_URL nor DB_HOST (and the other DB_*) is set: "
            "refusing to fall back to the local SQLite file; set DATABASE_URL "
            "(or ALLOW_SQLITE_IN_PRODUCTION=true to run on SQLite on purpose)"
        )
    return SqliteTarget(path=default_sqlite_path(SERVICE_SLUG))
{%- elif cookiecutter.database == "postgresql" %}
    return target_from_parts(env, DEFAULT_DB_NAME)
{%- else %}
    return SqliteTarget(path=default_sqlite_path(SERVICE_SLUG))
{%- endif %}


def _migration_database(env: Mapping[str, str], database: DatabaseTarget) -> DatabaseTarget:
    """MIGRATION_DATABASE_URL, else the app's database. It must be the same
    kind of database: a pooler sits in front of a server, never of a file."""
    url = env.get("MIGRATION_DATABASE_URL", "").strip()
    if not url:
        return database
    target = parse_database_url(url, "MIGRATION_DATABASE_URL").configured(_flag_reader(env))
    if not database.migrates_through(target):
        raise ConfigError(
            f"MIGRATION_DATABASE_URL names {target.describe()} but the app's database is "
            f"{database.describe()}: it must be a direct connection to the same database, "
            "and a SQLite file has no other (unset it to migrate through the app's own URL)"
        )
    return target


def _flag_reader(env: Mapping[str, str]) -> FlagReader:
    return lambda name, default: _bool(env, name, default=default)


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} has value {env[name]!r}: not a valid boolean (use true or false)")


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int = MAX_COUNT) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not WHOLE_NUMBER.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise ConfigError(f"{name} has value {raw!r}: expected a whole number from {minimum} to {maximum}")
    return int(raw)


def _float(
    env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0, maximum: float = MAX_SECONDS
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    # nan, inf and 1e400 parse as floats; each would break a wait later on.
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise ConfigError(
            f"{name} has value {raw!r}: expected a number of seconds from {minimum:g} to {maximum:g}"
        )
    return value


def _choice(
    env: Mapping[str, str],
    name: str,
    choices: tuple[_Choice, ...],
    default: _Choice,
    *,
    upper: bool = False,
) -> _Choice:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    wanted = raw.upper() if upper else raw.lower()
    for choice in choices:
        if choice == wanted:
            return choice
    raise ConfigError(f"{name} has value {raw!r}: expected one of {', '.join(choices)}")
