"""Seeds: Python modules in the package's `seeds/` folder, run in file order.

Each seed defines `run(session)` and must be safe to run twice. Seeds fill a
development or test database; they refuse to run in production.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import cast

from .database.session import Session
from .errors import ServiceError, code_error

PACKAGE = __name__.split(".", 1)[0]

log = logging.getLogger(__name__)

SeedFunction = Callable[[Session], None]


class SeedError(ServiceError):
    """A seed could not be loaded or failed."""


def seeds_directory() -> Path:
    return Path(str(resources.files(PACKAGE).joinpath("seeds")))


def seed_names(directory: Path | None = None) -> list[str]:
    directory = directory or seeds_directory()
    return sorted(
        entry.stem
        for entry in directory.iterdir()
        if entry.suffix == ".py" and not entry.name.startswith("_")
    )


def run_seeds(
    session: Session,
    *,
    production: bool,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[str], None] | None = None,
) -> list[str]:
    """Run every seed, each in its own transaction; return their names.

    `on_start` receives the seed count and `on_done` each seed's name (progress)."""
    if production:
        raise SeedError("seeds fill development and test databases; refusing to run with APP_ENV=production")
    # Every seed is loaded before the first runs: a broken file seeds nothing.
    seeds = [(name, _load(name)) for name in seed_names()]
    if on_start is not None:
        on_start(len(seeds))
    for name, seed in seeds:
        log.info("Running seed %s", name)
        try:
            with session.transaction():
                seed(session)
        except ServiceError:
            raise
        except Exception as error:
            raise SeedError(f"seed {name} failed: {session.explain(error)}") from error
        if on_done is not None:
            on_done(name)
    return [name for name, _ in seeds]


def _load(name: str) -> SeedFunction:
    try:
        module = importlib.import_module(f"{PACKAGE}.seeds.{name}")
    except Exception as error:  # noqa: BLE001 - the seed's own code may raise anything on import
        reason = code_error(error)
        raise SeedError(f"seed {name} could not be loaded ({reason}); nothing was seeded") from None
    run = getattr(module, "run", None)
    if not callable(run):
        raise SeedError(f"seed {name} has no run(session) function")
    return cast(SeedFunction, run)
