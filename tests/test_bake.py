"""Bake every combination of answers and check what lands on disk."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path, PurePosixPath

import pytest
from cookiecutter.environment import StrictEnvironment
from cookiecutter.exceptions import FailedHookException

from tests.baking import bake
from tests.combinations import SUPPORTED_COMBINATIONS, UNSUPPORTED_COMBINATIONS
from tests.hook_rendering import DEFAULT_ANSWERS, TEMPLATE_ROOT, import_hook

DEFAULT_PACKAGE = "auth_service"
BAKED_TEMPLATE = TEMPLATE_ROOT / "{{cookiecutter.service_slug}}"
# The post-generation hook keeps locks/<database>.lock as poetry.lock and removes the rest of locks/.
LOCKS = PurePosixPath("locks")
KEPT_LOCK = PurePosixPath("poetry.lock")
# What Python and the tools write next to the code while someone works in the
# template or in a bake: none of it is a file the template means to ship.
CACHES = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
LEFTOVER_JINJA = ("{{", "{%", "{#")
# The answers, kept so that a project can be updated from a newer template.
ANSWERS_FILE = ".cookiecutter.json"
INVALID_CHOICES = [
    pytest.param({"database": "mysql"}, id="database:mysql"),
    pytest.param({"tenancy": "shared"}, id="tenancy:shared"),
]

EVERY_PROJECT_HAS = (
    "Makefile",
    ".github/workflows/ci.yml",
    ".pre-commit-config.yaml",
    ".env.example",
    "README.md",
    "pyproject.toml",
    "src/{pkg}/app.py",
    "src/{pkg}/users.py",
    "src/{pkg}/config.py",
    "src/{pkg}/migrator/runner.py",
)
SQLITE_FILES = (
    "src/{pkg}/database/sqlite.py",
    "src/{pkg}/migrator/yoyo_adapter/sqlite.py",
    "src/{pkg}/migrations/sqlite/0001_create_users_table.sql",
    "src/{pkg}/migrations/sqlite/0001_create_users_table.rollback.sql",
)
POSTGRESQL_FILES = (
    "src/{pkg}/database/postgresql.py",
    "src/{pkg}/migrator/yoyo_adapter/postgresql.py",
    "src/{pkg}/database/blockers.py",
    "src/{pkg}/database/postgresql_own_session.py",
    "src/{pkg}/database/postgresql_one_query.py",
    "src/{pkg}/database/postgresql_entering.py",
    "src/{pkg}/migrations/postgresql/0001_create_users_table.sql",
    "src/{pkg}/migrations/postgresql/0001_create_users_table.rollback.sql",
)
# The migration linter (squawk) lints PostgreSQL files only.
LINT_FILES = (
    ".squawk.toml",
    "src/{pkg}/migrator/lint.py",
    "src/{pkg}/migrator/lint_config.py",
    "src/{pkg}/migrator/lint_results.py",
    "src/{pkg}/migrator/lint_squawk.py",
    "src/{pkg}/cli/lint.py",
    "tests/test_migration_lint.py",
)
# The tenant package goes whole; its modules are listed so that a kept one is checked.
TENANT_PACKAGE = "src/{pkg}/tenants"
TENANT_FILES = (
    f"{TENANT_PACKAGE}/__init__.py",
    f"{TENANT_PACKAGE}/citus.py",
    f"{TENANT_PACKAGE}/creation.py",
    f"{TENANT_PACKAGE}/one_tenant.py",
    f"{TENANT_PACKAGE}/pending.py",
    f"{TENANT_PACKAGE}/registry.py",
    f"{TENANT_PACKAGE}/results.py",
    f"{TENANT_PACKAGE}/runner.py",
    f"{TENANT_PACKAGE}/schemas.py",
    f"{TENANT_PACKAGE}/startup.py",
    f"{TENANT_PACKAGE}/workers.py",
    "src/{pkg}/cli/tenants.py",
    "src/{pkg}/cli/tenant_options.py",
    "src/{pkg}/cli/tenants_on_citus.py",
    "tests/test_tenants_citus.py",
    "tests/test_tenant_drills.py",
    "tests/test_tenants.py",
    "tests/test_tenant_migrations.py",
    "tests/test_tenant_sessions.py",
    "tests/test_bad_input_tenants.py",
    "tests/helpers_tenants.py",
    "tests/helpers_citus.py",
    "tests/test_app_tenants.py",
    "tests/test_config_tenants.py",
    "tests/test_pooler_tenants.py",
)
# Tests of one dialect, in files of their own rather than behind a condition.
SQLITE_TESTS = (
    "tests/helpers_sqlite.py",
    "tests/test_app_sqlite.py",
    "tests/test_bad_input_sqlite.py",
    "tests/test_config_sqlite.py",
    "tests/test_drills_sqlite.py",
    "tests/test_migrations_sqlite.py",
)
POSTGRESQL_TESTS = (
    "tests/helpers_postgresql.py",
    "tests/test_app_postgresql.py",
    "tests/test_bad_input_postgresql.py",
    "tests/test_cli_postgresql.py",
    "tests/test_config_postgresql.py",
    "tests/test_live_database.py",
    "tests/test_database_urls.py",
    "tests/helpers_pgbouncer.py",
    "tests/test_pooler.py",
    "tests/test_pipelined_migrations.py",
)
# Tests that need both dialects in the same service.
BOTH_DIALECTS_TESTS = (
    "tests/test_config_both_dialects.py",
    "tests/test_schema_both_dialects.py",
)
# What each answer keeps, and what it leaves out, written out rather than
# derived from the hook's table, so that the test and the hook can disagree.
KEPT: dict[tuple[str, str], tuple[str, ...]] = {
    ("database", "postgresql+sqlite"): SQLITE_FILES
    + SQLITE_TESTS
    + POSTGRESQL_FILES
    + POSTGRESQL_TESTS
    + LINT_FILES
    + BOTH_DIALECTS_TESTS,
    ("database", "postgresql"): POSTGRESQL_FILES + POSTGRESQL_TESTS + LINT_FILES,
    ("database", "sqlite"): SQLITE_FILES + SQLITE_TESTS,
    ("tenancy", "single"): (),
    ("tenancy", "schema-per-tenant"): TENANT_FILES,
}
PRUNED: dict[tuple[str, str], tuple[str, ...]] = {
    ("database", "postgresql+sqlite"): (),
    ("database", "postgresql"): (
        "src/{pkg}/migrations/sqlite",
        "src/{pkg}/database/sqlite.py",
        "src/{pkg}/migrator/yoyo_adapter/sqlite.py",
        *SQLITE_TESTS,
        *BOTH_DIALECTS_TESTS,
    ),
    ("database", "sqlite"): (
        "src/{pkg}/migrations/postgresql",
        "src/{pkg}/database/postgresql.py",
        "src/{pkg}/database/postgresql_own_session.py",
        "src/{pkg}/database/postgresql_one_query.py",
        "src/{pkg}/database/postgresql_entering.py",
        "src/{pkg}/migrator/yoyo_adapter/postgresql.py",
        *LINT_FILES,
        *POSTGRESQL_TESTS,
        *BOTH_DIALECTS_TESTS,
    ),
    ("tenancy", "single"): (TENANT_PACKAGE, *TENANT_FILES),
    ("tenancy", "schema-per-tenant"): (),
}


def _text_files(root: Path) -> list[tuple[Path, str]]:
    """Every file under root that decodes as UTF-8 text, with its text."""
    texts = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        content = path.read_bytes()
        if b"\0" in content:
            continue
        try:
            texts.append((path, content.decode("utf-8")))
        except UnicodeDecodeError:
            continue
    return texts


def _paths(answers: dict[str, str], table: dict[tuple[str, str], tuple[str, ...]]) -> list[str]:
    return [
        path.format(pkg=DEFAULT_PACKAGE)
        for variable in ("database", "tenancy")
        for path in table[(variable, answers[variable])]
    ]


def _files(root: Path) -> list[PurePosixPath]:
    """Every file under root, relative to it, but for caches."""
    files = (PurePosixPath(path.relative_to(root).as_posix()) for path in root.rglob("*") if path.is_file())
    return sorted(path for path in files if CACHES.isdisjoint(path.parts))


def _template_files(answers: dict[str, str]) -> list[PurePosixPath]:
    """Each file of the template under the name a bake gives it: cookiecutter
    renders a file's whole path as Jinja, with its own environment."""
    context = {"cookiecutter": {**DEFAULT_ANSWERS, **answers}}
    environment = StrictEnvironment(context=context, keep_trailing_newline=True)
    return [
        PurePosixPath(environment.from_string(str(path)).render(**context)) for path in _files(BAKED_TEMPLATE)
    ]


