"""Remove the files that the chosen options do not use.

Cookiecutter renders this file with Jinja and runs it inside the new project.
The answers arrive as JSON (see pre_gen_project.py for why it is safe). One
table says which paths each answer removes; one loop applies it. A path in the
table that the template does not have means the two disagree: that is an error,
not something to skip. Then the project keeps, as poetry.lock, the lock file
that `make lock` wrote for its database, and loses the others.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

ANSWERS_JSON = r"""
{{- {
    "package_name": cookiecutter.package_name,
    "database": cookiecutter.database,
    "tenancy": cookiecutter.tenancy,
} | tojson(indent=4) }}
"""

# (variable, value) -> paths to remove, relative to the project root.
PRUNE: dict[tuple[str, str], tuple[str, ...]] = {
    ("database", "postgresql"): (
        "src/{package}/migrations/sqlite",
        "src/{package}/database/sqlite.py",
        "src/{package}/database/sqlite_target.py",
        "src/{package}/migrator/yoyo_adapter/sqlite.py",
        "tests/helpers_sqlite.py",
        "tests/test_app_sqlite.py",
        "tests/test_bad_input_sqlite.py",
        "tests/test_config_sqlite.py",
        "tests/test_drills_sqlite.py",
        "tests/test_migrations_sqlite.py",
        "tests/test_config_both_dialects.py",
        "tests/test_bad_input_both_dialects.py",
        "tests/test_schema_both_dialects.py",
    ),
    ("database", "sqlite"): (
        "src/{package}/migrations/postgresql",
        "src/{package}/database/postgresql.py",
        "src/{package}/database/postgresql_target.py",
        "src/{package}/database/postgresql_connect.py",
        "src/{package}/database/postgresql_deadline.py",
        "src/{package}/database/postgresql_own_session.py",
        "src/{package}/database/postgresql_one_query.py",
        "src/{package}/database/postgresql_entering.py",
        "src/{package}/database/blockers.py",
        "src/{package}/migrator/yoyo_adapter/postgresql.py",
        "src/{package}/migrator/lint.py",
        "src/{package}/migrator/lint_config.py",
        "src/{package}/migrator/lint_results.py",
        "src/{package}/migrator/lint_squawk.py",
        "src/{package}/cli/lint.py",
        ".squawk.toml",
        "tests/test_migration_lint.py",
        "tests/test_live_database.py",
        "tests/test_database_urls.py",
        "tests/helpers_postgresql.py",
        "tests/test_app_postgresql.py",
        "tests/test_bad_input_postgresql.py",
        "tests/test_cli_postgresql.py",
        "tests/test_config_postgresql.py",
        "tests/test_config_postgresql_only.py",
        "tests/test_config_both_dialects.py",
        "tests/test_bad_input_both_dialects.py",
        "tests/test_schema_both_dialects.py",
        "tests/helpers_pgbouncer.py",
        "tests/test_pooler.py",
        "tests/test_pipelined_migrations.py",
        "tests/test_pooler_tenants.py",
    ),
    ("database", "postgresql+sqlite"): ("tests/test_config_postgresql_only.py",),
    ("tenancy", "single"): (
        "src/{package}/tenants",
        "src/{package}/cli/tenants.py",
        "src/{package}/cli/tenant_options.py",
        "src/{package}/cli/tenants_on_citus.py",
        "tests/test_tenants_citus.py",
        "tests/test_tenant_drills.py",
        "tests/test_pooler_tenants.py",
        "tests/test_tenants.py",
        "tests/test_tenant_migrations.py",
        "tests/test_tenant_history_marks.py",
        "tests/test_tenant_sessions.py",
        "tests/test_bad_input_tenants.py",
        "tests/helpers_tenants.py",
        "tests/helpers_citus.py",
        "tests/test_app_tenants.py",
        "tests/test_config_tenants.py",
    ),
}


class PruneError(Exception):
    """The prune table names a path that the generated project does not have."""


def read_answers(document: str = ANSWERS_JSON) -> dict[str, str]:
    """The answers as strings, from the JSON document cookiecutter rendered."""
    loaded: dict[str, object] = json.loads(document)
    return {key: str(value) for key, value in loaded.items()}


def paths_to_prune(
    answers: Mapping[str, str],
    table: Mapping[tuple[str, str], tuple[str, ...]] = PRUNE,
) -> list[tuple[str, PurePosixPath]]:
    """The paths the answers remove, each once, with the "variable=value" that
    removes it (the first, when two answers remove the same path)."""
    removals: dict[PurePosixPath, str] = {}
    for (variable, value), paths in table.items():
        if answers.get(variable) == value:
            for path in paths:
                removed = PurePosixPath(path.format(package=answers["package_name"]))
                removals.setdefault(removed, f"{variable}={value!r}")
    return [(reason, path) for path, reason in removals.items()]


def prune(
    root: Path,
    answers: Mapping[str, str],
    table: Mapping[tuple[str, str], tuple[str, ...]] = PRUNE,
) -> list[PurePosixPath]:
    """Remove what the answers do not use, and the directories that leaves empty."""
    removals = paths_to_prune(answers, table)
    # Check every path before removing any, so a disagreement leaves the project whole.
    missing = [f"{path} (for {reason})" for reason, path in removals if not (root / path).exists()]
    if missing:
        raise PruneError(
            f"the generated project has no {', '.join(missing)}: "
            "hooks/post_gen_project.py and the template disagree"
        )
    for _, path in removals:
        target = root / path
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
        _remove_empty_parents(root, target.parent)
    return [path for _, path in removals]


def _remove_empty_parents(root: Path, directory: Path) -> None:
    while directory != root and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


# Where `make lock` writes each database answer's lock file; the project keeps
# its own as poetry.lock. Tenancy changes no dependency, so it needs no lock of
# its own: the baked pyproject.toml differs between tenancies only in names,
# which Poetry's content hash leaves out.
LOCKS_DIRECTORY = "locks"
LOCK_FILE = "{database}.lock"


class LockError(Exception):
    """The template has no lock file for the chosen database."""


def keep_lock(root: Path, answers: Mapping[str, str]) -> None:
    """Keep the database's lock file as poetry.lock, and remove locks/ with the others."""
    directory = root / LOCKS_DIRECTORY
    chosen = directory / LOCK_FILE.format(database=answers["database"])
    if not chosen.is_file():
        # Without it the first `make install` would resolve on the user's machine, unpinned.
        raise LockError(
            f"the template has no {chosen.relative_to(root).as_posix()}: run `make lock` in the template"
        )
    chosen.replace(root / "poetry.lock")
    shutil.rmtree(directory)


def main() -> int:
    try:
        prune(Path.cwd(), read_answers())
        keep_lock(Path.cwd(), read_answers())
    except (PruneError, LockError) as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
