"""The hooks as modules: rendered with the answers, imported, and their functions called."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from types import ModuleType

import pytest
from cookiecutter.exceptions import FailedHookException

from tests.baking import bake
from tests.combinations import SUPPORTED_COMBINATIONS, UNSUPPORTED_COMBINATIONS
from tests.hook_rendering import DEFAULT_ANSWERS, TEMPLATE_ROOT, import_hook, write_rendered_hooks

HookLoader = Callable[..., ModuleType]


@pytest.fixture
def load_hook(tmp_path: Path) -> HookLoader:
    """Render hook `name` with DEFAULT_ANSWERS updated by `changes`, and import it."""

    def load(name: str, **changes: str) -> ModuleType:
        return import_hook(name, changes, tmp_path)

    return load


def _marker_payload(marker: Path) -> str:
    """A service name that, pasted into Python source, would close the string and create `marker`."""
    return f'x""" + str(__import__(\'pathlib\').Path({str(marker)!r}).touch()) + """\'\'\''


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_pre_gen_accepts_supported_combination(load_hook: HookLoader, answers: dict[str, str]) -> None:
    hook = load_hook("pre_gen_project", **answers)

    assert hook.validate(hook.read_answers()) == []


@pytest.mark.parametrize("answers", UNSUPPORTED_COMBINATIONS)
def test_pre_gen_refuses_schema_per_tenant_on_sqlite(load_hook: HookLoader, answers: dict[str, str]) -> None:
    hook = load_hook("pre_gen_project", **answers)

    assert hook.validate(hook.read_answers()) == [
        "tenancy 'schema-per-tenant' with database 'sqlite': schema-per-tenant needs PostgreSQL; "
        "choose database=postgresql or postgresql+sqlite"
    ]


@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        ("service_slug", "Bad Slug", "service_slug 'Bad Slug' must match ^[a-z][a-z0-9-]*$"),
        ("service_slug", "1abc", "service_slug '1abc' must match ^[a-z][a-z0-9-]*$"),
        ("service_slug", "abc\n", "service_slug 'abc\\n' must match ^[a-z][a-z0-9-]*$"),
        ("package_name", "not-valid", "package_name 'not-valid' must match ^[a-z][a-z0-9_]*$"),
        ("package_name", "Upper", "package_name 'Upper' must match ^[a-z][a-z0-9_]*$"),
        ("package_name", "import", "package_name 'import' is a Python keyword"),
        ("database", "mysql", "database 'mysql' must be one of postgresql+sqlite, postgresql, sqlite"),
        ("tenancy", "shared", "tenancy 'shared' must be one of single, schema-per-tenant"),
        ("service_name", " ", "service_name ' ' must not be empty"),
        (
            "service_name",
            'Say "hi"',
            "service_name 'Say \"hi\"' must be one printable line without '\"' or '\\'",
        ),
    ],
)
def test_pre_gen_names_the_variable_and_value(
    load_hook: HookLoader, variable: str, value: str, error: str
) -> None:
    hook = load_hook("pre_gen_project", **{variable: value})

    assert hook.validate(hook.read_answers()) == [error]


