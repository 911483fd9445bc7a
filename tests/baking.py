"""Bake the template, and the environments that a baked project runs in.

Every test bakes through `bake`, so that every bake is made the same way: no
prompts, and cookiecutter's configuration, cache and replay in a scratch
directory rather than in the home directory. A refused bake raises what
cookiecutter raises: FailedHookException when a hook refuses the answers,
ValueError when cookiecutter itself refuses a choice.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cookiecutter.main import cookiecutter

from tests.hook_rendering import DEFAULT_ANSWERS, TEMPLATE_ROOT

# What the baked service reads its settings from (its config.py; .env.example
# documents them). A caller's own values, such as a developer's DATABASE_URL,
# must not reach a baked project's run: each test sets the ones it means.
SERVICE_VARIABLES = (
    "APP_ENV",
    "AUTO_MIGRATE",
    "AUTO_MIGRATE_TENANTS",
    "TENANT_MIGRATION_CONCURRENCY",
    "DISTRIBUTE_TENANT_SCHEMAS",
    "DATABASE_URL",
    "MIGRATION_DATABASE_URL",
    "DB_PREPARED_STATEMENTS",
    "ALLOW_SQLITE_IN_PRODUCTION",
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_PASSWORD",
    "DB_NAME",
    "DB_SSLMODE",
    "DB_SSLROOTCERT",
    "DB_POOL_MIN",
    "DB_POOL_MAX",
    "DB_CONNECT_TIMEOUT",
    "READY_TIMEOUT",
    "MIGRATION_LOCK_TIMEOUT",
    "MIGRATION_DDL_LOCK_TIMEOUT",
    "MIGRATION_DDL_RETRY_WINDOW",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "HOST",
    "PORT",
)


def bake(
    output: Path,
    answers: Mapping[str, str],
    *,
    template: Path = TEMPLATE_ROOT,
    from_replay: bool = False,
) -> Path:
    """Bake `template` with `answers` into `output`; the new project's directory.

    With from_replay the answers (over the defaults) reach cookiecutter as a
    replay file, as with `cookiecutter --replay-file`, rather than as extra
    context: that way skips cookiecutter's own check of a choice.
    """
    with tempfile.TemporaryDirectory(prefix="cookiecutter-") as scratch:
        config = Path(scratch) / "config.yaml"
        # JSON is YAML, which is what cookiecutter reads its configuration as.
        config.write_text(
            json.dumps({"cookiecutters_dir": f"{scratch}/cache", "replay_dir": f"{scratch}/replay"}),
            encoding="utf-8",
        )
        if from_replay:
            replay = Path(scratch) / "answers.json"
            context = {**DEFAULT_ANSWERS, **answers, "_template": str(template)}
            replay.write_text(json.dumps({"cookiecutter": context}), encoding="utf-8")
            project = cookiecutter(
                str(template), replay=str(replay), output_dir=str(output), config_file=str(config)
            )
        else:
            project = cookiecutter(
                str(template),
                no_input=True,
                extra_context=dict(answers),
                output_dir=str(output),
                config_file=str(config),
            )
    return Path(project)


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without the service's settings, then `variables`."""
    environment = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    return {**environment, **variables}


def user_environment() -> dict[str, str]:
    """clean_environment() as a user's shell would have it: outside this suite's
    virtual environment, so that a baked Makefile builds and uses its own."""
    environment = clean_environment()
    # What activating the suite's environment (or `poetry run`) sets.
    own_bin = str(Path(environment.pop("VIRTUAL_ENV", "/nonexistent")) / "bin")
    environment.pop("POETRY_ACTIVE", None)
    environment.pop("PYTHONPATH", None)
    environment["PATH"] = os.pathsep.join(
        part for part in environment.get("PATH", "").split(os.pathsep) if part != own_bin
    )
    bootstrapped = TEMPLATE_ROOT / ".tools" / "bin" / "poetry"
    poetry = shutil.which("poetry", path=environment["PATH"]) or str(bootstrapped)
    if Path(poetry).exists():
        # The template's own bootstrapped Poetry, if any: the version the baked
        # Makefile would install, and it saves a second download.
        environment["POETRY"] = poetry
    return environment
