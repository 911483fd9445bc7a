"""Benchmark: bake times, migrate time, and the startup no-op check against baselines.

Run from the template root with `make bench` (or `poetry run python benchmarks/noop_check.py`).
It bakes every supported combination (timing each), then, in a baked
`postgresql+sqlite` service:

- `migrate` on a fresh SQLite file, as the CLI runs it (a new process) and in-process;
- the no-op check as the startup runner does it (connect, find nothing pending,
  close) against a bare connect + `SELECT 1` + close, and against yoyo's own
  no-op check (get_backend + read_migrations + to_apply), on SQLite and on
  PostgreSQL (TEST_DATABASE_URL, default the local server).

Every figure is a median over repeated runs, measured in this one run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import DEFAULT_SERVER, PACKAGE, bake, fresh_postgres_database, median_ms

COMBINATIONS = [
    ("postgresql+sqlite", "single"),
    ("postgresql", "single"),
    ("sqlite", "single"),
    ("postgresql+sqlite", "schema-per-tenant"),
    ("postgresql", "schema-per-tenant"),
]


def noop_figures(
    dialect: str,
    our_url: str,
    yoyo_url: str,
    bare: Callable[[], object],
    runs: int,
    extra_baselines: dict[str, Callable[[], object]] | None = None,
) -> None:
    config = importlib.import_module(f"{PACKAGE}.config")
    runner = importlib.import_module(f"{PACKAGE}.migrator.runner")
    session_module = importlib.import_module(f"{PACKAGE}.database.session")
    from yoyo import get_backend, read_migrations

    target = config.load_settings({"DATABASE_URL": our_url}, env_file=None).database
    with session_module.session_scope(target) as session:
        runner.run_migrations(session)

    def ours() -> None:
        with session_module.session_scope(target) as session:
            assert runner.pending_migrations(session) == []

    source = f"package:{PACKAGE}:migrations/{dialect}"
    backend = get_backend(yoyo_url)
    backend.apply_migrations(backend.to_apply(read_migrations(source)))
    backend.connection.close()

    def yoyo_noop() -> None:
        backend = get_backend(yoyo_url)
        try:
            assert not backend.to_apply(read_migrations(source))
        finally:
            backend.connection.close()

    bare_ms = median_ms(bare, runs)
    ours_ms = median_ms(ours, runs)
    yoyo_ms = median_ms(yoyo_noop, runs)
    print(f"  {dialect}:")
    print(f"    bare connect + SELECT 1 + close   {bare_ms:8.3f} ms")
    for name, baseline in (extra_baselines or {}).items():
        baseline_ms = median_ms(baseline, runs)
        print(f"    {name:<33} {baseline_ms:8.3f} ms ({baseline_ms / bare_ms:5.1f}x bare)")
    print(f"    our no-op check (startup's)       {ours_ms:8.3f} ms ({ours_ms / bare_ms:5.1f}x bare)")
    print(f"    yoyo's no-op check                {yoyo_ms:8.3f} ms ({yoyo_ms / bare_ms:5.1f}x bare)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50, help="samples per median (default 50)")
    args = parser.parse_args()
    server_url = os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER)

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        print("Bake time per combination (cookiecutter with hooks, median of 5):")
        project = None
        for index, (database, tenancy) in enumerate(COMBINATIONS):

            def bake_once(database: str = database, tenancy: str = tenancy) -> Path:
                return bake(work / f"bake-{uuid.uuid4().hex[:8]}", database, tenancy)

            ms = median_ms(bake_once, 5)
            print(f"  database={database:<18} tenancy={tenancy:<18} {ms:7.1f} ms")
            if index == 0:
                project = bake_once()
        assert project is not None
        sys.path.insert(0, str(project / "src"))
        env = {**os.environ, "PYTHONPATH": str(project / "src"), "APP_ENV": "development"}

        def cli_migrate() -> None:
            database = work / f"cli-{uuid.uuid4().hex}.db"
            subprocess.run(
                [sys.executable, "-m", PACKAGE, "migrate"],
                env={**env, "DATABASE_URL": f"sqlite:///{database}"},
                check=True,
                capture_output=True,
                cwd=work,
            )

        config = importlib.import_module(f"{PACKAGE}.config")
        runner = importlib.import_module(f"{PACKAGE}.migrator.runner")
        session_module = importlib.import_module(f"{PACKAGE}.database.session")

        def in_process_migrate() -> None:
            path = work / f"inproc-{uuid.uuid4().hex}.db"
            target = config.load_settings({"DATABASE_URL": f"sqlite:///{path}"}, env_file=None).database
            with session_module.session_scope(target) as session:
                assert runner.run_migrations(session).applied

        print("\nmigrate on a fresh SQLite database:")
        print(
            f"  CLI process (python -m {PACKAGE} migrate): {median_ms(cli_migrate, 5):7.1f} ms (median of 5)"
        )
        in_process_ms = median_ms(in_process_migrate, 20)
        print(f"  in-process run_migrations:                {in_process_ms:7.1f} ms (median of 20)")

        print(f"\nNo-op check with everything applied (median of {args.runs}):")
        import sqlite3

        sqlite_ours, sqlite_yoyo = work / "ours.db", work / "yoyo.db"

        def bare_sqlite() -> None:
            connection = sqlite3.connect(sqlite_ours)
            connection.execute("SELECT 1").fetchone()
            connection.close()

        def read_one_table() -> None:
            # SELECT 1 never touches the file; any real query opens it (and,
            # in WAL mode, its -wal and -shm files): this is the floor for a check.
            connection = sqlite3.connect(sqlite_ours)
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            connection.close()

        noop_figures(
            "sqlite",
            f"sqlite:///{sqlite_ours}",
            f"sqlite:///{sqlite_yoyo}",
            bare_sqlite,
            args.runs,
            {"connect + read one table + close": read_one_table},
        )

        import psycopg

        with fresh_postgres_database(server_url) as ours_url, fresh_postgres_database(server_url) as yoyo_url:

            def bare_postgres() -> Any:
                with psycopg.connect(ours_url, autocommit=True) as connection:
                    return connection.execute("SELECT 1").fetchone()

            yoyo_psycopg_url = yoyo_url.replace("postgresql://", "postgresql+psycopg://", 1)
            noop_figures("postgresql", ours_url, yoyo_psycopg_url, bare_postgres, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
