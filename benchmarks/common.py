"""What the benchmark scripts share: baking the template, medians, scratch databases."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
PACKAGE = "auth_service"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm caches and imports once
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def bake(output: Path, database: str, tenancy: str, template: Path = TEMPLATE) -> Path:
    """A service baked from `template` (this checkout's, unless another is given)."""
    return Path(
        cookiecutter(
            str(template),
            no_input=True,
            output_dir=str(output),
            extra_context={"database": database, "tenancy": tenancy},
        )
    )


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards; yields its URL."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