def _hook_prunes(answers: dict[str, str], directory: Path) -> list[PurePosixPath]:
    """What the post-generation hook's own PRUNE table removes for these answers."""
    hook = import_hook("post_gen_project", answers, directory)
    table: dict[tuple[str, str], tuple[str, ...]] = hook.PRUNE
    chosen = {**DEFAULT_ANSWERS, **answers}
    return [
        PurePosixPath(path.format(package=chosen["package_name"]))
        for (variable, value), paths in table.items()
        if chosen.get(variable) == value
        for path in paths
    ]


def _under(path: PurePosixPath, roots: list[PurePosixPath]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_supported_combination_bakes_cleanly(tmp_path: Path, answers: dict[str, str]) -> None:
    project = bake(tmp_path, answers)

    # bake() raises on any failure; what it returns is the project it made.
    assert project == tmp_path / "auth-service"
    assert project.is_dir()


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_supported_combination_leaves_no_jinja(tmp_path: Path, answers: dict[str, str]) -> None:
    project = bake(tmp_path, answers)

    leftovers = [
        f"{path.relative_to(project)}: {marker}"
        for path, text in _text_files(project)
        for marker in LEFTOVER_JINJA
        # GitHub Actions expressions (${{ ... }}) are meant to stay, inside {% raw %}.
        if marker in text.replace("${{", "")
    ]
    path_leftovers = [str(path) for path in project.rglob("*") if "{{" in path.name or "{%" in path.name]

    assert leftovers == []
    assert path_leftovers == []


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_supported_combination_keeps_its_answers(tmp_path: Path, answers: dict[str, str]) -> None:
    project = bake(tmp_path, answers)

    kept = json.loads((project / ANSWERS_FILE).read_text(encoding="utf-8"))

    assert kept["database"] == answers["database"]
    assert kept["tenancy"] == answers["tenancy"]
    assert kept["service_slug"] == "auth-service"
    assert kept["package_name"] == DEFAULT_PACKAGE


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_supported_combination_has_a_valid_pyproject(tmp_path: Path, answers: dict[str, str]) -> None:
    project = bake(tmp_path, answers)

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))

    assert pyproject["project"]["name"] == "auth-service"


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_supported_combination_has_exactly_its_files(tmp_path: Path, answers: dict[str, str]) -> None:
    project = bake(tmp_path / "output", answers)
    # The whole list: the template's files, but what the hook prunes for these
    # answers and the locks it replaces with the one it keeps.
    removed = [*_hook_prunes(answers, tmp_path), LOCKS]
    derived = sorted({path for path in _template_files(answers) if not _under(path, removed)} | {KEPT_LOCK})
    baked = _files(project)
    # And, written out, what each answer keeps and leaves out.
    expected = [path.format(pkg=DEFAULT_PACKAGE) for path in EVERY_PROJECT_HAS] + _paths(answers, KEPT)
    missing = [path for path in expected if not (project / path).is_file()]
    unexpected = [path for path in _paths(answers, PRUNED) if (project / path).exists()]

    assert [str(path) for path in derived if path not in baked] == []
    assert [str(path) for path in baked if path not in derived] == [], "files the template does not ship"
    assert missing == []
    assert unexpected == []


