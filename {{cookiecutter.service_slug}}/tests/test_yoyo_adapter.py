"""The contract with yoyo: every attribute the adapter relies on still exists.

A yoyo release that renames one of them fails here, naming it, instead of
quietly turning a feature off (savepoints, the dry run's SQL, retries)."""

from __future__ import annotations

from pathlib import Path

import pytest
from yoyo.migrations import Migration

from {{ cookiecutter.package_name }}.database.session import Session
from {{ cookiecutter.package_name }}.migrator.yoyo_adapter import (
    YOYO_CONTRACT,
    backend_for,
    contract_breaks,
    load_migration,
)

PYTHON_GROUP = 'from yoyo import group, step\n\nsteps = [group([step("SELECT 1", ignore_errors="apply")])]\n'


def loaded(directory: Path, name: str, content: str) -> Migration:
    path = directory / name
    path.write_text(content)
    migration = Migration(path.stem, str(path), str(directory))
    migration.load()
    return migration


@pytest.fixture
def samples(session: Session, tmp_path: Path) -> dict[str, object]:
    """One instance of each yoyo kind the adapter handles, made as yoyo makes them."""
    plain = loaded(tmp_path, "0001_plain.sql", "SELECT 1;\n")
    outside = loaded(tmp_path, "0002_outside.sql", "-- transactional: false\nSELECT 1;\n")
    grouped = loaded(tmp_path, "0003_grouped.py", PYTHON_GROUP)
    return {
        "DatabaseBackend instance": backend_for(session)._backend,
        "Migration instance": plain,
        "TransactionWrapper instance": plain.steps[0],
        "Transactionless instance": outside.steps[0],
        "StepGroup instance": grouped.steps[0].step,
        "MigrationStep instance": plain.steps[0].step,
    }


def test_yoyo_still_has_every_attribute_the_adapter_uses(samples: dict[str, object]) -> None:
    assert contract_breaks(samples) == []


def test_the_contract_names_what_is_missing(samples: dict[str, object]) -> None:
    renamed = type("Renamed", (), {})()

    assert contract_breaks({**samples, "StepGroup instance": renamed}) == ["StepGroup instance.steps"]


def test_the_adapter_reads_what_yoyo_parsed(tmp_path: Path) -> None:
    (tmp_path / "0001_plain.sql").write_text("CREATE TABLE a (id INTEGER);\n")
    (tmp_path / "0002_outside.sql").write_text("-- transactional: false\nCREATE TABLE b (id INTEGER);\n")
    (tmp_path / "0003_grouped.py").write_text(PYTHON_GROUP)

    plain = load_migration("0001_plain", str(tmp_path / "0001_plain.sql"), str(tmp_path))
    outside = load_migration("0002_outside", str(tmp_path / "0002_outside.sql"), str(tmp_path))
    grouped = load_migration("0003_grouped", str(tmp_path / "0003_grouped.py"), str(tmp_path))

    assert (plain.transactional, plain.ignores_errors) == (True, False)
    assert list(plain.statements()) == ["CREATE TABLE a (id INTEGER);"]
    assert outside.transactional is False
    assert (grouped.ignores_errors, list(grouped.statements())) == (True, ["SELECT 1;"])
    # Only the plain file's statements may skip yoyo's wrappers around each step.
    assert [plain.plain_statements, outside.plain_statements, grouped.plain_statements] == [
        ("CREATE TABLE a (id INTEGER);",),
        None,
        None,
    ]


def test_every_contract_entry_is_checked(samples: dict[str, object]) -> None:
    owners = {owner for owner, _ in YOYO_CONTRACT if owner.endswith(" instance")}

    assert owners <= set(samples)
