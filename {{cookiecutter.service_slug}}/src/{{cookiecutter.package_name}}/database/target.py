"""Where the database is: parsed from DATABASE_URL (or, by config.py, from
the DB_* variables).

A target is plain data (no driver is imported here), and it describes itself
without its password, so it can appear in logs and error messages. Each
dialect's target lives in `<dialect>_target.py`; this module finds them by
name, so a generated project keeps only those of its own dialects, and a URL
of any other is refused by its scheme.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from functools import cache
from typing import Final, Protocol, cast

from ..errors import ConfigError

# A dialect is named after its modules: database/<dialect>.py (sessions) and
# database/<dialect>_target.py (this data).
Dialect = str
TARGET_SUFFIX: Final = "_target"
# Reads a true/false setting: (variable, default) -> its value.
FlagReader = Callable[[str, bool], bool]


class DatabaseTarget(Protocol):
    """What every dialect's target offers."""

    @property
    def dialect(self) -> Dialect: ...

    def describe(self) -> str:
        """The target without its password, e.g. for a log line."""
        ...

    def refuse_in_production(self, variable: str = "DATABASE_URL") -> None:
        """Raise a ConfigError if the target is unsafe to serve production from;
        `variable` is the setting it came from, for the message."""
        ...

    def configured(self, read_flag: FlagReader) -> DatabaseTarget:
        """The target with its dialect's own settings applied, each read by
        name with `read_flag(variable, default)`."""
        ...

    def migrates_through(self, other: DatabaseTarget) -> bool:
        """Whether `other` (MIGRATION_DATABASE_URL's target) may stand for
        this one (the app's) when migrating."""
        ...


class TargetModule(Protocol):
    """What each `<dialect>_target.py` offers."""

    @property
    def URL_EXAMPLE(self) -> str: ...  # noqa: N802 - a module constant, seen through a Protocol

    def parse_url(self, url: str, variable: str = "DATABASE_URL") -> DatabaseTarget | None:
        """The target `url` names, or None when it is not of this dialect;
        an error names the setting it came from, `variable`."""
        ...


@cache
def target_modules() -> dict[Dialect, TargetModule]:
    """Each dialect's target module, by dialect name in a stable order. Found
    when first asked rather than at import: each of them imports this module."""
    package = importlib.import_module(__package__ or __name__)
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
    return {
        name.removesuffix(TARGET_SUFFIX): cast(
            TargetModule, importlib.import_module(f"{package.__name__}.{name}")
        )
        for name in names
        if name.endswith(TARGET_SUFFIX)
    }


def supported_dialects() -> tuple[Dialect, ...]:
    """The dialects this service was generated for."""
    return tuple(target_modules())


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


def parse_database_url(url: str, variable: str = "DATABASE_URL") -> DatabaseTarget:
    """Parse DATABASE_URL (or the setting named `variable`): a URL of one of
    the service's dialects, or (where the service has SQLite) a plain file path."""
    scheme, sep, _ = url.partition("://")
    if not sep and LOOKS_LIKE_URL.search(url):
        raise ConfigError(
            f"{variable} {redact_url(url)!r} looks like a URL but is not one (is '://' missing?): "
            f"use {_examples()}"
        )
    for module in target_modules().values():
        target = module.parse_url(url, variable)
        if target is not None:
            return target
    if not sep:
        raise ConfigError(
            f"{variable} {url!r} is a file path, but this service was generated for "
            f"{' and '.join(supported_dialects())} only: use {_examples()}"
        )
    raise ConfigError(
        f"{variable} has unsupported scheme {scheme.lower()!r} in {redact_url(url)!r} "
        f"(this service was generated for {' and '.join(supported_dialects())}): use {_examples()}"
    )


def _examples() -> str:
    return " or ".join(module.URL_EXAMPLE for module in target_modules().values())
