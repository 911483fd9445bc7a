"""Bake every combination of answers and check what lands on disk."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from tests.combinations import SUPPORTED_COMBINATIONS, UNSUPPORTED_COMBINATIONS
from tests.hook_rendering import DEFAULT_ANSWERS

DEFAULT_PACKAGE = "auth_service"
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
    "src/{pkg}/migrations/postgresql/0001_create_users_table.sql",
    "src/{pkg}/migrations/postgresql/0001_create_users_table.rollback.sql",
)
# The migration linter (squawk) lints PostgreSQL files only.
LINT_FILES = (
    ".squawk.toml",
    "src/{pkg}/migrator/lint.py",
    "tests/test_migration_lint.py",
)
TENANT_FILES = (
    "src/{pkg}/tenants/schemas.py",
    "tests/test_tenants.py",
)
# What each answer keeps, and what it leaves out, written out rather than
# derived from the hook's table, so that the test and the hook can disagree.
KEPT: dict[tuple[str, str], tuple[str, ...]] = {
    ("database", "postgresql+sqlite"): SQLITE_FILES + POSTGRESQL_FILES + LINT_FILES,
    ("database", "postgresql"): POSTGRESQL_FILES + LINT_FILES,
    ("database", "sqlite"): SQLITE_FILES,
    ("tenancy", "single"): (),
    ("tenancy", "schema-per-tenant"): TENANT_FILES,
}
PRUNED: dict[tuple[str, str], tuple[str, ...]] = {
    ("database", "postgresql+sqlite"): (),
    ("database", "postgresql"): (
        "src/{pkg}/migrations/sqlite",
        "src/{pkg}/database/sqlite.py",
        "src/{pkg}/migrator/yoyo_adapter/sqlite.py",
    ),
    ("database", "sqlite"): (
        "src/{pkg}/migrations/postgresql",
        "src/{pkg}/database/postgresql.py",
        "src/{pkg}/migrator/yoyo_adapter/postgresql.py",
        *LINT_FILES,
    ),
    ("tenancy", "single"): TENANT_FILES,
    ("tenancy", "schema-per-tenant"): (),
}


def _bake(cookies: Any, template: Path, answers: dict[str, str]) -> Any:
    return cookies.bake(extra_context=answers, template=str(template))


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


def _assert_no_project(output_root: Path) -> None:
    """pytest-cookies bakes into <tmp>/cookies/bakeNN/: nothing may be inside."""
    assert [path for path in output_root.glob("*/*")] == []


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_supported_combination_bakes_cleanly(cookies: Any, template: Path, answers: dict[str, str]) -> None:
    result = _bake(cookies, template, answers)

    assert result.exception is None
    assert result.exit_code == 0
    assert result.project_path.name == "auth-service"


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_supported_combination_leaves_no_jinja(cookies: Any, template: Path, answers: dict[str, str]) -> None:
    project = _bake(cookies, template, answers).project_path

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
def test_supported_combination_keeps_its_answers(
    cookies: Any, template: Path, answers: dict[str, str]
) -> None:
    project = _bake(cookies, template, answers).project_path

    kept = json.loads((project / ANSWERS_FILE).read_text(encoding="utf-8"))

    assert kept["database"] == answers["database"]
    assert kept["tenancy"] == answers["tenancy"]
    assert kept["service_slug"] == "auth-service"
    assert kept["package_name"] == DEFAULT_PACKAGE


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_supported_combination_has_a_valid_pyproject(
    cookies: Any, template: Path, answers: dict[str, str]
) -> None:
    project = _bake(cookies, template, answers).project_path

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))

    assert pyproject["project"]["name"] == "auth-service"


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_supported_combination_has_exactly_its_files(
    cookies: Any, template: Path, answers: dict[str, str]
) -> None:
    project = _bake(cookies, template, answers).project_path

    expected = [path.format(pkg=DEFAULT_PACKAGE) for path in EVERY_PROJECT_HAS] + _paths(answers, KEPT)
    missing = [path for path in expected if not (project / path).is_file()]
    unexpected = [path for path in _paths(answers, PRUNED) if (project / path).exists()]

    assert missing == []
    assert unexpected == []


def test_pruning_leaves_no_empty_directory(cookies: Any, template: Path) -> None:
    project = _bake(cookies, template, {"database": "sqlite", "tenancy": "single"}).project_path

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
    cookies: Any, template: Path, tmp_path: Path, answers: dict[str, str]
) -> None:
    result = _bake(cookies, template, answers)

    assert result.exit_code != 0
    assert isinstance(result.exception, FailedHookException)
    _assert_no_project(tmp_path / "cookies")


@pytest.mark.parametrize("answers", INVALID_CHOICES)
def test_invalid_choice_is_refused_by_cookiecutter_before_writing(
    cookies: Any, template: Path, tmp_path: Path, answers: dict[str, str]
) -> None:
    # Cookiecutter 2.x checks a choice given on the command line (or as
    # extra_context) itself, before any hook runs.
    result = _bake(cookies, template, answers)

    assert result.exit_code != 0
    assert isinstance(result.exception, ValueError)
    assert f"{next(iter(answers.values()))} provided for choice variable" in str(result.exception)
    _assert_no_project(tmp_path / "cookies")


@pytest.mark.parametrize("answers", INVALID_CHOICES)
def test_invalid_choice_from_a_replay_file_is_refused_by_the_hook(
    template: Path, tmp_path: Path, answers: dict[str, str]
) -> None:
    # A replay file skips cookiecutter's own choice check, so the hook is what stops it.
    replay = tmp_path / "replay.json"
    context = {**DEFAULT_ANSWERS, **answers, "_template": str(template)}
    replay.write_text(json.dumps({"cookiecutter": context}), encoding="utf-8")
    output = tmp_path / "output"
    # Cookiecutter writes a replay of every bake: keep it out of the home directory.
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps({"cookiecutters_dir": str(tmp_path / "cache"), "replay_dir": str(tmp_path / "replays")}),
        encoding="utf-8",
    )

    with pytest.raises(FailedHookException):
        cookiecutter(str(template), replay=str(replay), output_dir=str(output), config_file=str(config))

    assert list(output.glob("*")) == []


def test_invalid_answer_is_reported_on_one_error_line(
    cookies: Any, template: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    _bake(cookies, template, {"service_slug": "Bad Slug", "package_name": "bad_slug"})

    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]

    assert errors == ["ERROR: service_slug 'Bad Slug' must match ^[a-z][a-z0-9-]*$"]


def test_custom_service_name_derives_slug_and_package(cookies: Any, template: Path) -> None:
    result = _bake(cookies, template, {"service_name": "Billing_Ledger API"})

    assert result.exception is None
    project = result.project_path
    kept = json.loads((project / ANSWERS_FILE).read_text(encoding="utf-8"))
    assert project.name == "billing-ledger-api"
    assert (kept["service_slug"], kept["package_name"]) == ("billing-ledger-api", "billing_ledger_api")
    assert (project / "src" / "billing_ledger_api" / "app.py").is_file()
