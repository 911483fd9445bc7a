"""Each supported bake passes its own gate: ruff, mypy --strict, and its tests.

The baked projects run with this suite's environment (its `service` group holds
what they need), on SQLite and on the PostgreSQL of TEST_DATABASE_URL. With
REQUIRE_POSTGRES=1 a baked suite fails rather than skip its PostgreSQL tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from tests.combinations import SUPPORTED_COMBINATIONS
from tests.hook_rendering import TEMPLATE_ROOT

# Variables of ours that must not leak from the caller into a baked project's run.
SERVICE_VARIABLES = (
    "DATABASE_URL",
    "APP_ENV",
    "AUTO_MIGRATE",
    "DB_HOST",
    "DB_USER",
    "DB_PASSWORD",
    "DB_NAME",
)


def bake(output: Path, answers: dict[str, str]) -> Path:
    return Path(
        cookiecutter(str(TEMPLATE_ROOT), no_input=True, output_dir=str(output), extra_context=answers)
    )


def run_in(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    env["PYTHONPATH"] = str(project / "src")
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module", params=SUPPORTED_COMBINATIONS)
def baked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    answers: dict[str, str] = request.param
    return bake(tmp_path_factory.mktemp("gate"), answers)


def test_baked_project_passes_ruff(baked: Path) -> None:
    result = run_in(baked, "ruff", "check", "--no-cache", ".")

    assert result.returncode == 0, result.stdout + result.stderr


def test_baked_project_passes_mypy_strict(baked: Path) -> None:
    result = run_in(baked, "mypy", "--cache-dir", str(baked / ".mypy_cache"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_baked_project_passes_its_own_tests(baked: Path) -> None:
    result = run_in(baked, "pytest", "-q", "-p", "no:cacheprovider")

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), summary
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        assert "skipped" not in summary, summary
