"""What a team adopts with a baked service: its CI workflow, its pre-commit
hooks, its `make help`. Checked on every supported combination of answers."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.baking import bake
from tests.combinations import SUPPORTED_COMBINATIONS

# A rule a user runs: a lowercase name, not a file such as .tools/bin/poetry.
TARGET_RULE = re.compile(r"^([a-z][a-z-]*):(?!=)", re.MULTILINE)


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_the_ci_workflow_parses_and_passes_the_actions_schema(
    tmp_path: Path, answers: dict[str, str]
) -> None:
    workflow = bake(tmp_path, answers) / ".github" / "workflows" / "ci.yml"

    parsed = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    job = parsed["jobs"]["test"]
    uses_postgres = answers["database"] != "sqlite"
    assert [step.get("run") for step in job["steps"] if "run" in step] == [
        "make install",
        "make lint",
        *(
            [
                "sudo apt-get update -qq && sudo apt-get install -y -qq pgbouncer",
                "make migrate-lint ALL=1",
            ]
            if uses_postgres
            else []
        ),
        "make test",
    ]
    assert ("services" in job) == uses_postgres
    if uses_postgres:
        assert job["services"]["postgres"]["image"].startswith("postgres:")
        assert job["env"]["REQUIRE_POSTGRES"] == "1"
        assert job["env"]["REQUIRE_PGBOUNCER"] == "1"
    assert "${{ hashFiles('pyproject.toml', 'poetry.lock') }}" in workflow.read_text(encoding="utf-8")


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_pre_commit_runs_ruff_and_mypy_from_the_locked_environment(
    tmp_path: Path, answers: dict[str, str]
) -> None:
    config = yaml.safe_load((bake(tmp_path, answers) / ".pre-commit-config.yaml").read_text())

    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}

    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    if answers["database"] == "sqlite":
        assert set(hooks) == {"ruff", "ruff-format", "mypy"}
    else:
        assert set(hooks) == {"ruff", "ruff-format", "mypy", "migrate-lint"}
        # The migration files being committed, handed to the service's own linter command.
        lint = hooks["migrate-lint"]
        assert lint["entry"] == ".venv/bin/python -m auth_service lint-migrations"
        assert re.fullmatch(lint["files"], "src/auth_service/migrations/postgresql/0002_x.sql")
        assert not re.fullmatch(lint["files"], "src/auth_service/migrations/sqlite/0002_x.sql")
    for hook in hooks.values():
        assert hook["language"] == "system"
        assert hook["entry"].startswith(".venv/bin/python -m ")


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_make_help_lists_every_target_with_a_description(tmp_path: Path, answers: dict[str, str]) -> None:
    project = bake(tmp_path, answers)
    defined = set(TARGET_RULE.findall((project / "Makefile").read_text(encoding="utf-8")))

    shown = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=project, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    described = {line.split()[0]: line.split(None, 1)[1] for line in shown if line.strip()}

    assert set(described) == defined
    assert all(len(text) > 10 for text in described.values())
    if answers["tenancy"] == "schema-per-tenant":
        assert {"tenant-create", "migrate-tenant", "migrate-tenants", "tenants-status"} <= defined
    assert ("migrate-lint" in defined) == (answers["database"] != "sqlite")


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_docs_speak_of_the_options_chosen_and_only_of_them(tmp_path: Path, answers: dict[str, str]) -> None:
    project = bake(tmp_path, answers)
    texts = {
        name: (project / name).read_text(encoding="utf-8").lower()
        for name in ("README.md", "docs/migrations.md", ".env.example", "Makefile")
    }

    tenants = [name for name, text in texts.items() if "tenant" in text]
    postgres = [name for name, text in texts.items() if "postgres" in text]

    # Each document covers tenants (its targets, settings, commands) and
    # PostgreSQL (its URL, its linter) exactly when the service has them.
    assert tenants == (list(texts) if answers["tenancy"] == "schema-per-tenant" else [])
    assert postgres == (list(texts) if answers["database"] != "sqlite" else [])


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_a_service_names_no_option_it_was_not_generated_with(tmp_path: Path, answers: dict[str, str]) -> None:
    """Dialect and tenant code lives in files the hook prunes; the rest of the
    code and tests never names what the service does not have: no tenants in
    a single-tenant service, no PostgreSQL (nor its driver) in a SQLite one."""
    project = bake(tmp_path, answers)
    absent = [
        *(["tenant"] if answers["tenancy"] == "single" else []),
        *(["postgres", "psycopg"] if answers["database"] == "sqlite" else []),
    ]
    present = [
        *(["tenant"] if answers["tenancy"] != "single" else []),
        *(["postgres", "psycopg"] if answers["database"] != "sqlite" else []),
    ]
    texts = {
        str(path.relative_to(project)): path.read_text(encoding="utf-8").lower()
        for folder in ("src", "tests")
        for path in sorted((project / folder).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }

    naming = {word: sorted(name for name, text in texts.items() if word in text) for word in absent + present}

    assert {word: naming[word] for word in absent} == {word: [] for word in absent}
    for word in present:
        assert naming[word], f"a service with {word} code names it somewhere"


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_only_postgresql_services_have_the_migration_linter(tmp_path: Path, answers: dict[str, str]) -> None:
    project = bake(tmp_path, answers)
    files = (
        "README.md",
        "docs/migrations.md",
        "Makefile",
        "pyproject.toml",
        ".pre-commit-config.yaml",
        ".github/workflows/ci.yml",
    )
    texts = {name: (project / name).read_text(encoding="utf-8") for name in files}
    dev_dependencies = tomllib.loads(texts["pyproject.toml"])["tool"]["poetry"]["group"]["dev"]

    mentions = sorted(name for name, text in texts.items() if "squawk" in text or "migrate-lint" in text)

    if answers["database"] == "sqlite":
        assert mentions == []
        assert "squawk-cli" not in dev_dependencies["dependencies"]
    else:
        assert mentions == sorted(texts)
        assert "squawk-cli" in dev_dependencies["dependencies"]
