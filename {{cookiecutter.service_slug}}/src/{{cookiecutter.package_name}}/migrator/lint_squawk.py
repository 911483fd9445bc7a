"""squawk itself: finding its binary (the squawk-cli wheel ships it), running
it, and reading its JSON report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

from ..errors import INSTALL, Remedy
from .lint_results import LintError, Violation

SQUAWK_TIMEOUT: Final = 300.0


def find_squawk(python: Path | None = None, search_path: str | None = None) -> Path:
    """The squawk binary: beside this Python (the virtualenv's bin), else on PATH."""
    python_dir = (python or Path(sys.executable)).parent
    found = shutil.which("squawk", path=str(python_dir)) or shutil.which(
        "squawk", path=os.environ.get("PATH", "") if search_path is None else search_path
    )
    if found is None:
        raise LintError(
            f"squawk is not installed: it is neither in {python_dir} nor on PATH "
            "(squawk-cli is a dev dependency)",
            Remedy(INSTALL, purpose="install it"),
        )
    return Path(found)


def run_squawk(command: list[str]) -> list[Violation]:
    """Run squawk (`command` starts with its binary, asks for --reporter=json):
    the problems it reports."""
    try:
        done = subprocess.run(  # noqa: S603 - the binary found above, with our own arguments
            command, capture_output=True, text=True, timeout=SQUAWK_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LintError(f"cannot run squawk ({command[0]}): {error}") from None
    try:
        found = json.loads(done.stdout)
    except json.JSONDecodeError:
        found = None
    if done.returncode not in (0, 1) or not isinstance(found, list):
        said = done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}"
        raise LintError(f"squawk failed: {said.splitlines()[0]}")
    return _violations(found)


def _violations(found: list[Any]) -> list[Violation]:
    try:
        # squawk's JSON counts lines and columns from 0; editors count from 1.
        return [
            Violation(
                file=str(item["file"]),
                line=int(item["line"]) + 1,
                column=int(item["column"]) + 1,
                rule=str(item["rule_name"]),
                message=str(item["message"]),
                help=item.get("help") or None,
            )
            for item in found
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise LintError(f"squawk's report is not in the form this command reads: {error!r}") from None