def test_pruning_leaves_no_empty_directory(tmp_path: Path) -> None:
    project = bake(tmp_path, {"database": "sqlite", "tenancy": "single"})

    empty = [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_dir() and not any(path.iterdir())
    ]

    assert empty == []


INVALID_ANSWERS = [
    pytest.param({"service_slug": "Bad Slug"}, id="service_slug:Bad Slug"),
    pytest.param({"service_slug": "1abc"}, id="service_slug:1abc"),
    pytest.param({"package_name": "not-valid"}, id="package_name:not-valid"),
    pytest.param({"package_name": "class"}, id="package_name:class"),
]


@pytest.mark.parametrize("answers", UNSUPPORTED_COMBINATIONS + INVALID_ANSWERS)
def test_unsupported_or_invalid_answers_are_refused_by_the_hook_before_writing(
    tmp_path: Path, answers: dict[str, str]
) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path, answers)

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("answers", INVALID_CHOICES)
def test_invalid_choice_is_refused_by_cookiecutter_before_writing(
    tmp_path: Path, answers: dict[str, str]
) -> None:
    # Cookiecutter 2.x checks a choice given on the command line (or as
    # extra_context) itself, before any hook runs.
    refusal = f"{re.escape(next(iter(answers.values())))} provided for choice variable"

    with pytest.raises(ValueError, match=refusal):
        bake(tmp_path, answers)

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("answers", INVALID_CHOICES)
def test_invalid_choice_from_a_replay_file_is_refused_by_the_hook(
    tmp_path: Path, answers: dict[str, str]
) -> None:
    # A replay file skips cookiecutter's own choice check, so the hook is what stops it.
    with pytest.raises(FailedHookException):
        bake(tmp_path, answers, from_replay=True)

    assert list(tmp_path.iterdir()) == []


def test_invalid_answer_is_reported_on_one_error_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path, {"service_slug": "Bad Slug", "package_name": "bad_slug"})

    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]

    assert errors == ["ERROR: service_slug 'Bad Slug' must match ^[a-z][a-z0-9-]*$"]


def test_custom_service_name_derives_slug_and_package(tmp_path: Path) -> None:
    project = bake(tmp_path, {"service_name": "Billing_Ledger API"})

    kept = json.loads((project / ANSWERS_FILE).read_text(encoding="utf-8"))
    assert project.name == "billing-ledger-api"
    assert (kept["service_slug"], kept["package_name"]) == ("billing-ledger-api", "billing_ledger_api")
    assert (project / "src" / "billing_ledger_api" / "app.py").is_file()