def test_pre_gen_reads_an_injection_attempt_as_plain_data(load_hook: HookLoader, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = _marker_payload(marker)

    pre = load_hook("pre_gen_project", service_name=payload)
    post = load_hook("post_gen_project", service_name=payload)

    assert pre.read_answers()["service_name"] == payload
    assert post.read_answers()["package_name"] == DEFAULT_ANSWERS["package_name"]
    assert pre.validate(pre.read_answers())[0].startswith("service_name ")
    assert not marker.exists()


def test_bake_with_an_injection_attempt_fails_cleanly(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    answers = {"service_name": _marker_payload(marker), "service_slug": "pwn", "package_name": "pwn"}

    with pytest.raises(FailedHookException):
        bake(tmp_path / "output", answers)

    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1
    assert errors[0].startswith("ERROR: service_name ")
    assert not marker.exists()


def test_pre_gen_main_prints_one_error_line_and_exits_1(
    load_hook: HookLoader, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = load_hook("pre_gen_project", service_slug="Bad Slug", package_name="Bad Slug")

    assert hook.main() == 1
    assert capsys.readouterr().err == (
        "ERROR: service_slug 'Bad Slug' must match ^[a-z][a-z0-9-]*$; "
        "package_name 'Bad Slug' must match ^[a-z][a-z0-9_]*$\n"
    )


def _project(root: Path, files: list[str]) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("", encoding="utf-8")
    return root


def test_post_gen_removes_the_unused_dialect_and_empty_directories(
    load_hook: HookLoader, tmp_path: Path
) -> None:
    hook = load_hook("post_gen_project", database="postgresql", tenancy="schema-per-tenant")
    project = _project(
        tmp_path / "project",
        [
            "src/auth_service/database/postgresql.py",
            "src/auth_service/database/sqlite.py",
            "src/auth_service/migrator/yoyo_adapter/postgresql.py",
            "src/auth_service/migrator/yoyo_adapter/sqlite.py",
            "src/auth_service/migrations/postgresql/0001_create_users_table.sql",
            "src/auth_service/migrations/sqlite/0001_create_users_table.sql",
        ],
    )
    # The table's other paths for these answers (the SQLite tests, say): the hook
    # refuses to prune a path the project lacks, and this test follows the table.
    pruned = [str(path) for _, path in hook.paths_to_prune(hook.read_answers())]
    _project(project, [path for path in pruned if not (project / path).exists()])

    hook.prune(project, hook.read_answers())

    remaining = sorted(str(path.relative_to(project)) for path in project.rglob("*"))
    assert remaining == [
        "src",
        "src/auth_service",
        "src/auth_service/database",
        "src/auth_service/database/postgresql.py",
        "src/auth_service/migrations",
        "src/auth_service/migrations/postgresql",
        "src/auth_service/migrations/postgresql/0001_create_users_table.sql",
        "src/auth_service/migrator",
        "src/auth_service/migrator/yoyo_adapter",
        "src/auth_service/migrator/yoyo_adapter/postgresql.py",
    ]


def test_post_gen_removes_directories_left_empty_by_pruning(load_hook: HookLoader, tmp_path: Path) -> None:
    hook = load_hook("post_gen_project", database="postgresql+sqlite", tenancy="single")
    # Only what the answers prune, the tenant folder among it: nothing is left.
    pruned = [str(path) for _, path in hook.paths_to_prune(hook.read_answers())]
    assert "src/auth_service/tenants" in pruned
    project = _project(tmp_path / "project", pruned)

    hook.prune(project, hook.read_answers())

    assert list(project.iterdir()) == []


def test_post_gen_removes_a_path_two_answers_remove_once(load_hook: HookLoader, tmp_path: Path) -> None:
    hook = load_hook("post_gen_project", database="sqlite", tenancy="single")
    project = _project(tmp_path / "project", ["tests/test_shared.py", "tests/test_kept.py"])
    table = {
        ("database", "sqlite"): ("tests/test_shared.py",),
        ("tenancy", "single"): ("tests/test_shared.py",),
    }

    assert hook.prune(project, hook.read_answers(), table) == [PurePosixPath("tests/test_shared.py")]

    remaining = sorted(str(path.relative_to(project)) for path in project.rglob("*"))
    assert remaining == ["tests", "tests/test_kept.py"]


def test_post_gen_refuses_a_path_the_template_does_not_have(load_hook: HookLoader, tmp_path: Path) -> None:
    hook = load_hook("post_gen_project", tenancy="single")
    project = _project(tmp_path / "project", ["src/auth_service/tenants/schemas.py", "tests/test_tenants.py"])
    table = {("tenancy", "single"): ("src/{package}/tenants/schemas.py", "src/{package}/no_such_file.py")}

    with pytest.raises(
        hook.PruneError, match=r"no src/auth_service/no_such_file\.py \(for tenancy='single'\)"
    ):
        hook.prune(project, hook.read_answers(), table)

    assert (project / "src/auth_service/tenants/schemas.py").exists()


def test_post_gen_main_reports_a_disagreement_on_one_error_line(
    load_hook: HookLoader, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = load_hook("post_gen_project", database="sqlite")
    monkeypatch.chdir(_project(tmp_path / "project", ["README.md"]))

    assert hook.main() == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR: the generated project has no src/auth_service/migrations/postgresql")
    assert err.count("\n") == 1


@pytest.mark.parametrize("tool", [["ruff", "check"], ["ruff", "format", "--check"], ["mypy", "--strict"]])
def test_rendered_hooks_pass_the_linters(tmp_path: Path, tool: list[str]) -> None:
    hooks = write_rendered_hooks(tmp_path / "rendered")
    # Run from the template root so ruff and mypy read its pyproject.toml.
    command = [sys.executable, "-m", *tool, *(str(path) for path in hooks.values())]
    if tool[0] == "mypy":
        command.insert(3, "--cache-dir=" + str(tmp_path / "mypy-cache"))

    completed = subprocess.run(
        command,
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
