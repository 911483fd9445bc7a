"""Structured logs: JSON lines in production (or LOG_FORMAT=json), readable
lines otherwise; migration lines carry the migration, batch and duration."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest

from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.database.session import Session
from {{ cookiecutter.package_name }}.logging_setup import configure_logging
from {{ cookiecutter.package_name }}.migrator.runner import rollback_migrations, run_migrations

FIRST = "0001_create_users_table"
ReadLines = Callable[[], list[str]]


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[str], ReadLines]]:
    """configure_logging as the CLI calls it; the root logger is restored after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def configure(log_format: str) -> ReadLines:
        configure_logging(load_settings({"LOG_FORMAT": log_format, "LOG_LEVEL": "INFO"}, env_file=None))
        return lambda: capsys.readouterr().err.splitlines()

    yield configure
    root.handlers[:], root.level = saved


def test_production_logs_are_json_with_the_migration_batch_and_duration(
    session: Session, configured: Callable[[str], ReadLines]
) -> None:
    read = configured("json")

    run_migrations(session)
    rollback_migrations(session)

    entries = [json.loads(line) for line in read()]
    applied = next(e for e in entries if e["message"].startswith("Applied migration"))
    rolled_back = next(e for e in entries if e["message"].startswith("Rolled back migration"))
    assert applied["migration"] == FIRST
    assert applied["batch"] == 1
    assert isinstance(applied["duration_ms"], int)
    assert applied["level"] == "info"
    assert rolled_back["migration"] == FIRST
    assert {"time", "logger"} <= set(applied)


def test_development_logs_are_readable_lines_with_the_same_fields(
    session: Session, configured: Callable[[str], ReadLines]
) -> None:
    read = configured("text")

    run_migrations(session)

    [line] = [line for line in read() if "Applied migration" in line]
    assert line.endswith("]")
    assert f"[migration={FIRST} batch=1 duration_ms=" in line
