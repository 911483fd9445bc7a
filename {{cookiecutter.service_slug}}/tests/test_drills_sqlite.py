"""Failure drills on SQLite: processes that share one database file (see drills.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from {{ cookiecutter.package_name }}.database.session import session_scope
from {{ cookiecutter.package_name }}.database.sqlite_target import SqliteTarget
from {{ cookiecutter.package_name }}.migrator.sources import MigrationSource
from drills import FIRST, SLOW, add_drill_migration, history, set_knob, start_runner


def test_drill_two_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    target = SqliteTarget(path=str(tmp_path / "shared.db"))
    shutil.copytree(MigrationSource.for_dialect("sqlite").directory, tmp_path / "migrations")
    source = add_drill_migration(MigrationSource(tmp_path / "migrations"), "sqlite")
    set_knob(target, 1.5)

    runners = [start_runner(target, source) for _ in range(2)]
    outputs = [runner.communicate(timeout=120) for runner in runners]

    assert [runner.returncode for runner in runners] == [0, 0], [err for _, err in outputs]
    applied = sorted(json.loads(out.strip().splitlines()[-1])["applied"] for out, _ in outputs)
    assert applied == [[], [FIRST, SLOW]]
    with session_scope(target) as session:
        assert history(session) == [(FIRST, 1), (SLOW, 1)]
